# git 2.39 signing commits and tags in x509 format through brokerkey-gpgsm and a PKCS#11 URI,
# configured only by 'brokerkey git-config --format x509'; verified by git through
# brokerkey-gpgsm against the ledger, before and after a rotation; every CMS also checked by
# cms_check, which uses OpenSSL primitives and none of brokerkey's code.
source "$(dirname "$0")/lib.sh"
CMS_CHECK=$3
GPGSM=$(dirname "$BROKERKEY")/brokerkey-gpgsm
# commit_parts COMMIT: the signature and the signed payload of a commit, as git splits them.
commit_parts() {
  git cat-file commit "$1" > "$WORK/object"
  awk '/^gpgsig /{sig=1; sub(/^gpgsig /, ""); print > "/dev/stderr"; next}
       sig && /^ /{sub(/^ /, ""); print > "/dev/stderr"; next}
       {sig=0; print}' "$WORK/object" > "$WORK/payload" 2> "$WORK/signature"
}

git_broker
expect 1 "x509 needs a certificate first" -- "$BROKERKEY" git-config --format x509
contains "brokerkey cert --pin-file" "the message names the fix"
"$BROKERKEY" cert --pin-file "$PIN_FILE" --subject "CN=Acme git signing,O=Acme" >/dev/null 2>&1
expect 0 "git-config --format x509" -- "$BROKERKEY" git-config --format x509 --consumer ci
contains "gpg.format x509" "format line"
contains "gpg.x509.program '$GPGSM'" "git-config names the drop-in"
contains "user.signingkey 'pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private?pin-source=file:$PIN_FILE'" "URI"
eval "$OUT"

at 2026-04-11T00:00:00Z   # day 100
echo one > one && git add one
expect 0 "git commit -S" -- git commit -q -S -m "signed by the broker key"
expect 0 "git verify-commit" -- git verify-commit HEAD
contains 'Good signature from "O=Acme,CN=Acme git signing"' "verify-commit verdict"
OLD_FP=$("$BROKERKEY" pubkey --format fingerprint)
expect 0 "git log --show-signature" -- git log --show-signature -1
contains "Good signature" "log verdict"
expect 0 "git log %G? %GK" -- git log -1 --format='%G? %GK %GT'
contains "G $OLD_FP fully" "good, by the broker key's fingerprint, trusted"
expect 0 "git tag -s" -- git tag -s v1 -m "release 1"
expect 0 "git verify-tag" -- git verify-tag v1
contains "Good signature" "verify-tag verdict"
FIRST=$(git rev-parse HEAD)

# The CMS, independently of brokerkey: SHA-512 digest, Ed25519 over the signed attributes, key.
"$BROKERKEY" pubkey --format pem > "$WORK/key.pem"
commit_parts HEAD
expect 0 "cms_check: the commit's signature" -- "$CMS_CHECK" "$WORK/signature" "$WORK/payload" "$WORK/key.pem"
contains "cms_check: OK" "independent check"
cp "$WORK/payload" "$WORK/changed" && echo x >> "$WORK/changed"
expect 1 "cms_check: changed content" -- "$CMS_CHECK" "$WORK/signature" "$WORK/changed" "$WORK/key.pem"
contains "messageDigest" "cms_check sees the change"
git cat-file tag v1 | sed '/^-----BEGIN SIGNED MESSAGE-----$/,$d' > "$WORK/tag-payload"
git cat-file tag v1 | sed -n '/^-----BEGIN SIGNED MESSAGE-----$/,$p' > "$WORK/tag-signature"
expect 0 "cms_check: the tag's signature" -- "$CMS_CHECK" "$WORK/tag-signature" "$WORK/tag-payload" "$WORK/key.pem"

# brokerkey-gpgsm's status lines, as git reads them.
expect 0 "--verify: good" -- "$GPGSM" --status-fd=1 --verify "$WORK/signature" "$WORK/payload"
contains "[GNUPG:] GOODSIG $OLD_FP O=Acme,CN=Acme git signing" "GOODSIG"
contains "[GNUPG:] VALIDSIG $OLD_FP 2026-04-11 1775865600 " "VALIDSIG with the signing time"
expect 1 "--verify: changed content" -- "$GPGSM" --status-fd=1 --verify "$WORK/signature" "$WORK/changed"
contains "[GNUPG:] BADSIG $OLD_FP" "BADSIG"
contains "content was changed" "reason"
echo "not a signature" > "$WORK/garbage"
# gpgsm's option syntax: abbreviations, "--opt VALUE", "--" before the arguments.
expect 0 "--verify, abbreviated" -- "$GPGSM" --status 1 --verif -- "$WORK/signature" "$WORK/payload"
contains "[GNUPG:] GOODSIG $OLD_FP" "GOODSIG through abbreviations"
expect 2 "an option gpgsm has but the drop-in does not" -- "$GPGSM" --encrypt --verify "$WORK/signature" "$WORK/payload"
contains "unsupported option --encrypt" "unsupported option named"
expect 2 "--status-fd without a value" -- "$GPGSM" --verify "$WORK/signature" "$WORK/payload" --status-fd
contains "option --status-fd needs a value" "missing value named"
expect 0 "--version" -- "$GPGSM" --version
contains "brokerkey-gpgsm " "version line"
expect 2 "--verify: not a signature" -- "$GPGSM" --status-fd=1 --verify "$WORK/garbage" "$WORK/payload"
contains "[GNUPG:] ERRSIG" "ERRSIG"
contains "no valid -----BEGIN SIGNED MESSAGE----- block" "reason"

# The certificate inside a CMS is the signer's own word. The same signature under a certificate
# the ledger never recorded (made here with another key's self-signature, the broker key's
# public key and the subject CN=Mallory) is still the broker key's signature, but git is shown
# only what the ledger vouches for: the key's label, never the embedded subject.
openssl genpkey -algorithm ed25519 -out "$WORK/mallory-key.pem"
openssl req -new -key "$WORK/mallory-key.pem" -subj "/CN=Mallory/O=Evil Corp" -out "$WORK/mallory.csr"
openssl x509 -req -in "$WORK/mallory.csr" -signkey "$WORK/mallory-key.pem" -force_pubkey "$WORK/key.pem" \
  -days 3650 -out "$WORK/mallory.pem" 2>/dev/null
"$CMS_CHECK" recertify "$WORK/signature" "$WORK/mallory.pem" > "$WORK/forged"
expect 0 "cms_check: the recertified CMS verifies with the broker key" -- \
  "$CMS_CHECK" "$WORK/forged" "$WORK/payload" "$WORK/key.pem"
expect 0 "--verify: the other certificate" -- "$GPGSM" --status-fd=1 --verify "$WORK/forged" "$WORK/payload"
contains "[GNUPG:] GOODSIG $OLD_FP acme-git-signing-ed25519-prod" "GOODSIG names the ledger's label"
contains "not one the ledger recorded" "the message says why"
if grep -q "Mallory\|Evil" <<<"$OUT"; then fail "the embedded subject is shown: $OUT"; else pass; fi
# The same through git: a commit object carrying the recertified signature.
awk -v sig="$WORK/forged" '
  !done && /^committer / {print; first=1; while ((getline line < sig) > 0) {print (first ? "gpgsig " : " ") line; first=0}; done=1; next}
  {print}' "$WORK/payload" > "$WORK/forged-commit"
FORGED=$(git hash-object -t commit -w "$WORK/forged-commit")
expect 0 "git verify-commit of the recertified commit" -- git verify-commit "$FORGED"
if grep -q "Mallory\|Evil" <<<"$OUT"; then fail "git shows the embedded subject: $OUT"; else pass; fi
expect 0 "git log %G? %GS" -- git log -1 --format='%G? %GS' "$FORGED"
[ "$OUT" = "G acme-git-signing-ed25519-prod" ] && pass || fail "%GS: $OUT"
# A certificate issued again (cert_issue for the same key): signatures under the earlier one
# keep their subject, which the ledger still records.
"$BROKERKEY" cert --pin-file "$PIN_FILE" --subject "CN=Acme git signing 2,O=Acme" >/dev/null 2>&1
expect 0 "--verify after a second certificate" -- "$GPGSM" --status-fd=1 --verify "$WORK/signature" "$WORK/payload"
contains "[GNUPG:] GOODSIG $OLD_FP O=Acme,CN=Acme git signing" "earlier certificate still vouched"
expect 0 "a commit under the second certificate" -- git commit -q -S --allow-empty -m "second certificate"
expect 0 "git log %GS" -- git log -1 --format='%G? %GS'
[ "$OUT" = "G O=Acme,CN=Acme git signing 2" ] && pass || fail "%GS: $OUT"
git reset -q --hard "$FIRST"

# gpgsm's options as other callers pass them.
"$GPGSM" --batch --no-tty --yes --status-fd 2 --local-user "$(git config user.signingkey)" --detach-sign --armor \
  --output - < "$WORK/payload" > "$WORK/long.sig" 2> "$WORK/status"
expect 0 "long options, --output -" -- "$CMS_CHECK" "$WORK/long.sig" "$WORK/payload" "$WORK/key.pem"
grep -q "SIG_CREATED D 22 10 00" "$WORK/status" && pass || fail "status: $(cat "$WORK/status")"
expect 0 "-o FILE, -u, -b -a" -- "$GPGSM" --no-tty -b -a -o "$WORK/short.sig" -u "$(git config user.signingkey)" < "$WORK/payload"
expect 0 "the -o file" -- "$CMS_CHECK" "$WORK/short.sig" "$WORK/payload" "$WORK/key.pem"
expect 0 "--local-user=KEY --detach-sign without --armor: DER" -- \
  "$GPGSM" "--local-user=$(git config user.signingkey)" --detach-sign -o "$WORK/der.sig" < "$WORK/payload"
[ "$(head -c1 "$WORK/der.sig" | od -An -tx1 | tr -d ' ')" = "30" ] && pass || fail "not DER"
expect 0 "--verify reads DER, with --batch --no-tty" -- \
  "$GPGSM" --batch --no-tty --status-fd=1 --verify "$WORK/der.sig" "$WORK/payload"
contains "[GNUPG:] GOODSIG" "DER verifies"
expect 0 "--verify content on stdin" -- sh -c '"$1" --status-fd 1 --verify "$2" - < "$3"' _ "$GPGSM" "$WORK/short.sig" "$WORK/payload"
for refused in "--encrypt" "--homedir $WORK" "--include-certs 1" "-e"; do
  # shellcheck disable=SC2086
  expect 2 "refused: $refused" -- "$GPGSM" $refused --status-fd=1 --verify "$WORK/short.sig" "$WORK/payload"
  contains "unsupported option" "names the option"
done
expect 2 "--output with --verify" -- "$GPGSM" --verify -o x "$WORK/short.sig" "$WORK/payload"
contains "--output has no meaning" "output message"

at 2027-01-01T00:00:00Z   # day 365
expect 0 "rotate" -- "$BROKERKEY" rotate
contains "needs a certificate for the new key: brokerkey cert --pin-file FILE" "rotate says x509 needs a new certificate"
at 2027-01-06T00:00:00Z   # day 370: the new key needs its own certificate
echo two > two && git add two
expect 128 "no certificate for the new key yet" -- git commit -q -S -m "unsigned"
expect 1 "brokerkey check warns" -- "$BROKERKEY" check
contains "the current key has no certificate, though an earlier key had one" "check names the gap"
# git 2.39 swallows the signing program's stderr; the program itself says why.
expect 2 "the reason, from brokerkey-gpgsm" -- "$GPGSM" --status-fd=2 -bsau "$(git config user.signingkey)" < /dev/null
contains "has no certificate: issue one with 'brokerkey cert --pin-file FILE'" "reason"
contains "[GNUPG:] FAILURE sign" "FAILURE status"
"$BROKERKEY" cert --pin-file "$PIN_FILE" --subject "CN=Acme git signing,O=Acme" >/dev/null 2>&1
expect 0 "check is content again" -- "$BROKERKEY" check
expect 0 "git commit -S after rotation" -- git commit -q -S -m "signed by the next key"
NEW_FP=$("$BROKERKEY" pubkey --format fingerprint)
[ "$OLD_FP" != "$NEW_FP" ] && pass || fail "rotation did not change the key"
expect 0 "new commit verifies" -- git log -1 --format='%G? %GK'
contains "G $NEW_FP" "signed by the new key"
expect 0 "the earlier commit still verifies" -- git verify-commit "$FIRST"
contains "Good signature" "earlier commit"
expect 0 "the earlier tag still verifies" -- git verify-tag v1
expect 0 "whole history shows good signatures" -- git log --show-signature
[ "$(grep -c 'Good signature' <<<"$OUT")" -eq 2 ] && pass || fail "log: $OUT"

# Signing by fingerprint: the PIN file comes from $BROKERKEY_PIN_FILE.
expect 2 "fingerprint without a PIN file" -- "$GPGSM" --status-fd=2 -bsau "$NEW_FP" < "$WORK/payload"
contains "BROKERKEY_PIN_FILE" "names the variable"
BROKERKEY_PIN_FILE=$PIN_FILE "$GPGSM" --status-fd=2 -bsau "$NEW_FP" < "$WORK/payload" > "$WORK/by-fp.sig" 2> "$WORK/status"
grep -q "^\[GNUPG:\] SIG_CREATED D 22 10 00 [0-9]* $NEW_FP$" "$WORK/status" && pass || fail "SIG_CREATED: $(cat "$WORK/status")"
"$BROKERKEY" pubkey --format pem > "$WORK/new-key.pem"
expect 0 "cms_check: signed by fingerprint" -- "$CMS_CHECK" "$WORK/by-fp.sig" "$WORK/payload" "$WORK/new-key.pem"

# Mistakes: one clear line, no signature.
expect 2 "KEY that is neither" -- "$GPGSM" --status-fd=2 -bsau not-a-key
contains "neither a PKCS#11 URI nor a 64-hex-digit broker key fingerprint" "bad KEY"
expect 2 "unknown option" -- "$GPGSM" --encrypt
contains "unsupported option --encrypt" "bad option"
expect 2 "URI naming no key" -- "$GPGSM" -bsau "pkcs11:token=brokerkey;object=nope?pin-source=file:$PIN_FILE"
contains "names no private key" "no key"
# A PIN given in the URI reaches no message and no status line.
SECRET=$(cat "$PIN_FILE")
for key in "pkcs11:token=brokerkey;object=nope?pin-value=$SECRET" "pkcs11:token=%zz?pin-value=$SECRET" \
           "PKCS11-typo:object=k?pin-value=$SECRET"; do
  expect 2 "no key, PIN in the URI" -- "$GPGSM" --status-fd=1 -bsau "$key" < "$WORK/payload"
  if grep -qF -- "${SECRET#ci:}" <<<"$OUT"; then fail "the PIN is shown: $OUT"; else pass; fi
done
chmod 644 "$PIN_FILE"
expect 128 "a PIN file others can read" -- git commit -q -S --allow-empty -m "should not sign"
expect 2 "the reason, from brokerkey-gpgsm" -- "$GPGSM" -bsau "$(git config user.signingkey)" < /dev/null
contains "chmod 600" "PIN file message"
chmod 600 "$PIN_FILE"

# A key of another broker is not trusted here, however good its signature.
( export BROKERKEY_CONF=$WORK/other/brokerkey.conf
  "$BROKERKEY" init --dir "$WORK/other" --service other --purpose git-signing --env prod >/dev/null
  "$BROKERKEY" mint >/dev/null
  ( umask 077 && "$BROKERKEY" consumer add ci | grep -o 'ci:[a-z0-9]*' > "$WORK/other.pin" )
  "$BROKERKEY" cert --pin-file "$WORK/other.pin" >/dev/null 2>&1
  BROKERKEY_PIN_FILE=$WORK/other.pin "$GPGSM" -bsau "$("$BROKERKEY" pubkey --format fingerprint)" \
    < "$WORK/payload" > "$WORK/other.sig" )
expect 1 "another broker's key" -- "$GPGSM" --status-fd=1 --verify "$WORK/other.sig" "$WORK/payload"
contains "not a key of this broker's ledger" "untrusted key"
contains "[GNUPG:] ERRSIG" "ERRSIG for an unknown key"

# A revoked key verifies nothing it signed.
at 2027-01-10T00:00:00Z
"$BROKERKEY" revoke "$OLD_FP" --reason "test" >/dev/null
expect 1 "a commit by the revoked key no longer verifies" -- git verify-commit "$FIRST"
contains "was revoked" "revoked message"
expect 0 "the new key's commit still does" -- git verify-commit HEAD
finish
