#!/usr/bin/env bash
# Benchmarks, side by side in one run, with ratios against the baseline users compare with:
#   signing through the module vs on the backend directly (same key; 1 and 2 threads),
#   with and without the signing log; a cold process's C_Initialize + first signature;
#   signing through brokerkey-agent (1, 2 and 8 clients, each its own connection) vs the
#   backend directly with as many threads, with the signing log on (durable, group commit)
#   and off; git commit -S through the module and through the agent vs with an ssh key file,
#   and through the drop-ins with only a client configuration (ssh and x509 formats); the
#   module in client mode (over the agent: a cold process, and 1, 2 and 8 threads) vs SoftHSM
#   directly; ledger verification rate.
# Usage: bash bench/run.sh [BUILD_DIR] [SECONDS_PER_RUN]     (after cmake --build BUILD_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:-build}" && pwd)
SECONDS_PER_RUN=${2:-3}
source bench/lib.sh
export BENCH_CONSUMER_PIN=$("$BIN/brokerkey" consumer add bench | grep -o 'bench:[a-z0-9]*')
# The key's CKA_ID for brokerkey-bench, so its cold processes read no ledger (neither side).
export BENCH_KEY_ID=$("$BIN/brokerkey" fingerprint | grep -o -m1 '[0-9a-f]\{64\}')
sed 's/,"signing_log":"[^"]*"//' "$BROKERKEY_CONF" > "$WORK/broker/nolog.conf"
chmod 600 "$WORK/broker/nolog.conf"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
# Alternate the two sides three times and sum, so drift on a shared machine hits both.
rates() {  # module|agent THREADS VAR=VALUE... (the configuration or the agent's socket) -> "brokerkey backend"
  local m=0 b=0 x
  for _ in 1 2 3; do
    x=$("$BIN/brokerkey-bench" rate backend "$2" "$SECONDS_PER_RUN"); b=$(awk -v s="$b" -v x="$x" 'BEGIN{print s+x}')
    x=$(env "${@:3}" "$BIN/brokerkey-bench" rate "$1" "$2" "$SECONDS_PER_RUN"); m=$(awk -v s="$m" -v x="$x" 'BEGIN{print s+x}')
  done
  echo "$(awk -v s="$m" 'BEGIN{print s/3}') $(awk -v s="$b" 'BEGIN{print s/3}')"
}
now_ns() { date +%s%N; }
cold() {  # MODE [VAR=VALUE...] -> mean ms over 20 processes
  local start end
  start=$(now_ns)
  for _ in $(seq 20); do env "${@:2}" "$BIN/brokerkey-bench" cold "$1"; done
  end=$(now_ns)
  awk -v d=$((end - start)) 'BEGIN { printf "%.1f", d / 20 / 1e6 }'
}
# Cold processes one by one, SoftHSM's and the module's in turn -> "MODULE_WHOLE MODULE_INSIDE
# BACKEND_WHOLE BACKEND_INSIDE": medians over 21 of each process's wall time and of the time
# inside it from loading the module to the first signature (BENCH_PHASES: the bench's own start
# and set-up left out, on both sides). Medians, since on a shared machine a few processes that
# wait for a core would dominate a mean.
cold_one() {  # MODE [VAR=VALUE...] -> "WHOLE_US INSIDE_US"
  local start end
  start=$(now_ns)
  env "${@:2}" BENCH_PHASES=1 "$BIN/brokerkey-bench" cold "$1" 2>"$WORK/phases" >/dev/null
  end=$(now_ns)
  echo "$(( (end - start) / 1000 )) $(awk '/^setup=/ { for (i = 1; i <= NF; i++) { split($i, kv, "=");
    if (kv[1] != "setup" && kv[1] != "finalize") t += kv[2] } } END { print t + 0 }' "$WORK/phases")"
}
cold_pairs() {  # VAR=VALUE... (the module's environment)
  local i
  for i in $(seq 21); do
    echo "$(cold_one module "$@") $(cold_one backend)"
  done > "$WORK/cold-pairs"
  median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f ", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000 }'; }
  for i in 1 2 3 4; do cut -d' ' -f"$i" "$WORK/cold-pairs" | median; done
  echo
}

printf '%-46s %14s %14s %8s\n' "measure" "brokerkey" "baseline" "ratio"
for threads in 1 2; do
  read -r m b < <(rates module "$threads" "BROKERKEY_CONF=$BROKERKEY_CONF")
  printf '%-46s %14.0f %14.0f %8s\n' "signatures/s, $threads thread(s), signing log on" "$m" "$b" "$(ratio "$m" "$b")"
  read -r m b < <(rates module "$threads" "BROKERKEY_CONF=$WORK/broker/nolog.conf")
  printf '%-46s %14.0f %14.0f %8s\n' "signatures/s, $threads thread(s), signing log off" "$m" "$b" "$(ratio "$m" "$b")"
done
cm=0; cb=0
for _ in 1 2; do
  cb=$(awk -v s="$cb" -v x="$(cold backend)" 'BEGIN{print s+x}')
  cm=$(awk -v s="$cm" -v x="$(cold module)" 'BEGIN{print s+x}')
done
cm=$(awk -v s="$cm" 'BEGIN{print s/2}'); cb=$(awk -v s="$cb" 'BEGIN{print s/2}')
printf '%-46s %14s %14s %8s\n' "cold process: init + 1st signature (ms)" "$cm" "$cb" "$(ratio "$cm" "$cb")"

# brokerkey-agent, once with the broker's configuration (signing log on) and once without
# signing_log; this account is its consumer, allowed git signatures (ssh and x509 formats) at an
# unbounded rate.
"$BIN/brokerkey" consumer add agentbench --uid "$(id -u)" --allow sshsig:git,cms --rate 1000000/1s >/dev/null
start_agent "$BIN/brokerkey-agent" "$BROKERKEY_CONF" "$WORK/run/log.sock"
start_agent "$BIN/brokerkey-agent" "$WORK/broker/nolog.conf" "$WORK/run/nolog.sock"
for threads in 1 2 8; do
  read -r m b < <(rates agent "$threads" "SSH_AUTH_SOCK=$WORK/run/log.sock")
  printf '%-46s %14.0f %14.0f %8s\n' "agent signatures/s, $threads client(s), log on" "$m" "$b" "$(ratio "$m" "$b")"
  read -r m b < <(rates agent "$threads" "SSH_AUTH_SOCK=$WORK/run/nolog.sock")
  printf '%-46s %14.0f %14.0f %8s\n' "agent signatures/s, $threads client(s), log off" "$m" "$b" "$(ratio "$m" "$b")"
done
# How many records one fdatasync covers with 8 clients: the agent's write() calls are the
# batches (one write per batch; nothing else writes while it signs).
lines() { wc -l < "$WORK/broker/signing-log.jsonl"; }
writes() { awk '/^syscw/ { print $2 }' "/proc/${AGENTS[0]}/io"; }
l0=$(lines); w0=$(writes)
SSH_AUTH_SOCK=$WORK/run/log.sock "$BIN/brokerkey-bench" rate agent 8 "$SECONDS_PER_RUN" >/dev/null
l1=$(lines); w1=$(writes)
printf '%-46s %14s\n' "agent records per signing-log sync, 8 clients" "$(ratio $((l1 - l0)) $((w1 - w0)))"

# The module in client mode, as a consumer runs it: a client configuration naming the agent
# (signing log on), the protected authentication path (no PIN; this account is consumer
# agentbench). A cold process (load, C_Initialize, C_Login, the first C_Sign) against
# SoftHSM's own cold process, alternated; then signatures/s with 1, 2 and 8 threads.
"$BIN/brokerkey" client-config --socket "$WORK/run/log.sock" > "$WORK/client.conf"
"$BIN/brokerkey" client-config --socket "$WORK/run/nolog.sock" > "$WORK/client-nolog.conf"
CLIENT=(BROKERKEY_CONF="$WORK/client.conf" BENCH_CONSUMER_PIN=)
for _ in 1 2 3; do
  read -r mw mi bw bi < <(cold_pairs "${CLIENT[@]}")
  printf '%-46s %14s %14s %8s\n' "client mode: cold process, median (ms)" "$mw" "$bw" "$(ratio "$mw" "$bw")"
  printf '%-46s %14s %14s %8s\n' "client mode: load to 1st signature, median (ms)" "$mi" "$bi" "$(ratio "$mi" "$bi")"
done
for threads in 1 2 8; do
  read -r m b < <(rates module "$threads" "${CLIENT[@]}")
  printf '%-46s %14.0f %14.0f %8s\n' "client mode: signatures/s, $threads thread(s), log on" "$m" "$b" "$(ratio "$m" "$b")"
  read -r m b < <(rates module "$threads" BROKERKEY_CONF="$WORK/client-nolog.conf" BENCH_CONSUMER_PIN=)
  printf '%-46s %14.0f %14.0f %8s\n' "client mode: signatures/s, $threads thread(s), log off" "$m" "$b" "$(ratio "$m" "$b")"
done

# git commit -S: through brokerkey-ssh-keygen and the module, and through the agent with stock
# ssh-keygen (the key named by git's key:: form), vs an ssh key file.
mkdir -p "$HOME/.config/brokerkey"
( umask 077 && "$BIN/brokerkey" consumer add git | grep -o 'git:[a-z0-9]*' > "$HOME/.config/brokerkey/git.pin" )
ssh-keygen -q -t ed25519 -N '' -f "$WORK/id_ed25519"
commits() {  # REPO -> mean ms per signed commit over 20
  local start end
  start=$(now_ns)
  for i in $(seq 20); do
    git -C "$1" commit -q -S --allow-empty -m "bench $i" || { echo "bench: git commit -S failed in $1" >&2; return 1; }
  done
  end=$(now_ns)
  awk -v d=$((end - start)) 'BEGIN { printf "%.1f", d / 20 / 1e6 }'
}
git init -q "$WORK/broker-repo" && git init -q "$WORK/file-repo" && git init -q "$WORK/agent-repo"
for repo in broker-repo file-repo agent-repo; do
  git -C "$WORK/$repo" config user.name bench && git -C "$WORK/$repo" config user.email bench@example
done
(cd "$WORK/broker-repo" && eval "$("$BIN/brokerkey" git-config --consumer git)")
git -C "$WORK/file-repo" config gpg.format ssh
git -C "$WORK/file-repo" config user.signingkey "$WORK/id_ed25519"
git -C "$WORK/agent-repo" config gpg.format ssh
git -C "$WORK/agent-repo" config gpg.ssh.program ssh-keygen
git -C "$WORK/agent-repo" config user.signingkey "key::$(SSH_AUTH_SOCK=$WORK/run/log.sock ssh-add -L)"
gb=0; gf=0; ga=0; gn=0
for _ in 1 2; do
  x=$(commits "$WORK/file-repo"); gf=$(awk -v s="$gf" -v x="$x" 'BEGIN{print s+x}')
  x=$(commits "$WORK/broker-repo"); gb=$(awk -v s="$gb" -v x="$x" 'BEGIN{print s+x}')
  x=$(SSH_AUTH_SOCK=$WORK/run/log.sock commits "$WORK/agent-repo"); ga=$(awk -v s="$ga" -v x="$x" 'BEGIN{print s+x}')
  x=$(SSH_AUTH_SOCK=$WORK/run/nolog.sock commits "$WORK/agent-repo"); gn=$(awk -v s="$gn" -v x="$x" 'BEGIN{print s+x}')
done
gb=$(awk -v s="$gb" 'BEGIN{print s/2}'); gf=$(awk -v s="$gf" 'BEGIN{print s/2}')
ga=$(awk -v s="$ga" 'BEGIN{print s/2}'); gn=$(awk -v s="$gn" 'BEGIN{print s/2}')
printf '%-46s %14s %14s %8s\n' "git commit -S, module (ms per commit)" "$gb" "$gf" "$(ratio "$gb" "$gf")"
printf '%-46s %14s %14s %8s\n' "git commit -S, agent, log on (ms per commit)" "$ga" "$gf" "$(ratio "$ga" "$gf")"
printf '%-46s %14s %14s %8s\n' "git commit -S, agent, log off (ms per commit)" "$gn" "$gf" "$(ratio "$gn" "$gf")"

# git commit -S in client mode: this account as a consumer with only a client configuration
# (brokerkey client-config) naming the agent above (signing log on), git configured by
# brokerkey git-config, signing through brokerkey-ssh-keygen and brokerkey-gpgsm (x509: a
# certificate for the key first), vs the ssh key file; alternated three times.
"$BIN/brokerkey" cert --pin-file "$HOME/.config/brokerkey/git.pin" --subject "CN=bench" >/dev/null 2>&1
"$BIN/brokerkey" client-config --socket "$WORK/run/log.sock" > "$WORK/client.conf"
chmod 600 "$WORK/client.conf"
for repo in client-ssh-repo client-x509-repo; do
  git init -q "$WORK/$repo"
  git -C "$WORK/$repo" config user.name bench && git -C "$WORK/$repo" config user.email bench@example
done
(cd "$WORK/client-ssh-repo" && export BROKERKEY_CONF=$WORK/client.conf &&
  eval "$("$BIN/brokerkey" git-config --allowed-signers "$WORK/client-allowed-signers")")
(cd "$WORK/client-x509-repo" && export BROKERKEY_CONF=$WORK/client.conf &&
  eval "$("$BIN/brokerkey" git-config --format x509)")
cf=0; cs=0; cx=0
for _ in 1 2 3; do
  x=$(commits "$WORK/file-repo"); cf=$(awk -v s="$cf" -v x="$x" 'BEGIN{print s+x}')
  x=$(BROKERKEY_CONF=$WORK/client.conf commits "$WORK/client-ssh-repo"); cs=$(awk -v s="$cs" -v x="$x" 'BEGIN{print s+x}')
  x=$(BROKERKEY_CONF=$WORK/client.conf commits "$WORK/client-x509-repo"); cx=$(awk -v s="$cx" -v x="$x" 'BEGIN{print s+x}')
done
cf=$(awk -v s="$cf" 'BEGIN{printf "%.1f", s/3}'); cs=$(awk -v s="$cs" 'BEGIN{printf "%.1f", s/3}'); cx=$(awk -v s="$cx" 'BEGIN{printf "%.1f", s/3}')
printf '%-46s %14s %14s %8s\n' "git commit -S, client mode, ssh drop-in (ms per commit)" "$cs" "$cf" "$(ratio "$cs" "$cf")"
printf '%-46s %14s %14s %8s\n' "git commit -S, client mode, x509 drop-in (ms per commit)" "$cx" "$cf" "$(ratio "$cx" "$cf")"

printf '%-46s %14s\n' "ledger verification (records/s, 10000 records)" "$("$BIN/brokerkey-bench" ledger 10000)"
# The disk's cost of one durable append, which bounds every signing-log figure above.
start=$(now_ns)
dd if=/dev/zero of="$WORK/sync-probe" bs=400 count=200 oflag=dsync status=none
end=$(now_ns)
printf '%-46s %14s\n' "disk: 400-byte append + sync (ms, mean of 200)" "$(awk -v d=$((end - start)) 'BEGIN { printf "%.2f", d / 200 / 1e6 }')"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
