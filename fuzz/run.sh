#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + coverage on the core, the module and
# the keytool) and runs each for a bounded time on a copy of its committed seed corpus, so new
# corpus entries never land in the repository. Any finding fails the run and names the input.
# Usage: bash fuzz/run.sh [BUILD_DIR]     (default build-fuzz; FUZZ_SECONDS=30 per target;
#        FUZZ_TARGETS="agent uri" builds and runs only those, default all)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-fuzz}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-30}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBROKERKEY_FUZZ=ON \
  -DBROKERKEY_TESTS=OFF -DBROKERKEY_WERROR=ON >/dev/null
# The longest input each target is given: a few times its largest real input.
declare -A max_len=([config]=4096 [ledger]=8192 [uri]=1024 [cms]=6144 [module]=1024 [agent]=4096
  [agent_client]=8192)
read -r -a targets <<<"${FUZZ_TARGETS:-config ledger uri cms module agent agent_client}"
for target in "${targets[@]}"; do
  [ -n "${max_len[$target]:-}" ] || { echo "fuzz: no target '$target' (${!max_len[*]})" >&2; exit 2; }
done
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]/%/_fuzz}"

WORK=$(mktemp -d /tmp/brokerkey-fuzz-run-XXXXXX)
export TMPDIR=$WORK  # module_fuzz's broker and ledger_fuzz's scratch file live here too
export BROKERKEY_LOG=none
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# SoftHSM's own EdDSA leak (tests/sanitizer.supp) is the only one suppressed. LeakSanitizer
# sees it is SoftHSM's only by unwinding through libcrypto (no frame pointers) at every malloc,
# which makes module_fuzz six times slower; so module_fuzz fuzzes without leak checks, then
# runs every input it kept (the seeds and whatever found new coverage) again with them.
export LSAN_OPTIONS=suppressions=$PWD/tests/sanitizer.supp:print_suppressions=0
leak_checked=fast_unwind_on_malloc=0:malloc_context_size=12

status=0
# run TARGET LOG ASAN_OPTIONS [libFuzzer flags...]
run() {
  local target=$1 log=$2 asan=$3
  shift 3
  if ! ASAN_OPTIONS=$asan "$BUILD/bin/${target}_fuzz" -max_len="${max_len[$target]}" -timeout=25 \
       -artifact_prefix="$WORK/$target-findings/" -print_final_stats=1 "$@" "$WORK/$target" \
       > "$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz: $target FOUND A PROBLEM; input: $(ls "$WORK/$target-findings"/* 2>/dev/null || echo none)"
    echo "fuzz: log: $log"
    status=1
    return 1
  fi
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$log" | tr -s ' \n' ' '
  echo
}
for target in "${targets[@]}"; do
  cp -r "fuzz/corpus/$target" "$WORK/$target"
  mkdir -p "$WORK/$target-findings"
  echo "fuzz: $target for ${SECONDS_PER_TARGET}s"
  if [ "$target" != module ]; then
    run "$target" "$WORK/$target.log" "" -max_total_time="$SECONDS_PER_TARGET" || true
  elif run module "$WORK/module.log" detect_leaks=0 -detect_leaks=0 \
       -max_total_time="$SECONDS_PER_TARGET"; then
    echo "fuzz: module: leak check of $(ls "$WORK/module" | wc -l) inputs"
    run module "$WORK/module-leaks.log" "$leak_checked" -runs=0 || true
  fi
done
[ "$status" -eq 0 ] && rm -rf "$WORK"
exit "$status"
