#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage on everything) and runs each
# for a bounded time on a copy of its committed seed corpus; any finding fails the run and
# leaves the crashing input in the work directory.
# Usage: bash fuzz/run.sh [BUILD_DIR]     FUZZ_SECONDS=30 per target by default
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBROKERKEY_FUZZ=ON \
  -DBROKERKEY_TESTS=OFF >/dev/null
targets=(config ledger uri cms module)
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]/%/_fuzz}"

WORK=$(mktemp -d /tmp/brokerkey-fuzz-run-XXXXXX)
# SoftHSM's own EdDSA leak (tests/sanitizer.supp) is not brokerkey's.
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer.supp:print_suppressions=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Slow unwinding sees through libcrypto (no frame pointers) to the module that leaked.
export ASAN_OPTIONS=fast_unwind_on_malloc=0
export BROKERKEY_LOG=none
status=0
for target in "${targets[@]}"; do
  cp -r "fuzz/corpus/$target" "$WORK/$target"
  mkdir -p "$WORK/$target-findings"
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  if ! "$BUILD/bin/${target}_fuzz" -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=20 \
       -artifact_prefix="$WORK/$target-findings/" -print_final_stats=1 "$WORK/$target" \
       > "$WORK/$target.log" 2>&1; then
    echo "fuzz: $target FOUND A PROBLEM; input: $(ls "$WORK/$target-findings"/* 2>/dev/null)"
    tail -60 "$WORK/$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$WORK/$target.log" | tr '\n' ' '
    echo
  fi
done
[ "$status" -eq 0 ] && rm -rf "$WORK"
exit "$status"
