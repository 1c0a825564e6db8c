# A build without -DBROKERKEY_TEST_HOOKS=ON -- every build a user or a distribution makes, such
# as the Release build tests/run.sh checks this against -- ignores the test hooks entirely:
# BROKERKEY_TEST_NOW moves neither the keytool's clock nor the module's, and
# BROKERKEY_TEST_CRASH_AT kills nothing.
# Usage: no_test_hooks_test.sh BROKERKEY MODULE
source "$(dirname "$0")/lib.sh"

# Both hooks, set for every command below: a build that honoured them would record 2040 and be
# killed (SIGKILL) at the named effect point.
future=2040-01-01T00:00:00Z
today=$(date -u +%Y-%m-%d)
hooks() { env BROKERKEY_TEST_NOW=$future BROKERKEY_TEST_CRASH_AT=$1 "${@:2}"; }
# The day of a record's time: today, or (if this test runs across midnight UTC) yesterday.
is_today() { [ "${1:0:10}" = "$today" ] || [ "${1:0:10}" = "$(date -u +%Y-%m-%d)" ]; }

expect 0 "--version" -- "$BROKERKEY" --version
if grep -q "test hooks" <<<"$OUT"; then fail "this build says it has the test hooks: $OUT"; else pass; fi

"$BROKERKEY" init --dir "$WORK/broker" --service acme --purpose git-signing --env prod >/dev/null
export BROKERKEY_CONF=$WORK/broker/brokerkey.conf
LEDGER=$WORK/broker/ledger.jsonl
last_time() { tail -1 "$1" | sed -n 's/.*"time":"\([^"]*\)".*/\1/p'; }

# The keytool: a mint through both crash points of its way survives, stamped with today.
expect 0 "mint with a crash point at generate:after-keypair" -- \
  hooks generate:after-keypair "$BROKERKEY" mint
contains "created:      $today" "mint's creation time is today, not $future"
expect 0 "mint is recorded" -- grep -c '"event":"mint"' "$LEDGER"
t=$(last_time "$LEDGER")
is_today "$t" && pass || fail "the mint record's time is $t, not today"
expect 0 "status under BROKERKEY_TEST_NOW" -- hooks none "$BROKERKEY" status
contains "created:      $today" "status shows today's key"
expect 0 "check under BROKERKEY_TEST_NOW (a 2040 clock would find the key overdue)" -- \
  hooks none "$BROKERKEY" check
expect 0 "rotate with a crash point at rotate:after-generate" -- \
  hooks rotate:after-generate "$BROKERKEY" rotate
t=$(last_time "$LEDGER")
is_today "$t" && pass || fail "the rotate record's time is $t, not today"
grep -q "\"overlap_until\":\"2040" "$LEDGER" && fail "the overlap window was computed from 2040" || pass

# The module: a signature made by a client whose environment carries BROKERKEY_TEST_NOW is
# logged with today's time (the signing log is the module's clock on paper).
PIN=$("$BROKERKEY" consumer add ci | grep -o 'ci:[a-z0-9]*')
printf 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n' > "$WORK/msg"
LABEL=$("$BROKERKEY" status | sed -n 's/^  label: *//p' | head -1)
expect 0 "pkcs11-tool signs under BROKERKEY_TEST_NOW" -- hooks none pkcs11-tool --module "$MODULE" \
  --login --pin "$PIN" --sign --mechanism EDDSA --label "$LABEL" -i "$WORK/msg" -o "$WORK/sig"
t=$(last_time "$WORK/broker/signing-log.jsonl")
is_today "$t" && pass || fail "the signing log record's time is $t, not today"

finish
