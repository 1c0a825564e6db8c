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
expect 2 "an option gpgsm has but the drop-in does not" -- "$GPGSM" --batch --verify "$WORK/signature" "$WORK/payload"
contains "unsupported option --batch" "unsupported option named"
expect 2 "--status-fd without a value" -- "$GPGSM" --verify "$WORK/signature" "$WORK/payload" --status-fd
contains "--status-fd needs a file descriptor" "missing value named"
expect 0 "--version" -- "$GPGSM" --version
contains "brokerkey-gpgsm " "version line"
expect 2 "--verify: not a signature" -- "$GPGSM" --status-fd=1 --verify "$WORK/garbage" "$WORK/payload"
contains "[GNUPG:] ERRSIG" "ERRSIG"
contains "no valid -----BEGIN SIGNED MESSAGE----- block" "reason"

at 2027-01-01T00:00:00Z   # day 365
"$BROKERKEY" rotate >/dev/null
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
