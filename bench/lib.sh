# Shared by bench/run.sh and bench/agent_compare.sh (sourced after BUILD is set): a throwaway
# SoftHSM-backed broker with its key in WORK, the agents the script starts stopped and WORK
# removed on exit. Sets BIN, WORK, HOME, BROKERKEY_CONF, BROKERKEY_MODULE, BROKERKEY_LOG.
BIN=$BUILD/bin
WORK=$(mktemp -d /tmp/brokerkey-bench-XXXXXX)
AGENTS=()
stop_agents() {
  local pid
  for pid in "${AGENTS[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
}
trap 'stop_agents; rm -rf "$WORK"' EXIT
export BROKERKEY_LOG=stderr HOME=$WORK/home
mkdir -p "$HOME"

"$BIN/brokerkey" init --dir "$WORK/broker" --service bench --purpose signing --env test >/dev/null
export BROKERKEY_CONF=$WORK/broker/brokerkey.conf
"$BIN/brokerkey" mint >/dev/null
export BROKERKEY_MODULE=$BIN/libbrokerkey-pkcs11.so
mkdir -m 0700 "$WORK/run"

# start_agent BINARY CONF SOCKET: in the background, recorded in AGENTS, once it answers
# ssh-add -L. One after the other: SoftHSM has been seen to miss its token when two processes
# open it at the same instant.
start_agent() {
  "$1" --config "$2" --socket "$3" 2>>"$WORK/agent.log" &
  AGENTS+=($!)
  for _ in $(seq 100); do
    SSH_AUTH_SOCK=$3 ssh-add -L >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "bench: $1 did not answer on $3:" >&2
  cat "$WORK/agent.log" >&2
  exit 1
}
