# git 2.39 signing commits and tags in ssh format through brokerkey-ssh-keygen and a PKCS#11
# URI, configured only by 'brokerkey git-config'; verified by stock ssh-keygen through
# allowed-signers, before and after a rotation. Time is injected so validity windows are exact.
source "$(dirname "$0")/lib.sh"
SSH_KEYGEN_DROPIN=$(dirname "$BROKERKEY")/brokerkey-ssh-keygen
git_broker
expect 0 "git-config prints the configuration" -- "$BROKERKEY" git-config --consumer ci
contains "gpg.ssh.program '$SSH_KEYGEN_DROPIN'" "git-config names the drop-in"
contains "user.signingkey 'pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private?pin-source=file:$HOME/.config/brokerkey/ci.pin'" "git-config URI"
eval "$OUT"

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

at 2027-01-01T00:00:00Z   # day 365
"$BROKERKEY" rotate >/dev/null
"$BROKERKEY" allowed-signers --principal brokerkey > "$HOME/.config/brokerkey/allowed_signers"
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
expect 0 "bundled options sign" -- "$SSH_KEYGEN_DROPIN" -Ysign -ngit -Uf "$(git config user.signingkey)" "$WORK/bundled"
expect 0 "the bundled request's signature" -- ssh-keygen -Y check-novalidate -n git -s "$WORK/bundled.sig" < "$WORK/bundled"
# --version and --help alone are answered here; ssh-keygen has no long options, so with
# anything else they are ssh-keygen's (which refuses them).
expect 0 "--version" -- "$SSH_KEYGEN_DROPIN" --version
contains "brokerkey-ssh-keygen " "version line"
expect 0 "--help" -- "$SSH_KEYGEN_DROPIN" --help
contains "Usage: brokerkey-ssh-keygen -Y sign" "help text"
expect 1 "--version with more goes to ssh-keygen" -- "$SSH_KEYGEN_DROPIN" --version -l
contains "unknown option -- -" "ssh-keygen's own refusal"

# A revoked key verifies nothing it signed.
at 2027-01-10T00:00:00Z
OLD_FP=$("$BROKERKEY" status --json | grep -o '"fingerprint":"[0-9a-f]*","ssh_fingerprint":"'"$OLD_SSH_FP" | cut -d'"' -f4)
"$BROKERKEY" revoke "$OLD_FP" --reason "test" >/dev/null
"$BROKERKEY" allowed-signers --principal brokerkey > "$HOME/.config/brokerkey/allowed_signers"
expect 1 "a commit by the revoked key no longer verifies" -- git verify-commit "$FIRST"
expect 0 "the new key's commit still does" -- git verify-commit HEAD
finish
