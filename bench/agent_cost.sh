#!/bin/bash
# Where the agent's CPU per signature goes, by measures that do not depend on the other programs
# sharing the machine: for each agent (log on, log off), CLIENTS clients sign for SECONDS, and
# over a window inside that run (the clients connected, not yet stopping) it prints, per
# signature: the agent's user and system CPU (/proc/PID/stat), the clients' (their process's
# rusage), the kernel threads' CPU (every task whose parent is kthreadd: jbd2, kworkers,
# ksoftirqd — a sync's journal commit and completion are charged there, not to the agent), the
# machine's irq + softirq time (/proc/stat), the agent's context switches and system calls
# (`perf stat -p`: software events and the raw_syscalls tracepoint, counted in the kernel, no
# ptrace), and machine-wide the fdatasyncs' ext4 journal commits and block requests (tracepoints).
# The signatures in the window are counted exactly for a logged agent (its log's new lines) and
# as rate × window without a log.
#
# Usage: bash bench/agent_cost.sh BUILD_DIR [AGENT_B] [REPEATS] [SECONDS] [CLIENTS]
#   AGENT_B  another brokerkey-agent binary measured the same way, after this build's (e.g. main's)
# Needs perf (Debian: linux-perf) and /usr/bin/time (Debian: time), and root (or
# perf_event_paranoid <= -1) for the tracepoints. Not part of CI: speed is measured, not asserted.
set -euo pipefail
BUILD=${1:?usage: agent_cost.sh BUILD_DIR [AGENT_B] [REPEATS] [SECONDS] [CLIENTS]}
AGENT_B=${2:-}
REPEATS=${3:-3}
SECONDS_PER_RUN=${4:-4}
CLIENTS=${5:-8}
source "$(dirname "$0")/lib.sh"
"$BIN/brokerkey" consumer add agentbench --uid "$(id -u)" --allow sshsig:git --rate 1000000/1s >/dev/null
sed 's/,"signing_log":"[^"]*"//' "$BROKERKEY_CONF" > "$WORK/broker/nolog.conf"
sed 's/signing-log\.jsonl"/signing-log-b.jsonl"/' "$BROKERKEY_CONF" > "$WORK/broker/log-b.conf"
chmod 600 "$WORK/broker/nolog.conf" "$WORK/broker/log-b.conf"
declare -A PID LOG
start_agent "$BIN/brokerkey-agent" "$BROKERKEY_CONF" "$WORK/run/a-log"; PID[a-log]=${AGENTS[-1]}
LOG[a-log]=$WORK/broker/signing-log.jsonl
start_agent "$BIN/brokerkey-agent" "$WORK/broker/nolog.conf" "$WORK/run/a-nolog"; PID[a-nolog]=${AGENTS[-1]}
NAMES=(a-log a-nolog)
if [ -n "$AGENT_B" ]; then
  start_agent "$AGENT_B" "$WORK/broker/log-b.conf" "$WORK/run/b-log"; PID[b-log]=${AGENTS[-1]}
  LOG[b-log]=$WORK/broker/signing-log-b.jsonl
  start_agent "$AGENT_B" "$WORK/broker/nolog.conf" "$WORK/run/b-nolog"; PID[b-nolog]=${AGENTS[-1]}
  NAMES+=(b-log b-nolog)
fi
HZ=$(getconf CLK_TCK)
agent_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
kthread_ticks() {  # user + system of every kernel thread
  local sum=0 f
  for f in /proc/[0-9]*/stat; do
    { read -r -a s < "$f"; } 2>/dev/null || continue
    # the comm field may hold spaces only for user programs; kernel threads have none
    [ "${s[3]}" = 2 ] && sum=$((sum + s[13] + s[14]))
  done
  echo "$sum"
}
irq_ticks() { awk '/^cpu / { print $7 + $8 }' /proc/stat; }
lines() { if [ -n "${1:-}" ]; then wc -l < "$1"; else echo 0; fi; }
EVENTS=context-switches,raw_syscalls:sys_enter
SYSTEM_EVENTS=jbd2:jbd2_start_commit,block:block_rq_issue,ext4:ext4_sync_file_enter

measure() {  # NAME -> one line of per-signature figures
  local name=$1 pid=${PID[$1]} sock=$WORK/run/$1 window
  window=$(awk -v s="$SECONDS_PER_RUN" 'BEGIN { print s - 1 }')
  /usr/bin/time -f '%U %S' -o "$WORK/client-time" \
    env SSH_AUTH_SOCK="$sock" "$BIN/brokerkey-bench" rate agent "$CLIENTS" "$SECONDS_PER_RUN" > "$WORK/rate" &
  local bench=$!
  sleep 0.5
  local a0 k0 i0 l0 a1 k1 i1 l1
  a0=$(agent_ticks "$pid"); k0=$(kthread_ticks); i0=$(irq_ticks); l0=$(lines "${LOG[$name]:-}")
  perf stat -x, -o "$WORK/perf-agent" -e "$EVENTS" -p "$pid" -- sleep "$window" 2>/dev/null &
  local perf_agent=$!
  perf stat -x, -o "$WORK/perf-system" -a -e "$SYSTEM_EVENTS" -- sleep "$window" 2>/dev/null
  wait "$perf_agent"
  a1=$(agent_ticks "$pid"); k1=$(kthread_ticks); i1=$(irq_ticks); l1=$(lines "${LOG[$name]:-}")
  wait "$bench"
  local rate
  : > /dev/null
  rate=$(cat "$WORK/rate")
  awk -v name="$name" -v rate="$rate" -v window="$window" -v hz="$HZ" -v total="$SECONDS_PER_RUN" \
      -v a0="$a0" -v a1="$a1" -v k="$((k1 - k0))" -v irq="$((i1 - i0))" -v logged="$((l1 - l0))" \
      -v client="$(cat "$WORK/client-time")" -v pa="$WORK/perf-agent" -v ps="$WORK/perf-system" '
    function count(file, event,   line, f) {
      while ((getline line < file) > 0) { split(line, f, ","); if (f[3] == event) { close(file); return f[1] + 0 } }
      close(file); return 0
    }
    BEGIN {
      split(a0, x0, " "); split(a1, x1, " "); split(client, c, " ")
      n = logged > 0 ? logged : rate * window
      us = 1e6 / hz / n
      printf "%-8s %7.0f/s  agent user %4.0f sys %4.0f  clients %3.0f  kthreads %5.1f irq %4.1f  (µs/sig)  " \
             "switches %5.2f syscalls %5.1f  | journal commits %5.3f block rqs %5.3f fsyncs %5.3f (per sig)\n",
        name, rate, (x1[1] - x0[1]) * us, (x1[2] - x0[2]) * us, (c[1] + c[2]) * 1e6 / (rate * total),
        k * us, irq * us, count(pa, "context-switches") / n, count(pa, "raw_syscalls:sys_enter") / n,
        count(ps, "jbd2:jbd2_start_commit") / n, count(ps, "block:block_rq_issue") / n,
        count(ps, "ext4:ext4_sync_file_enter") / n
      # name, agent user + sys, all of it (agent, clients, kernel threads, irq), switches
      printf "%s %f %f %f\n", name, ((x1[1] - x0[1]) + (x1[2] - x0[2])) * us,
        ((x1[1] - x0[1]) + (x1[2] - x0[2]) + k + irq) * us + (c[1] + c[2]) * 1e6 / (rate * total),
        count(pa, "context-switches") / n >> "'"$WORK/results"'"
    }'
}

: > "$WORK/results"
echo "$CLIENTS clients, $SECONDS_PER_RUN s per run (window $((SECONDS_PER_RUN - 1)) s); a = $BIN/brokerkey-agent${AGENT_B:+, b = $AGENT_B}"
for i in $(seq "$REPEATS"); do
  order=("${NAMES[@]}")
  # b first in every other repeat: the position on a shared machine is worth up to 10 %
  if [ -n "$AGENT_B" ] && [ $((i % 2)) = 0 ]; then order=(b-log b-nolog a-log a-nolog); fi
  for name in "${order[@]}"; do measure "$name"; done
done
median() {  # NAME COLUMN
  awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$WORK/results" | sort -g |
    awk '{ v[NR] = $1 } END { printf "%.0f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
lower() {  # how many repeats b's COLUMN is below a's, for LOG (log or nolog)
  paste <(awk -v n="a-$1" -v c="$2" '$1 == n { print $c }' "$WORK/results") \
        <(awk -v n="b-$1" -v c="$2" '$1 == n { print $c }' "$WORK/results") |
    awk '$2 < $1 { k++ } END { printf "%d of %d", k, NR }'
}
echo "medians (µs per signature: the agent's CPU; everything: agent + clients + kernel threads + irq)"
for name in "${NAMES[@]}"; do
  echo "  $name: agent $(median "$name" 2), everything $(median "$name" 3), switches $(median "$name" 4)"
done
if [ -n "$AGENT_B" ]; then
  echo "b below a: log on, agent $(lower log 2), everything $(lower log 3); log off, agent $(lower nolog 2), everything $(lower nolog 3)"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); machine: $(nproc) cores, $(uname -r)"
