# A CI runner on another host signs through brokerkey-agent over OpenSSH's unix-socket
# forwarding (docs/CONSUMERS.md section 10), with the sshd settings that section recommends.
#
# The broker host: a broker, brokerkey-agent, an sshd. The runner's login account there,
# bkrunN, is the consumer "runner": it has an authorized key and nothing else (no shell; its
# forwarding reaches the agent's socket and nothing else, TCP or unix; chrooted to the
# socket's directory). The "remote" runner host: a network namespace of its own joined to the
# broker host by a veth pair (loopback when this machine cannot create one: the test says
# so), where an account with its own HOME and the private key forwards the agent's socket
# with `ssh -N -L` and signs commits with stock git; a job there with a HOME of its own and a
# client configuration naming the forwarded socket signs in x509 format (brokerkey-gpgsm) and in
# ssh format through brokerkey-ssh-keygen, the signing log naming the runner.
# Also: an account that logs in but is no consumer is refused; the forwarding killed, or the
# network dropped, gives git a clean failure within seconds; a new forwarding signs again; the
# other direction (the broker host's account pushes the socket with ssh -R) signs too; the
# forwarding killed by its PID while brokerkey-gpgsm's request is in flight gives one line and
# no commit.
source "$(dirname "$0")/lib.sh"
GPGSM=$(dirname "$BROKERKEY")/brokerkey-gpgsm
needs_root "useradd, sshd, ip netns"
s=$$
RUN=bkrun$s STRANGER=bkout$s CI=bkci$s GROUP=bkg$s
NS=bkns$s VETH_HOST=bkh$s VETH_RUNNER=bkn$s
# sshd's ChrootDirectory must be root-owned and writable by no one else along its whole
# path, which no directory under /tmp (mode 1777) is: the agent's socket lives in /run.
BROKER_RUN=/run/bkr$s
AGENT_PID= SSHD_PID= FORWARD_PID= NETNS= PUSH_PID= RUNNER_SSHD_PID= SSHD_NO_TCP_PID=
cleanup() {
  # The agent may be stopped (SIGSTOP, below): a stopped process keeps SIGTERM pending.
  [ -z "$AGENT_PID" ] || kill -CONT "$AGENT_PID" 2>/dev/null || true
  for pid in $FORWARD_PID $PUSH_PID $RUNNER_SSHD_PID $SSHD_NO_TCP_PID $AGENT_PID $SSHD_PID; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; done
  if [ -n "$NETNS" ]; then
    ip link del "$VETH_HOST" >/dev/null 2>&1 || true
    ip netns del "$NS" >/dev/null 2>&1 || true
  fi
  for u in $RUN $STRANGER $CI; do userdel -r "$u" >/dev/null 2>&1 || true; done
  groupdel "$GROUP" >/dev/null 2>&1 || true
  rm -rf "$WORK" "$BROKER_RUN"
}
trap cleanup EXIT
chmod 711 "$WORK"

# The two hosts' network: the runner's side in a namespace of its own if this machine allows.
runner_host_namespace() {
  ip netns add "$NS" 2>/dev/null || return 1
  NETNS=yes
  # 198.18.0.0/15 is reserved for network tests (RFC 2544); a /30 per run.
  local net=198.18.$((s % 256)).$((4 * ((s / 256) % 64)))
  BROKER_ADDR=${net%.*}.$((${net##*.} + 1)) RUNNER_ADDR=${net%.*}.$((${net##*.} + 2))
  ip link add "$VETH_HOST" type veth peer name "$VETH_RUNNER" &&
    ip link set "$VETH_RUNNER" netns "$NS" &&
    ip addr add "$BROKER_ADDR/30" dev "$VETH_HOST" &&
    ip link set "$VETH_HOST" up &&
    ip -n "$NS" addr add "$RUNNER_ADDR/30" dev "$VETH_RUNNER" &&
    ip -n "$NS" link set "$VETH_RUNNER" up &&
    ip -n "$NS" link set lo up
}
if runner_host_namespace; then
  ON_RUNNER_HOST=(nsenter --net=/run/netns/"$NS")
else
  if [ -n "$NETNS" ]; then
    ip link del "$VETH_HOST" >/dev/null 2>&1 || true
    ip netns del "$NS"
    NETNS=
  fi
  echo "no network namespace here (ip netns or veth failed): the runner's side uses 127.0.0.1"
  BROKER_ADDR=127.0.0.1 RUNNER_ADDR=127.0.0.1
  ON_RUNNER_HOST=()
fi

# Broker-host accounts: the runner's login (a consumer) and a stranger (no consumer), both in
# the runner group, no password (not locked: sshd without PAM refuses a "!" account), no
# shell, no home. The runner host's account has a home with the private key.
groupadd "$GROUP"
for u in $RUN $STRANGER; do useradd -M -d /nonexistent -s /usr/sbin/nologin -g "$GROUP" -p "*" "$u"; done
useradd -m -d "$WORK/home-ci" -s /bin/sh -p "*" "$CI"
RUN_UID=$(id -u "$RUN") STRANGER_UID=$(id -u "$STRANGER")
CI_HOME=$WORK/home-ci

"$BROKERKEY" init --dir "$WORK/broker" --service acme --purpose git-signing --env prod >/dev/null
export BROKERKEY_CONF=$WORK/broker/brokerkey.conf
"$BROKERKEY" mint >/dev/null
# The runner's consumer, granted git's two formats (the default, said here because this test
# is about both); a consumer of the operator's own issues the certificate x509 signing needs.
"$BROKERKEY" consumer add runner --user "$RUN" --allow sshsig:git,cms >/dev/null
( umask 077 && "$BROKERKEY" consumer add ops | grep -o 'ops:[a-z0-9]*' > "$WORK/ops.pin" )
"$BROKERKEY" cert --pin-file "$WORK/ops.pin" --subject "CN=Acme git signing,O=Acme" >/dev/null 2>&1
FIRST_FP=$("$BROKERKEY" fingerprint)
install -d -m 0755 -o root -g root "$BROKER_RUN"
SOCKET=$BROKER_RUN/agent.sock
python3 - "$BROKERKEY_CONF" "$SOCKET" "$GROUP" <<'PY'
import json, sys
path, socket, group = sys.argv[1:]
with open(path) as f: conf = json.load(f)
conf["agent"] = {"socket": socket, "socket_group": group}
with open(path, "w") as f: json.dump(conf, f, indent=2)
PY
"$AGENT" 2>>"$WORK/agent.log" &  # the socket and its group from the configuration
AGENT_PID=$!
wait_for_socket "$SOCKET"
"$BROKERKEY" allowed-signers --principal ci@acme.example > "$CI_HOME/allowed_signers"
chmod 644 "$CI_HOME/allowed_signers"

# The sshd, as docs/CONSUMERS.md section 10 sets it up.
mkdir -p /run/sshd && chmod 755 /run/sshd
mkdir -m 0755 "$WORK/sshd" "$WORK/sshd/keys"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/sshd/host_key"
install -d -m 0700 -o "$CI" -g "$CI" "$CI_HOME/.ssh"
setpriv --reuid="$CI" --regid="$CI" --init-groups ssh-keygen -q -t ed25519 -N '' -C "runner-1" -f "$CI_HOME/.ssh/id_ed25519"
ssh-keygen -q -t ed25519 -N '' -C "stranger" -f "$WORK/stranger_key"
chown "$CI" "$WORK/stranger_key"
echo "restrict,port-forwarding,command=\"/bin/false\",from=\"$RUNNER_ADDR\" $(cat "$CI_HOME/.ssh/id_ed25519.pub")" > "$WORK/sshd/keys/$RUN"
echo "restrict,port-forwarding,command=\"/bin/false\",from=\"$RUNNER_ADDR\" $(cat "$WORK/stranger_key.pub")" > "$WORK/sshd/keys/$STRANGER"
chmod 644 "$WORK/sshd/keys/"*
PORT=$(free_port "$BROKER_ADDR")
{
  sshd_base_config "$BROKER_ADDR" "$PORT" "$WORK/sshd/host_key"
  echo "MaxStartups 8"
} > "$WORK/sshd/sshd_config"
cat >> "$WORK/sshd/sshd_config" <<CONF
AuthorizedKeysFile none

Match Group $GROUP
    AuthorizedKeysFile $WORK/sshd/keys/%u
    AllowStreamLocalForwarding local
    AllowTcpForwarding local
    PermitOpen [/agent.sock]:*
    AllowAgentForwarding no
    X11Forwarding no
    PermitTunnel no
    PermitTTY no
    PermitUserRC no
    ForceCommand /bin/false
    ChrootDirectory $BROKER_RUN
CONF
/usr/sbin/sshd -t -f "$WORK/sshd/sshd_config"
/usr/sbin/sshd -D -e -f "$WORK/sshd/sshd_config" 2>"$WORK/sshd.log" &
SSHD_PID=$!
# reachable [PORT]: waits until the runner host can open a TCP connection to the broker's sshd.
reachable() {
  for _ in $(seq 100); do
    "${ON_RUNNER_HOST[@]}" timeout 2 bash -c 'exec 3<>/dev/tcp/$0/$1' "$BROKER_ADDR" "${1:-$PORT}" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
reachable || fail "the runner host cannot reach the broker's sshd: $(cat "$WORK/sshd.log")"
echo "[$BROKER_ADDR]:$PORT $(cat "$WORK/sshd/host_key.pub")" > "$CI_HOME/.ssh/known_hosts"
chmod 644 "$CI_HOME/.ssh/known_hosts"

# ci COMMAND...: on the runner host, as the runner host's account, its own HOME, nothing else.
# One chain of execs, so a command started in the background has the pid in $!.
CI_ACCOUNT=("${ON_RUNNER_HOST[@]}" setpriv --reuid="$CI" --regid="$CI" --init-groups
  env -i PATH=/usr/bin:/bin HOME="$CI_HOME" GIT_CONFIG_NOSYSTEM=1)
ci() { "${CI_ACCOUNT[@]}" "$@"; }
LOCAL=$CI_HOME/agent.sock
SSH_OPTIONS=(-F none -o BatchMode=yes -o IdentitiesOnly=yes -o ConnectTimeout=10
  -o ServerAliveInterval=2 -o ServerAliveCountMax=2)
# accepts PATH: a unix socket at PATH takes connections (a stale socket file does not).
accepts() { python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1" 2>/dev/null; }
# forward LOGIN KEY [SSH OPTIONS...]: ssh -N -L LOCAL:/agent.sock to the sshd on port
# ${SSHD_PORT:-$PORT} in the background, its pid in FORWARD_PID; returns once the local socket
# takes connections, non-zero if ssh exits first.
forward() {
  local login=$1 key=$2
  shift 2
  "${CI_ACCOUNT[@]}" ssh "${SSH_OPTIONS[@]}" -p "${SSHD_PORT:-$PORT}" -i "$key" -N -o ExitOnForwardFailure=yes "$@" \
    -L "$LOCAL:/agent.sock" "$login@$BROKER_ADDR" 2>>"$WORK/forward.log" &
  FORWARD_PID=$!
  for _ in $(seq 100); do
    kill -0 "$FORWARD_PID" 2>/dev/null && accepts "$LOCAL" && return 0
    kill -0 "$FORWARD_PID" 2>/dev/null || { wait "$FORWARD_PID" || true; FORWARD_PID=; return 1; }
    sleep 0.1
  done
  return 1
}
stop_forward() {
  [ -n "$FORWARD_PID" ] || return 0
  kill "-${1:-TERM}" "$FORWARD_PID"
  wait "$FORWARD_PID" 2>/dev/null || true
  FORWARD_PID=
}
# no_key SOCKET DESCRIPTION: ssh-add -L through SOCKET fails and lists no key (exit 1, or
# SIGPIPE when the channel is closed under its request: either way a refusal).
no_key() {
  set +e
  OUT=$(ci env SSH_AUTH_SOCK="$1" timeout 20 ssh-add -L 2>&1)
  local got=$?
  set -e
  if [ "$got" -ne 0 ] && [ "$got" -ne 124 ] && [[ $OUT != *ssh-ed25519* ]]; then pass; else fail "$2: exit $got: $OUT"; fi
}
in_repo() { ci sh -c 'cd "$HOME/repo" && "$@"' sh "$@"; }
signing_log=$WORK/broker/signing-log.jsonl
records() { grep -c "\"consumer\":\"runner\",\"uid\":$RUN_UID,.*\"result\":\"ok\"" "$signing_log" || true; }

# The runner host cannot reach the agent except through ssh.
expect 2 "the runner host's account cannot use the agent's socket directly" -- \
  ci env SSH_AUTH_SOCK="$SOCKET" timeout 20 ssh-add -L
contains "Permission denied" "refused by the socket's mode"

# The runner's login gets no shell and no TCP forwarding.
expect 1 "no command runs for the runner's login" -- \
  ci timeout 30 ssh "${SSH_OPTIONS[@]}" -p "$PORT" -i "$CI_HOME/.ssh/id_ed25519" "$RUN@$BROKER_ADDR" id
[[ $OUT != *uid=* ]] && pass || fail "a command ran: $OUT"
expect 255 "no TCP forwarding for the runner's login" -- \
  ci timeout 30 ssh "${SSH_OPTIONS[@]}" -p "$PORT" -i "$CI_HOME/.ssh/id_ed25519" -W "$BROKER_ADDR:$PORT" "$RUN@$BROKER_ADDR"
contains "administratively prohibited" "sshd refuses the TCP channel"

# The forwarding, git configured by brokerkey git-config --agent on the runner host.
forward "$RUN" "$CI_HOME/.ssh/id_ed25519" -o StreamLocalBindUnlink=yes && pass || fail "the forwarding did not come up: $(cat "$WORK/forward.log")"
[ "$(stat -c %a:%U "$LOCAL")" = "600:$CI" ] && pass || fail "the forwarded socket is $(stat -c %a:%U "$LOCAL")"
expect 0 "the runner sees the broker key through the forwarded socket" -- ci env SSH_AUTH_SOCK="$LOCAL" timeout 20 ssh-add -L
[ "$(cut -d' ' -f1,2 <<<"$OUT")" = "$("$BROKERKEY" pubkey --format ssh | cut -d' ' -f1,2)" ] && pass || fail "ssh-add -L lists $OUT"
expect 0 "git-config --agent on the runner host" -- \
  ci "$BROKERKEY" git-config --agent "$LOCAL" --allowed-signers "$CI_HOME/allowed_signers" --global
ci sh -c "$OUT" && pass || fail "the printed configuration does not apply"
ci git config --global user.name "CI runner"
ci git config --global user.email ci@acme.example
ci git init -q "$CI_HOME/repo"
in_repo sh -c 'echo one > one && git add one'
expect 0 "git commit -S over the forwarded socket" -- in_repo timeout 60 git commit -q -S -m "signed from the runner host"
expect 0 "git verify-commit" -- in_repo timeout 60 git verify-commit HEAD
contains 'Good "git" signature for ci@acme.example with ED25519 key' "verify-commit verdict"
FIRST=$(in_repo git rev-parse HEAD)
expect 0 "git tag -s over the forwarded socket" -- in_repo timeout 60 git tag -s v1 -m "release 1"
expect 0 "git verify-tag" -- in_repo timeout 60 git verify-tag v1
[ "$(records)" -eq 2 ] && pass || fail "signing log: $(records) records for runner with uid $RUN_UID, expected 2"
# The peer the agent sees is the broker host's sshd serving the runner's login.
grep -q "\"consumer\":\"runner\",\"uid\":$RUN_UID,\"gid\":[0-9]*,\"pid\":[0-9]*,\"exe\":\"/usr/sbin/sshd\",\"via\":\"agent\".*\"purpose\":\"sshsig\",\"namespace\":\"git\",\"result\":\"ok\"" "$signing_log" \
  && pass || fail "the signing log does not name the runner's sshd: $(tail -1 "$signing_log")"

# A job on the runner host with a HOME of its own, configured as docs/CONSUMERS.md section 10
# sets up an x509 runner: its client configuration (section 12) names the forwarded socket, so
# the keytool's read commands and both of git's drop-ins (brokerkey-gpgsm, and
# brokerkey-ssh-keygen without git's brokerkey.agent) reach the agent through the forwarding.
JOB_HOME=$WORK/home-job
install -d -m 0755 -o "$CI" -g "$CI" "$JOB_HOME"
JOB_ACCOUNT=("${ON_RUNNER_HOST[@]}" setpriv --reuid="$CI" --regid="$CI" --init-groups
  env -i PATH=/usr/bin:/bin HOME="$JOB_HOME" GIT_CONFIG_NOSYSTEM=1)
job() { "${JOB_ACCOUNT[@]}" "$@"; }
# in_job REPO COMMAND...: COMMAND in the job's repository $HOME/REPO.
in_job() { job sh -c 'cd "$HOME/$0" && "$@"' "$@"; }
# cms_records, sshsig_records: the runner's signatures through the broker host's sshd.
by_runner_sshd="\"consumer\":\"runner\",\"uid\":$RUN_UID,\"gid\":[0-9]*,\"pid\":[0-9]*,\"exe\":\"/usr/sbin/sshd\",\"via\":\"agent\""
cms_records() { grep -c "$by_runner_sshd.*\"purpose\":\"cms\",.*\"result\":\"ok\"" "$signing_log" || true; }
sshsig_records() { grep -c "$by_runner_sshd.*\"purpose\":\"sshsig\",\"namespace\":\"git\",\"result\":\"ok\"" "$signing_log" || true; }
job mkdir -p "$JOB_HOME/.config/brokerkey"
expect 0 "client-config --socket the forwarded socket" -- job "$BROKERKEY" client-config --socket "$LOCAL"
contains '"mode":"client"' "client mode"
contains "\"socket\":\"$LOCAL\"" "the forwarded socket named"
contains '"token_label":"brokerkey"' "the token label, as the agent says through the forwarding"
job sh -c '"$0" client-config --socket "$1" > "$HOME/.config/brokerkey/brokerkey.conf"' "$BROKERKEY" "$LOCAL"
expect 0 "fingerprint --check --expect through the forwarding" -- job "$BROKERKEY" fingerprint --check --expect "$FIRST_FP"
contains "which has the expected fingerprint" "the deployed agent's key checked across hosts"
expect 0 "status through the forwarding" -- job "$BROKERKEY" status
contains "consumer:  runner" "the agent takes the forwarded connection for the runner's consumer"
job git config --global user.name "CI job"
job git config --global user.email ci@acme.example

# x509: git-config in client mode, as printed, in a repository of the job's own.
job git init -q "$JOB_HOME/x509"
expect 0 "git-config --format x509 with the client configuration" -- in_job x509 "$BROKERKEY" git-config --format x509
in_job x509 sh -c "$OUT" && pass || fail "the printed x509 configuration does not apply: $OUT"
[[ $(in_job x509 git config --get gpg.x509.program) == */brokerkey-gpgsm ]] && pass || fail "git's x509 program is not brokerkey-gpgsm"
KEY_URI=$(in_job x509 git config --get user.signingkey)
in_job x509 sh -c 'echo one > one && git add one'
expect 0 "git commit -S (x509) over the forwarded socket" -- in_job x509 timeout 60 git commit -q -S -m "x509 from the runner host"
expect 0 "git verify-commit (x509) through the forwarding" -- in_job x509 timeout 60 git verify-commit HEAD
contains 'Good signature from "O=Acme,CN=Acme git signing"' "x509 verify-commit verdict"
expect 0 "git log %G? %GK (x509)" -- in_job x509 timeout 60 git log -1 --format='%G? %GK'
[ "$OUT" = "G $FIRST_FP" ] && pass || fail "x509 commit: '$OUT', expected good by $FIRST_FP"
X509_FIRST=$(in_job x509 git rev-parse HEAD)
expect 0 "git tag -s (x509) over the forwarded socket" -- in_job x509 timeout 60 git tag -s v1 -m "release 1"
expect 0 "git verify-tag (x509)" -- in_job x509 timeout 60 git verify-tag v1
contains "Good signature" "x509 verify-tag verdict"
[ "$(cms_records)" -eq 2 ] && pass || fail "signing log: $(cms_records) cms records for the runner through sshd, expected 2: $(tail -2 "$signing_log")"
# The same CMS checked on the broker host against the ledger file itself (embedded mode).
in_job x509 git cat-file tag v1 | sed '/^-----BEGIN SIGNED MESSAGE-----$/,$d' > "$WORK/tag-payload"
in_job x509 git cat-file tag v1 | sed -n '/^-----BEGIN SIGNED MESSAGE-----$/,$p' > "$WORK/tag-signature"
expect 0 "the runner's CMS verifies against the ledger on the broker host" -- \
  "$GPGSM" --status-fd=1 --verify "$WORK/tag-signature" "$WORK/tag-payload"
contains "[GNUPG:] GOODSIG $FIRST_FP" "GOODSIG from the ledger file"
# cms not granted: the agent refuses, brokerkey-gpgsm says so, git makes no commit.
"$BROKERKEY" consumer set runner --allow sshsig:git >/dev/null
head=$(in_job x509 git rev-parse HEAD)
expect 128 "cms not granted: git commit -S (x509) fails" -- in_job x509 timeout 60 git commit -q -S --allow-empty -m "cms not granted"
contains "gpg failed to sign the data" "git's message (it keeps gpgsm's stderr, its status channel, to itself)"
[ "$(in_job x509 git rev-parse HEAD)" = "$head" ] && pass || fail "git made a commit without a signature"
tail -1 "$signing_log" | grep -q "$by_runner_sshd.*\"purpose\":\"cms\",.*\"result\":\"refused: purpose cms not granted\"" &&
  pass || fail "the refusal is not in the signing log: $(tail -1 "$signing_log")"
expect 2 "cms not granted: brokerkey-gpgsm signs nothing" -- job sh -c 'echo data | "$0" -bsau "$1"' "$GPGSM" "$KEY_URI"
one_line "brokerkey-gpgsm refused"
contains "brokerkey-gpgsm: brokerkey-agent at $LOCAL refused the signature" "brokerkey-gpgsm names the refusal"
"$BROKERKEY" consumer set runner --allow sshsig:git,cms >/dev/null

# ssh format through brokerkey-ssh-keygen with the client configuration (no brokerkey.agent).
job git init -q "$JOB_HOME/ssh"
expect 0 "git-config (ssh) with the client configuration" -- in_job ssh "$BROKERKEY" git-config --principal ci@acme.example
in_job ssh sh -c "$OUT" && pass || fail "the printed ssh configuration does not apply: $OUT"
[[ $(in_job ssh git config --get gpg.ssh.program) == */brokerkey-ssh-keygen ]] && pass || fail "git's ssh program is not brokerkey-ssh-keygen"
in_job ssh git config --get brokerkey.agent && fail "the job's git names an agent: the client configuration is not what is tested" || pass
in_job ssh sh -c 'echo one > one && git add one'
before=$(sshsig_records)
expect 0 "git commit -S (brokerkey-ssh-keygen) over the forwarded socket" -- in_job ssh timeout 60 git commit -q -S -m "ssh from the runner host"
expect 0 "git verify-commit (brokerkey-ssh-keygen)" -- in_job ssh timeout 60 git verify-commit HEAD
contains 'Good "git" signature for ci@acme.example with ED25519 key' "verify-commit verdict"
SSH_JOB_FIRST=$(in_job ssh git rev-parse HEAD)
expect 0 "git tag -s (brokerkey-ssh-keygen)" -- in_job ssh timeout 60 git tag -s v1 -m "release 1"
expect 0 "git verify-tag (brokerkey-ssh-keygen)" -- in_job ssh timeout 60 git verify-tag v1
[ "$(sshsig_records)" -eq $((before + 2)) ] && pass || fail "signing log: $(sshsig_records) sshsig records through sshd, expected $((before + 2))"

# Rotation: nothing changes on the runner host but the verifiers' allowed-signers file.
"$BROKERKEY" rotate >/dev/null
"$BROKERKEY" allowed-signers --principal ci@acme.example > "$CI_HOME/allowed_signers"
in_repo sh -c 'echo two > two && git add two'
expect 0 "after a rotation the same forwarding and configuration sign" -- in_repo timeout 60 git commit -q -S -m "after rotation"
expect 0 "the new commit verifies" -- in_repo timeout 60 git verify-commit HEAD
contains "$("$BROKERKEY" pubkey --format ssh | ssh-keygen -lf - | awk '{print $2}')" "signed by the new key"
expect 0 "the earlier commit still verifies" -- in_repo timeout 60 git verify-commit "$FIRST"
# The job's configuration is unchanged too: x509 signs with the new key once the operator has
# issued its certificate, and the first x509 commit still verifies; the ssh format after the
# allowed-signers file is written again (git-config as printed does it).
"$BROKERKEY" cert --pin-file "$WORK/ops.pin" --subject "CN=Acme git signing,O=Acme" >/dev/null 2>&1
NEW_FP=$("$BROKERKEY" fingerprint)
expect 0 "x509 after a rotation, same configuration" -- in_job x509 timeout 60 git commit -q -S --allow-empty -m "x509 after rotation"
expect 0 "git log %G? %GK after the rotation" -- in_job x509 timeout 60 git log -1 --format='%G? %GK'
[ "$OUT" = "G $NEW_FP" ] && pass || fail "x509 after the rotation: '$OUT', expected good by $NEW_FP"
expect 0 "the first x509 commit still verifies" -- in_job x509 timeout 60 git verify-commit "$X509_FIRST"
contains "Good signature" "the first x509 commit's verdict"
expect 0 "git-config (ssh) again after the rotation" -- in_job ssh "$BROKERKEY" git-config --principal ci@acme.example
in_job ssh sh -c "$OUT" && pass || fail "the printed ssh configuration does not apply after the rotation"
expect 0 "brokerkey-ssh-keygen after a rotation" -- in_job ssh timeout 60 git commit -q -S --allow-empty -m "ssh after rotation"
expect 0 "verifies" -- in_job ssh timeout 60 git verify-commit HEAD
contains "$("$BROKERKEY" pubkey --format ssh | ssh-keygen -lf - | awk '{print $2}')" "brokerkey-ssh-keygen signed with the new key"
expect 0 "the first brokerkey-ssh-keygen commit still verifies" -- in_job ssh timeout 60 git verify-commit "$SSH_JOB_FIRST"
stop_forward

# sshd settings that must hold: PermitOpen leaves no other socket of the broker host in reach
# (not even the agent's own path outside the chroot), and without "port-forwarding" in the
# key's options the forwarding is refused.
forward "$RUN" "$CI_HOME/.ssh/id_ed25519" -o StreamLocalBindUnlink=yes -L "$CI_HOME/outside.sock:$SOCKET" && pass || fail "second forwarding did not come up"
no_key "$CI_HOME/outside.sock" "a socket path other than /agent.sock"
grep -qF "Received request to connect to path $SOCKET, but the request was denied." "$WORK/sshd.log" && pass || fail "sshd did not refuse $SOCKET"
stop_forward
cp "$WORK/sshd/keys/$RUN" "$WORK/runner_key_line"
sed 's/restrict,port-forwarding,/restrict,/' "$WORK/runner_key_line" > "$WORK/sshd/keys/$RUN"
forward "$RUN" "$CI_HOME/.ssh/id_ed25519" -o StreamLocalBindUnlink=yes && pass || fail "forwarding (refused per channel) did not come up"
no_key "$LOCAL" "restrict without port-forwarding"
grep -qF "refused streamlocal port forward: originator  port 0, target /agent.sock" "$WORK/sshd.log" && pass || fail "sshd did not refuse the forwarding"
stop_forward
cp "$WORK/runner_key_line" "$WORK/sshd/keys/$RUN"
# Why the Match block says "AllowTcpForwarding local" and fences with PermitOpen: sshd checks a
# -L to a unix socket against the TCP forwarding permissions, so "no" refuses the agent too.
PORT2=$(free_port "$BROKER_ADDR")
sed -e "s/^ListenAddress .*/ListenAddress $BROKER_ADDR:$PORT2/" -e 's/AllowTcpForwarding local/AllowTcpForwarding no/' \
  "$WORK/sshd/sshd_config" > "$WORK/sshd/sshd_config_no_tcp"
grep -q '^    AllowTcpForwarding no$' "$WORK/sshd/sshd_config_no_tcp" || fail "the variant configuration was not made"
/usr/sbin/sshd -D -e -f "$WORK/sshd/sshd_config_no_tcp" 2>"$WORK/sshd_no_tcp.log" &
SSHD_NO_TCP_PID=$!
echo "[$BROKER_ADDR]:$PORT2 $(cat "$WORK/sshd/host_key.pub")" >> "$CI_HOME/.ssh/known_hosts"
reachable "$PORT2" || fail "the variant sshd is unreachable"
SSHD_PORT=$PORT2 forward "$RUN" "$CI_HOME/.ssh/id_ed25519" -o StreamLocalBindUnlink=yes && pass || fail "forwarding to the variant sshd did not come up"
no_key "$LOCAL" "AllowTcpForwarding no"
grep -qF "Received request to connect to path /agent.sock, but the request was denied." "$WORK/sshd_no_tcp.log" && pass || fail "AllowTcpForwarding no did not refuse the socket: $(cat "$WORK/sshd_no_tcp.log")"
stop_forward
kill "$SSHD_NO_TCP_PID"; wait "$SSHD_NO_TCP_PID" 2>/dev/null || true; SSHD_NO_TCP_PID=

# A broker-host account that logs in the same way but is no consumer: refused by the agent.
forward "$STRANGER" "$WORK/stranger_key" -o StreamLocalBindUnlink=yes && pass || fail "the stranger's forwarding did not come up: $(tail -3 "$WORK/forward.log")"
no_key "$LOCAL" "the stranger's forwarded socket"
expect 1 "the stranger's job: brokerkey pubkey with the client configuration" -- job "$BROKERKEY" pubkey
one_line "pubkey as the stranger"
contains "is this account mapped to a consumer?" "the likely cause named"
in_repo sh -c 'echo three > three && git add three'
expect 128 "git commit -S as the stranger fails cleanly" -- in_repo timeout 60 git commit -q -S -m "stranger"
contains "failed to write commit object" "git's message"
grep -q "uid $STRANGER_UID .*refused: uid $STRANGER_UID maps to no consumer" "$WORK/agent.log" && pass || fail "the agent did not log the stranger's refusal: $(cat "$WORK/agent.log")"
grep -q "\"uid\":$STRANGER_UID," "$signing_log" && fail "the signing log names the stranger" || pass
stop_forward

# The forwarding dropped: ssh killed (its socket file left behind, as after a crash).
forward "$RUN" "$CI_HOME/.ssh/id_ed25519" -o StreamLocalBindUnlink=yes && pass || fail "the forwarding did not come back"
expect 0 "signing again" -- in_repo timeout 60 git commit -q -S -m "runner again"
stop_forward KILL
[ -S "$LOCAL" ] && pass || fail "expected the killed ssh's socket file to remain"
started=$SECONDS
expect 128 "ssh killed: git commit -S fails cleanly" -- in_repo timeout 60 git commit -q -S --allow-empty -m "no forwarding"
contains "failed to write commit object" "git's message"
[ $((SECONDS - started)) -lt 20 ] && pass || fail "git took $((SECONDS - started)) s to fail"
# The job's drop-ins with the ssh killed: one line from brokerkey-gpgsm naming the socket, a
# non-zero exit, and no commit in either format.
expect 2 "ssh killed: brokerkey-gpgsm signs nothing" -- job sh -c 'echo data | "$0" -bsau "$1"' "$GPGSM" "$KEY_URI"
one_line "brokerkey-gpgsm with the ssh killed"
contains "brokerkey-gpgsm: brokerkey-agent: cannot connect to $LOCAL" "brokerkey-gpgsm names the forwarded socket"
expect 2 "ssh killed: brokerkey check on the runner host says so" -- job "$BROKERKEY" check
one_line "check with the ssh killed"
contains "cannot connect to $LOCAL" "check names the forwarded socket"
for repo in x509 ssh; do
  head=$(in_job "$repo" git rev-parse HEAD)
  expect 128 "ssh killed: git commit -S ($repo, client configuration) fails cleanly" -- \
    in_job "$repo" timeout 60 git commit -q -S --allow-empty -m "no forwarding"
  if [ "$repo" = ssh ]; then contains "cannot connect to $LOCAL" "brokerkey-ssh-keygen's line in git's output"; fi
  [ "$(in_job "$repo" git rev-parse HEAD)" = "$head" ] && pass || fail "git made a commit ($repo) with the ssh killed"
done
forward "$RUN" "$CI_HOME/.ssh/id_ed25519" && fail "without StreamLocalBindUnlink a stale socket should block the forwarding" || pass
grep -q "Address already in use" "$WORK/forward.log" && pass || fail "ssh did not say why: $(tail -3 "$WORK/forward.log")"
forward "$RUN" "$CI_HOME/.ssh/id_ed25519" -o StreamLocalBindUnlink=yes && pass || fail "the forwarding did not come back: $(tail -3 "$WORK/forward.log")"
expect 0 "signing resumes on a new forwarding" -- in_repo timeout 60 git commit -q -S --allow-empty -m "forwarding back"
expect 0 "and verifies" -- in_repo timeout 60 git verify-commit HEAD

# The forwarding dropped mid-way: brokerkey-gpgsm's request is on its way through the
# forwarding (the agent is stopped, so no answer comes) when the ssh is killed by its PID. It
# gets one line and a non-zero exit at once, not the 30 s request timeout; git no commit.
# queued_at_agent: the connections waiting in the stopped agent's accept queue (the Recv-Q of
# its listening agent.sock, which ss names by the directory descriptor the agent bound it
# through). waiting_at_agent PID: one more than before PID started (the client sends its
# request as soon as it has connected, before ssh has carried the connection over) while PID
# still runs.
queued_at_agent() { ss -xlpH | awk -v agent="pid=$AGENT_PID," '$5 ~ /\/agent\.sock$/ && index($0, agent) {print $3}'; }
waiting_at_agent() {
  for _ in $(seq 100); do
    kill -0 "$1" 2>/dev/null || return 1
    [ "$(queued_at_agent)" -gt "$queued" ] 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
kill -STOP "$AGENT_PID"
records_before=$(grep -c . "$signing_log")
queued=$(queued_at_agent)
job sh -c 'echo data | exec "$0" -bsau "$1"' "$GPGSM" "$KEY_URI" > "$WORK/midway.out" 2> "$WORK/midway.err" &
dropin=$!
waiting_at_agent "$dropin" && pass || fail "brokerkey-gpgsm's request did not reach the agent's socket: $(cat "$WORK/midway.err")"
started=$SECONDS
stop_forward
got=0
wait "$dropin" || got=$?
[ "$got" -eq 2 ] && pass || fail "brokerkey-gpgsm with the forwarding dropped mid-way: exit $got, expected 2"
[ $((SECONDS - started)) -lt 10 ] && pass || fail "brokerkey-gpgsm took $((SECONDS - started)) s to fail"
OUT=$(cat "$WORK/midway.err")
one_line "brokerkey-gpgsm with the forwarding dropped mid-way"
contains "brokerkey-gpgsm: brokerkey-agent: the connection was closed by the other end ($LOCAL)" "brokerkey-gpgsm names the socket"
contains "$LOCAL takes no connection now (the agent, or the ssh forwarding that carries its socket, went away)" "and the likely cause"
[ ! -s "$WORK/midway.out" ] && pass || fail "brokerkey-gpgsm wrote a signature: $(cat "$WORK/midway.out")"
# commit_dropped_midway FORMAT: the forwarding back, then git commit -S in that job with the
# forwarding killed while its request waits in the stopped agent's queue: git fails within
# 10 s with 128 and makes no commit; its output is left in $WORK/midway.err.
commit_dropped_midway() {
  local format=$1 head started got=0 dropin
  forward "$RUN" "$CI_HOME/.ssh/id_ed25519" -o StreamLocalBindUnlink=yes && pass ||
    fail "the forwarding did not come back: $(tail -3 "$WORK/forward.log")"
  head=$(in_job "$format" git rev-parse HEAD)
  queued=$(queued_at_agent)
  in_job "$format" timeout 60 git commit -q -S --allow-empty -m "dropped mid-way" > "$WORK/midway.out" 2> "$WORK/midway.err" &
  dropin=$!
  waiting_at_agent "$dropin" && pass || fail "git's request ($format) did not reach the agent's socket: $(cat "$WORK/midway.err")"
  started=$SECONDS
  stop_forward
  wait "$dropin" || got=$?
  [ $((SECONDS - started)) -lt 10 ] && pass || fail "git ($format) took $((SECONDS - started)) s to fail"
  [ "$got" -eq 128 ] && pass ||
    fail "git commit -S ($format) with the forwarding dropped mid-way: exit $got, expected 128: $(cat "$WORK/midway.err")"
  [ "$(in_job "$format" git rev-parse HEAD)" = "$head" ] && pass || fail "git made a commit ($format) with the forwarding dropped mid-way"
}
commit_dropped_midway x509
grep -q "gpg failed to sign the data" "$WORK/midway.err" && pass || fail "git's output: $(cat "$WORK/midway.err")"
# The ssh format with the client configuration: git shows the keytool's line (its key command).
commit_dropped_midway ssh
kill -CONT "$AGENT_PID"
grep -qF "$LOCAL takes no connection now (the agent, or the ssh forwarding that carries its socket, went away)" "$WORK/midway.err" &&
  pass || fail "git's output (ssh) lacks the likely cause: $(cat "$WORK/midway.err")"
sleep 0.5  # the resumed agent reads the dropped connections' ends
[ "$(grep -c . "$signing_log")" -eq "$records_before" ] && pass || fail "the signing log changed: $(tail -2 "$signing_log")"
forward "$RUN" "$CI_HOME/.ssh/id_ed25519" -o StreamLocalBindUnlink=yes && pass || fail "the forwarding did not come back: $(tail -3 "$WORK/forward.log")"
expect 0 "x509 signs again on a new forwarding" -- in_job x509 timeout 60 git commit -q -S --allow-empty -m "x509 forwarding back"
expect 0 "and verifies" -- in_job x509 timeout 60 git verify-commit HEAD

# The network dropped under a live forwarding (the runner host in its own namespace only):
# ssh's keepalives end it, and git fails instead of waiting for TCP to give up.
if [ -n "$NETNS" ]; then
  ip link set "$VETH_HOST" down
  started=$SECONDS
  expect 128 "network down: git commit -S fails cleanly" -- in_repo timeout 60 git commit -q -S --allow-empty -m "network down"
  [ $((SECONDS - started)) -lt 30 ] && pass || fail "git took $((SECONDS - started)) s to fail"
  for _ in $(seq 100); do kill -0 "$FORWARD_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$FORWARD_PID" 2>/dev/null && fail "ssh is still running with the network down" || pass
  wait "$FORWARD_PID" 2>/dev/null || true
  FORWARD_PID=
  ip link set "$VETH_HOST" up
  reachable || fail "the broker's sshd unreachable once the network is back"
  forward "$RUN" "$CI_HOME/.ssh/id_ed25519" -o StreamLocalBindUnlink=yes && pass || fail "no forwarding once the network is back: $(tail -3 "$WORK/forward.log")"
  expect 0 "signing resumes once the network is back" -- in_repo timeout 60 git commit -q -S --allow-empty -m "network back"
fi

# The runner's consumer removed: its live forwarding signs nothing from the next request.
"$BROKERKEY" consumer remove runner >/dev/null
expect 128 "after consumer remove the runner signs nothing" -- in_repo timeout 60 git commit -q -S --allow-empty -m "removed"
grep -q "refused: uid $RUN_UID maps to no consumer" "$WORK/agent.log" && pass || fail "the agent did not log the removed runner's refusal"
"$BROKERKEY" consumer add runner --user "$RUN" --allow sshsig:git,cms >/dev/null
expect 0 "mapped again, it signs again" -- in_repo timeout 60 git commit -q -S --allow-empty -m "mapped again"

# The other direction: the broker host's account (the consumer) connects to the runner host
# and forwards the agent's socket there with ssh -R; the runner host's sshd creates it. The
# agent's peer is then that account's own ssh.
ssh-keygen -q -t ed25519 -N '' -f "$WORK/sshd/runner_host_key"
ssh-keygen -q -t ed25519 -N '' -C "broker-host runner" -f "$WORK/push_key"
chown "$RUN" "$WORK/push_key"
mkdir -m 0755 "$WORK/runner-sshd"
echo "restrict,port-forwarding,command=\"/bin/false\" $(cat "$WORK/push_key.pub")" > "$WORK/runner-sshd/$CI"
chmod 644 "$WORK/runner-sshd/$CI"
RPORT=$("${ON_RUNNER_HOST[@]}" python3 -c 'import socket, sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$RUNNER_ADDR")
{
  sshd_base_config "$RUNNER_ADDR" "$RPORT" "$WORK/sshd/runner_host_key"
  echo "AuthorizedKeysFile $WORK/runner-sshd/%u"
  echo "AllowStreamLocalForwarding remote"
  echo "StreamLocalBindUnlink yes"
} > "$WORK/runner-sshd/sshd_config"
"${ON_RUNNER_HOST[@]}" /usr/sbin/sshd -D -e -f "$WORK/runner-sshd/sshd_config" 2>"$WORK/runner-sshd.log" &
RUNNER_SSHD_PID=$!
echo "[$RUNNER_ADDR]:$RPORT $(cat "$WORK/sshd/runner_host_key.pub")" > "$WORK/runner_known_hosts"
chmod 644 "$WORK/runner_known_hosts"
for _ in $(seq 50); do "${ON_RUNNER_HOST[@]}" timeout 2 bash -c 'exec 3<>/dev/tcp/$0/$1' "$RUNNER_ADDR" "$RPORT" 2>/dev/null && break; sleep 0.1; done
PUSHED=$CI_HOME/pushed-agent.sock
setpriv --reuid="$RUN" --regid="$GROUP" --init-groups env -i PATH=/usr/bin:/bin HOME=/nonexistent \
  ssh -F none -o BatchMode=yes -o IdentitiesOnly=yes -i "$WORK/push_key" -o UserKnownHostsFile="$WORK/runner_known_hosts" \
  -o ServerAliveInterval=2 -o ServerAliveCountMax=2 -o ExitOnForwardFailure=yes -N -p "$RPORT" \
  -R "$PUSHED:$SOCKET" "$CI@$RUNNER_ADDR" 2>>"$WORK/push.log" &
PUSH_PID=$!
for _ in $(seq 100); do accepts "$PUSHED" && break; kill -0 "$PUSH_PID" 2>/dev/null || break; sleep 0.1; done
accepts "$PUSHED" && pass || fail "ssh -R did not forward the socket: $(cat "$WORK/push.log" "$WORK/runner-sshd.log")"
[ "$(stat -c %a:%U "$PUSHED")" = "600:$CI" ] && pass || fail "the pushed socket is $(stat -c %a:%U "$PUSHED")"
expect 0 "git-config --agent for the pushed socket" -- \
  ci "$BROKERKEY" git-config --agent "$PUSHED" --allowed-signers "$CI_HOME/allowed_signers" --global
ci sh -c "$OUT"
before=$(records)
expect 0 "git commit -S over a socket forwarded with ssh -R" -- in_repo timeout 60 git commit -q -S --allow-empty -m "pushed socket"
expect 0 "and verifies" -- in_repo timeout 60 git verify-commit HEAD
[ "$(records)" -eq $((before + 1)) ] && pass || fail "no signing record for the pushed socket"
tail -1 "$signing_log" | grep -q "\"consumer\":\"runner\",\"uid\":$RUN_UID,.*\"exe\":\"/usr/bin/ssh\"" && pass || fail "the record does not name the runner account's ssh: $(tail -1 "$signing_log")"
kill "$PUSH_PID"; wait "$PUSH_PID" 2>/dev/null || true; PUSH_PID=
expect 0 "git-config --agent back to the -L socket" -- \
  ci "$BROKERKEY" git-config --agent "$LOCAL" --allowed-signers "$CI_HOME/allowed_signers" --global
ci sh -c "$OUT"

# Revocation: the runner's forwarding stays, the agent signs nothing.
"$BROKERKEY" revoke "$("$BROKERKEY" fingerprint)" --reason "test" >/dev/null
expect 128 "after a revocation nothing signs" -- in_repo timeout 60 git commit -q -S --allow-empty -m "revoked"
stop_forward
expect 0 "audit verify" -- "$BROKERKEY" audit verify
[ "$failures" -eq 0 ] || cat "$WORK/forward.log" "$WORK/sshd.log" "$WORK/agent.log" >&2
finish
