# git 2.39 signing commits and tags in ssh format through brokerkey-ssh-keygen and a PKCS#11
# URI, configured only by 'brokerkey git-config'; verified by stock ssh-keygen through
# allowed-signers, before and after a rotation. Time is injected so validity windows are exact.
source "$(dirname "$0")/lib.sh"
SSH_KEYGEN_DROPIN=$(dirname "$BROKERKEY")/brokerkey-ssh-keygen
git_broker
expect 0 "git-config prints the configuration" -- "$BROKERKEY" git-config --consumer ci
contains "gpg.ssh.program '$SSH_KEYGEN_DROPIN'" "git-config names the drop-in"
URI="pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private?pin-source=file:$HOME/.config/brokerkey/ci.pin"
contains "gpg.ssh.defaultKeyCommand ''\\''$SSH_KEYGEN_DROPIN'\\'' -y -f '\\''$URI'\\'''" "git-config: the key from the drop-in"
contains "--unset-all user.signingkey" "git-config: no user.signingkey to win over it"
git config user.signingkey "$URI"   # an earlier configuration, which the printed one replaces
eval "$OUT"
expect 1 "user.signingkey is unset" -- git config user.signingkey

at 2026-04-11T00:00:00Z   # day 100
echo one > one && git add one
expect 0 "git commit -S" -- git commit -q -S -m "signed by the broker key"
expect 0 "git verify-commit" -- git verify-commit HEAD
contains 'Good "git" signature for brokerkey with ED25519 key' "verify-commit verdict"
OLD_SSH_FP=$(ssh-keygen -l -f <("$BROKERKEY" pubkey --format ssh) | awk '{print $2}')
contains "$OLD_SSH_FP" "signed by the minted key"
expect 0 "git tag -s" -- git tag -s v1 -m "release 1"
expect 0 "git verify-tag" -- git verify-tag v1
contains 'Good "git" signature' "verify-tag verdict"
expect 0 "git log --show-signature" -- git log --show-signature -1
contains 'Good "git" signature for brokerkey' "log verdict"
FIRST=$(git rev-parse HEAD)

# git push --signed: git asks the system ssh-keygen for the fingerprint of the signing key
# (ssh-keygen -lf -, on the key gpg.ssh.defaultKeyCommand printed), signs the push certificate
# through the drop-in, and the receiving side verifies it against allowed-signers.
git init -q --bare "$WORK/remote.git"
git -C "$WORK/remote.git" config receive.certNonceSeed "brokerkey-test-seed"
git -C "$WORK/remote.git" config gpg.ssh.allowedSignersFile "$HOME/.config/brokerkey/allowed_signers"
cat > "$WORK/remote.git/hooks/pre-receive" <<'HOOK'
#!/bin/sh
echo "status=$GIT_PUSH_CERT_STATUS nonce=$GIT_PUSH_CERT_NONCE_STATUS key=$GIT_PUSH_CERT_KEY" > "$GIT_DIR/push-cert-result"
git cat-file blob "$GIT_PUSH_CERT" > "$GIT_DIR/push-cert"
HOOK
chmod +x "$WORK/remote.git/hooks/pre-receive"
git remote add origin "$WORK/remote.git"
expect 0 "git push --signed" -- git push -q --signed origin HEAD:refs/heads/main
OUT=$(cat "$WORK/remote.git/push-cert-result")
contains "status=G nonce=OK key=$OLD_SSH_FP" "the push certificate verifies, with the nonce"
OUT=$(cat "$WORK/remote.git/push-cert")
contains "pusher $OLD_SSH_FP " "the certificate names the broker key's fingerprint"
expect 0 "git push --signed=if-asked" -- git push -q --signed=if-asked origin HEAD:refs/heads/other

# The drop-in as other tools call it: data on stdin, signature on stdout (jj), joined options.
ALLOWED=$HOME/.config/brokerkey/allowed_signers
verify_sig() {  # verify_sig SIGFILE DATAFILE: stock ssh-keygen against allowed-signers
  ssh-keygen -Y verify -f "$ALLOWED" -I brokerkey -n git -s "$1" < "$2"
}
"$SSH_KEYGEN_DROPIN" -Y sign -n git -f "$URI" - < one > "$WORK/stdin.sig" 2> "$WORK/stderr"
expect 0 "-Y sign ... - : stdin to stdout verifies" -- verify_sig "$WORK/stdin.sig" one
OUT=$(cat "$WORK/stderr"); contains "Signing data on standard input" "stdin message as ssh-keygen's"
"$SSH_KEYGEN_DROPIN" -Ysign -ngit "-f$URI" < one > "$WORK/joined.sig"
expect 0 "-Ysign -ngit -fURI, stdin without -" -- verify_sig "$WORK/joined.sig" one
"$SSH_KEYGEN_DROPIN" -q -Y sign -n git -f "$URI" -- - < one > "$WORK/dashdash.sig"
expect 0 "-- before the operand" -- verify_sig "$WORK/dashdash.sig" one
cp one two.txt
expect 0 "several files" -- "$SSH_KEYGEN_DROPIN" -Y sign -n git -f "$URI" one two.txt
expect 0 "the second file's signature verifies" -- verify_sig two.txt.sig two.txt
expect 1 "files and stdin mixed" -- "$SSH_KEYGEN_DROPIN" -Y sign -n git -f "$URI" one -
contains "Cannot sign mix of paths and standard input" "mix message"
expect 1 "no namespace" -- "$SSH_KEYGEN_DROPIN" -Y sign -f "$URI" one
contains "missing namespace" "namespace message"
expect 1 "another hash" -- "$SSH_KEYGEN_DROPIN" -Y sign -n git -O hashalg=sha256 -f "$URI" one
rm -f one.sig two.txt two.txt.sig
# -l and -y answered for the URI, in ssh-keygen's formats.
expect 0 "-l -f URI" -- "$SSH_KEYGEN_DROPIN" -l -f "$URI"
[ "$OUT" = "256 $OLD_SSH_FP acme-git-signing-ed25519-prod (ED25519)" ] && pass || fail "-l line: $OUT"
expect 0 "-lf URI" -- "$SSH_KEYGEN_DROPIN" -lf "$URI"
[ "$OUT" = "256 $OLD_SSH_FP acme-git-signing-ed25519-prod (ED25519)" ] && pass || fail "-lf line: $OUT"
expect 0 "-y -f URI" -- "$SSH_KEYGEN_DROPIN" -y -f "$URI"
[ "$OUT" = "$("$BROKERKEY" pubkey --format ssh | cut -d' ' -f1,2) $URI" ] && pass || fail "-y line: $OUT"

# RFC 7512: every path attribute must match; slot 1 (the overlap slot) holds no private key.
NO_KEY_URI="pkcs11:slot-id=1;token=brokerkey;object=acme-git-signing-ed25519-prod?pin-source=file:$PIN_FILE"
expect 1 "slot-id=1 names no private key" -- "$SSH_KEYGEN_DROPIN" -Y sign -n git -f "$NO_KEY_URI" one
contains "names no private key" "slot-id message"
"$SSH_KEYGEN_DROPIN" -Y sign -n git -f "pkcs11:slot-id=0;object=acme-git-signing-ed25519-prod?pin-source=file:$PIN_FILE" - \
  < one > "$WORK/slot0.sig"
expect 0 "slot-id=0 names the signing key" -- verify_sig "$WORK/slot0.sig" one
for attribute in "slot-description=overlap" "library-manufacturer=SoftHSM" "model=nope" "x-vendor=1" "slotid=0"; do
  expect 1 "$attribute names nothing" -- "$SSH_KEYGEN_DROPIN" -Y sign -n git \
    -f "pkcs11:token=brokerkey;$attribute?pin-source=file:$PIN_FILE" one
done

# A PIN in the URI reaches no message and no child process.
SECRET=$(cat "$PIN_FILE")
cat > "$WORK/fake-ssh-keygen" <<FAKE
#!/bin/sh
printf '%s\n' "\$@" >> "$WORK/child-argv"
FAKE
chmod +x "$WORK/fake-ssh-keygen"
export BROKERKEY_SSH_KEYGEN=$WORK/fake-ssh-keygen
SECRET_URI="pkcs11:token=brokerkey;object=no-such-key?pin-value=$SECRET"
no_secret() {  # no_secret DESCRIPTION: neither $OUT nor the child's argv holds the PIN
  if grep -qF -- "${SECRET#ci:}" <<<"$OUT"; then fail "$1: the PIN is in the output: $OUT"; else pass; fi
  if [ -e "$WORK/child-argv" ]; then fail "$1: ssh-keygen was run with: $(cat "$WORK/child-argv")"; else pass; fi
}
expect 1 "sign, the URI names no key" -- "$SSH_KEYGEN_DROPIN" -Y sign -n git -f "$SECRET_URI" one
no_secret "no-key message"
contains "pin-value=(redacted)" "the URI shown redacted"
expect 1 "a URI p11-kit cannot parse" -- "$SSH_KEYGEN_DROPIN" -Y sign -n git -f "pkcs11:token=%zz?pin-value=$SECRET" one
no_secret "parse error"
for args in "-l -v -f" "-Y verify -n git -I x -s one.sig -f" "-Y find-principals -s one.sig -f" "-y -q -l -f" "-e -f" "-Z"; do
  # shellcheck disable=SC2086
  expect 1 "not forwarded: $args URI" -- "$SSH_KEYGEN_DROPIN" $args "$SECRET_URI"
  no_secret "$args"
done
expect 1 "-y refuses a pin-value" -- "$SSH_KEYGEN_DROPIN" -y -f "pkcs11:token=brokerkey?pin-value=$SECRET"
no_secret "-y"
expect 0 "everything else still reaches ssh-keygen" -- "$SSH_KEYGEN_DROPIN" -l -f "$WORK/some.pub"
[ "$(cat "$WORK/child-argv")" = "$(printf '%s\n' -l -f "$WORK/some.pub")" ] && pass || fail "argv: $(cat "$WORK/child-argv")"
rm -f "$WORK/child-argv"
unset BROKERKEY_SSH_KEYGEN

at 2027-01-01T00:00:00Z   # day 365
"$BROKERKEY" rotate >/dev/null
"$BROKERKEY" allowed-signers --principal brokerkey > "$HOME/.config/brokerkey/allowed_signers"
# The old key's line covers its whole life at ssh-keygen's one-second resolution: from the
# second it was minted to the second of the rotation record, both included.
OUT=$(cat "$ALLOWED")
contains 'valid-after="20260101000000Z",valid-before="20270101000000Z" ssh-ed25519' "the old key's window"
at_time() {  # at_time TIME: verify the old key's stdin signature as of TIME with stock ssh-keygen
  ssh-keygen -Y verify -f "$ALLOWED" -I brokerkey -n git -s "$WORK/stdin.sig" -Overify-time="$1" < one
}
expect 0 "old key: its first second" -- at_time 20260101000000Z
expect 255 "old key: a second before" -- at_time 20251231235959Z
expect 0 "old key: the rotation's second" -- at_time 20270101000000Z
expect 255 "old key: a second after" -- at_time 20270101000001Z
at 2027-01-06T00:00:00Z   # day 370: the same git configuration signs with the new key
echo two > two && git add two
expect 0 "git commit -S after rotation" -- git commit -q -S -m "signed by the next key"
expect 0 "new commit verifies" -- git verify-commit HEAD
NEW_SSH_FP=$(ssh-keygen -l -f <("$BROKERKEY" pubkey --format ssh) | awk '{print $2}')
contains "$NEW_SSH_FP" "signed by the new key"
[ "$OLD_SSH_FP" != "$NEW_SSH_FP" ] && pass || fail "rotation did not change the key"
expect 0 "the earlier commit still verifies" -- git verify-commit "$FIRST"
contains "$OLD_SSH_FP" "earlier commit by the old key"
expect 0 "the earlier tag still verifies" -- git verify-tag v1
expect 0 "whole history shows good signatures" -- git log --show-signature
[ "$(grep -c 'Good "git" signature' <<<"$OUT")" -eq 2 ] && pass || fail "log: $OUT"

# Mistakes give one clear line and no signature.
expect 1 "a URI naming no key" -- "$SSH_KEYGEN_DROPIN" -Y sign -n git \
  -f "pkcs11:token=brokerkey;object=no-such-key?pin-source=file:$HOME/.config/brokerkey/ci.pin" one
contains "names no private key" "no-key message"
[ ! -e one.sig ] && pass || fail "a signature was written"
expect 1 "a URI without a PIN" -- "$SSH_KEYGEN_DROPIN" -Y sign -n git -f "pkcs11:token=brokerkey" one
contains "pin-source" "no-PIN message"
chmod 644 "$HOME/.config/brokerkey/ci.pin"
expect 128 "a PIN file others can read" -- git commit -q -S --allow-empty -m "should not sign"
contains "chmod 600" "PIN file message"
chmod 600 "$HOME/.config/brokerkey/ci.pin"
# Everything else goes to the system ssh-keygen unchanged.
"$BROKERKEY" pubkey --format ssh > "$WORK/key.pub"
expect 0 "other invocations pass through" -- "$SSH_KEYGEN_DROPIN" -l -f "$WORK/key.pub"
contains "$NEW_SSH_FP" "pass-through fingerprint"
# The options as ssh-keygen's getopt reads them: bundled, values attached.
echo bundled > "$WORK/bundled"
expect 0 "bundled options sign" -- "$SSH_KEYGEN_DROPIN" -Ysign -ngit -Uf "$URI" "$WORK/bundled"
expect 0 "the bundled request's signature" -- ssh-keygen -Y check-novalidate -n git -s "$WORK/bundled.sig" < "$WORK/bundled"
# --version and --help alone are answered here; ssh-keygen has no long options, so with
# anything else they are ssh-keygen's (which refuses them).
expect 0 "--version" -- "$SSH_KEYGEN_DROPIN" --version
contains "brokerkey-ssh-keygen " "version line"
expect 0 "--help" -- "$SSH_KEYGEN_DROPIN" --help
contains "Usage: brokerkey-ssh-keygen -Y sign" "help text"
expect 1 "--version with more goes to ssh-keygen" -- "$SSH_KEYGEN_DROPIN" --version -l
contains "unknown option -- -" "ssh-keygen's own refusal"

# Text into trust: a revocation reason that would add a trusted line (the issue's example) and
# its neighbours are refused before anything is recorded or destroyed.
at 2027-01-10T00:00:00Z
OLD_FP=$("$BROKERKEY" status --json | grep -o '"fingerprint":"[0-9a-f]*","ssh_fingerprint":"'"$OLD_SSH_FP" | cut -d'"' -f4)
LEDGER_BEFORE=$(sha256sum < "$WORK/broker/ledger.jsonl")
INJECT=$'laptop lost\n* namespaces="git" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1hbGxvcnkgbWFsbG9yeSBtYWxsb3J5IG1hbA'
LONG=$(head -c 1025 /dev/zero | tr '\0' x)
for reason in "$INJECT" $'lost\r* ssh-ed25519 AAAA' $'lost\e[2K' $'lost\u2028x' $'lost\u202ex' $'lost\x85' "$LONG"; do
  expect 2 "revoke --reason refused: $(printf %q "${reason:0:20}")" -- "$BROKERKEY" revoke "$OLD_FP" --reason "$reason"
  one_line "reason refusal"
done
# Lifecycle times: a compromise cannot begin in the future or before the key existed.
expect 2 "--compromised-since in the future" -- "$BROKERKEY" revoke "$OLD_FP" --reason x --compromised-since 2027-01-11
contains "is in the future" "future message"
expect 2 "--compromised-since before the key" -- "$BROKERKEY" revoke "$OLD_FP" --reason x --compromised-since 2025-12-31
contains "before the key existed" "before-creation message"
[ "$(sha256sum < "$WORK/broker/ledger.jsonl")" = "$LEDGER_BEFORE" ] && pass || fail "a refused revoke changed the ledger"
# Overlap lengths from the command line: within the configuration's policy (30 days).
expect 2 "--overlap above the policy" -- "$BROKERKEY" rotate --overlap 31d
contains "rotation.overlap_days (30d)" "policy message"
expect 2 "--overlap of nothing" -- "$BROKERKEY" rotate --overlap 0
[ "$(sha256sum < "$WORK/broker/ledger.jsonl")" = "$LEDGER_BEFORE" ] && pass || fail "a refused rotate changed the ledger"
# Principals and namespaces: nothing allowed_signers gives meaning.
for principal in "a b" 'a"b' "a,b" "*" "!ci" "#ci" "ci*" $'ci\nx' ""; do
  expect 2 "--principal $(printf %q "$principal") refused" -- "$BROKERKEY" allowed-signers --principal "$principal"
done
for space in 'git"' "git file" "git," "*" $'git\n'; do
  expect 2 "--namespace $(printf %q "$space") refused" -- "$BROKERKEY" allowed-signers --principal ci --namespace "$space"
done
expect 0 "--namespace git,file" -- "$BROKERKEY" allowed-signers --principal ci@acme.example --namespace git,file
contains 'ci@acme.example namespaces="git,file",valid-after=' "namespace list"

# A revoked key verifies only what it signed before the compromise; quotes and commas in the
# reason stay inside the comment line.
"$BROKERKEY" revoke "$OLD_FP" --reason 'laptop "lost", badly' --compromised-since 2026-03-01 >/dev/null
"$BROKERKEY" allowed-signers --principal brokerkey > "$ALLOWED"
[ "$(grep -vc '^#' "$ALLOWED")" -eq 2 ] && pass || fail "allowed-signers: $(cat "$ALLOWED")"
OUT=$(cat "$ALLOWED")
contains '(laptop "lost", badly)' "the reason in its comment"
expect 0 "revoked key: before the compromise" -- at_time 20260228235959Z
expect 255 "revoked key: from the compromise on" -- at_time 20260301000000Z
expect 1 "a commit by the revoked key after the compromise no longer verifies" -- git verify-commit "$FIRST"
expect 0 "the new key's commit still does" -- git verify-commit HEAD
finish
