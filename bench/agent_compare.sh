#!/bin/bash
# Two brokerkey-agent builds side by side against SoftHSM, for changes to the agent's server or
# signing log: bench/run.sh's "agent signatures/s" rows measure one build, and on a shared
# machine a comparison of two runs is mostly noise. Here one throwaway broker is served by both
# agents at once (each with the signing log on, and again without it); every repeat measures,
# back to back, SoftHSM with CLIENTS threads, agent A, agent B (log on), then the same with the
# log off, and prints each agent's rate as a ratio to the SoftHSM run just before it, the
# agent's own CPU per signature (from /proc: its threads only, not its clients'), and at the end
# the medians and how many records each agent's signing log got per write (= per fdatasync).
#
# Usage: bash bench/agent_compare.sh BUILD_DIR AGENT_B [REPEATS] [SECONDS] [CLIENTS]
#   BUILD_DIR  a build of this tree (its brokerkey, brokerkey-bench and agent "A")
#   AGENT_B    another brokerkey-agent binary, e.g. main's, built RelWithDebInfo elsewhere
# Defaults: 5 repeats of 2 seconds, 8 clients (each its own connection, one request at a time).
set -euo pipefail
BUILD=${1:?usage: agent_compare.sh BUILD_DIR AGENT_B [REPEATS] [SECONDS] [CLIENTS]}
AGENT_B=${2:?usage: agent_compare.sh BUILD_DIR AGENT_B [REPEATS] [SECONDS] [CLIENTS]}
REPEATS=${3:-5}
SECONDS_PER_RUN=${4:-2}
CLIENTS=${5:-8}
source "$(dirname "$0")/lib.sh"
"$BIN/brokerkey" consumer add agentbench --uid "$(id -u)" --allow sshsig:git --rate 1000000/1s >/dev/null
# Agent B's signing log is a file of its own, so the two chains never share a lock or a tail.
sed 's/,"signing_log":"[^"]*"//' "$BROKERKEY_CONF" > "$WORK/broker/nolog.conf"
sed 's/signing-log\.jsonl"/signing-log-b.jsonl"/' "$BROKERKEY_CONF" > "$WORK/broker/log-b.conf"
chmod 600 "$WORK/broker/nolog.conf" "$WORK/broker/log-b.conf"
grep -q 'signing-log-b.jsonl' "$WORK/broker/log-b.conf" || { echo "agent_compare: no signing_log to rename" >&2; exit 1; }
start_agent "$BIN/brokerkey-agent" "$BROKERKEY_CONF" "$WORK/run/a-log"; A_LOG=${AGENTS[-1]}
start_agent "$AGENT_B" "$WORK/broker/log-b.conf" "$WORK/run/b-log"; B_LOG=${AGENTS[-1]}
start_agent "$BIN/brokerkey-agent" "$WORK/broker/nolog.conf" "$WORK/run/a-nolog"; A_NOLOG=${AGENTS[-1]}
start_agent "$AGENT_B" "$WORK/broker/nolog.conf" "$WORK/run/b-nolog"; B_NOLOG=${AGENTS[-1]}

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }  # user + system, in clock ticks
HZ=$(getconf CLK_TCK)
backend() { "$BIN/brokerkey-bench" rate backend "$CLIENTS" "$SECONDS_PER_RUN"; }
agent() {  # PID SOCKET -> "signatures/s  agent CPU µs per signature"
  local t0 t1 rate
  t0=$(ticks "$1")
  rate=$(SSH_AUTH_SOCK=$2 "$BIN/brokerkey-bench" rate agent "$CLIENTS" "$SECONDS_PER_RUN")
  t1=$(ticks "$1")
  awk -v r="$rate" -v t=$((t1 - t0)) -v hz="$HZ" -v s="$SECONDS_PER_RUN" \
    'BEGIN { printf "%.0f %.0f\n", r, (r > 0 ? t / hz * 1e6 / (r * s) : 0) }'
}

printf '%s clients, %s s per run; ratio = agent / SoftHSM with as many threads, measured just before\n' \
  "$CLIENTS" "$SECONDS_PER_RUN"
printf '%-6s %9s %16s %16s   %9s %16s %16s\n' "repeat" "SoftHSM" "A log on (µs)" "B log on (µs)" \
  "SoftHSM" "A log off (µs)" "B log off (µs)"
: > "$WORK/results"
for i in $(seq "$REPEATS"); do
  h1=$(backend)
  read -r a1 ac1 < <(agent "$A_LOG" "$WORK/run/a-log")
  read -r b1 bc1 < <(agent "$B_LOG" "$WORK/run/b-log")
  h2=$(backend)
  read -r a2 ac2 < <(agent "$A_NOLOG" "$WORK/run/a-nolog")
  read -r b2 bc2 < <(agent "$B_NOLOG" "$WORK/run/b-nolog")
  awk -v i="$i" -v h1="$h1" -v a1="$a1" -v ac1="$ac1" -v b1="$b1" -v bc1="$bc1" \
      -v h2="$h2" -v a2="$a2" -v ac2="$ac2" -v b2="$b2" -v bc2="$bc2" 'BEGIN {
    printf "%-6d %9.0f %9.3f (%4d) %9.3f (%4d)   %9.0f %9.3f (%4d) %9.3f (%4d)\n",
           i, h1, a1 / h1, ac1, b1 / h1, bc1, h2, a2 / h2, ac2, b2 / h2, bc2
    printf "%f %f %f %f %f %f %f %f\n", a1 / h1, b1 / h1, a2 / h2, b2 / h2, ac1, bc1, ac2, bc2 >> "'"$WORK/results"'"
  }'
done
median() {  # COLUMN of the results
  awk -v c="$1" '{ print $c }' "$WORK/results" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
printf '%-6s %9s %9s (%4.0f) %9s (%4.0f)   %9s %9s (%4.0f) %9s (%4.0f)\n' "median" "" \
  "$(median 1)" "$(median 5)" "$(median 2)" "$(median 6)" "" "$(median 3)" "$(median 7)" "$(median 4)" "$(median 8)"
# Each agent writes its batch with one write() (nothing else it writes in the meantime).
writes() { awk '/^syscw/ { print $2 }' "/proc/$1/io"; }
per_write() {  # LOG PID
  awk -v l="$(wc -l < "$1")" -v w="$(writes "$2")" 'BEGIN { printf "%.2f", (w > 0 ? l / w : 0) }'
}
echo "records per signing-log write (log on): A $(per_write "$WORK/broker/signing-log.jsonl" "$A_LOG"), B $(per_write "$WORK/broker/signing-log-b.jsonl" "$B_LOG")"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); machine: $(nproc) cores, $(uname -r)"
