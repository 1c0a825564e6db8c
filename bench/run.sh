#!/usr/bin/env bash
# Benchmarks, side by side in one run, with ratios against the baseline users compare with:
#   signing through the module vs on the backend directly (same key; 1 and 2 threads),
#   with and without the signing log; a cold process's C_Initialize + first signature;
#   git commit -S through the broker vs with an ssh key file; ledger verification rate.
# Usage: bash bench/run.sh [BUILD_DIR] [SECONDS_PER_RUN]     (after cmake --build BUILD_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=$(cd "${1:-build}" && pwd)
SECONDS_PER_RUN=${2:-3}
BIN=$BUILD/bin
WORK=$(mktemp -d /tmp/brokerkey-bench-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export BROKERKEY_LOG=stderr HOME=$WORK/home
mkdir -p "$HOME"

"$BIN/brokerkey" init --dir "$WORK/broker" --service bench --purpose signing --env test >/dev/null
export BROKERKEY_CONF=$WORK/broker/brokerkey.conf
"$BIN/brokerkey" mint >/dev/null
export BENCH_CONSUMER_PIN=$("$BIN/brokerkey" consumer add bench | grep -o 'bench:[a-z0-9]*')
export BROKERKEY_MODULE=$BIN/libbrokerkey-pkcs11.so
sed 's/,"signing_log":"[^"]*"//' "$BROKERKEY_CONF" > "$WORK/broker/nolog.conf"
chmod 600 "$WORK/broker/nolog.conf"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
# Alternate the two sides three times and sum, so drift on a shared machine hits both.
rates() {  # THREADS CONF -> "module backend"
  local m=0 b=0 x
  for _ in 1 2 3; do
    x=$("$BIN/brokerkey-bench" rate backend "$1" "$SECONDS_PER_RUN"); b=$(awk -v s="$b" -v x="$x" 'BEGIN{print s+x}')
    x=$(BROKERKEY_CONF=$2 "$BIN/brokerkey-bench" rate module "$1" "$SECONDS_PER_RUN"); m=$(awk -v s="$m" -v x="$x" 'BEGIN{print s+x}')
  done
  echo "$(awk -v s="$m" 'BEGIN{print s/3}') $(awk -v s="$b" 'BEGIN{print s/3}')"
}
now_ns() { date +%s%N; }
cold() {  # MODE -> mean ms over 20 processes
  local start end
  start=$(now_ns)
  for _ in $(seq 20); do "$BIN/brokerkey-bench" cold "$1"; done
  end=$(now_ns)
  awk -v d=$((end - start)) 'BEGIN { printf "%.1f", d / 20 / 1e6 }'
}

printf '%-46s %14s %14s %8s\n' "measure" "brokerkey" "baseline" "ratio"
for threads in 1 2; do
  read -r m b < <(rates "$threads" "$BROKERKEY_CONF")
  printf '%-46s %14.0f %14.0f %8s\n' "signatures/s, $threads thread(s), signing log on" "$m" "$b" "$(ratio "$m" "$b")"
  read -r m b < <(rates "$threads" "$WORK/broker/nolog.conf")
  printf '%-46s %14.0f %14.0f %8s\n' "signatures/s, $threads thread(s), signing log off" "$m" "$b" "$(ratio "$m" "$b")"
done
cm=0; cb=0
for _ in 1 2; do
  cb=$(awk -v s="$cb" -v x="$(cold backend)" 'BEGIN{print s+x}')
  cm=$(awk -v s="$cm" -v x="$(cold module)" 'BEGIN{print s+x}')
done
cm=$(awk -v s="$cm" 'BEGIN{print s/2}'); cb=$(awk -v s="$cb" 'BEGIN{print s/2}')
printf '%-46s %14s %14s %8s\n' "cold process: init + 1st signature (ms)" "$cm" "$cb" "$(ratio "$cm" "$cb")"

# git commit -S: through brokerkey-ssh-keygen and the module vs an ssh key file.
mkdir -p "$HOME/.config/brokerkey"
( umask 077 && "$BIN/brokerkey" consumer add git | grep -o 'git:[a-z0-9]*' > "$HOME/.config/brokerkey/git.pin" )
ssh-keygen -q -t ed25519 -N '' -f "$WORK/id_ed25519"
commits() {  # REPO -> mean ms per signed commit over 20
  local start end
  start=$(now_ns)
  for i in $(seq 20); do git -C "$1" commit -q -S --allow-empty -m "bench $i"; done
  end=$(now_ns)
  awk -v d=$((end - start)) 'BEGIN { printf "%.1f", d / 20 / 1e6 }'
}
git init -q "$WORK/broker-repo" && git init -q "$WORK/file-repo"
for repo in broker-repo file-repo; do
  git -C "$WORK/$repo" config user.name bench && git -C "$WORK/$repo" config user.email bench@example
done
(cd "$WORK/broker-repo" && eval "$("$BIN/brokerkey" git-config --consumer git)")
git -C "$WORK/file-repo" config gpg.format ssh
git -C "$WORK/file-repo" config user.signingkey "$WORK/id_ed25519"
gb=0; gf=0
for _ in 1 2; do
  gf=$(awk -v s="$gf" -v x="$(commits "$WORK/file-repo")" 'BEGIN{print s+x}')
  gb=$(awk -v s="$gb" -v x="$(commits "$WORK/broker-repo")" 'BEGIN{print s+x}')
done
gb=$(awk -v s="$gb" 'BEGIN{print s/2}'); gf=$(awk -v s="$gf" 'BEGIN{print s/2}')
printf '%-46s %14s %14s %8s\n' "git commit -S (ms per commit)" "$gb" "$gf" "$(ratio "$gb" "$gf")"

printf '%-46s %14s\n' "ledger verification (records/s, 10000 records)" "$("$BIN/brokerkey-bench" ledger 10000)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
