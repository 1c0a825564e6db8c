#define BOOST_TEST_MODULE key_label
#include <boost/test/unit_test.hpp>

#include "core/error.h"
#include "core/key_label.h"

using namespace brokerkey;

BOOST_AUTO_TEST_CASE(builds_the_documented_example) {
  BOOST_TEST(make_key_label({"acme", "git-signing", "prod"}) == "acme-git-signing-ed25519-prod");
}

BOOST_AUTO_TEST_CASE(parses_back_what_it_builds) {
  KeyName name = parse_key_label("acme-git-signing-ed25519-prod");
  BOOST_TEST(name.service == "acme");
  BOOST_TEST(name.purpose == "git-signing");
  BOOST_TEST(name.env == "prod");
  BOOST_TEST(parse_key_label("a-b-ed25519-c").purpose == "b");
}

BOOST_AUTO_TEST_CASE(refuses_labels_of_another_shape) {
  for (const char* bad : {"acme-git-signing-prod", "acme-ed25519-prod", "Acme-git-ed25519-prod",
                          "acme-git-ed25519-prod-eu", "acme--git-ed25519-prod",
                          "acme-git-ed25519-", "-git-ed25519-prod", "acme-git-rsa-prod",
                          "acme-ed25519-git-ed25519-prod", "acme_x-git-ed25519-prod", ""}) {
    BOOST_CHECK_THROW(parse_key_label(bad), Error);
  }
}

BOOST_AUTO_TEST_CASE(refuses_bad_parts) {
  BOOST_CHECK_THROW(make_key_label({"ac-me", "git", "prod"}), Error);   // service is one word
  BOOST_CHECK_THROW(make_key_label({"acme", "git", "pr-od"}), Error);   // env is one word
  BOOST_CHECK_THROW(make_key_label({"acme", "", "prod"}), Error);
  BOOST_CHECK_THROW(make_key_label({"acme", "git signing", "prod"}), Error);
  BOOST_CHECK_THROW(make_key_label({"acme", "ed25519", "prod"}), Error);
  BOOST_CHECK_THROW(make_key_label({"acme", std::string(60, 'a'), "prod"}), Error);
}

BOOST_AUTO_TEST_CASE(error_names_the_part) {
  try {
    make_key_label({"ACME", "git", "prod"});
    BOOST_FAIL("accepted an upper-case service");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("service 'ACME'") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(token_labels) {
  check_token_label("brokerkey");
  check_token_label(std::string(24, 'x'));
  BOOST_CHECK_THROW(check_token_label(""), Error);
  BOOST_CHECK_THROW(check_token_label(std::string(25, 'x')), Error);
  BOOST_CHECK_THROW(check_token_label("has space"), Error);
  BOOST_CHECK_THROW(check_token_label("semi;colon"), Error);
}
