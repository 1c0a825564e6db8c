# The keytool as a user runs it: every command's help, one clear line and a non-zero exit for
# every mistake, and nothing lost or half-written when it refuses.
source "$(dirname "$0")/lib.sh"
B=$WORK/broker

for command in init mint status pubkey fingerprint consumer audit rotate retire revoke allowed-signers check health git-config cert \
  client-config agent-config; do
  expect 0 "$command --help" -- "$BROKERKEY" "$command" --help
  contains "Usage: brokerkey $command" "$command help"
done
expect 0 "overview" -- "$BROKERKEY" --help
# One version everywhere: the programs' --version and the module's C_GetInfo libraryVersion.
expect 0 "--version" -- "$BROKERKEY" --version
# (a test build adds a second line saying the test hooks are compiled in)
[[ "$(head -n 1 <<<"$OUT")" =~ ^brokerkey\ ([0-9]+)\.([0-9]+)\.[0-9]+$ ]] && pass || fail "--version: $OUT"
MAJOR_MINOR="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
VERSION=$(head -n 1 <<<"$OUT")
VERSION=${VERSION#brokerkey }
for dropin in brokerkey-ssh-keygen brokerkey-gpgsm; do
  expect 0 "$dropin --version" -- "$(dirname "$BROKERKEY")/$dropin" --version
  [ "$OUT" = "$dropin $VERSION" ] && pass || fail "$dropin --version: $OUT"
done
expect 2 "unknown command" -- "$BROKERKEY" frobnicate
one_line "unknown command"
expect 2 "unknown option" -- "$BROKERKEY" status --colour
one_line "unknown option"
contains "unknown option '--colour'" "unknown option named"
expect 2 "unknown option with a value" -- "$BROKERKEY" status --colour=red
contains "unknown option '--colour'" "unknown option named without its value"
expect 2 "unknown short option" -- "$BROKERKEY" status -x
contains "unknown option '-x'" "short option named"
expect 2 "a value for a flag" -- "$BROKERKEY" status --json=yes
contains "--json takes no value" "flag value message"
expect 2 "a missing value" -- "$BROKERKEY" audit list --limit
one_line "missing value"
contains "--limit needs a value" "missing value message"
expect 2 "an option twice" -- "$BROKERKEY" revoke 00 --reason a --reason b
contains "--reason given twice" "twice message"
expect 2 "an ambiguous abbreviation" -- "$BROKERKEY" init --dir "$WORK/never" --backend x
one_line "ambiguous"
contains "ambiguous option '--backend' (--backend-module, --backend-pin-file, --backend-token)" "ambiguous message"
expect 2 "an argument too many" -- "$BROKERKEY" status extra
contains "unexpected argument 'extra'" "extra argument named"
expect 2 "after --, an option is an argument" -- "$BROKERKEY" status -- --json
contains "unexpected argument '--json'" "-- ends the options"
[ ! -e "$WORK/never" ] && pass || fail "a refused init created its directory"

expect 1 "no configuration" -- "$BROKERKEY" status
one_line "no configuration"
contains "no brokerkey configuration found" "no configuration message"

# init: creates everything private, refuses to overwrite.
expect 0 "init" -- "$BROKERKEY" init --dir "$B" --service acme --purpose git-signing --env prod
contains "export BROKERKEY_CONF=$B/brokerkey.conf" "init prints the export line"
export BROKERKEY_CONF=$B/brokerkey.conf
[ "$(stat -c %a "$B")" = 700 ] && pass || fail "broker dir mode $(stat -c %a "$B")"
for f in backend.pin brokerkey.conf ledger.jsonl; do
  [ "$(stat -c %a "$B/$f")" = 600 ] && pass || fail "$f mode $(stat -c %a "$B/$f")"
done
snapshot() { (cd "$B" && find . -type f -exec sha256sum {} + | sort); }
before=$(snapshot)
expect 1 "init refuses an existing broker" -- "$BROKERKEY" init --dir "$B"
one_line "init refusal"
contains "already holds a broker" "init refusal message"
[ "$(snapshot)" = "$before" ] && pass || fail "refused init changed the broker"
mkdir "$WORK/nonempty" && touch "$WORK/nonempty/file"
expect 1 "init refuses a non-empty directory" -- "$BROKERKEY" init --dir "$WORK/nonempty"
[ -f "$WORK/nonempty/file" ] && [ "$(ls "$WORK/nonempty" | wc -l)" -eq 1 ] && pass || fail "non-empty dir touched"
expect 1 "failed init leaves nothing" -- "$BROKERKEY" init --dir "$WORK/half" \
  --backend-module /nonexistent.so --backend-token x --backend-pin-file /nonexistent.pin
[ ! -e "$WORK/half" ] && pass || fail "failed init left $WORK/half"
expect 2 "backend options go together" -- "$BROKERKEY" init --dir "$WORK/x" --backend-module /a.so
expect 1 "bad token label" -- "$BROKERKEY" init --dir "$WORK/y" --token-label "has space"
[ ! -e "$WORK/y" ] && pass || fail "bad init left $WORK/y"

# agent-config: brokerkey-agent's socket settings, shown and set in the configuration (atomically,
# mode 0600, nothing written on a refusal); no ledger record (deployment, not policy).
GROUP=$(id -gn)
expect 0 "agent-config shows the settings" -- "$BROKERKEY" agent-config
contains "socket:        (none: brokerkey-agent needs --socket PATH" "no socket yet"
contains "socket group:  (none: the agent's own group" "no group yet"
conf_state() { sha256sum < "$B/brokerkey.conf"; stat -c %a "$B/brokerkey.conf"; }
ledger_before=$(sha256sum < "$B/ledger.jsonl")
mkdir -m 0700 "$WORK/sockets"
expect 0 "agent-config --socket --socket-group" -- "$BROKERKEY" agent-config --socket "$WORK/sockets/run/agent.sock" --socket-group "$GROUP"
contains "socket:        $WORK/sockets/run/agent.sock" "the new socket shown"
contains "socket group:  $GROUP" "the new group shown"
contains "Restart brokerkey-agent" "a restart named"
python3 - "$B/brokerkey.conf" "$WORK/sockets/run/agent.sock" "$GROUP" <<'PY' && pass || fail "the configuration's agent section: $(cat "$B/brokerkey.conf")"
import json, sys
conf = json.load(open(sys.argv[1]))
assert conf["agent"] == {"socket": sys.argv[2], "socket_group": sys.argv[3]}, conf.get("agent")
PY
[ "$(stat -c %a "$B/brokerkey.conf")" = 600 ] && pass || fail "agent-config left the configuration mode $(stat -c %a "$B/brokerkey.conf")"
[ "$(sha256sum < "$B/ledger.jsonl")" = "$ledger_before" ] && pass || fail "agent-config wrote to the ledger"
[ -z "$(find "$B" -name '*.tmp*')" ] && pass || fail "agent-config left a temporary file: $(ls -a "$B")"
expect 0 "status reads the rewritten configuration" -- "$BROKERKEY" status
expect 0 "agent-config shows what was set" -- "$BROKERKEY" agent-config
contains "socket:        $WORK/sockets/run/agent.sock" "socket shown"
expect 0 "agent-config with the same values" -- "$BROKERKEY" agent-config --socket "$WORK/sockets/run/agent.sock"
contains "Unchanged" "nothing to write"
# Every refusal: one line, the configuration as it was.
conf_before=$(conf_state)
refused_config() {  # refused_config STATUS DESCRIPTION MESSAGE -- OPTIONS...
  local status=$1 what=$2 message=$3
  shift 4
  expect "$status" "agent-config: $what" -- "$BROKERKEY" agent-config "$@"
  one_line "agent-config: $what"
  contains "$message" "agent-config: $what: message"
  [ "$(conf_state)" = "$conf_before" ] && pass || fail "agent-config: $what: the configuration changed"
}
refused_config 2 "a relative socket" "--socket must be an absolute path" -- --socket run/agent.sock
refused_config 2 "a socket path naming no file" "names no file" -- --socket "$WORK/sockets/"
refused_config 2 "a socket path too long for a socket address" "a unix socket address holds at most 107" -- --socket "/$(printf 'a%.0s' $(seq 120))"
refused_config 2 "a control character in the socket path" "holds a control, line-breaking or direction-changing character" -- --socket "$WORK/sockets/a$(printf '\t')b"
refused_config 1 "neither the socket's directory nor its parent exists" "neither $WORK/sockets/x/y nor $WORK/sockets/x exists" -- --socket "$WORK/sockets/x/y/agent.sock"
touch "$WORK/sockets/file"
refused_config 1 "a socket directory that is a file" "$WORK/sockets/file is not a directory" -- --socket "$WORK/sockets/file/agent.sock"
refused_config 1 "a socket directory to create under a file" "$WORK/sockets/file is not a directory" -- --socket "$WORK/sockets/file/run/agent.sock"
refused_config 1 "a file at the socket path" "exists and is not a socket" -- --socket "$WORK/sockets/file"
refused_config 1 "an unknown group" "no group 'nosuchgroup$$' on this host" -- --socket-group "nosuchgroup$$"
refused_config 1 "a valid socket with an unknown group: nothing written" "no group" -- --socket "$WORK/sockets/other.sock" --socket-group "nosuchgroup$$"
refused_config 2 "--socket with --clear-socket" "exclude each other" -- --socket "$WORK/sockets/a.sock" --clear-socket
refused_config 2 "--socket-group with --clear-socket-group" "exclude each other" -- --socket-group "$GROUP" --clear-socket-group
refused_config 2 "a positional argument" "unexpected argument" -- "$WORK/sockets/a.sock"
expect 0 "agent-config --clear-socket-group" -- "$BROKERKEY" agent-config --clear-socket-group
contains "socket group:  (none" "group cleared"
contains "socket:        $WORK/sockets/run/agent.sock" "socket kept"
expect 0 "agent-config --clear-socket" -- "$BROKERKEY" agent-config --clear-socket
grep -q '"agent"' "$B/brokerkey.conf" && fail "an empty agent section left: $(cat "$B/brokerkey.conf")" || pass

# mint: label rules first, then one key, never a second.
expect 0 "status before mint" -- "$BROKERKEY" status
contains "current key: none" "status without key"
before=$(snapshot)
expect 1 "mint refuses a bad service" -- "$BROKERKEY" mint --service ACME
one_line "bad service"
contains "service 'ACME'" "bad service named"
expect 1 "mint refuses ed25519 as purpose" -- "$BROKERKEY" mint --purpose ed25519
[ "$(snapshot)" = "$before" ] && pass || fail "refused mint changed the broker"
expect 0 "mint" -- "$BROKERKEY" mint
contains "acme-git-signing-ed25519-prod" "mint label"
contains "uri:          pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private" "mint uri"
FP=$("$BROKERKEY" pubkey --format fingerprint)
contains "fingerprint:  $FP" "mint prints the fingerprint"
contains "SHA256:" "mint prints the OpenSSH fingerprint too"
grep -q "\"event\":\"mint\".*\"fingerprint\":\"$FP\"" "$B/ledger.jsonl" && pass || fail "ledger mint record"
before=$(snapshot)
expect 1 "second mint refused" -- "$BROKERKEY" mint
one_line "second mint"
contains "is current" "second mint message"
[ "$(snapshot)" = "$before" ] && pass || fail "refused mint changed the broker"

# pubkey: every format names the same key.
"$BROKERKEY" pubkey --format raw > "$WORK/raw"
[ "$(stat -c %s "$WORK/raw")" -eq 32 ] && pass || fail "raw key size"
[ "$(sha256sum < "$WORK/raw" | cut -c1-64)" = "$FP" ] && pass || fail "fingerprint is not SHA-256 of raw"
"$BROKERKEY" pubkey --format ssh > "$WORK/key.pub"
grep -q '^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA' "$WORK/key.pub" && pass || fail "ssh format"
SSHFP=$(ssh-keygen -l -f "$WORK/key.pub" | awk '{print $2}')
expect 0 "status" -- "$BROKERKEY" status
contains "ssh:          $SSHFP" "status shows the OpenSSH fingerprint ssh-keygen computes"
contains "fingerprint:  $FP" "status shows the raw-key fingerprint"
"$BROKERKEY" pubkey --format pem > "$WORK/key.pem"
openssl pkey -pubin -in "$WORK/key.pem" -outform DER | tail -c 32 | cmp -s - "$WORK/raw" && pass || fail "pem key differs"
expect 2 "unknown format" -- "$BROKERKEY" pubkey --format jwk
expect 1 "no overlap key" -- "$BROKERKEY" pubkey --role overlap
contains "no overlap key" "overlap message"
expect 0 "status --json" -- "$BROKERKEY" status --json
contains "\"current\":\"$FP\"" "json current"

# The validation hook through the deployed module.
expect 0 "fingerprint" -- "$BROKERKEY" fingerprint
[ "$OUT" = "$FP" ] && pass || fail "fingerprint output: $OUT"
expect 0 "fingerprint --check" -- "$BROKERKEY" fingerprint --check --module "$MODULE"
contains "ok  current  acme-git-signing-ed25519-prod  $FP" "check result"
# --check passes or fails as a whole (the same cases with an overlap key after the rotation at
# the end): --expect naming the current key passes; naming no key of the ledger, one failure line.
expect 0 "fingerprint --check --expect the current key" -- "$BROKERKEY" fingerprint --check --module "$MODULE" --expect "$FP"
contains "ok  current  acme-git-signing-ed25519-prod  $FP" "check result with --expect"
contains "and the current key has the expected fingerprint" "the expectation met"
WRONG=$(printf '%064d' 0)
expect 1 "fingerprint --check --expect a fingerprint of no key" -- "$BROKERKEY" fingerprint --check --module "$MODULE" --expect "$WRONG"
one_line "fingerprint --check --expect a fingerprint of no key"
contains "brokerkey fingerprint: the current key has fingerprint $FP, not the expected $WRONG: the ledger has no key with that fingerprint" "the mismatch and its reason"
[ -z "$("$BROKERKEY" fingerprint --check --module "$MODULE" --expect "$WRONG" 2>/dev/null)" ] && pass || fail "a failed check printed on stdout"
expect 0 "the module's C_GetInfo" -- pkcs11-tool --module "$MODULE" --show-info
grep -Eq "^Library +brokerkey .*\(ver $MAJOR_MINOR\)$" <<<"$OUT" && pass || fail "libraryVersion is not $MAJOR_MINOR: $OUT"

# consumers
expect 0 "consumer add" -- "$BROKERKEY" consumer add deploy-bot
contains "deploy-bot:" "PIN printed"
if grep -q "$(grep -o 'deploy-bot:[a-z0-9]*' <<<"$OUT" | cut -d: -f2)" "$B/brokerkey.conf"; then
  fail "the PIN is stored in clear"
else
  pass
fi
expect 1 "duplicate consumer" -- "$BROKERKEY" consumer add deploy-bot
one_line "duplicate consumer"
expect 1 "bad consumer name" -- "$BROKERKEY" consumer add "Bad Name"
expect 0 "consumer list" -- "$BROKERKEY" consumer list
[ "$OUT" = "deploy-bot" ] && pass || fail "consumer list: $OUT"
expect 0 "consumer remove" -- "$BROKERKEY" consumer remove deploy-bot
expect 1 "remove unknown consumer" -- "$BROKERKEY" consumer remove deploy-bot
expect 2 "consumer without action" -- "$BROKERKEY" consumer

# audit
expect 0 "audit verify" -- "$BROKERKEY" audit verify
contains "ledger $B/ledger.jsonl: 4 records, chain intact" "audit verify count"
expect 0 "audit list" -- "$BROKERKEY" audit list
[ "$(grep -c . <<<"$OUT")" -eq 4 ] && pass || fail "audit list: $OUT"
expect 0 "audit list --event" -- "$BROKERKEY" audit list --event consumer_add --json
[ "$(grep -c '"event":"consumer_add"' <<<"$OUT")" -eq 1 ] && pass || fail "event filter: $OUT"
expect 0 "audit list --offset --limit" -- "$BROKERKEY" audit list --offset 1 --limit 2
[ "$(grep -c . <<<"$OUT")" -eq 2 ] && pass || fail "paging: $OUT"
grep -q '^2 ' <<<"$OUT" && pass || fail "offset skips the first: $OUT"
expect 0 "audit list --since the future" -- "$BROKERKEY" audit list --since 2999-01-01
[ -z "$OUT" ] && pass || fail "since filter: $OUT"
expect 2 "bad --since" -- "$BROKERKEY" audit list --since yesterday
expect 2 "bad --limit" -- "$BROKERKEY" audit list --limit -3

cp "$B/ledger.jsonl" "$WORK/ledger.good"
sed -i '2s/"label":"acme/"label":"acmf/' "$B/ledger.jsonl"
expect 1 "audit verify finds the changed record" -- "$BROKERKEY" audit verify
contains "record 2 (line 2) was altered" "audit names the record"
expect 1 "status refuses a damaged ledger" -- "$BROKERKEY" status
one_line "damaged ledger"
cp "$WORK/ledger.good" "$B/ledger.jsonl"

# A configuration or ledger that others could have written is refused.
chmod 664 "$B/brokerkey.conf"
expect 1 "group-writable configuration" -- "$BROKERKEY" status
contains "must not be writable by group or others" "config mode message"
chmod 600 "$B/brokerkey.conf"
mkdir -m 777 "$WORK/public"
mv "$B/ledger.jsonl" "$WORK/public/ledger.jsonl"
ln -s "$WORK/public/ledger.jsonl" "$B/ledger.jsonl"
expect 1 "ledger symlinked into a world-writable directory" -- "$BROKERKEY" status
contains "directory $WORK/public (on the path to $B/ledger.jsonl) has mode 0777" "ledger directory message"

# init refuses a directory it could not trust later: a parent others can write, an existing
# directory of another user (it used to chmod it and take it over).
mkdir -m 775 "$WORK/shared"
expect 1 "init under a group-writable parent" -- "$BROKERKEY" init --dir "$WORK/shared/broker"
contains "directory $WORK/shared has mode 0775" "init parent message"
[ ! -e "$WORK/shared/broker" ] && pass || fail "init created a broker under a group-writable parent"
if [ "$(id -u)" -eq 0 ]; then
  mkdir -m 700 "$WORK/theirs"
  chown nobody "$WORK/theirs"
  expect 1 "init into another user's empty directory" -- "$BROKERKEY" init --dir "$WORK/theirs"
  contains "is owned by uid $(id -u nobody)" "init owner message"
  [ "$(stat -c %U:%a "$WORK/theirs")" = "nobody:700" ] && pass || fail "init changed another user's directory"
fi
rm "$B/ledger.jsonl" && mv "$WORK/public/ledger.jsonl" "$B/ledger.jsonl"
expect 0 "status again" -- "$BROKERKEY" status
[ ! -e "$B/backend-so.pin" ] && pass || fail "the SO PIN was stored"

# A backend PIN file others can read is refused, with the fix in the message.
chmod 644 "$B/backend.pin"
expect 1 "mint-time PIN check" -- "$BROKERKEY" fingerprint --check --module "$MODULE"
contains "chmod 600" "PIN file message"
chmod 600 "$B/backend.pin"

# The backend module passes the same trust rule before it is loaded (from a copy of what was
# checked), and brokerkey's own module is never its backend.
mkdir -m 700 "$WORK/libs"
cp "$SOFTHSM" "$WORK/libs/backend.so"
chmod 777 "$WORK/libs"
echo 1234 > "$WORK/libs.pin"; chmod 600 "$WORK/libs.pin"
expect 1 "a backend module in a world-writable directory" -- "$BROKERKEY" init --dir "$WORK/ext1" \
  --backend-module "$WORK/libs/backend.so" --backend-token t --backend-pin-file "$WORK/libs.pin"
contains "backend module: directory $WORK/libs (on the path to $WORK/libs/backend.so) has mode 0777" "backend directory message"
chmod 700 "$WORK/libs"; chmod 666 "$WORK/libs/backend.so"
expect 1 "a world-writable backend module" -- "$BROKERKEY" init --dir "$WORK/ext2" \
  --backend-module "$WORK/libs/backend.so" --backend-token t --backend-pin-file "$WORK/libs.pin"
contains "file $WORK/libs/backend.so has mode 0666" "backend file message"
sed "s|\"module\":\"[^\"]*\"|\"module\":\"$MODULE\"|" "$B/brokerkey.conf" > "$WORK/self.conf"
chmod 600 "$WORK/self.conf"
grep -q "\"module\":\"$MODULE\"" "$WORK/self.conf" && pass || fail "self.conf does not name the module"
expect 1 "brokerkey's own module as its backend" -- env BROKERKEY_CONF="$WORK/self.conf" pkcs11-tool --module "$MODULE" -L
contains "is brokerkey itself" "self-load message"

# Issue 11 §4: a damaged last line of the signing log fails C_Sign with a clear message (not a
# silent wedge), audit verify and health name the line, health --repair moves it aside and
# keeps every good record, and signing works again. A reader's flock does not stall signing.
echo "for the signing log" > "$WORK/msg"
LOG=$B/signing-log.jsonl
sign() { pkcs11-tool --module "$MODULE" --token-label brokerkey --login --pin "$PIN" --sign --mechanism EDDSA \
  -i "$WORK/msg" -o "$WORK/sig"; }
PIN=$("$BROKERKEY" consumer add logtest | grep -o 'logtest:[a-z0-9]*')
"$BROKERKEY" mint >/dev/null 2>&1 || true
expect 0 "signing with an intact log" -- sign
# A reader: a read-only descriptor with flock held (exec: killing $READER releases it).
( exec 9<"$LOG" && flock -x 9 && exec sleep 30 ) &
READER=$!
for _ in $(seq 50); do grep -q "FLOCK" "/proc/locks" && break; sleep 0.1; done
expect 0 "signing while a reader holds flock on the log" -- timeout 10 pkcs11-tool --module "$MODULE" \
  --token-label brokerkey --login --pin "$PIN" --sign --mechanism EDDSA -i "$WORK/msg" -o "$WORK/sig"
kill "$READER" 2>/dev/null || true
wait "$READER" 2>/dev/null || true
good=$(wc -l < "$LOG")
echo "not a record" >> "$LOG"
expect 1 "signing with a damaged last line" -- sign
contains "CKR_DEVICE_ERROR" "the module's code for a damaged log"
expect 1 "audit verify names the damaged line" -- "$BROKERKEY" audit verify
contains "(line $((good + 1))) is not a JSON object" "audit verify message"
expect 2 "health reports the damaged tail" -- "$BROKERKEY" health
contains "record at line $((good + 1)) is not a JSON object" "health names the line"
contains "brokerkey health --repair" "health says what to run"
expect 0 "health --repair moves the tail aside" -- "$BROKERKEY" health --repair
contains "repaired: moved lines $((good + 1))-$((good + 1)) of $LOG" "repair message"
[ "$(cat "$LOG".damaged-*)" = "not a record" ] && pass || fail "the damaged tail was not kept beside the log"
[ "$(wc -l < "$LOG")" -eq "$good" ] && pass || fail "repair did not keep every good record"
expect 0 "signing after the repair" -- sign
expect 0 "audit verify after the repair" -- "$BROKERKEY" audit verify

# fingerprint --check with an overlap key: --expect the new key passes (both keys ok); the old
# one (a fingerprint recorded before the rotation) or one of no key fails with one line, no "ok".
"$BROKERKEY" rotate >/dev/null
NEW_FP=$("$BROKERKEY" fingerprint)
expect 0 "fingerprint --check --expect the current key, with an overlap key" -- "$BROKERKEY" fingerprint --check --module "$MODULE" --expect "$NEW_FP"
contains "ok  current  acme-git-signing-ed25519-prod  $NEW_FP" "the current key ok"
contains "ok  overlap  acme-git-signing-ed25519-prod  $FP" "the overlap key ok"
expect 1 "fingerprint --check --expect the overlap key" -- "$BROKERKEY" fingerprint --check --module "$MODULE" --expect "$FP"
one_line "fingerprint --check --expect the overlap key"
contains "brokerkey fingerprint: the current key has fingerprint $NEW_FP, not the expected $FP: that is the overlap key, rotated out" "the overlap key named as the reason"
expect 1 "fingerprint --check --expect a fingerprint of no key, with an overlap key" -- "$BROKERKEY" fingerprint --check --module "$MODULE" --expect "$WRONG"
one_line "fingerprint --check --expect no key, with an overlap key"
contains "not the expected $WRONG: the ledger has no key with that fingerprint" "the reason named"
# A module that no longer shows the current key (its backend key pair swapped under the same
# CKA_ID, as module_failures_test does) and a wrong --expect: each failure its own line, and no
# "ok" line for the overlap key among them.
backend() { SOFTHSM2_CONF=$B/softhsm2.conf pkcs11-tool --module "$SOFTHSM" --token-label brokerkey-store \
  --login --pin "$(cat "$B/backend.pin")" "$@" >/dev/null 2>&1; }
backend --delete-object --type privkey --id "$NEW_FP" && backend --delete-object --type pubkey --id "$NEW_FP" &&
  backend --keypairgen --key-type EC:edwards25519 --id "$NEW_FP" --label acme-git-signing-ed25519-prod && pass ||
  fail "could not swap the backend key pair"
expect 1 "fingerprint --check through a module that shows no current key, --expect wrong" -- "$BROKERKEY" fingerprint --check --module "$MODULE" --expect "$WRONG"
grep -q "^ok" <<<"$OUT" && fail "an ok line among the failures: $OUT" || pass
contains "brokerkey fingerprint: current key acme-git-signing-ed25519-prod: the module shows no current token, the ledger says $NEW_FP" "the module's failure named"
contains "brokerkey fingerprint: the deployed module ($MODULE) does not match the ledger" "the module named"
contains "not the expected $WRONG: the ledger has no key with that fingerprint" "the expectation's failure named"
# (besides the module's own log line, BROKERKEY_LOG=stderr here)
grep -v '^brokerkey fingerprint: \|^brokerkey-pkcs11: ' <<<"$OUT" && fail "a line that is no failure: $OUT" || pass
# --expect naming a key the ledger retired: its status is the reason.
expect 0 "retire the old key" -- "$BROKERKEY" retire "$FP"
expect 1 "fingerprint --check --expect a retired key" -- "$BROKERKEY" fingerprint --check --module "$MODULE" --expect "$FP"
contains "not the expected $FP: that is a retired key of the ledger" "the retired key named as the reason"
finish
