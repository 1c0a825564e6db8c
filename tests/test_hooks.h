// For Boost.Test suites that move the clock (BROKERKEY_TEST_NOW) or crash the keytool
// (BROKERKEY_TEST_CRASH_AT): those hooks exist only in a build configured with
// -DBROKERKEY_TEST_HOOKS=ON. In any other build the suite fails at once, saying so, instead of
// passing without having tested anything.
#pragma once

#include <boost/test/unit_test.hpp>
#include <stdexcept>

struct RequireTestHooks {
  RequireTestHooks() {
#ifndef BROKERKEY_TEST_HOOKS
    throw std::runtime_error(
        "this suite needs the test hooks: configure the build with -DBROKERKEY_TEST_HOOKS=ON");
#endif
  }
};
BOOST_TEST_GLOBAL_FIXTURE(RequireTestHooks);
