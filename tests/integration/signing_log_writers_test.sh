# The agent keeps its signing log open between batches (core/chained_log.h ChainedLogWriter):
# another writer on the same log — the module in embedded mode on the broker host, through
# pkcs11-tool — interleaved with the agent's signatures must still give one chain; a log
# replaced under the agent (a copy renamed over it, or moved aside) is written at its path, not
# into the file the agent had open; a log made group-writable makes the agent refuse to sign
# (fail closed) until it is fixed. Every chain verifies with `brokerkey audit verify`.
source "$(dirname "$0")/lib.sh"
new_broker "$WORK/broker"
"$BROKERKEY" consumer add self --uid "$(id -u)" --allow sshsig:git >/dev/null
LOG=$WORK/broker/signing-log.jsonl
LABEL=acme-git-signing-ed25519-prod
mkdir -m 0700 "$WORK/run"
export SSH_AUTH_SOCK=$WORK/run/agent.sock
"$AGENT" --socket "$SSH_AUTH_SOCK" 2>"$WORK/agent.log" &
AGENT_PID=$!
for _ in $(seq 100); do ssh-add -L >"$WORK/key.pub" 2>/dev/null && break; sleep 0.1; done
[ -s "$WORK/key.pub" ] && pass || { fail "the agent did not answer: $(cat "$WORK/agent.log")"; finish; exit 1; }
printf 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n' > "$WORK/msg"

records() { [ -e "$LOG" ] && wc -l < "$LOG" || echo 0; }
# agent_signs DESCRIPTION: one signature through the agent (stock ssh-keygen), and its record.
agent_signs() {
  local before
  before=$(records)
  rm -f "$WORK/msg.sig"
  expect 0 "$1" -- ssh-keygen -Y sign -n git -f "$WORK/key.pub" "$WORK/msg"
  [ "$(records)" -eq $((before + 1)) ] && pass || fail "$1: the log at its path did not get the record"
}
embedded_signs() {
  local before
  before=$(records)
  expect 0 "$1" -- pkcs11-tool --module "$MODULE" --login --pin "$PIN" --sign --mechanism EDDSA \
    --label "$LABEL" -i "$WORK/msg" -o "$WORK/sig"
  [ "$(records)" -eq $((before + 1)) ] && pass || fail "$1: no record"
}

# Interleaved: the agent, then the module in embedded mode, several times; one chain.
for i in 1 2 3; do
  agent_signs "agent signature $i"
  embedded_signs "embedded-mode signature $i"
done
agent_signs "agent signature after the last embedded one"
expect 0 "the interleaved chain verifies" -- "$BROKERKEY" audit verify
# Both writers are in it, the agent's records right after the module's.
[ "$(grep -c '"purpose":"sshsig"' "$LOG")" -eq 4 ] && pass || fail "not 4 agent records: $(cat "$LOG")"
[ "$(records)" -eq 7 ] && pass || fail "not 7 records"

# A torn record left by a writer that died mid-write: the agent cuts it off and chains on.
printf '{"seq":8,"torn' >> "$LOG"
agent_signs "the agent signs after a torn tail"
expect 0 "the chain verifies after the torn tail" -- "$BROKERKEY" audit verify

# Replaced by a copy renamed over it (what an editor or a restore does): the agent writes to the
# new file at the path, and the chain goes on.
cp -p "$LOG" "$LOG.copy" && mv "$LOG.copy" "$LOG"
agent_signs "the agent signs into a log replaced by a copy"
expect 0 "the chain verifies after the replacement" -- "$BROKERKEY" audit verify
embedded_signs "embedded-mode signature after the replacement"
agent_signs "the agent signs after that"
expect 0 "the chain still verifies" -- "$BROKERKEY" audit verify

# Moved aside: a new log starts at the path (seq 1), the old one keeps its records.
mv "$LOG" "$WORK/broker/old-signing-log.jsonl"
OLD=$(wc -l < "$WORK/broker/old-signing-log.jsonl")
agent_signs "the agent signs into a new log after the old one was moved aside"
grep -q '^{"seq":1,' "$LOG" && pass || fail "the new log does not start at seq 1: $(cat "$LOG")"
[ "$(wc -l < "$WORK/broker/old-signing-log.jsonl")" -eq "$OLD" ] && pass || fail "the moved log was written to"
expect 0 "the new chain verifies" -- "$BROKERKEY" audit verify

# The lock file replaced: the agent locks the file at the path, so it still excludes the module.
rm -f "$LOG.lock"
embedded_signs "embedded-mode signature with a new lock file"
agent_signs "the agent signs with the new lock file"
expect 0 "the chain verifies with the new lock file" -- "$BROKERKEY" audit verify

# Fail closed: a log made writable by its group is refused, nothing is written, no signature
# leaves; fixed, the agent signs again.
chmod 0620 "$LOG"
BEFORE=$(records)
rm -f "$WORK/msg.sig"
expect 255 "no signature from a group-writable log" -- ssh-keygen -Y sign -n git -f "$WORK/key.pub" "$WORK/msg"
[ ! -e "$WORK/msg.sig" ] && pass || fail "a signature left without its record"
[ "$(records)" -eq "$BEFORE" ] && pass || fail "a record was written to a group-writable log"
grep -q "writable by group or others" "$WORK/agent.log" && pass || fail "the agent did not say why: $(cat "$WORK/agent.log")"
chmod 0600 "$LOG"
agent_signs "the agent signs again once the log is fixed"
expect 0 "the chain verifies at the end" -- "$BROKERKEY" audit verify
finish
