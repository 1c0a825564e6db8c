# ssh user authentication through brokerkey-agent, against a real sshd on 127.0.0.1 started
# by the test: a consumer granted ssh-auth logs in with stock ssh; one that is not is refused,
# and the refusal is in the signing log.
source "$(dirname "$0")/lib.sh"
needs_root "useradd, sshd"
s=$$
DAVE=bkd$s ERIN=bke$s
SSHD_PID=
cleanup() {
  if [ -n "$SSHD_PID" ]; then kill "$SSHD_PID" 2>/dev/null && wait "$SSHD_PID" 2>/dev/null || true; fi
  end_test
}
trap cleanup EXIT
chmod 711 "$WORK"
# "*": no password, but not locked ("!"), which sshd without PAM refuses outright.
for u in $DAVE $ERIN; do add_account "$u" -m -d "$WORK/home-$u" -s /bin/sh -p "*"; done

"$BROKERKEY" init --dir "$WORK/broker" --service acme --purpose git-signing --env prod >/dev/null
export BROKERKEY_CONF=$WORK/broker/brokerkey.conf
"$BROKERKEY" mint >/dev/null
"$BROKERKEY" consumer add dave --user "$DAVE" --allow ssh-auth >/dev/null
"$BROKERKEY" consumer add erin --user "$ERIN" >/dev/null   # git only
mkdir -m 0755 "$WORK/run"
SOCKET=$WORK/run/agent.sock
start_agent "$SOCKET"
chmod 666 "$SOCKET"

# sshd on 127.0.0.1, a free port, its own host key; the broker key may log in as either account.
mkdir -p /run/sshd && chmod 755 /run/sshd
mkdir -m 0755 "$WORK/sshd"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/sshd/host_key"
"$BROKERKEY" pubkey --format ssh > "$WORK/sshd/authorized_keys"
chmod 644 "$WORK/sshd/authorized_keys"
PORT=$(free_port 127.0.0.1)
{
  sshd_base_config 127.0.0.1 "$PORT" "$WORK/sshd/host_key"
  echo "AuthorizedKeysFile $WORK/sshd/authorized_keys"
  echo "MaxStartups 4"
} > "$WORK/sshd/sshd_config"
/usr/sbin/sshd -D -e -f "$WORK/sshd/sshd_config" 2>"$WORK/sshd.log" &
SSHD_PID=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null && break; sleep 0.1; done
echo "[127.0.0.1]:$PORT $(cat "$WORK/sshd/host_key.pub")" > "$WORK/known_hosts"
chmod 644 "$WORK/known_hosts"

login() {
  local user=$1
  run_as "$user" "$WORK/home-$user" SSH_AUTH_SOCK="$SOCKET" timeout 30 ssh -F none -o BatchMode=yes -o UserKnownHostsFile="$WORK/known_hosts" \
    -o IdentitiesOnly=no -o ConnectTimeout=10 -p "$PORT" "$user@127.0.0.1" 'echo logged in as $(id -un)'
}
expect 0 "dave (granted ssh-auth) logs in with stock ssh" -- login "$DAVE"
contains "logged in as $DAVE" "the session ran"
grep -q '"consumer":"dave".*"purpose":"ssh-auth".*"result":"ok"' "$WORK/broker/signing-log.jsonl" && pass || fail "no ssh-auth record for dave"
expect 255 "erin (git only) is refused" -- login "$ERIN"
contains "Permission denied" "ssh reports the refusal"
grep -q '"consumer":"erin".*"purpose":"ssh-auth".*"result":"refused: purpose ssh-auth not granted"' "$WORK/broker/signing-log.jsonl" && pass || fail "no refusal record for erin"
expect 0 "audit verify" -- "$BROKERKEY" audit verify
[ "$failures" -eq 0 ] || cat "$WORK/sshd.log" "$WORK/agent.log" >&2
finish
