# A consumer account that can read no broker file, configured only by the client configuration
# 'brokerkey client-config' prints: the keytool's read commands (pubkey, fingerprint --check,
# status, check, allowed-signers, git-config) ask brokerkey-agent; git 2.39 signs commits and
# tags in ssh format (brokerkey-ssh-keygen) and x509 format (brokerkey-gpgsm) through the agent
# and verifies them against the agent's view of the ledger; strace shows no broker file opened
# and no PKCS#11 module loaded; after a rotation by the operator the same configuration signs
# with the new key and the old commits still verify; the commands that change the broker refuse
# the client configuration; the agent stopped gives one clear line and a non-zero exit.
source "$(dirname "$0")/lib.sh"
BIN=$(dirname "$BROKERKEY")
GPGSM=$BIN/brokerkey-gpgsm
needs_root useradd
command -v strace >/dev/null || { echo "FAIL: strace is not installed (packaging/install-deps.sh)"; exit 1; }
s=$$
RUNNER=bkc$s
UNLOGGED_PID=
cleanup() {
  if [ -n "$UNLOGGED_PID" ]; then kill "$UNLOGGED_PID" 2>/dev/null || true; wait "$UNLOGGED_PID" 2>/dev/null || true; fi
  end_test
}
trap cleanup EXIT
chmod 711 "$WORK"
add_account "$RUNNER" -m -d "$WORK/home"
RUNNER_UID=$(id -u "$RUNNER")

# The operator's broker, with a certificate for x509 signing (issued through the module with a
# consumer PIN of the operator's own, as cert_test.sh does).
"$BROKERKEY" init --dir "$WORK/broker" --service acme --purpose git-signing --env prod >/dev/null
export BROKERKEY_CONF=$WORK/broker/brokerkey.conf
"$BROKERKEY" mint >/dev/null
( umask 077 && "$BROKERKEY" consumer add ops | grep -o 'ops:[a-z0-9]*' > "$WORK/ops.pin" )
RUNNER_PIN=$("$BROKERKEY" consumer add runner --user "$RUNNER" | grep -o 'runner:[a-z0-9]*')
"$BROKERKEY" cert --pin-file "$WORK/ops.pin" --subject "CN=Acme git signing,O=Acme" >/dev/null 2>&1
OLD_FP=$("$BROKERKEY" pubkey --format fingerprint)
OLD_PUB=$("$BROKERKEY" pubkey)
mkdir -m 0755 "$WORK/run"
SOCKET=$WORK/run/agent.sock
start_agent "$SOCKET"
chmod 666 "$SOCKET"   # this test's broker has no socket group; the agent still decides by uid

# as COMMAND...: the runner, with a HOME that holds nothing of the broker and no BROKERKEY_CONF.
# The sanitizer build's options go along (the instrumented drop-ins run under strace below,
# where LeakSanitizer cannot run: the shell tests' ASAN_OPTIONS turn it off).
as() {
  run_as "$RUNNER" "$WORK/home" GIT_CONFIG_NOSYSTEM=1 \
    ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} "$@"
}
expect 1 "the runner cannot read the broker directory" -- as cat "$WORK/broker/ledger.jsonl"

# The client configuration, written by the consumer account itself.
expect 2 "client-config: a relative socket" -- as "$BROKERKEY" client-config --socket run/agent.sock
one_line "relative socket"
contains "--socket must be an absolute path" "relative socket named"
expect 2 "client-config: no socket" -- as "$BROKERKEY" client-config
expect 0 "client-config --socket" -- as "$BROKERKEY" client-config --socket "$SOCKET"
contains '"mode":"client"' "client mode"
contains "\"socket\":\"$SOCKET\"" "the socket"
contains '"token_label":"brokerkey"' "the token label, as the agent says"
[ "$(as "$BROKERKEY" client-config --socket "$SOCKET" 2>&1 >/dev/null)" = "" ] && pass ||
  fail "client-config with the agent answering wrote to stderr"
# No agent at the socket (yet): the file is still written, and the guessed label said so.
as "$BROKERKEY" client-config --socket "$WORK/run/none.sock" > "$WORK/none.conf" 2> "$WORK/none.err" && pass ||
  fail "client-config with no agent failed: $(cat "$WORK/none.err")"
grep -q '"mode":"client"' "$WORK/none.conf" && pass || fail "client-config with no agent wrote: $(cat "$WORK/none.conf")"
OUT=$(cat "$WORK/none.err"); one_line "client-config with no agent"
contains "did not say its token label" "the guessed label is said"
# root, mapped to no consumer here (the operator writing a consumer's file): the agent closes its
# connection, and the warning says that likely cause, not only that the connection closed.
"$BROKERKEY" client-config --socket "$SOCKET" > /dev/null 2> "$WORK/root.err" && pass ||
  fail "client-config as root failed: $(cat "$WORK/root.err")"
OUT=$(cat "$WORK/root.err"); one_line "client-config as an account mapped to no consumer"
contains "is this account mapped to a consumer?" "the likely cause of the closed connection"
expect 0 "client-config --token-label" -- as "$BROKERKEY" client-config --socket "$SOCKET" --token-label other
contains '"token_label":"other"' "the token label given"
expect 2 "client-config: a bad token label" -- as "$BROKERKEY" client-config --socket "$SOCKET" --token-label "$(printf 'a\nb')"
as mkdir -p "$WORK/home/.config/brokerkey"
as sh -c "'$BROKERKEY' client-config --socket '$SOCKET' > \"\$HOME/.config/brokerkey/brokerkey.conf\""
grep -qF "$WORK/broker" "$WORK/home/.config/brokerkey/brokerkey.conf" && fail "the client configuration names the broker directory" || pass

# An account the agent maps to no consumer gets one line saying so, not the broker's state.
cp "$WORK/home/.config/brokerkey/brokerkey.conf" "$WORK/client.conf" && chmod 644 "$WORK/client.conf"
expect 1 "pubkey as an account that is no consumer" -- \
  setpriv --reuid=nobody --regid=nogroup --clear-groups env -i PATH=/usr/bin:/bin BROKERKEY_CONF="$WORK/client.conf" "$BROKERKEY" pubkey
one_line "no consumer"
contains "is this account mapped to a consumer?" "the likely cause named"

# The read commands, as the consumer.
expect 0 "pubkey" -- as "$BROKERKEY" pubkey
[ "$OUT" = "$OLD_PUB" ] && pass || fail "pubkey through the agent: '$OUT', the ledger says '$OLD_PUB'"
expect 0 "pubkey --format fingerprint" -- as "$BROKERKEY" pubkey --format fingerprint
[ "$OUT" = "$OLD_FP" ] && pass || fail "fingerprint through the agent: $OUT, expected $OLD_FP"
expect 1 "pubkey --role overlap: none yet" -- as "$BROKERKEY" pubkey --role overlap
one_line "no overlap key"
expect 0 "fingerprint" -- as "$BROKERKEY" fingerprint
[ "$OUT" = "$OLD_FP" ] && pass || fail "fingerprint: $OUT"
expect 0 "fingerprint --check --expect (the mint-time fingerprint)" -- as "$BROKERKEY" fingerprint --check --expect "$OLD_FP"
contains "ok  current  acme-git-signing-ed25519-prod  $OLD_FP" "the current key checked"
contains "which has the expected fingerprint" "the expectation met"
WRONG=$(printf '%064d' 0)
# --check passes or fails as a whole: a wrong --expect is one failure line with its reason, no
# "ok" line among it (with or without an overlap key: the second case after the rotation below).
expect 1 "fingerprint --check --expect a wrong fingerprint" -- as "$BROKERKEY" fingerprint --check --expect "$WRONG"
one_line "fingerprint --check --expect a wrong fingerprint"
contains "brokerkey fingerprint: the current key has fingerprint $OLD_FP, not the expected $WRONG: the agent's view of the ledger has no key with that fingerprint" "the mismatch and its reason named"
[ -z "$(as "$BROKERKEY" fingerprint --check --expect "$WRONG" 2>/dev/null)" ] && pass || fail "a failed check printed on stdout"
expect 2 "fingerprint --expect not a fingerprint" -- as "$BROKERKEY" fingerprint --check --expect xyz
expect 2 "fingerprint --check --module with a client configuration" -- as "$BROKERKEY" fingerprint --check --module "$MODULE"
expect 0 "status" -- as "$BROKERKEY" status
contains "(client configuration)" "status names the mode"
contains "agent:     $SOCKET" "status names the agent"
contains "fingerprint:  $OLD_FP" "status shows the current key"
contains "consumer:  runner" "the agent names the runner's consumer"
grep -qF "ops" <<<"$OUT" && fail "status told a consumer about the other consumers: $OUT" || pass
expect 0 "status --json" -- as "$BROKERKEY" status --json
contains "\"current\":\"$OLD_FP\"" "status --json current"
contains '"consumer":"runner"' "status --json consumer"
expect 0 "check" -- as "$BROKERKEY" check
contains "healthy: brokerkey-agent reports ok" "check verdict"
expect 0 "check --json" -- as "$BROKERKEY" check --json
contains '"status":0' "check --json"
expect 0 "health (no --repair) through the agent" -- as "$BROKERKEY" health
"$BROKERKEY" allowed-signers --principal ci@acme.example | grep -v '^#' > "$WORK/operator.allowed"
expect 0 "allowed-signers" -- as "$BROKERKEY" allowed-signers --principal ci@acme.example
contains "from the brokerkey-agent at $SOCKET" "allowed-signers names its source"
[ "$(grep -v '^#' <<<"$OUT")" = "$(cat "$WORK/operator.allowed")" ] && pass ||
  fail "allowed-signers through the agent differs from the ledger's: $OUT"
expect 0 "git-config (ssh)" -- as "$BROKERKEY" git-config --global --principal ci@acme.example
SSH_CONFIG=$OUT
# The key by a key file: the public key, commented with the URI that follows rotations (not
# git's key:: literal, whose temporary file git 2.39 leaves behind per signature); no
# defaultKeyCommand, so git starts no process per signature but the drop-in.
KEY_LINE="$(cut -d' ' -f1,2 <<<"$OLD_PUB") pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private"
contains "printf '%s\n' '$KEY_LINE' > '$WORK/home/.config/brokerkey/git-signing-key.pub'" \
  "ssh writes the key file: its public key and URI"
contains "user.signingkey '$WORK/home/.config/brokerkey/git-signing-key.pub'" "ssh names the key by that file"
contains "--unset-all gpg.ssh.defaultKeyCommand" "ssh unsets the key command"
expect 0 "git-config --format x509" -- as "$BROKERKEY" git-config --format x509
X509_CONFIG=$OUT
contains "user.signingkey 'pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private'" "x509 names the key by URI"
for config in "$SSH_CONFIG" "$X509_CONFIG"; do
  for absent in pin "$WORK/broker" "$SOCKET"; do
    grep -qF "$absent" <<<"$config" && fail "the git configuration mentions $absent: $config" || pass
  done
done
expect 2 "git-config --consumer with a client configuration" -- as "$BROKERKEY" git-config --consumer ci
one_line "--consumer refused"

# git, ssh format: the configuration as printed (it also writes the allowed-signers file).
as git config --global gpg.ssh.defaultKeyCommand "false"   # left by an older configuration
as sh -c "$SSH_CONFIG" && pass || fail "the printed ssh configuration does not apply"
expect 1 "no gpg.ssh.defaultKeyCommand once applied" -- as git config --global --get gpg.ssh.defaultKeyCommand
[ "$(cat "$WORK/home/.config/brokerkey/git-signing-key.pub")" = "$KEY_LINE" ] && pass ||
  fail "the key file holds: $(cat "$WORK/home/.config/brokerkey/git-signing-key.pub")"
# Temporary key files git made for this test's commits (other runs' and tests' may be there too).
touch "$WORK/before-commits"
leftover_key_files() { find /tmp -maxdepth 1 -name '.git_signing_key_tmp*' -user "$RUNNER" -newer "$WORK/before-commits" | wc -l; }
as git config --global user.name "CI runner"
as git config --global user.email ci@acme.example
as git init -q "$WORK/home/ssh"
in_ssh() { as sh -c 'cd "$HOME/ssh" && "$@"' sh "$@"; }
in_ssh sh -c 'echo one > one && git add one'
expect 0 "git commit -S (ssh) through the agent" -- in_ssh git commit -q -S -m "signed through the agent"
expect 0 "git verify-commit (ssh)" -- in_ssh git verify-commit HEAD
contains 'Good "git" signature for ci@acme.example with ED25519 key' "verify-commit verdict"
SSH_FIRST=$(in_ssh git rev-parse HEAD)
expect 0 "git tag -s (ssh)" -- in_ssh git tag -s v1 -m "release 1"
expect 0 "git verify-tag (ssh)" -- in_ssh git verify-tag v1
OLD_SSH_FP=$(cut -d' ' -f1,2 <<<"$OLD_PUB" | ssh-keygen -lf - | awk '{print $2}')
contains "$OLD_SSH_FP" "the tag signed by the current key"
[ "$(leftover_key_files)" -eq 0 ] && pass || fail "git left $(leftover_key_files) temporary key files in /tmp"

# git push --signed: git fingerprints user.signingkey's key with the system ssh-keygen for the
# certificate's pusher line, and signs the certificate through the drop-in; the receiving side
# checks it against allowed-signers.
as git init -q --bare "$WORK/home/remote.git"
as git -C "$WORK/home/remote.git" config receive.certNonceSeed "seed$s"
as git -C "$WORK/home/remote.git" config gpg.ssh.allowedSignersFile "$WORK/home/.config/brokerkey/allowed_signers"
as sh -c 'cat > "$HOME/remote.git/hooks/pre-receive" && chmod +x "$HOME/remote.git/hooks/pre-receive"' <<'HOOK'
#!/bin/sh
echo "status=$GIT_PUSH_CERT_STATUS nonce=$GIT_PUSH_CERT_NONCE_STATUS key=$GIT_PUSH_CERT_KEY" > "$GIT_DIR/push-cert-result"
git cat-file blob "$GIT_PUSH_CERT" > "$GIT_DIR/push-cert"
HOOK
push_signed() {  # push_signed DESCRIPTION: a signed push of HEAD from the ssh repository
  expect 0 "$1" -- in_ssh git push -q --signed "$WORK/home/remote.git" HEAD:refs/heads/main
  PUSH_RESULT=$(cat "$WORK/home/remote.git/push-cert-result")
  PUSH_CERT=$(cat "$WORK/home/remote.git/push-cert")
}
push_signed "git push --signed (ssh) through the agent"
OUT=$PUSH_RESULT; contains "status=G nonce=OK key=$OLD_SSH_FP" "the push certificate verifies, with the nonce"
OUT=$PUSH_CERT; contains "pusher $OLD_SSH_FP " "the certificate names the broker key's fingerprint"

# A client configuration names the agent, and git's brokerkey.agent is not read then (it names
# no socket here): the commit signs through the configuration's agent.
in_ssh git config brokerkey.agent "$WORK/run/none.sock"
expect 0 "git commit -S (ssh) with a client configuration and brokerkey.agent" -- in_ssh git commit -q -S --allow-empty -m "configuration first"
expect 0 "it verifies" -- in_ssh git verify-commit HEAD
in_ssh git config --unset brokerkey.agent

# git, x509 format: a repository of its own, configured as printed.
as git init -q "$WORK/home/x509"
in_x509() { as sh -c 'cd "$HOME/x509" && "$@"' sh "$@"; }
in_x509 sh -c "$X509_CONFIG" && pass || fail "the printed x509 configuration does not apply"
in_x509 sh -c 'echo one > one && git add one'
expect 0 "git commit -S (x509) through the agent" -- in_x509 git commit -q -S -m "x509 through the agent"
expect 0 "git verify-commit (x509)" -- in_x509 git verify-commit HEAD
contains 'Good signature from "O=Acme,CN=Acme git signing"' "x509 verify-commit verdict"
expect 0 "git log %G? %GK" -- in_x509 git log -1 --format='%G? %GK'
contains "G $OLD_FP" "good, by the broker key's fingerprint"
X509_FIRST=$(in_x509 git rev-parse HEAD)
expect 0 "git tag -s (x509)" -- in_x509 git tag -s v1 -m "release 1"
expect 0 "git verify-tag (x509)" -- in_x509 git verify-tag v1
contains "Good signature" "x509 verify-tag verdict"
# The same CMS, checked by the operator against the ledger file itself (embedded mode).
in_x509 git cat-file tag v1 | sed '/^-----BEGIN SIGNED MESSAGE-----$/,$d' > "$WORK/tag-payload"
in_x509 git cat-file tag v1 | sed -n '/^-----BEGIN SIGNED MESSAGE-----$/,$p' > "$WORK/tag-signature"
expect 0 "the agent-made CMS verifies against the ledger file" -- "$GPGSM" --status-fd=1 --verify "$WORK/tag-signature" "$WORK/tag-payload"
contains "[GNUPG:] GOODSIG $OLD_FP" "GOODSIG from the ledger file"
# KEY must name the agent's current key.
expect 2 "gpgsm -u another key" -- as sh -c "echo x | '$GPGSM' --status-fd=2 -bsau 'pkcs11:token=brokerkey;object=other;type=private'"
contains "names object 'other'" "the other key named"
expect 2 "gpgsm -u a fingerprint that is not the current key" -- as sh -c "echo x | '$GPGSM' -bsau $WRONG"
expect 0 "gpgsm -u the current key's fingerprint" -- as sh -c "echo x | '$GPGSM' -bsau $OLD_FP"
contains "BEGIN SIGNED MESSAGE" "armored CMS"

grep -c '"consumer":"runner","uid":'"$RUNNER_UID" "$WORK/broker/signing-log.jsonl" > "$WORK/count"
[ "$(cat "$WORK/count")" -ge 5 ] && pass || fail "signing log: $(cat "$WORK/count") records for runner, expected at least 5"
grep -q '"purpose":"sshsig","namespace":"git","result":"ok"' "$WORK/broker/signing-log.jsonl" && pass || fail "sshsig not recorded"
grep -q '"purpose":"cms",.*"result":"ok"' "$WORK/broker/signing-log.jsonl" && pass || fail "cms not recorded"

# strace: a commit in each format opens no path under the broker directory, and loads no
# PKCS#11 module (neither brokerkey's nor a backend's).
for repo in ssh x509; do
  as sh -c 'cd "$HOME/'$repo'" && echo s >> one && git add one &&
    strace -f -qq -e trace=%file -o "$HOME/trace-'$repo'" git commit -q -S -m "under strace"' &&
    pass || fail "git commit -S ($repo) under strace"
  cp "$WORK/home/trace-$repo" "$WORK/trace-$repo"
  grep -q 'execve(".*brokerkey-\(ssh-keygen\|gpgsm\)"' "$WORK/trace-$repo" && pass || fail "strace ($repo) did not see the drop-in run"
  grep -q '\.config/brokerkey/brokerkey\.conf' "$WORK/trace-$repo" && pass || fail "strace ($repo) did not see the client configuration read"
  grep -F "$WORK/broker" "$WORK/trace-$repo" && fail "a commit ($repo) opened a broker file" || pass
  grep -E 'open.*(libbrokerkey-pkcs11|softhsm)' "$WORK/trace-$repo" && fail "a commit ($repo) loaded a PKCS#11 module" || pass
  # No process per signature but the drop-in: no key command (brokerkey pubkey), no
  # `git config --get brokerkey.agent` (the client configuration is read first).
  grep 'execve(' "$WORK/trace-$repo" | grep -v ' = -1 ' | grep -vE 'execve\("[^"]*/(git|brokerkey-ssh-keygen|brokerkey-gpgsm)", ' |
    grep . && fail "a commit ($repo) ran another program" || pass
  grep -E 'execve\(.*"config", "--get"' "$WORK/trace-$repo" && fail "a commit ($repo) asked git config" || pass
  [ "$(grep -cE 'execve\("[^"]*/brokerkey-(ssh-keygen|gpgsm)", ' "$WORK/trace-$repo")" = 1 ] && pass ||
    fail "a commit ($repo) ran the drop-in other than once"
done
# Verification with a client configuration asks no `git config` either.
as sh -c 'cd "$HOME/ssh" && strace -f -qq -e trace=execve -o "$HOME/trace-verify" git verify-commit HEAD 2>/dev/null' && pass ||
  fail "git verify-commit (ssh) under strace"
grep -q 'brokerkey-ssh-keygen' "$WORK/home/trace-verify" && pass || fail "strace did not see verify-commit run the drop-in"
grep -E '"config", "--get"' "$WORK/home/trace-verify" && fail "verify-commit asked git config" || pass

# The validation hook, as issue 10 asks it: fingerprint --check opens no broker file and loads
# no PKCS#11 module.
expect 0 "fingerprint --check under strace" -- \
  as strace -f -qq -e trace=%file -o "$WORK/home/trace-check" "$BROKERKEY" fingerprint --check --expect "$OLD_FP"
grep -q '\.config/brokerkey/brokerkey\.conf' "$WORK/home/trace-check" && pass || fail "strace did not see fingerprint --check read its configuration"
grep -F "$WORK/broker" "$WORK/home/trace-check" && fail "fingerprint --check opened a broker file" || pass
grep -E 'open.*(libbrokerkey-pkcs11|softhsm|\.so.*pkcs11)' "$WORK/home/trace-check" && fail "fingerprint --check loaded a PKCS#11 module" || pass

# Rotation by the operator (and a certificate for the new key): the consumer's configuration is
# unchanged; the next commits are the new key's; the old ones still verify.
"$BROKERKEY" rotate >/dev/null
"$BROKERKEY" cert --pin-file "$WORK/ops.pin" --subject "CN=Acme git signing,O=Acme" >/dev/null 2>&1
NEW_FP=$("$BROKERKEY" pubkey --format fingerprint)
[ "$NEW_FP" != "$OLD_FP" ] && pass || fail "the rotation did not change the key"
expect 0 "pubkey after the rotation" -- as "$BROKERKEY" pubkey --format fingerprint
[ "$OUT" = "$NEW_FP" ] && pass || fail "pubkey after the rotation: $OUT, expected $NEW_FP"
expect 0 "pubkey --role overlap: the old key" -- as "$BROKERKEY" pubkey --role overlap --format fingerprint
[ "$OUT" = "$OLD_FP" ] && pass || fail "overlap key: $OUT"
expect 0 "fingerprint --check --expect the new key" -- as "$BROKERKEY" fingerprint --check --expect "$NEW_FP"
contains "ok  current  acme-git-signing-ed25519-prod  $NEW_FP" "the current key listed"
contains "ok  overlap  acme-git-signing-ed25519-prod  $OLD_FP" "the overlap key listed"
contains "which has the expected fingerprint" "the expectation met"
expect 1 "fingerprint --check --expect the old key fails" -- as "$BROKERKEY" fingerprint --check --expect "$OLD_FP"
one_line "fingerprint --check --expect the overlap key"
contains "brokerkey fingerprint: the current key has fingerprint $NEW_FP, not the expected $OLD_FP: that is the overlap key, rotated out" "the overlap key named as the reason"
grep -q "^ok" <<<"$OUT" && fail "an ok line among the failure: $OUT" || pass
expect 1 "fingerprint --check --expect nothing of the ledger, with an overlap key" -- as "$BROKERKEY" fingerprint --check --expect "$WRONG"
one_line "fingerprint --check --expect a wrong fingerprint with an overlap key"
contains "not the expected $WRONG: the agent's view of the ledger has no key with that fingerprint" "the reason named"
expect 0 "check after the rotation" -- as "$BROKERKEY" check
as sh -c "'$BROKERKEY' allowed-signers --principal ci@acme.example > \"\$HOME/.config/brokerkey/allowed_signers\""
in_ssh sh -c 'echo two > two && git add two'
expect 0 "git commit -S (ssh) after the rotation, same configuration" -- in_ssh git commit -q -S -m "after rotation"
expect 0 "the new ssh commit verifies" -- in_ssh git verify-commit HEAD
NEW_SSH_FP=$("$BROKERKEY" pubkey --format ssh | ssh-keygen -lf - | awk '{print $2}')
contains "$NEW_SSH_FP" "signed by the new key"
expect 0 "the first ssh commit still verifies" -- in_ssh git verify-commit "$SSH_FIRST"
# A signed push after the rotation: signed by the new key; the certificate's pusher line is
# what git fingerprints, the key user.signingkey was written with, until git-config is run again.
push_signed "git push --signed (ssh) after the rotation, same configuration"
OUT=$PUSH_RESULT; contains "status=G nonce=OK key=$NEW_SSH_FP" "the push certificate is the new key's"
OUT=$PUSH_CERT; contains "pusher $OLD_SSH_FP " "the pusher line names the configured key"
expect 0 "git-config again after the rotation" -- as "$BROKERKEY" git-config --global --principal ci@acme.example
as sh -c "$OUT" && pass || fail "the printed ssh configuration does not apply again"
expect 0 "git commit -S (ssh) with the configuration written again" -- in_ssh git commit -q -S --allow-empty -m "after git-config again"
push_signed "git push --signed (ssh) with the configuration written again"
OUT=$PUSH_CERT; contains "pusher $NEW_SSH_FP " "the pusher line names the new key"
in_x509 sh -c 'echo two > two && git add two'
expect 0 "git commit -S (x509) after the rotation, same configuration" -- in_x509 git commit -q -S -m "after rotation"
expect 0 "git log %G? %GK after the rotation" -- in_x509 git log -1 --format='%G? %GK'
contains "G $NEW_FP" "signed by the new key"
expect 0 "the first x509 commit still verifies" -- in_x509 git verify-commit "$X509_FIRST"
contains "Good signature" "old x509 verdict"

# The URI forms of brokerkey-ssh-keygen (an embedded-mode git configuration's) resolve against
# the agent too: the URI must name its current key, and no module is loaded.
URI="pkcs11:token=brokerkey;object=acme-git-signing-ed25519-prod;type=private"
echo data > "$WORK/data" && chmod 644 "$WORK/data"
expect 0 "brokerkey-ssh-keygen -y -f URI through the agent" -- as "$BIN/brokerkey-ssh-keygen" -y -f "$URI"
[ "$OUT" = "$(cut -d' ' -f1,2 <<<"$("$BROKERKEY" pubkey)") $URI" ] && pass || fail "-y -f URI: $OUT"
expect 0 "brokerkey-ssh-keygen -l -f URI through the agent" -- as "$BIN/brokerkey-ssh-keygen" -l -f "$URI"
contains "256 $NEW_SSH_FP acme-git-signing-ed25519-prod (ED25519)" "-l -f URI"
as sh -c 'echo by-uri > "$HOME/by-uri"'
expect 0 "brokerkey-ssh-keygen -Y sign -f URI through the agent" -- \
  as strace -f -qq -e trace=%file -o "$WORK/home/trace-uri" "$BIN/brokerkey-ssh-keygen" -Y sign -n git -f "$URI" "$WORK/home/by-uri"
expect 0 "the URI-signed file verifies" -- ssh-keygen -Y verify -f "$WORK/home/.config/brokerkey/allowed_signers" \
  -I ci@acme.example -n git -s "$WORK/home/by-uri.sig" < "$WORK/home/by-uri"
grep -E 'open.*(libbrokerkey-pkcs11|softhsm)' "$WORK/home/trace-uri" && fail "-Y sign -f URI loaded a PKCS#11 module" || pass
# A URI with a PIN logs its consumer in on the connection (login@brokerkey.org): the runner's
# own PIN is accepted, a wrong one refused with one line.
as sh -c "umask 077 && echo '$RUNNER_PIN' > \"\$HOME/runner.pin\" && echo 'runner:wrong' > \"\$HOME/wrong.pin\""
expect 0 "-Y sign -f URI?pin-source through the agent" -- \
  as "$BIN/brokerkey-ssh-keygen" -Y sign -n git -f "$URI?pin-source=file:$WORK/home/runner.pin" - < "$WORK/data"
contains "BEGIN SSH SIGNATURE" "signed with the PIN's consumer logged in"
expect 1 "-Y sign -f URI with a wrong PIN" -- \
  as "$BIN/brokerkey-ssh-keygen" -Y sign -n git -f "$URI?pin-source=file:$WORK/home/wrong.pin" - < "$WORK/data"
contains "refused the URI's PIN" "the refusal named"
one_line "a wrong PIN"
expect 1 "brokerkey-ssh-keygen -y -f a URI naming another key" -- as "$BIN/brokerkey-ssh-keygen" -y -f "pkcs11:token=brokerkey;object=other"
contains "names object 'other'" "the other key named"
expect 1 "brokerkey-ssh-keygen -Y sign with a URI naming the overlap token" -- \
  as "$BIN/brokerkey-ssh-keygen" -Y sign -n git -f "pkcs11:token=brokerkey-overlap;type=private" "$WORK/home/by-uri"

# A key file the agent does not list is not the broker's: brokerkey-ssh-keygen hands it to the
# system ssh-keygen unchanged (here the runner's own key), and the agent signs nothing for it.
as ssh-keygen -q -t ed25519 -N '' -C own -f "$WORK/home/own"
as cp "$WORK/data" "$WORK/home/data"
before=$(grep -c . "$WORK/broker/signing-log.jsonl")
expect 0 "brokerkey-ssh-keygen with the runner's own key" -- as "$BIN/brokerkey-ssh-keygen" -Y sign -n git -f "$WORK/home/own" "$WORK/home/data"
printf 'own %s\n' "$(cut -d' ' -f1,2 "$WORK/home/own.pub")" > "$WORK/own.allowed"
expect 0 "signed by the runner's own key" -- ssh-keygen -Y verify -f "$WORK/own.allowed" -I own -n git -s "$WORK/home/data.sig" < "$WORK/data"
[ "$(grep -c . "$WORK/broker/signing-log.jsonl")" = "$before" ] && pass || fail "the agent signed for a key that is not the broker's"
# A key file whose comment is the broker's URI must hold a key of the broker's ledger (the
# current one, or one a configuration was written with before a rotation): another is refused.
as sh -c 'printf "%s %s\n" "$(cut -d" " -f1,2 "$HOME/own.pub")" "$1" > "$HOME/foreign.pub"' sh "$URI"
expect 1 "-Y sign with the URI in a key file holding another key" -- as "$BIN/brokerkey-ssh-keygen" -Y sign -n git -f "$WORK/home/foreign.pub" "$WORK/home/data"
one_line "a key that is not the broker's"
contains "holds a key that is no key of the broker's ledger" "the refusal named"
as sh -c 'printf "%s %s\n" "$1" "$2" > "$HOME/previous.pub"' sh "$(cut -d' ' -f1,2 <<<"$OLD_PUB")" "$URI"
expect 0 "-Y sign with the URI in a key file holding the previous key" -- as "$BIN/brokerkey-ssh-keygen" -Y sign -n git -f "$WORK/home/previous.pub" "$WORK/home/data"
expect 0 "signed by the current key" -- ssh-keygen -Y verify -f "$WORK/home/.config/brokerkey/allowed_signers" \
  -I ci@acme.example -n git -s "$WORK/home/data.sig" < "$WORK/data"
contains "$NEW_SSH_FP" "the current key signed"

# An agent that reports itself degraded (this one keeps no signing log): check and health say
# so and exit non-zero; status still shows the key.
python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); del c["signing_log"]; json.dump(c, open(sys.argv[2], "w"))' \
  "$WORK/broker/brokerkey.conf" "$WORK/broker/unlogged.conf"
chmod 600 "$WORK/broker/unlogged.conf"
"$AGENT" --config "$WORK/broker/unlogged.conf" --socket "$WORK/run/unlogged.sock" 2>>"$WORK/agent.log" &
UNLOGGED_PID=$!
wait_for_socket "$WORK/run/unlogged.sock"
chmod 666 "$WORK/run/unlogged.sock"
as sh -c "'$BROKERKEY' client-config --socket '$WORK/run/unlogged.sock' > \"\$HOME/unlogged.conf\""
expect 1 "check: a degraded agent" -- as env BROKERKEY_CONF="$WORK/home/unlogged.conf" "$BROKERKEY" check
contains "warning: brokerkey-agent at $WORK/run/unlogged.sock reports: signatures are not logged" "the agent's problem named"
expect 1 "health: a degraded agent" -- as env BROKERKEY_CONF="$WORK/home/unlogged.conf" "$BROKERKEY" health
expect 0 "status through the degraded agent" -- as env BROKERKEY_CONF="$WORK/home/unlogged.conf" "$BROKERKEY" status
contains "fingerprint:  $NEW_FP" "status shows the key"
kill "$UNLOGGED_PID"; wait "$UNLOGGED_PID" || true; UNLOGGED_PID=

# What changes or audits the broker refuses the client configuration, with one line.
refused() {
  expect 1 "$* refuses a client configuration" -- as "$BROKERKEY" "$@"
  one_line "$*"
  contains "is a client configuration" "$* says why"
}
refused mint
refused rotate
refused retire --expired
refused revoke "$OLD_FP" --reason "test"
refused consumer add other
refused consumer list
refused audit verify
refused health --repair
refused cert --pin-file "$WORK/home/none.pin"
refused agent-config
refused agent-config --socket-group "$RUNNER"
cmp -s "$WORK/home/.config/brokerkey/brokerkey.conf" "$WORK/client.conf" && pass ||
  fail "agent-config changed the client configuration"
refused init --dir "$WORK/home/broker"
[ -e "$WORK/home/broker" ] && fail "init made a broker for a client" || pass
expect 0 "the ledger is intact" -- "$BROKERKEY" audit verify

# The agent stopped: one clear line and a non-zero exit, for every command and for git.
stop_agent
for command in pubkey "fingerprint --check" status allowed-signers\ --principal\ p git-config; do
  # shellcheck disable=SC2086
  expect 1 "$command without the agent" -- as "$BROKERKEY" $command
  one_line "$command without the agent"
  contains "cannot connect to $SOCKET" "$command names the socket"
done
expect 2 "check without the agent: an outage, exit 2" -- as "$BROKERKEY" check
one_line "check without the agent"
contains "brokerkey check: brokerkey-agent: cannot connect to $SOCKET" "check names the socket"
expect 128 "no agent: git commit (ssh) fails cleanly" -- in_ssh git commit -q -S --allow-empty -m "no agent"
expect 128 "no agent: git commit (x509) fails cleanly" -- in_x509 git commit -q -S --allow-empty -m "no agent"
expect 2 "no agent: brokerkey-gpgsm signs nothing" -- as sh -c "echo x | '$GPGSM' -bsau $NEW_FP"
contains "brokerkey-gpgsm: brokerkey-agent: cannot connect to $SOCKET" "gpgsm names the agent"
expect 2 "no agent: brokerkey-gpgsm verifies nothing" -- as "$GPGSM" --status-fd=1 --verify "$WORK/tag-signature" "$WORK/tag-payload"
contains "brokerkey-gpgsm: brokerkey-agent: cannot connect to $SOCKET" "gpgsm --verify names the agent"
start_agent "$SOCKET"
chmod 666 "$SOCKET"
expect 0 "signing resumes when the agent is back" -- in_x509 git commit -q -S --allow-empty -m "agent back"
finish
