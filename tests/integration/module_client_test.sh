# The module in client mode, as a consumer account uses it: an account made here (useradd, as
# root) that cannot read the broker directory and has nothing but a client configuration in
# its HOME signs through brokerkey-agent with stock pkcs11-tool (the protected authentication
# path, no PIN; and its consumer PIN) and p11tool; strace shows it opened no broker file and
# loaded no backend module; the signing log names its consumer; the agent stopped gives a clear
# failure (said once) and, restarted, works again with nothing else done; a rotation is seen at
# once; an account the agent maps to no consumer is told that likely cause, once.
source "$(dirname "$0")/lib.sh"
MODULE=$(readlink -f "$MODULE")  # p11-kit takes a relative module path as relative to its own directory
needs_root useradd

s=$$
CONSUMER=bkmc$s SOCKET_GROUP=bkmg$s
add_group "$SOCKET_GROUP"
chmod 711 "$WORK"
add_account "$CONSUMER" -m -d "$WORK/home" -G "$SOCKET_GROUP"
HOME_DIR=$WORK/home

BROKER=$WORK/broker
"$BROKERKEY" init --dir "$BROKER" --service acme --purpose git-signing --env prod >/dev/null
export BROKERKEY_CONF=$BROKER/brokerkey.conf
"$BROKERKEY" mint >/dev/null
PIN=$("$BROKERKEY" consumer add builder --user "$CONSUMER" --allow raw,sshsig:git,cms | grep -o 'builder:[a-z0-9]*')
LABEL=acme-git-signing-ed25519-prod
LOG=$BROKER/signing-log.jsonl

mkdir -m 0750 "$WORK/run" && chgrp "$SOCKET_GROUP" "$WORK/run"
SOCKET=$WORK/run/agent.sock
python3 - "$BROKERKEY_CONF" "$SOCKET_GROUP" <<'PY'
import json, sys
path, group = sys.argv[1], sys.argv[2]
conf = json.load(open(path))
conf["agent"] = {"socket_group": group}
open(path, "w").write(json.dumps(conf))
PY
start_agent "$SOCKET"

# The consumer's only brokerkey file: a client configuration, found in its HOME. The JSON is
# the one `brokerkey client-config` prints (core/config.h client_config_text).
mkdir -p "$HOME_DIR/.config/brokerkey"
printf '{"version":1,"mode":"client","token_label":"brokerkey","agent":{"socket":"%s"}}\n' "$SOCKET" \
  > "$HOME_DIR/.config/brokerkey/brokerkey.conf"
printf 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n' > "$HOME_DIR/msg"
chown -R "$CONSUMER:$CONSUMER" "$HOME_DIR"
"$BROKERKEY" pubkey --format pem > "$WORK/pub.pem"
chmod 644 "$WORK/pub.pem"

# as COMMAND...: runs COMMAND as the consumer, with its HOME and nothing of root's environment
# but the sanitizer build's settings (the module is instrumented there).
as() {
  run_as "$CONSUMER" "$HOME_DIR" BROKERKEY_LOG=stderr \
    ${LD_PRELOAD:+LD_PRELOAD="$LD_PRELOAD"} ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} \
    ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} "$@"
}
# traced NAME COMMAND...: runs COMMAND as the consumer under strace -f (every file system call
# of every process and thread, into $WORK/NAME.trace).
traced() {
  local name=$1
  shift
  as strace -f -qq -e trace=%file -o "$HOME_DIR/$name.trace" "$@"
}
# untouched NAME [TRACE CONF]: the trace (default the consumer's NAME.trace) opened no path
# under the broker directory and loaded no backend, but read the client configuration CONF.
# brokerkey opens trusted files one component at a time from / (openat), so a path shows as
# its components: the broker directory's name and its files' names are looked for too.
BROKER_NAMES='"broker"|"(backend\.pin|ledger\.jsonl|signing-log\.jsonl|softhsm2\.conf|tokens)"'
untouched() {
  local trace=${2:-$HOME_DIR/$1.trace} conf=${3:-$HOME_DIR/.config/brokerkey/brokerkey.conf}
  if [ ! -s "$trace" ]; then fail "$1: no trace written"; return; fi
  if grep -F "$BROKER" "$trace" >/dev/null || grep -E "$BROKER_NAMES" "$trace" >/dev/null; then
    fail "$1 touched the broker directory: $(grep -E "$BROKER_NAMES|$BROKER" "$trace" | head -3)"
  else
    pass
  fi
  if grep -E 'softhsm|libsofthsm2' "$trace" >/dev/null; then fail "$1 loaded the backend: $(grep -E 'softhsm' "$trace" | head -3)"; else pass; fi
  if grep -F "\"$(basename "$conf")\"" "$trace" >/dev/null; then pass; else fail "$1 did not read the client configuration"; fi
}
verified() {
  expect 0 "$1: openssl verifies the signature" -- openssl pkeyutl -verify -pubin -inkey "$2" \
    -rawin -in "$HOME_DIR/msg" -sigfile "$HOME_DIR/sig"
  contains "Signature Verified Successfully" "$1: openssl verdict"
}

expect 2 "the consumer cannot read the broker directory" -- as ls "$BROKER"

# The token offers the protected authentication path: --login without a PIN.
expect 0 "pkcs11-tool lists the token" -- as pkcs11-tool --module "$MODULE" -L
contains "token label        : brokerkey" "token label"
contains "PIN pad present" "CKF_PROTECTED_AUTHENTICATION_PATH"
FP=$("$BROKERKEY" pubkey --format fingerprint)
contains "serial num         : ${FP:0:16}" "token serial is the fingerprint prefix"
expect 0 "pkcs11-tool signs on the protected path (no PIN)" -- traced protected pkcs11-tool \
  --module "$MODULE" --login --sign --mechanism EDDSA --label "$LABEL" -i "$HOME_DIR/msg" -o "$HOME_DIR/sig"
verified "protected path" "$WORK/pub.pem"
untouched protected
# The check sees a module that does read the broker: the same run in embedded mode, as root.
env BROKERKEY_CONF="$BROKERKEY_CONF" strace -f -qq -e trace=%file -o "$WORK/embedded.trace" \
  pkcs11-tool --module "$MODULE" -L >/dev/null 2>&1 || true
grep -E "$BROKER_NAMES" "$WORK/embedded.trace" | grep -q '"ledger.jsonl"' && pass ||
  fail "the trace check does not see the embedded module open the ledger"
RECORD=$(tail -n 1 "$LOG")
for field in '"consumer":"builder"' "\"uid\":$(id -u "$CONSUMER")" '"via":"agent"' '"login":"peer"' '"result":"ok"' '"exe":"/usr/bin/pkcs11-tool"'; do
  grep -qF "$field" <<<"$RECORD" && pass || fail "signing log record lacks $field: $RECORD"
done

# The consumer PIN, checked by the agent.
rm -f "$HOME_DIR/sig"
expect 0 "pkcs11-tool signs with the consumer PIN" -- traced pin pkcs11-tool --module "$MODULE" \
  --login --pin "$PIN" --sign --mechanism EDDSA --label "$LABEL" -i "$HOME_DIR/msg" -o "$HOME_DIR/sig"
verified "consumer PIN" "$WORK/pub.pem"
untouched pin
grep -qF '"login":"pin"' <(tail -n 1 "$LOG") && pass || fail "PIN login not logged: $(tail -n 1 "$LOG")"
expect 1 "a wrong PIN is refused" -- as pkcs11-tool --module "$MODULE" --login --pin "builder:wrongwrongwrong" \
  --sign --mechanism EDDSA -i "$HOME_DIR/msg" -o "$HOME_DIR/sig2"
contains "CKR_PIN_INCORRECT" "wrong PIN code"

URI="pkcs11:token=brokerkey;object=$LABEL;type=private"
if p11tool_usable; then
  expect 0 "p11tool signs and verifies by URI on the protected path" -- traced p11tool p11tool \
    --provider "$MODULE" --login --test-sign --hash SHA512 "$URI"
  contains "Verifying against public key in the token... ok" "p11tool test-sign"
  untouched p11tool
fi

# A client configuration that also names the backend, its PIN file, the ledger and the signing
# log (the broker's own, switched to client mode), used by root, who could read them all: none
# is opened.
"$BROKERKEY" consumer add operator --uid 0 --allow raw >/dev/null
python3 - "$BROKERKEY_CONF" "$SOCKET" "$WORK/named.conf" <<'PY'
import json, sys
conf = json.load(open(sys.argv[1]))
conf["mode"] = "client"
conf["agent"] = {"socket": sys.argv[2]}
open(sys.argv[3], "w").write(json.dumps(conf))
PY
grep -qF "$BROKER/backend.pin" "$WORK/named.conf" && pass || fail "the named configuration lacks the PIN file"
expect 0 "root signs with a client configuration that names every broker file" -- \
  env BROKERKEY_CONF="$WORK/named.conf" strace -f -qq -e trace=%file -o "$WORK/named.trace" \
  pkcs11-tool --module "$MODULE" --login --sign --mechanism EDDSA --label "$LABEL" -i "$HOME_DIR/msg" -o "$WORK/sig-root"
untouched "named files" "$WORK/named.trace" "$WORK/named.conf"
grep -qF '"consumer":"operator"' <(tail -n 1 "$LOG") && pass || fail "root's signature not logged: $(tail -n 1 "$LOG")"

# The agent stopped: no token, a clear message; restarted: works with nothing else done.
stop_agent
expect 1 "pkcs11-tool fails while the agent is down" -- as pkcs11-tool --module "$MODULE" --login \
  --sign --mechanism EDDSA -i "$HOME_DIR/msg" -o "$HOME_DIR/sig2"
contains "brokerkey-agent: cannot connect to $SOCKET" "the module says why"
said_once() {
  local n
  n=$(grep -cF -- "$1" <<<"$OUT" || true)
  [ "$n" -eq 1 ] && pass || fail "$2: said $n times, not once: $OUT"
}
said_once "brokerkey-pkcs11: brokerkey-agent: cannot connect to $SOCKET" "the outage, for pkcs11-tool's several calls"
start_agent "$SOCKET"
rm -f "$HOME_DIR/sig"
expect 0 "pkcs11-tool signs again once the agent is back" -- as pkcs11-tool --module "$MODULE" --login \
  --sign --mechanism EDDSA --label "$LABEL" -i "$HOME_DIR/msg" -o "$HOME_DIR/sig"
verified "after the restart" "$WORK/pub.pem"

# A rotation is seen at the next call: the new key signs, the old one is in slot 1.
"$BROKERKEY" rotate >/dev/null
NEW_FP=$("$BROKERKEY" pubkey --format fingerprint)
[ "$NEW_FP" != "$FP" ] && pass || fail "rotate did not change the key"
"$BROKERKEY" pubkey --format pem > "$WORK/new.pem"
chmod 644 "$WORK/new.pem"
expect 0 "pkcs11-tool lists both slots" -- as pkcs11-tool --module "$MODULE" -L
contains "serial num         : ${NEW_FP:0:16}" "the current slot shows the new key"
contains "serial num         : ${FP:0:16}" "the overlap slot shows the old key"
rm -f "$HOME_DIR/sig"
expect 0 "pkcs11-tool signs with the new key" -- as pkcs11-tool --module "$MODULE" --login \
  --sign --mechanism EDDSA --label "$LABEL" -i "$HOME_DIR/msg" -o "$HOME_DIR/sig"
verified "after the rotation" "$WORK/new.pem"
grep -qF "\"fingerprint\":\"$NEW_FP\"" <(tail -n 1 "$LOG") && pass || fail "the new key is not in the log: $(tail -n 1 "$LOG")"

# An account the agent maps to no consumer: the agent closes its connections as it takes them,
# and the module says so with that likely cause, once for pkcs11-tool's several calls.
"$BROKERKEY" consumer remove builder >/dev/null
expect 0 "pkcs11-tool shows no token to an account mapped to no consumer" -- as pkcs11-tool --module "$MODULE" -L
said_once "brokerkey-pkcs11: brokerkey-agent: the connection was closed by the other end ($SOCKET) (is this account mapped to a consumer? the agent closes the connections of accounts that are not)" \
  "the likely cause"
if grep -q "token label" <<<"$OUT"; then fail "a token shown to an account mapped to no consumer: $OUT"; else pass; fi

expect 0 "audit verify" -- "$BROKERKEY" audit verify
finish
