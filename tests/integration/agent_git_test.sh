# git 2.39 signing through brokerkey-agent as a consumer account that cannot read the broker:
# configured only by 'brokerkey git-config --agent SOCKET' (no PKCS#11 URI, no PIN file, no
# broker file): commit -S, tag -s, verify-commit, push --signed, and the same configuration
# after a rotation. Stock ssh-add and ssh-keygen do the work; the signing log names the account.
source "$(dirname "$0")/lib.sh"
needs_root useradd
s=$$
RUNNER=bkr$s
chmod 711 "$WORK"
add_account "$RUNNER" -m -d "$WORK/home"
RUNNER_UID=$(id -u "$RUNNER")

"$BROKERKEY" init --dir "$WORK/broker" --service acme --purpose git-signing --env prod >/dev/null
export BROKERKEY_CONF=$WORK/broker/brokerkey.conf
"$BROKERKEY" mint >/dev/null
"$BROKERKEY" consumer add runner --user "$RUNNER" >/dev/null
mkdir -m 0755 "$WORK/run"
SOCKET=$WORK/run/agent.sock
start_agent "$SOCKET"
chmod 666 "$SOCKET"   # this test's broker has no socket group; the agent still decides by uid
"$BROKERKEY" allowed-signers --principal ci@acme.example > "$WORK/allowed_signers"
chmod 644 "$WORK/allowed_signers"

# as COMMAND...: the runner account, with its own HOME and no SSH_AUTH_SOCK of its own.
as() { run_as "$RUNNER" "$WORK/home" GIT_CONFIG_NOSYSTEM=1 "$@"; }
expect 0 "git-config --agent runs for an account that cannot read the broker" -- \
  as "$BROKERKEY" git-config --agent "$SOCKET" --allowed-signers "$WORK/allowed_signers" --global
CONFIG=$OUT
for absent in pkcs11: pin "$WORK/broker"; do
  grep -qF "$absent" <<<"$CONFIG" && fail "the agent configuration mentions $absent: $CONFIG" || pass
done
as sh -c "$CONFIG" && pass || fail "the printed configuration does not apply"
as git config --global user.name "CI runner"
as git config --global user.email ci@acme.example
as git init -q "$WORK/home/repo"
as git init -q --bare "$WORK/home/remote.git"
as git -C "$WORK/home/remote.git" config receive.certNonceSeed "$s"
in_repo() { as sh -c 'cd "$HOME/repo" && "$@"' sh "$@"; }
in_repo sh -c 'echo one > one && git add one'
expect 0 "git commit -S through the agent" -- in_repo git commit -q -S -m "signed through the agent"
expect 0 "git verify-commit" -- in_repo git verify-commit HEAD
contains 'Good "git" signature for ci@acme.example with ED25519 key' "verify-commit verdict"
FIRST=$(in_repo git rev-parse HEAD)
expect 0 "git tag -s" -- in_repo git tag -s v1 -m "release 1"
expect 0 "git verify-tag" -- in_repo git verify-tag v1
expect 0 "git push --signed" -- in_repo git push -q --signed "$WORK/home/remote.git" HEAD:refs/heads/main
grep -c '"consumer":"runner","uid":'"$RUNNER_UID" "$WORK/broker/signing-log.jsonl" > "$WORK/count"
[ "$(cat "$WORK/count")" -eq 3 ] && pass || fail "signing log: $(cat "$WORK/count") records for runner, expected 3 (commit, tag, push certificate)"
grep -q '"purpose":"sshsig","namespace":"git","result":"ok"' "$WORK/broker/signing-log.jsonl" && pass || fail "purpose not recorded"

# Rotation: nothing in the runner's configuration changes, and the next commit is the new key's.
"$BROKERKEY" rotate >/dev/null
"$BROKERKEY" allowed-signers --principal ci@acme.example > "$WORK/allowed_signers"
in_repo sh -c 'echo two > two && git add two'
expect 0 "git commit -S after the rotation, same configuration" -- in_repo git commit -q -S -m "after rotation"
expect 0 "the new commit verifies" -- in_repo git verify-commit HEAD
NEW_SSH_FP=$("$BROKERKEY" pubkey --format ssh | ssh-keygen -lf - | awk '{print $2}')
contains "$NEW_SSH_FP" "signed by the new key"
expect 0 "the earlier commit still verifies" -- in_repo git verify-commit "$FIRST"

# The agent down: a clean failure, then signing again once it is back.
stop_agent
expect 128 "no agent: git fails cleanly" -- in_repo git commit -q -S --allow-empty -m "no agent"
start_agent "$SOCKET"
chmod 666 "$SOCKET"
expect 0 "signing resumes when the agent is back" -- in_repo git commit -q -S --allow-empty -m "agent back"
expect 0 "audit verify" -- "$BROKERKEY" audit verify
finish
