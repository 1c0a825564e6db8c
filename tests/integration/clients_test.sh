# The real clients through the built module: pkcs11-tool (OpenSC), p11tool (GnuTLS) by
# PKCS#11 URI, and OpenSSL verifying against the exported public key.
source "$(dirname "$0")/lib.sh"
new_broker "$WORK/broker"
LABEL=acme-git-signing-ed25519-prod
FP=$("$BROKERKEY" pubkey --format fingerprint)

expect 0 "pkcs11-tool lists slots" -- pkcs11-tool --module "$MODULE" -L
contains "token label        : brokerkey" "slot list"
contains "serial num         : ${FP:0:16}" "token serial is the fingerprint prefix"

expect 0 "pkcs11-tool lists objects" -- pkcs11-tool --module "$MODULE" -O --login --pin "$PIN"
[ "$(grep -c 'Private Key Object; EC_EDWARDS' <<<"$OUT")" -eq 1 ] && pass || fail "not one private key: $OUT"
[ "$(grep -c 'Public Key Object; EC_EDWARDS' <<<"$OUT")" -eq 1 ] && pass || fail "not one public key: $OUT"
contains "Access:     sensitive, always sensitive, never extractable, local" "private key access"
contains "ID:         $FP" "CKA_ID is the fingerprint"
contains "label:      $LABEL" "label"

printf 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n' > "$WORK/msg"
expect 0 "pkcs11-tool signs" -- pkcs11-tool --module "$MODULE" --login --pin "$PIN" \
  --sign --mechanism EDDSA --label "$LABEL" -i "$WORK/msg" -o "$WORK/sig"
[ "$(stat -c %s "$WORK/sig")" -eq 64 ] && pass || fail "signature is not 64 bytes"
"$BROKERKEY" pubkey --format pem > "$WORK/pub.pem"
expect 0 "openssl verifies the signature" -- openssl pkeyutl -verify -pubin -inkey "$WORK/pub.pem" \
  -rawin -in "$WORK/msg" -sigfile "$WORK/sig"
contains "Signature Verified Successfully" "openssl verdict"
printf 'tampered\n' > "$WORK/other"
expect 1 "openssl rejects another message" -- openssl pkeyutl -verify -pubin -inkey "$WORK/pub.pem" \
  -rawin -in "$WORK/other" -sigfile "$WORK/sig"

expect 1 "a wrong PIN is refused" -- pkcs11-tool --module "$MODULE" --login --pin "ci:wrongwrongwrong" \
  --sign --mechanism EDDSA -i "$WORK/msg" -o "$WORK/sig2"
contains "CKR_PIN_INCORRECT" "wrong PIN code"
expect 1 "key generation through the module is refused" -- pkcs11-tool --module "$MODULE" --login \
  --pin "$PIN" --keypairgen --key-type EC:edwards25519 --label intruder
# (pkcs11-tool stops before C_GenerateKeyPair: the module offers no key generation mechanism.)
expect 1 "deleting the key through the module is refused" -- pkcs11-tool --module "$MODULE" --login \
  --pin "$PIN" --delete-object --type privkey --label "$LABEL"
expect 0 "the key is still there" -- pkcs11-tool --module "$MODULE" -O --login --pin "$PIN"
[ "$(grep -c 'Key Object' <<<"$OUT")" -eq 2 ] && pass || fail "objects changed: $OUT"

URI="pkcs11:token=brokerkey;object=$LABEL"
if ! p11tool_usable; then
  expect 0 "audit verify" -- "$BROKERKEY" audit verify
  finish
  exit
fi
expect 0 "p11tool lists by URI" -- p11tool --provider "$MODULE" --list-all "$URI"
contains "Type: Public key (EdDSA (Ed25519))" "p11tool key type"
expect 0 "p11tool lists private keys after login" -- p11tool --provider "$MODULE" --login \
  --set-pin="$PIN" --list-privkeys "$URI"
contains "CKA_NEVER_EXTRACTABLE; CKA_SENSITIVE" "p11tool flags"
expect 0 "p11tool signs and verifies by URI" -- p11tool --provider "$MODULE" --login --set-pin="$PIN" \
  --test-sign --hash SHA512 "$URI;type=private"
contains "Verifying against public key in the token... ok" "p11tool test-sign"

# Every signature above is in the signing log, and both chains verify.
expect 0 "audit verify" -- "$BROKERKEY" audit verify
contains "signing log" "audit covers the signing log"
[ "$(wc -l < "$WORK/broker/signing-log.jsonl")" -ge 2 ] && pass || fail "signing log too short"
finish
