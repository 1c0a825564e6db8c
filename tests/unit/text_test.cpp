#define BOOST_TEST_MODULE text
#include <boost/test/unit_test.hpp>

#include "core/error.h"
#include "core/text.h"

using namespace brokerkey;

BOOST_AUTO_TEST_CASE(plain_text_passes) {
  for (std::string_view text : {"", "laptop lost", "a \"quoted\", comma'd # * ? ! text", "Schlüssel – 鍵 🔑"}) {
    BOOST_TEST(!text_fault(text).has_value());
  }
  BOOST_TEST(!text_fault(std::string(kMaxText, 'x')).has_value());
  BOOST_TEST(text_fault(std::string(kMaxText + 1, 'x')).has_value());
  BOOST_TEST(!text_fault(std::string(2000, 'x'), 4096).has_value());
}

BOOST_AUTO_TEST_CASE(line_breaking_and_control_characters_are_refused) {
  for (std::string text : {std::string("a\nb"), std::string("a\rb"), std::string("a\0b", 3), std::string("\t"),
                           std::string("\x1b]0;title\x07"), std::string("\x7f"), std::string("\xc2\x80"),
                           std::string("\xc2\x9f"), std::string("\xe2\x80\xa8"), std::string("\xe2\x80\xa9"),
                           std::string("\xe2\x80\xaa"), std::string("\xe2\x80\xae"), std::string("\xe2\x81\xa6"),
                           std::string("\xe2\x81\xa9")}) {
    BOOST_TEST_CONTEXT(printable(text)) {
      BOOST_TEST(text_fault(text).has_value());
      BOOST_CHECK_THROW(check_text("--reason", text), Error);
    }
  }
}

BOOST_AUTO_TEST_CASE(malformed_utf8_is_refused) {
  for (std::string text : {"\x80", "\xc3", "\xc3\x28", "\xc0\x80", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                           "\xf8\x88\x80\x80\x80", "\xff"}) {
    BOOST_TEST_CONTEXT(printable(text)) { BOOST_TEST(text_fault(text).has_value()); }
  }
}

BOOST_AUTO_TEST_CASE(printable_keeps_one_line) {
  BOOST_TEST(printable("a\nb\\c") == "a\\x0ab\\x5cc");
  BOOST_TEST(printable("Schlüssel") == "Schlüssel");
  BOOST_TEST(printable(std::string("\xff\0", 2)) == "\\xff\\x00");
  BOOST_TEST(printable("\xe2\x80\xa8") == "\\xe2\\x80\\xa8");
}
