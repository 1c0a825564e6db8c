#define BOOST_TEST_MODULE consumer_pin
#include <boost/test/unit_test.hpp>
#include <set>

#include "core/consumer_pin.h"
#include "core/error.h"

using namespace brokerkey;

BOOST_AUTO_TEST_CASE(generated_pins_are_long_random_and_unambiguous) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    Secret pin = generate_pin();
    BOOST_TEST(pin.view().size() == 24u);
    BOOST_TEST(pin.view().find_first_of("01ilo:") == std::string::npos);
    seen.insert(pin.view());
  }
  BOOST_TEST(seen.size() == 50u);
}

BOOST_AUTO_TEST_CASE(right_pin_matches_wrong_pin_does_not) {
  Secret pin("ci:abcdefghjkmnpqrstuvwxyz2");
  ConsumerEntry entry = make_consumer_entry("ci", pin, {10, 8, 1});
  BOOST_TEST(entry.hash.find("abcdef") == std::string::npos);
  BOOST_TEST(pin_matches(entry, pin.view()));
  BOOST_TEST(!pin_matches(entry, "ci:abcdefghjkmnpqrstuvwxyz3"));
  BOOST_TEST(!pin_matches(entry, ""));
}

BOOST_AUTO_TEST_CASE(same_pin_gets_a_different_salt_each_time) {
  Secret pin("x:y");
  BOOST_TEST(make_consumer_entry("a", pin, {10, 8, 1}).hash != make_consumer_entry("a", pin, {10, 8, 1}).hash);
}

BOOST_AUTO_TEST_CASE(damaged_entry_never_matches) {
  Secret pin("x:y");
  ConsumerEntry entry = make_consumer_entry("a", pin, {10, 8, 1});
  entry.hash = "not base64!";
  BOOST_TEST(!pin_matches(entry, pin.view()));
}

BOOST_AUTO_TEST_CASE(consumer_names) {
  check_consumer_name("ci");
  check_consumer_name("deploy-bot.eu_1");
  for (const char* bad : {"", "-ci", "CI", "a b", "a:b", "a/b"}) {
    BOOST_CHECK_THROW(check_consumer_name(bad), Error);
  }
  BOOST_CHECK_THROW(check_consumer_name(std::string(65, 'a')), Error);
}
