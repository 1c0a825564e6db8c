#!/usr/bin/env bash
# The main job, end to end, on the embedded default (a SoftHSM-backed broker):
# installs what is missing, builds, creates a broker in DIR, mints the key, signs a message
# through the module with pkcs11-tool, and verifies the signature with OpenSSL against the
# exported public key. Usage: bash packaging/quickstart.sh [DIR]   (as root, on Debian 12)
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

echo
echo "fingerprint: $("$BROKERKEY" pubkey --format fingerprint)"
echo "uri:         pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private"
echo "module:      $MODULE"
echo "Use it:      export BROKERKEY_CONF=$BROKERKEY_CONF"
