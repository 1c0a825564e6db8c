# p11-kit registration: the module file `cmake --install` writes (build/brokerkey.module) makes
# `p11-kit list-modules` show brokerkey, p11tool find 'pkcs11:token=brokerkey' through p11-kit's
# registry, and pkcs11-tool sign with CKM_EDDSA through p11-kit-proxy.so. Debian's softhsm2
# stays registered as the package leaves it.
#
# p11-kit reads ~/.config/pkcs11/modules only for non-root users, and the system directories
# are not the test's to change, so as root the checks run as 'nobody' with the module file as
# that user's registration (the module path pointed at this build). Runs as is for other users.
source "$(dirname "$0")/lib.sh"
MODULE_FILE=$3
PROXY=$(pkg-config --variable=proxy_module p11-kit-1)
[ -r "$PROXY" ] && pass || fail "p11-kit-proxy.so not found (pkg-config p11-kit-1)"

AS=()
P=$WORK/p11kit
mkdir -p "$P/bin" "$P/home"
cp "$BROKERKEY" "$MODULE" "$P/bin/"
if [ "$(id -u)" -eq 0 ]; then
  chmod 711 "$WORK"
  chown -R nobody:nogroup "$P"
  AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
run() { "${AS[@]}" env HOME="$P/home" BROKERKEY_CONF="$P/home/broker/brokerkey.conf" "$@"; }

run "$P/bin/brokerkey" init --dir "$P/home/broker" --service acme --purpose git-signing --env prod >/dev/null
run "$P/bin/brokerkey" mint >/dev/null
PIN=$(run "$P/bin/brokerkey" consumer add ci | grep -o 'ci:[a-z0-9]*')
run "$P/bin/brokerkey" pubkey --format pem > "$WORK/pub.pem"
run mkdir -p "$P/home/.config/pkcs11/modules"
grep -q "^module: " "$MODULE_FILE" && pass || fail "the installed module file has no module: line"
sed "s|^module: .*|module: $P/bin/$(basename "$MODULE")|" "$MODULE_FILE" |
  run tee "$P/home/.config/pkcs11/modules/brokerkey.module" >/dev/null

expect 0 "p11-kit list-modules" -- run p11-kit list-modules
contains "brokerkey: $P/bin/$(basename "$MODULE")" "brokerkey is registered"
contains "library-manufacturer: brokerkey" "the module answers C_GetInfo"
contains "token: brokerkey" "its token is listed"

# The package registers the module for every user; one with no brokerkey configuration at all
# sees it listed without a token, and it prints nothing (BROKERKEY_DEBUG makes it say why).
if [ -e /etc/brokerkey/brokerkey.conf ]; then
  fail "/etc/brokerkey/brokerkey.conf exists here, so the unconfigured user cannot be checked"
else
  unconfigured() { "${AS[@]}" env -u BROKERKEY_CONF HOME="$P/home" "$@"; }
  expect 0 "p11-kit list-modules, a user with no brokerkey configuration" -- unconfigured p11-kit list-modules
  contains "brokerkey: $P/bin/$(basename "$MODULE")" "brokerkey is still listed"
  if grep -qF -e "token: brokerkey" -e "brokerkey-pkcs11:" <<<"$OUT"; then
    fail "an unconfigured user sees a token or a message: $OUT"
  else
    pass
  fi
  expect 0 "the same with BROKERKEY_DEBUG" -- unconfigured env BROKERKEY_DEBUG=1 p11-kit list-modules
  contains "no brokerkey configuration found" "the module says why when asked"
fi

if p11tool_usable; then
  expect 0 "p11tool finds the token through p11-kit" -- run p11tool --list-all 'pkcs11:token=brokerkey'
  contains "Label: acme-git-signing-ed25519-prod" "p11tool sees the key"
  contains "Type: Public key (EdDSA (Ed25519))" "an Ed25519 public key"
fi

# Signing through the proxy: CKM_EDDSA passes p11-kit's in-process proxy.
echo "signed through p11-kit-proxy" > "$WORK/msg"
chmod 644 "$WORK/msg"
expect 0 "pkcs11-tool signs through p11-kit-proxy.so" -- run pkcs11-tool --module "$PROXY" --token-label brokerkey \
  --login --pin "$PIN" --sign --mechanism EDDSA --label acme-git-signing-ed25519-prod -i "$WORK/msg" -o "$P/sig"
expect 0 "openssl verifies it with the broker key" -- openssl pkeyutl -verify -pubin -inkey "$WORK/pub.pem" \
  -rawin -in "$WORK/msg" -sigfile "$P/sig"
contains "Signature Verified Successfully" "openssl verdict"
expect 1 "a wrong PIN through the proxy" -- run pkcs11-tool --module "$PROXY" --token-label brokerkey \
  --login --pin "ci:wrong" --sign --mechanism EDDSA -i "$WORK/msg" -o "$P/sig2"
contains "CKR_PIN_INCORRECT" "the module's answer passes through"

# Issue 11 §6: SoftHSM registered with p11-kit as well (Debian's softhsm2.module), here even
# pointed at the broker's own token store. brokerkey's backend is an instance of its own (a
# private copy of libsofthsm2.so), so the softhsm2 entry's instance never shares its login:
# the backend token brokerkey-store is not logged in there and none of its keys signs.
SHARED=(env SOFTHSM2_CONF="$P/home/broker/softhsm2.conf")
expect 0 "p11-kit list-modules with SoftHSM pointed at the broker's store" -- run "${SHARED[@]}" p11-kit list-modules
contains "softhsm2: " "softhsm2 is registered with p11-kit"
expect 0 "the softhsm2 entry lists the broker's token store" -- run "${SHARED[@]}" pkcs11-tool --module "$PROXY" -L
contains "brokerkey-store" "brokerkey-store is visible through the softhsm2 entry"
expect 0 "objects of brokerkey-store through the softhsm2 entry" -- run "${SHARED[@]}" pkcs11-tool --module "$PROXY" \
  --token-label brokerkey-store -O
if grep -q "Private Key Object" <<<"$OUT"; then fail "brokerkey-store shows private keys without login: $OUT"; else pass; fi
expect 1 "signing with a backend key without login" -- run "${SHARED[@]}" pkcs11-tool --module "$PROXY" \
  --token-label brokerkey-store --sign --mechanism EDDSA -i "$WORK/msg" -o "$P/sig3"
[ ! -s "$P/sig3" ] && pass || fail "a backend key signed without any login"
# The broker token in the same process still signs with the consumer PIN, and logs it.
before=$(run wc -l < "$P/home/broker/signing-log.jsonl")
expect 0 "brokerkey still signs beside softhsm2" -- run "${SHARED[@]}" pkcs11-tool --module "$PROXY" --token-label brokerkey \
  --login --pin "$PIN" --sign --mechanism EDDSA -i "$WORK/msg" -o "$P/sig4"
after=$(run wc -l < "$P/home/broker/signing-log.jsonl")
[ "$after" -eq $((before + 1)) ] && pass || fail "signing log: $before then $after records"
finish
