# brokerkey-agent served to real local accounts, as stock OpenSSH reaches it: identity by the
# kernel, policy per consumer, the signing log, and a ledger followed without a restart.
# Accounts are made here (useradd, as root) and removed at the end.
source "$(dirname "$0")/lib.sh"
needs_root useradd

s=$$
SOCKET_GROUP=bkg$s OPS_GROUP=bko$s
ALICE=bka$s BOB=bkb$s CAROL=bkc$s MALLORY=bkm$s OUTSIDER=bkx$s
add_group "$SOCKET_GROUP"; add_group "$OPS_GROUP"
chmod 711 "$WORK"
for u in $ALICE $CAROL $MALLORY; do add_account "$u" -m -d "$WORK/home-$u" -G "$SOCKET_GROUP"; done
add_account "$BOB" -m -d "$WORK/home-$BOB" -G "$SOCKET_GROUP,$OPS_GROUP"
add_account "$OUTSIDER" -m -d "$WORK/home-$OUTSIDER"

# refused DESCRIPTION -- COMMAND...: COMMAND fails (the agent closed the connection: ssh-add
# then fails reading, or is killed writing, by SIGPIPE).
refused() {
  local what=$1
  shift 2
  set +e
  OUT=$("$@" 2>&1)
  local got=$?
  set -e
  if [ "$got" -eq 0 ]; then fail "$what: succeeded: $OUT"; else pass; fi
}

# as USER COMMAND...: runs COMMAND as USER with its groups, its HOME and the agent's socket.
as() {
  local user=$1
  shift
  run_as "$user" "$WORK/home-$user" SSH_AUTH_SOCK="$SOCKET" "$@"
}

"$BROKERKEY" init --dir "$WORK/broker" --service acme --purpose git-signing --env prod >/dev/null
export BROKERKEY_CONF=$WORK/broker/brokerkey.conf
"$BROKERKEY" mint >/dev/null
"$BROKERKEY" consumer add alice --user "$ALICE" >/dev/null
"$BROKERKEY" consumer add ops --group "$OPS_GROUP" --allow sshsig:git,sshsig:file >/dev/null
"$BROKERKEY" consumer add carol --user "$CAROL" --rate 2/1h >/dev/null
LOG=$WORK/broker/signing-log.jsonl

# The socket's directory: root's, open to the consumers' group only.
mkdir -m 0750 "$WORK/run" && chgrp "$SOCKET_GROUP" "$WORK/run"
SOCKET=$WORK/run/agent.sock
chmod 0770 "$WORK/run"
expect 1 "a socket directory the group could change is refused" -- "$AGENT" --socket "$SOCKET"
contains "must not be writable by group or others" "socket directory message"
chmod 0750 "$WORK/run"
expect 2 "an unknown option" -- "$AGENT" --frobnicate
contains "unknown or incomplete option '--frobnicate'" "usage message"

# The socket and its group set as an operator does (agent-config); the agent takes both from
# the configuration and says on its start line how the socket is on disk: who can connect.
expect 0 "agent-config sets the socket and its group" -- "$BROKERKEY" agent-config --socket "$SOCKET" --socket-group "$SOCKET_GROUP"
"$AGENT" 2>>"$WORK/agent.log" &
AGENT_PID=$!
wait_for_socket "$SOCKET"
[ "$(stat -c '%a %G' "$SOCKET")" = "660 $SOCKET_GROUP" ] && pass || fail "socket mode: $(stat -c '%a %G' "$SOCKET")"
grep -qF "serving $BROKERKEY_CONF on $SOCKET (socket 0660 root:$SOCKET_GROUP, directory 0750 root:$SOCKET_GROUP)" "$WORK/agent.log" && pass ||
  fail "the start line does not show the socket's mode and owners: $(cat "$WORK/agent.log")"

# A consumer account cannot read the broker, yet lists and uses the key through the socket.
expect 2 "alice cannot read the broker directory" -- as "$ALICE" ls "$WORK/broker"
expect 0 "alice lists the key" -- as "$ALICE" ssh-add -L
contains "acme-git-signing-ed25519-prod" "the comment is the key label"
KEY_LINE=$OUT
as "$ALICE" sh -c "ssh-add -L > \$HOME/key.pub; echo 'release 1' > \$HOME/msg"
expect 0 "alice signs with stock ssh-keygen -Y sign" -- as "$ALICE" ssh-keygen -Y sign -n git -f "$WORK/home-$ALICE/key.pub" "$WORK/home-$ALICE/msg"
"$BROKERKEY" allowed-signers --principal ci@acme.example > "$WORK/allowed_signers"
expect 0 "stock ssh-keygen -Y verify accepts it" -- ssh-keygen -Y verify -f "$WORK/allowed_signers" -I ci@acme.example -n git -s "$WORK/home-$ALICE/msg.sig" < "$WORK/home-$ALICE/msg"
contains 'Good "git" signature for ci@acme.example' "verify verdict"
ALICE_UID=$(id -u "$ALICE")
RECORD=$(tail -n 1 "$LOG")
for field in '"consumer":"alice"' "\"uid\":$ALICE_UID" '"exe":"/usr/bin/ssh-keygen"' '"purpose":"sshsig"' '"namespace":"git"' '"result":"ok"' '"role":"current"'; do
  grep -qF "$field" <<<"$RECORD" && pass || fail "signing log record lacks $field: $RECORD"
done

# Purposes: alice has git only.
rm -f "$WORK/home-$ALICE/msg.sig"
expect 255 "alice may not sign in namespace file" -- as "$ALICE" ssh-keygen -Y sign -n file -f "$WORK/home-$ALICE/key.pub" "$WORK/home-$ALICE/msg"
grep -qF 'refused: purpose sshsig:file not granted' <(tail -n 1 "$LOG") && pass || fail "refusal not logged: $(tail -n 1 "$LOG")"
# A consumer mapped by group (bob is in ops' group) has ops' grants.
as "$BOB" sh -c "ssh-add -L > \$HOME/key.pub; echo data > \$HOME/data"
expect 0 "bob signs as ops in namespace file" -- as "$BOB" ssh-keygen -Y sign -n file -f "$WORK/home-$BOB/key.pub" "$WORK/home-$BOB/data"
grep -qF '"consumer":"ops","uid":'"$(id -u "$BOB")" <(tail -n 1 "$LOG") && pass || fail "bob not logged as ops: $(tail -n 1 "$LOG")"

# Peers that are no consumer: in the socket group but unmapped, root, and outside the group.
refused "mallory (no consumer) is refused" -- as "$MALLORY" ssh-add -L
sleep 0.2
grep -q "uid $(id -u "$MALLORY") .*refused: uid $(id -u "$MALLORY") maps to no consumer" "$WORK/agent.log" && pass || fail "refusal of mallory not logged: $(cat "$WORK/agent.log")"
refused "root is not implicitly a consumer" -- env SSH_AUTH_SOCK="$SOCKET" ssh-add -L
expect 2 "an account outside the socket group cannot connect" -- as "$OUTSIDER" ssh-add -L
contains "ermission denied" "the kernel refuses the connection"
# brokerkey's own clients say the likely cause: the account is not in the socket's group.
as "$OUTSIDER" "$BROKERKEY" client-config --socket "$SOCKET" > /dev/null 2> "$WORK/outsider.err"
OUT=$(cat "$WORK/outsider.err")
contains "cannot connect to $SOCKET: Permission denied (this account may not open it: is it in the group the socket is shared with?" \
  "a brokerkey client outside the socket group is told why"

# The rate limit: two signatures an hour for carol.
as "$CAROL" sh -c "ssh-add -L > \$HOME/key.pub; echo a > \$HOME/a; echo b > \$HOME/b; echo c > \$HOME/c"
expect 0 "carol's first signature" -- as "$CAROL" ssh-keygen -Y sign -n git -f "$WORK/home-$CAROL/key.pub" "$WORK/home-$CAROL/a"
expect 0 "carol's second signature" -- as "$CAROL" ssh-keygen -Y sign -n git -f "$WORK/home-$CAROL/key.pub" "$WORK/home-$CAROL/b"
expect 255 "carol's third signature is over the rate" -- as "$CAROL" ssh-keygen -Y sign -n git -f "$WORK/home-$CAROL/key.pub" "$WORK/home-$CAROL/c"
grep -qF 'refused: rate limit 2/3600s reached' <(tail -n 1 "$LOG") && pass || fail "rate refusal not logged"

# A policy change is a ledger record, followed at the next request.
expect 0 "consumer set" -- "$BROKERKEY" consumer set alice --allow sshsig:git,sshsig:file
expect 0 "alice now signs in namespace file" -- as "$ALICE" ssh-keygen -Y sign -n file -f "$WORK/home-$ALICE/key.pub" "$WORK/home-$ALICE/msg"
grep -q '"event":"consumer_policy"' "$WORK/broker/ledger.jsonl" && pass || fail "no consumer_policy record"

# Rotation reaches the agent without a restart: the new key is listed and signs; the old
# key is refused (it only verifies now).
"$BROKERKEY" rotate >/dev/null
expect 0 "alice lists the new key" -- as "$ALICE" ssh-add -L
[ "$OUT" != "$KEY_LINE" ] && pass || fail "ssh-add -L still shows the old key"
rm -f "$WORK/home-$ALICE/msg.sig"
# (ssh-keygen asks only for keys the agent lists; the agent's own refusal of an old key is
# tested with a client that asks anyway, in agent_service_test.)
expect 255 "the rotated-out key signs nothing" -- as "$ALICE" ssh-keygen -Y sign -n git -f "$WORK/home-$ALICE/key.pub" "$WORK/home-$ALICE/msg"
as "$ALICE" sh -c "ssh-add -L > \$HOME/key.pub"
expect 0 "alice signs with the new key" -- as "$ALICE" ssh-keygen -Y sign -n git -f "$WORK/home-$ALICE/key.pub" "$WORK/home-$ALICE/msg"
"$BROKERKEY" allowed-signers --principal ci@acme.example > "$WORK/allowed_signers"
expect 0 "the new signature verifies" -- ssh-keygen -Y verify -f "$WORK/allowed_signers" -I ci@acme.example -n git -s "$WORK/home-$ALICE/msg.sig" < "$WORK/home-$ALICE/msg"

# A removed consumer is refused at its next connection.
"$BROKERKEY" consumer remove carol >/dev/null
refused "a removed consumer is refused" -- as "$CAROL" ssh-add -L

# A revoked current key signs nothing and is listed no more.
NEW_FP=$("$BROKERKEY" status --json | grep -o '"current":"[0-9a-f]*"' | cut -d'"' -f4)
"$BROKERKEY" revoke "$NEW_FP" --reason "test" >/dev/null
expect 1 "no identities after the revocation" -- as "$ALICE" ssh-add -L
contains "no identities" "ssh-add says so"
rm -f "$WORK/home-$ALICE/msg.sig"
expect 255 "the revoked key signs nothing" -- as "$ALICE" ssh-keygen -Y sign -n git -f "$WORK/home-$ALICE/key.pub" "$WORK/home-$ALICE/msg"

# The signing log is whole and names every request; SIGTERM ends the agent cleanly.
expect 0 "audit verify" -- "$BROKERKEY" audit verify
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" && pass || fail "the agent did not exit 0 on SIGTERM"
AGENT_PID=
[ ! -e "$SOCKET" ] && pass || fail "the socket was left behind"
grep -q "stopped: every request in flight was answered" "$WORK/agent.log" && pass || fail "no stop message"
finish
