#!/usr/bin/env bash
# Installs, on Debian 12, every package brokerkey needs to build, test and run its quick start.
# Runs apt-get only when something is missing. Must run as root.
set -euo pipefail
packages=(
  build-essential cmake pkg-config libsystemd-dev
  libssl-dev libp11-kit-dev
  libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev
  softhsm2 p11-kit opensc gnutls-bin openssl git openssh-client openssh-server valgrind
  # fuzz/agent_seeds.py records real clients' frames to the agent; fuzz/module_seeds.py
  python3
  # brokerkey-agent's units: systemd-analyze, systemd-socket-activate, sysusers, tmpfiles.
  systemd
  # agent_remote_test: the runner host in a network namespace of its own (ip netns, veth)
  iproute2
  # fuzz/run.sh: clang only recommends libFuzzer's and the sanitizers' runtimes, and the
  # sanitizers name functions in their reports through llvm-symbolizer (package llvm).
  clang libclang-rt-14-dev llvm
  # man pages, generated at build time (man/generate.sh) and checked with man-db
  help2man scdoc man-db
  # the Debian package (packaging/build-deb.sh) and its test (tests/integration/deb_test.sh)
  dpkg-dev file lintian adduser systemd bash-completion
  # module_client_test, keytool_client_test: which files a consumer's clients open (none of the broker's)
  strace
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
