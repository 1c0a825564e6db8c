# brokerkey-agent's systemd units, as `cmake --install` puts them, checked without a running
# systemd (CI's container has none):
#  - the install tree (DESTDIR) holds the socket and service units, sysusers.d and tmpfiles.d;
#  - `systemd-analyze verify` reads both units in that tree as its root (every key known, the
#    ExecStart binary present and executable) with no complaint, and
#    `systemd-analyze security --offline` rates the service's sandbox exposure at most 1.0 (SAFE);
#  - systemd-sysusers and systemd-tmpfiles, run on that root, make the accounts and the
#    directories the units name, with the owners and modes they need;
#  - socket activation for real: systemd-socket-activate listens, the agent is started on the
#    first connection and serves the socket it was passed (sd_listen_fds), a consumer account
#    that cannot read the broker directory signs with stock `ssh-keygen -Y sign` through it
#    (verified by `ssh-keygen -Y verify` against `brokerkey allowed-signers`), its record names
#    it in the signing log, a peer that is no consumer is refused, and SIGTERM stops it cleanly.
# The sandbox options themselves take effect only under systemd; the verify/security checks
# are what can be run here.
source "$(dirname "$0")/lib.sh"
AGENT=$3
BUILD=$4
# Not our code: systemd's tools run without the sanitizer build's preloaded runtimes.
plain() { env -u LD_PRELOAD -u ASAN_OPTIONS -u UBSAN_OPTIONS "$@"; }

for tool in systemd-analyze systemd-sysusers systemd-tmpfiles systemd-socket-activate; do
  command -v "$tool" >/dev/null && pass || fail "$tool not found (package systemd: packaging/install-deps.sh)"
done
[ "$failures" -eq 0 ] || { finish; exit 1; }

# --- the install tree -----------------------------------------------------------------------
ROOT=$WORK/root
plain env DESTDIR="$ROOT" cmake --install "$BUILD" >/dev/null
PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$BUILD/CMakeCache.txt")
UNITS=$ROOT$PREFIX/lib/systemd/system
for file in "$UNITS/brokerkey-agent.socket" "$UNITS/brokerkey-agent.service" \
    "$ROOT$PREFIX/lib/sysusers.d/brokerkey-agent.conf" "$ROOT$PREFIX/lib/tmpfiles.d/brokerkey-agent.conf"; do
  [ -f "$file" ] && pass || fail "cmake --install did not install $file"
done
EXEC=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$UNITS/brokerkey-agent.service")
[ "$EXEC" = "$PREFIX/bin/brokerkey-agent" ] && pass || fail "ExecStart names '$EXEC', not the installed $PREFIX/bin/brokerkey-agent"
[ -x "$ROOT$EXEC" ] && pass || fail "the ExecStart binary is not in the install tree"
# systemd's own units (sysinit.target, sockets.target, ...) for the dependencies every unit has.
mkdir -p "$ROOT/usr/lib/systemd"
cp -a /lib/systemd/system "$ROOT/usr/lib/systemd/"

expect 0 "systemd-analyze verify" -- plain systemd-analyze verify --man=no --root="$ROOT" \
  brokerkey-agent.socket brokerkey-agent.service
[ -z "$OUT" ] && pass || fail "systemd-analyze verify complains: $OUT"
# It warns (exit 0) about unknown keys and values: check that it does see a bad one, so the
# clean result above means something.
cp "$UNITS/brokerkey-agent.service" "$WORK/service.good"
sed -i 's/^SystemCallFilter=@system-service/SystemCallFilter=@sytem-service/' "$UNITS/brokerkey-agent.service"
expect 0 "systemd-analyze verify, misspelt value" -- plain systemd-analyze verify --man=no --root="$ROOT" \
  brokerkey-agent.service
contains "Unknown system call group" "verify reports a misspelt value"
cp "$WORK/service.good" "$UNITS/brokerkey-agent.service"

expect 0 "systemd-analyze security: exposure at most 1.0" -- plain systemd-analyze security --offline=yes \
  --threshold=10 --root="$ROOT" brokerkey-agent.service
contains "Overall exposure level for brokerkey-agent.service" "security reports the exposure"
# The socket: who may connect.
for line in ListenStream=/run/brokerkey/agent.sock SocketUser=_brokerkey SocketGroup=brokerkey-consumers \
    SocketMode=0660; do
  grep -qx "$line" "$UNITS/brokerkey-agent.socket" && pass || fail "brokerkey-agent.socket lacks $line"
done

# --- accounts and directories -----------------------------------------------------------------
mkdir -p "$ROOT/etc"
expect 0 "systemd-sysusers" -- plain systemd-sysusers --root="$ROOT"
AGENT_UID=$(awk -F: '$1 == "_brokerkey" { print $3 }' "$ROOT/etc/passwd")
AGENT_HOME=$(awk -F: '$1 == "_brokerkey" { print $6 }' "$ROOT/etc/passwd")
CONSUMERS_GID=$(awk -F: '$1 == "brokerkey-consumers" { print $3 }' "$ROOT/etc/group")
[ -n "$AGENT_UID" ] && [ "$AGENT_HOME" = /var/lib/brokerkey ] && pass ||
  fail "sysusers made no _brokerkey with home /var/lib/brokerkey: $(cat "$ROOT/etc/passwd")"
[ -n "$CONSUMERS_GID" ] && pass || fail "sysusers made no group brokerkey-consumers"
expect 0 "systemd-tmpfiles --create" -- plain systemd-tmpfiles --root="$ROOT" --create \
  "$ROOT$PREFIX/lib/tmpfiles.d/brokerkey-agent.conf"
OUT=$(stat -c '%a %u' "$ROOT/var/lib/brokerkey")
[ "$OUT" = "700 $AGENT_UID" ] && pass || fail "/var/lib/brokerkey is '$OUT', not 700 owned by _brokerkey"
OUT=$(stat -c '%a %u %g' "$ROOT/run/brokerkey")
[ "$OUT" = "750 0 $CONSUMERS_GID" ] && pass || fail "/run/brokerkey is '$OUT', not 750 root:brokerkey-consumers"
grep -q -- "--config /var/lib/brokerkey/brokerkey.conf" "$UNITS/brokerkey-agent.service" && pass ||
  fail "the service does not read the configuration in the broker directory"
grep -qx "ReadWritePaths=/var/lib/brokerkey" "$UNITS/brokerkey-agent.service" && pass ||
  fail "the broker directory is not the service's one writable path"

# --- socket activation, for real --------------------------------------------------------------
# The agent as root with its broker in a directory only root can read; the consumer is
# 'nobody', allowed to reach the socket through its group (as brokerkey-consumers would be).
new_broker "$WORK/broker"
"$BROKERKEY" consumer add nobody-consumer --user nobody >/dev/null
chmod 711 "$WORK"
RUN=$WORK/run
mkdir -m 0750 "$RUN"
chgrp nogroup "$RUN"
SOCK=$RUN/agent.sock
# systemd-socket-activate has no SocketMode=/SocketGroup=: the socket (root's, 0644 until
# then, so no one else can connect) gets them once it exists, before any client connects.
# It runs the agent in its own process at the first connection (LISTEN_FDS=1).
# The activated agent gets only the environment named here: under the sanitizer build, the
# same sanitizer settings every other shell test's processes get.
passed_env=()
for var in ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS; do
  [ -n "${!var:-}" ] && passed_env+=(-E "$var")
done
systemd-socket-activate "${passed_env[@]}" -l "$SOCK" "$AGENT" --config "$BROKERKEY_CONF" 2>"$WORK/agent.log" &
ACTIVATOR=$!
trap 'kill "$ACTIVATOR" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
chgrp nogroup "$SOCK"
chmod 0660 "$SOCK"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env SSH_AUTH_SOCK="$SOCK" HOME=/nonexistent "$@"; }

expect 1 "the consumer cannot read the broker directory" -- as_nobody cat "$BROKERKEY_CONF"
expect 0 "ssh-add -L through the activated socket" -- as_nobody ssh-add -L
contains "ssh-ed25519 " "the agent lists the broker key"
contains "acme-git-signing-ed25519-prod" "the key's comment is its label"
grep -qF "on the socket systemd passed, $SOCK (socket 0660 root:nogroup, directory 0750 root:nogroup)" "$WORK/agent.log" && pass ||
  fail "the agent did not serve the socket it was passed, or its start line lacks the socket's mode and owners: $(cat "$WORK/agent.log")"
printf '%s\n' "$OUT" | head -1 > "$WORK/key.pub"
chmod 644 "$WORK/key.pub"
mkdir -m 0777 "$WORK/data"
printf 'signed through the socket systemd passed\n' > "$WORK/data/message"
chmod 644 "$WORK/data/message"
expect 0 "stock ssh-keygen -Y sign through the agent" -- as_nobody ssh-keygen -Y sign -f "$WORK/key.pub" \
  -n git "$WORK/data/message"
"$BROKERKEY" allowed-signers --principal ci@acme.example > "$WORK/allowed_signers"
expect 0 "ssh-keygen -Y verify with brokerkey allowed-signers" -- ssh-keygen -Y verify \
  -f "$WORK/allowed_signers" -I ci@acme.example -n git -s "$WORK/data/message.sig" < "$WORK/data/message"
contains 'Good "git" signature for ci@acme.example' "the signature verifies"
SIGNING_LOG=$(dirname "$BROKERKEY_CONF")/signing-log.jsonl
grep '"consumer":"nobody-consumer"' "$SIGNING_LOG" | grep -q "\"uid\":$(id -u nobody)," && pass ||
  fail "the signing log does not name the consumer and its uid: $(cat "$SIGNING_LOG")"
# Root is no consumer: the agent closes the connection at once, so ssh-add fails reading the
# answer (exit 1) or, when the close comes first, writing the request (SIGPIPE, 141).
set +e
OUT=$(env SSH_AUTH_SOCK="$SOCK" ssh-add -L 2>&1)
status=$?
set -e
[ "$status" -eq 1 ] || [ "$status" -eq 141 ] && pass || fail "root, no consumer, was not refused: exit $status: $OUT"
grep -q "connection from uid 0 .* refused" "$WORK/agent.log" && pass ||
  fail "the agent did not log the refusal of uid 0: $(cat "$WORK/agent.log")"

kill -TERM "$ACTIVATOR"
set +e
wait "$ACTIVATOR"
status=$?
set -e
[ "$status" -eq 0 ] && pass || fail "the agent exited $status on SIGTERM: $(cat "$WORK/agent.log")"
grep -q "stopped" "$WORK/agent.log" && pass || fail "the agent did not log its stop: $(cat "$WORK/agent.log")"
finish
