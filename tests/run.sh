#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test with ctest and one
# under valgrind; then builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# them all again; builds the Release configuration; then runs every fuzz target (clang,
# libFuzzer) for a bounded time; last, builds the Debian package, installs, removes and purges
# it (tests/integration/deb_test.sh). Warnings are errors in every build here (BROKERKEY_WERROR).
# Usage: bash tests/run.sh   (as root, on Debian 12)
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
jobs=$(nproc)

# The test builds compile in the test hooks (BROKERKEY_TEST_NOW, BROKERKEY_TEST_CRASH_AT), so the
# clock and crash tests run; the Release build below does not, and is checked to ignore them.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBROKERKEY_TESTS=ON -DBROKERKEY_WERROR=ON \
  -DBROKERKEY_TEST_HOOKS=ON
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")
# One integration test under valgrind's memcheck (the module, the core and SoftHSM in one
# process): any error or definite leak fails the run.
valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
  --suppressions=tests/valgrind.supp build/bin/module_signing_test

cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug -DBROKERKEY_SANITIZE=ON -DBROKERKEY_TESTS=ON \
  -DBROKERKEY_WERROR=ON -DBROKERKEY_TEST_HOOKS=ON
cmake --build build-sanitize -j"$jobs"
(cd build-sanitize && ctest --output-on-failure -j"$jobs")

# The Release build as users and distributions make it (-O3, no test hooks), warning-free; it
# must ignore the test hooks' variables.
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBROKERKEY_TESTS=OFF -DBROKERKEY_WERROR=ON \
  -DBROKERKEY_TEST_HOOKS=OFF
cmake --build build-release -j"$jobs"
bash tests/integration/no_test_hooks_test.sh build-release/bin/brokerkey \
  build-release/bin/libbrokerkey-pkcs11.so

# Every libFuzzer target for a bounded time (FUZZ_SECONDS, default 30 each).
bash fuzz/run.sh build-fuzz

# Last, so that no other test sees an installed brokerkey: the Debian package built, installed
# with apt, used, removed and purged (the machine is left as it was).
bash tests/integration/deb_test.sh
