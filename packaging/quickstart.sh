#!/usr/bin/env bash
# The main job, end to end, on the embedded default (a SoftHSM-backed broker):
# installs what is missing, builds, creates a broker in DIR, mints the key, signs a message
# through the module with pkcs11-tool, and verifies the signature with OpenSSL against the
# exported public key. Then the recommended deployment: brokerkey-agent in the background on a
# socket in DIR (stopped by its PID when the script ends, also on failure), a throwaway consumer
# account that cannot read the broker's directory, configured only by 'brokerkey client-config',
# signing once with stock 'ssh-keygen -Y sign' through the agent and verifying with stock
# 'ssh-keygen -Y verify' against 'brokerkey allowed-signers', and once with pkcs11-tool
# through the module in client mode (no PIN: the account is the consumer), verified by OpenSSL.
# Usage: bash packaging/quickstart.sh [DIR]   (as root, on Debian 12)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-/tmp/brokerkey-quickstart}
if [ -e "$DIR" ]; then
  echo "quickstart: $DIR exists; name a new directory (bash packaging/quickstart.sh DIR)" >&2
  exit 1
fi

bash packaging/install-deps.sh
cmake -S . -B build-quickstart -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBROKERKEY_TESTS=OFF >/dev/null
cmake --build build-quickstart -j"$(nproc)" >/dev/null
BROKERKEY=$PWD/build-quickstart/bin/brokerkey
MODULE=$PWD/build-quickstart/bin/libbrokerkey-pkcs11.so
AGENT=$PWD/build-quickstart/bin/brokerkey-agent

# What the script starts it also stops, by PID, however it ends: the agent, and the throwaway
# consumer account (with its home under DIR).
AGENT_PID=
CONSUMER=
cleanup() {
  if [ -n "$AGENT_PID" ]; then
    kill "$AGENT_PID" 2>/dev/null || true
    wait "$AGENT_PID" 2>/dev/null || true
  fi
  # The consumer goes with its account, so no later account given the same uid inherits it.
  if [ -n "$CONSUMER" ]; then
    "$BROKERKEY" consumer remove demo >/dev/null 2>&1 || true
    userdel -r "$CONSUMER" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

echo "== brokerkey init"
"$BROKERKEY" init --dir "$DIR/broker" --service acme --purpose git-signing --env prod
export BROKERKEY_CONF=$DIR/broker/brokerkey.conf
echo "== brokerkey mint"
"$BROKERKEY" mint
echo "== brokerkey consumer add quickstart"
PIN_FILE=$DIR/quickstart.pin
( umask 077 && "$BROKERKEY" consumer add quickstart | grep -o 'quickstart:[a-z0-9]*' > "$PIN_FILE" )

echo "== sign through the module with pkcs11-tool"
printf 'hello from brokerkey\n' > "$DIR/message"
pkcs11-tool --module "$MODULE" --token-label brokerkey --login --pin "$(cat "$PIN_FILE")" \
  --sign --mechanism EDDSA --label acme-git-signing-ed25519-prod \
  -i "$DIR/message" -o "$DIR/message.sig"
echo "== verify with OpenSSL against the exported public key"
"$BROKERKEY" pubkey --format pem > "$DIR/public.pem"
openssl pkeyutl -verify -pubin -inkey "$DIR/public.pem" -rawin -in "$DIR/message" \
  -sigfile "$DIR/message.sig"
echo "== the validation hook: fingerprint re-derived through the module"
"$BROKERKEY" fingerprint --check --module "$MODULE"

echo "== brokerkey-agent: the broker as a process of its own, on a socket in $DIR"
mkdir -m 0755 "$DIR/run"
SOCKET=$DIR/run/agent.sock
"$AGENT" --socket "$SOCKET" 2>"$DIR/agent.log" &
AGENT_PID=$!
for _ in $(seq 50); do [ -S "$SOCKET" ] && break; sleep 0.1; done
[ -S "$SOCKET" ] || { echo "quickstart: brokerkey-agent did not start; see $DIR/agent.log" >&2; exit 1; }
# The demo has no consumers' group for the socket (agent.socket_group in production): anyone
# may connect, and the agent still decides for each peer by its uid.
chmod 666 "$SOCKET"

echo "== a consumer account that cannot read the broker's directory"
if [ "$(id -u)" -eq 0 ]; then
  CONSUMER=bkdemo$$
  useradd -m -d "$DIR/consumer" -s /bin/sh "$CONSUMER"
  as_consumer() {
    setpriv --reuid="$CONSUMER" --regid="$CONSUMER" --init-groups \
      env -i PATH=/usr/bin:/bin HOME="$DIR/consumer" "$@"
  }
  if as_consumer cat "$DIR/broker/ledger.jsonl" >/dev/null 2>&1; then
    echo "quickstart: the consumer account can read the broker's ledger" >&2
    exit 1
  fi
  echo "account $CONSUMER (removed at the end); it cannot read $DIR/broker"
  CONSUMER_NAME=$CONSUMER
else
  echo "not root: no throwaway account can be made, so the current user $(id -un) is the consumer;"
  echo "it can read $DIR/broker itself, which a real consumer account cannot"
  as_consumer() { env -i PATH=/usr/bin:/bin HOME="$DIR/consumer" "$@"; }
  mkdir -p "$DIR/consumer"
  CONSUMER_NAME=$(id -un)
fi
# Mapped by its account (the kernel's peer credentials): the PIN it is also given is not needed.
# It may sign git's SSHSIG and CMS (the default) and, for the pkcs11-tool demo below, raw data:
# grant raw to a real consumer only when it needs it, since raw signing can forge the others.
"$BROKERKEY" consumer add demo --user "$CONSUMER_NAME" --allow sshsig:git,cms,raw | sed -n 1p
CONSUMER_HOME=$DIR/consumer
as_consumer mkdir -p "$CONSUMER_HOME/.config/brokerkey"
echo "== brokerkey client-config, as the consumer: the socket, nothing secret, no broker file"
as_consumer "$BROKERKEY" client-config --socket "$SOCKET" > "$DIR/client.conf"
as_consumer sh -c 'cat > "$HOME/.config/brokerkey/brokerkey.conf"' < "$DIR/client.conf"
cat "$DIR/client.conf"
echo "== the validation hook through the agent, as the consumer"
as_consumer "$BROKERKEY" fingerprint --check --expect "$("$BROKERKEY" pubkey --format fingerprint)"

echo "== sign once through the agent with stock ssh-add and ssh-keygen -Y sign, as the consumer"
printf 'hello from brokerkey-agent\n' > "$CONSUMER_HOME/message"
chmod 644 "$CONSUMER_HOME/message"
as_consumer sh -c "SSH_AUTH_SOCK='$SOCKET' ssh-add -L > \"\$HOME/broker-key.pub\" &&
  SSH_AUTH_SOCK='$SOCKET' ssh-keygen -Y sign -n git -f \"\$HOME/broker-key.pub\" \"\$HOME/message\""
echo "== verify it with stock ssh-keygen -Y verify against brokerkey allowed-signers (asked of the agent)"
as_consumer sh -c "'$BROKERKEY' allowed-signers --principal demo@acme.example > \"\$HOME/allowed_signers\" &&
  ssh-keygen -Y verify -f \"\$HOME/allowed_signers\" -I demo@acme.example -n git \\
    -s \"\$HOME/message.sig\" < \"\$HOME/message\""

echo "== sign once with pkcs11-tool through the module in client mode, as the consumer"
# The module reads only the client configuration and asks the agent; the token offers the
# protected authentication path, so --login needs no PIN: the account itself is the consumer.
as_consumer pkcs11-tool --module "$MODULE" --token-label brokerkey --login \
  --sign --mechanism EDDSA --label acme-git-signing-ed25519-prod \
  -i "$CONSUMER_HOME/message" -o "$CONSUMER_HOME/message.p11.sig"
openssl pkeyutl -verify -pubin -inkey "$DIR/public.pem" -rawin -in "$CONSUMER_HOME/message" \
  -sigfile "$CONSUMER_HOME/message.p11.sig"

echo
echo "fingerprint: $("$BROKERKEY" pubkey --format fingerprint)"
echo "uri:         pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private"
echo "module:      $MODULE"
echo "agent:       $SOCKET (stopped now; start it with: $AGENT --socket $SOCKET)"
echo "Use it:      export BROKERKEY_CONF=$BROKERKEY_CONF"
