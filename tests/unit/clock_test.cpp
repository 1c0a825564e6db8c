#define BOOST_TEST_MODULE clock
#include <boost/test/unit_test.hpp>
#include <cstdlib>

#include "core/clock.h"
#include "core/error.h"

using namespace brokerkey;

BOOST_AUTO_TEST_CASE(rfc3339_round_trip) {
  auto t = parse_rfc3339("2026-11-22T07:00:05Z");
  BOOST_REQUIRE(t);
  BOOST_TEST(format_rfc3339(*t) == "2026-11-22T07:00:05Z");
  BOOST_TEST(format_rfc3339(*parse_rfc3339("2024-02-29")) == "2024-02-29T00:00:00Z");
}

BOOST_AUTO_TEST_CASE(rfc3339_rejects_malformed_times) {
  for (const char* bad : {"", "2026-11-22T07:00:05", "2026-11-22 07:00:05Z", "2025-02-29",
                          "2026-13-01", "2026-11-22T24:00:00Z", "2026-11-22T07:00:05+01:00",
                          "26-11-22"}) {
    BOOST_TEST(!parse_rfc3339(bad), bad);
  }
}

BOOST_AUTO_TEST_CASE(test_clock_override) {
#ifndef BROKERKEY_TEST_HOOKS
  // Only a build with the test hooks reads BROKERKEY_TEST_NOW (no_test_hooks_test.sh proves
  // that any other build ignores it); here that is a build mistake, not a pass.
  BOOST_FAIL("this test needs the test hooks: configure the build with -DBROKERKEY_TEST_HOOKS=ON");
#endif
  ::setenv("BROKERKEY_TEST_NOW", "2030-01-01T00:00:00Z", 1);
  BOOST_TEST(format_rfc3339(now()) == "2030-01-01T00:00:00Z");
  ::setenv("BROKERKEY_TEST_NOW", "soon", 1);
  BOOST_CHECK_THROW(now(), Error);
  ::unsetenv("BROKERKEY_TEST_NOW");
  BOOST_TEST((now() > *parse_rfc3339("2025-01-01")));
}

// Every time parse_rfc3339 reads is written back as it was read, early years included (the
// agent_client fuzz target found year 0748 written as "748-...").
BOOST_AUTO_TEST_CASE(rfc3339_early_years_round_trip) {
  for (const char* text : {"0748-12-01T00:02:28Z", "0001-01-01T00:00:00Z", "0999-06-30T23:59:59Z", "9999-12-31T23:59:59Z"}) {
    auto parsed = brokerkey::parse_rfc3339(text);
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST(brokerkey::format_rfc3339(*parsed) == text);
  }
}
