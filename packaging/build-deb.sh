#!/usr/bin/env bash
# Builds the Debian package: bash packaging/build-deb.sh [BUILD_DIR]   (default build-deb)
# A build installed under /usr with Debian's own compiler and hardening flags
# (dpkg-buildflags), packed by CPack's DEB generator, then checked by lintian: any lintian
# error fails the build. Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-deb}
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cppflags=$(dpkg-buildflags --get CPPFLAGS)
export CFLAGS="$(dpkg-buildflags --get CFLAGS) $cppflags"
export CXXFLAGS="$(dpkg-buildflags --get CXXFLAGS) $cppflags"
export LDFLAGS=$(dpkg-buildflags --get LDFLAGS)
# Build type None: the flags are exactly dpkg-buildflags' (as debhelper builds CMake projects).
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=None -DCMAKE_INSTALL_PREFIX=/usr \
  -DBROKERKEY_TESTS=OFF -DBROKERKEY_MAN=ON >/dev/null
cmake --build "$dir" -j"$(nproc)" --target package >/dev/null
deb=$(ls "$dir"/brokerkey_*.deb)
lintian --fail-on error "$deb" >&2
echo "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
