# brokerkey cert: a self-signed certificate and a CSR, both signed through the module and
# checked by OpenSSL alone; the CA's answer imported; the certificate then an object in the
# key's slot, seen by pkcs11-tool and p11tool; a certificate for another key refused.
source "$(dirname "$0")/lib.sh"
new_broker "$WORK/broker"
( umask 077 && printf '%s\n' "$PIN" > "$WORK/ci.pin" )
B=$WORK/broker

expect 2 "cert needs a PIN file" -- "$BROKERKEY" cert
expect 0 "self-signed certificate" -- "$BROKERKEY" cert --pin-file "$WORK/ci.pin" --subject "CN=Acme git signing,O=Acme"
"$BROKERKEY" cert --help >/dev/null
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' <<<"$OUT" > "$WORK/cert.pem"
expect 0 "OpenSSL verifies its self-signature" -- openssl verify -partial_chain -check_ss_sig -CAfile "$WORK/cert.pem" "$WORK/cert.pem"
expect 0 "subject and extensions" -- openssl x509 -in "$WORK/cert.pem" -noout -subject -ext keyUsage,basicConstraints
contains "CN = Acme git signing, O = Acme" "subject"
contains "Digital Signature" "key usage"
contains "CA:FALSE" "not a CA"
openssl x509 -in "$WORK/cert.pem" -noout -pubkey > "$WORK/cert-key.pem"
"$BROKERKEY" pubkey --format pem | cmp -s - "$WORK/cert-key.pem" && pass || fail "certificate key is not the broker key"
grep -q '"event":"cert_issue"' "$B/ledger.jsonl" && pass || fail "no cert_issue record"

expect 0 "pkcs11-tool shows the certificate object" -- pkcs11-tool --module "$MODULE" -O
contains "Certificate Object; type = X.509 cert" "certificate object"
contains "ID:         $("$BROKERKEY" pubkey --format fingerprint)" "certificate CKA_ID"
if p11tool_usable; then
  expect 0 "p11tool lists it by URI" -- p11tool --provider "$MODULE" --list-all-certs "pkcs11:token=brokerkey;type=cert"
  contains "X.509 Certificate (EdDSA (Ed25519))" "p11tool certificate"
fi
pkcs11-tool --module "$MODULE" --read-object --type cert --label acme-git-signing-ed25519-prod -o "$WORK/object.der" 2>/dev/null
openssl x509 -in "$WORK/cert.pem" -outform DER | cmp -s - "$WORK/object.der" && pass || fail "CKA_VALUE is not the certificate"

# CSR for a CA, the CA's answer imported.
expect 0 "CSR" -- "$BROKERKEY" cert --pin-file "$WORK/ci.pin" --csr
sed -n '/BEGIN CERTIFICATE REQUEST/,/END CERTIFICATE REQUEST/p' <<<"$OUT" > "$WORK/csr.pem"
expect 0 "OpenSSL verifies the CSR" -- openssl req -in "$WORK/csr.pem" -verify -noout
openssl genpkey -algorithm ed25519 -out "$WORK/ca.key" 2>/dev/null
openssl req -x509 -new -key "$WORK/ca.key" -subj "/CN=Acme CA" -days 30 -out "$WORK/ca.pem" 2>/dev/null
openssl x509 -req -in "$WORK/csr.pem" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial -days 30 \
  -out "$WORK/issued.pem" 2>/dev/null
before=$(sha256sum < "$B/ledger.jsonl")
expect 1 "a certificate for another key is refused" -- "$BROKERKEY" cert --import "$WORK/ca.pem"
contains "for another key" "import refusal"
[ "$(sha256sum < "$B/ledger.jsonl")" = "$before" ] && pass || fail "refused import changed the ledger"
expect 0 "the CA's certificate is imported" -- "$BROKERKEY" cert --import "$WORK/issued.pem"
expect 0 "pkcs11-tool shows the CA-issued certificate" -- pkcs11-tool --module "$MODULE" -O
contains "subject:    DN: CN=acme-git-signing-ed25519-prod" "imported certificate object"
expect 0 "audit verify" -- "$BROKERKEY" audit verify
# A subject that would break a line of the output or a status line is refused before signing.
for subject in $'CN=a\nb' $'CN=a\rb' $'CN=\e[2Ja'; do
  expect 2 "--subject with a control character" -- "$BROKERKEY" cert --pin-file /nonexistent --subject "$subject"
  contains "--subject holds a control" "subject message"
done
finish
