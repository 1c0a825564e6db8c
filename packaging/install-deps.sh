#!/usr/bin/env bash
# Installs, on Debian 12, every package brokerkey needs to build, test and run its quick start.
# Runs apt-get only when something is missing. Must run as root.
set -euo pipefail
packages=(
  build-essential cmake pkg-config libsystemd-dev
  libssl-dev libp11-kit-dev
  libboost1.81-dev libboost-json1.81-dev libboost-test1.81-dev
  softhsm2 p11-kit opensc gnutls-bin openssl git openssh-client valgrind
  # fuzz/agent_seeds.py records real clients' frames to the agent; fuzz/module_seeds.py
  python3
  # fuzz/run.sh: clang only recommends libFuzzer's and the sanitizers' runtimes, and the
  # sanitizers name functions in their reports through llvm-symbolizer (package llvm).
  clang libclang-rt-14-dev llvm
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
