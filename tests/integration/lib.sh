# Shared helpers for the shell integration tests. Each test gets a fresh temporary directory
# with a real broker on a real SoftHSM token, made by the real keytool.
set -euo pipefail
BROKERKEY=$1
MODULE=$2
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
WORK=$(mktemp -d "${TMPDIR:-/tmp}/brokerkey-shell-XXXXXX")
trap end_test EXIT  # below: the agent, accounts and groups a test started or made, then $WORK
export BROKERKEY_LOG=stderr
unset BROKERKEY_CONF BROKERKEY_TEST_NOW

failures=0
checks=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { checks=$((checks + 1)); }

# expect STATUS DESCRIPTION -- COMMAND...: runs COMMAND, output in $OUT, checks the exit status.
expect() {
  local want=$1 what=$2
  shift 3
  set +e
  OUT=$("$@" 2>&1)
  local got=$?
  set -e
  if [ "$got" -ne "$want" ]; then
    fail "$what: exit $got, expected $want: $OUT"
  else
    pass
  fi
}
# contains TEXT DESCRIPTION: $OUT contains TEXT.
contains() {
  if grep -qF -- "$1" <<<"$OUT"; then pass; else fail "$2: output lacks '$1': $OUT"; fi
}
one_line() {
  if [ "$(grep -c . <<<"$OUT")" -eq 1 ]; then pass; else fail "$1: expected one line, got: $OUT"; fi
}

# new_broker DIR: init + mint + consumer "ci"; sets BROKERKEY_CONF and PIN.
new_broker() {
  "$BROKERKEY" init --dir "$1" --service acme --purpose git-signing --env prod >/dev/null
  export BROKERKEY_CONF=$1/brokerkey.conf
  "$BROKERKEY" mint >/dev/null
  PIN=$("$BROKERKEY" consumer add ci | grep -o 'ci:[a-z0-9]*')
}

# needs_test_hooks: a test that moves the clock or crashes the keytool fails here, saying so, in a
# build without -DBROKERKEY_TEST_HOOKS=ON (which ignores the hooks), instead of testing nothing.
needs_test_hooks() {
  if ! "$BROKERKEY" --version | grep -q "^test hooks: compiled in"; then
    echo "FAIL: this test needs the test hooks: configure the build with -DBROKERKEY_TEST_HOOKS=ON" >&2
    exit 1
  fi
}

# at TIME: the broker's clock and git's commit dates, so validity windows are exact.
at() {
  [ -n "${hooks_checked:-}" ] || { needs_test_hooks; hooks_checked=1; }
  export BROKERKEY_TEST_NOW=$1 GIT_COMMITTER_DATE=$1 GIT_AUTHOR_DATE=$1
}

# git_broker: on day 0 (2026-01-01), a broker with its key and consumer ci, whose PIN is in
# $PIN_FILE under a HOME of the test's own; then a new git repository, the current directory.
git_broker() {
  export HOME=$WORK/home GIT_CONFIG_NOSYSTEM=1
  PIN_FILE=$HOME/.config/brokerkey/ci.pin
  mkdir -p "$HOME/.config/brokerkey"
  at 2026-01-01T00:00:00Z
  "$BROKERKEY" init --dir "$WORK/broker" --service acme --purpose git-signing --env prod >/dev/null
  export BROKERKEY_CONF=$WORK/broker/brokerkey.conf
  "$BROKERKEY" mint >/dev/null
  ( umask 077 && "$BROKERKEY" consumer add ci | grep -o 'ci:[a-z0-9]*' > "$PIN_FILE" )
  git init -q "$WORK/repo"
  cd "$WORK/repo"
  git config user.name "CI bot"
  git config user.email ci@acme.example
}

# Under the sanitizer build's LD_PRELOAD, p11tool deadlocks at exit inside glibc's locale lock
# (p11-kit's destructor, not brokerkey code): p11tool checks run in the regular build only.
p11tool_usable() {
  if [ -n "${BROKERKEY_SANITIZER_PRELOAD:-}" ]; then
    echo "p11tool checks: regular build only (sanitizer preload)"
    return 1
  fi
}

# free_port ADDR: a TCP port free on ADDR now, for a test's own server.
free_port() {
  python3 -c 'import socket, sys; s=socket.socket(); s.bind((sys.argv[1], 0)); print(s.getsockname()[1])' "$1"
}

# sshd_base_config ADDR PORT HOST_KEY: the sshd settings every test sshd shares: one address,
# keys only, no PAM, bounded start-ups. The caller appends what its test is about.
sshd_base_config() {
  cat <<CONF
ListenAddress $1:$2
HostKey $3
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
# The test's files live under /tmp (mode 1777), which StrictModes refuses for any key file.
StrictModes no
PidFile none
LoginGraceTime 20
CONF
}

# --- Tests that run brokerkey-agent for accounts they make (as root) ---------------------------
AGENT=$(dirname "$BROKERKEY")/brokerkey-agent
AGENT_PID=
TEST_ACCOUNTS=()
TEST_GROUPS=()

# end_test: what every test leaves behind removed at exit: the agent it started (AGENT_PID),
# the accounts and groups it made (add_account, add_group), $WORK. A test with more to undo sets
# its own EXIT trap, which ends by calling end_test.
end_test() {
  if [ -n "$AGENT_PID" ]; then kill "$AGENT_PID" 2>/dev/null || true; wait "$AGENT_PID" 2>/dev/null || true; fi
  for u in "${TEST_ACCOUNTS[@]}"; do userdel -r "$u" >/dev/null 2>&1 || true; done
  for g in "${TEST_GROUPS[@]}"; do groupdel "$g" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}

# needs_root WHAT: the test fails here, saying so, unless it runs as root (CI runs it as root);
# WHAT names what it needs root for.
needs_root() {
  if [ "$(id -u)" -ne 0 ]; then echo "$(basename "$0" .sh) needs root ($1); CI runs it as root"; exit 1; fi
}

# add_group NAME; add_account NAME [USERADD OPTION...]: made now, removed at exit.
add_group() {
  groupadd "$1"
  TEST_GROUPS+=("$1")
}
add_account() {
  local name=$1
  shift
  useradd "$@" "$name"
  TEST_ACCOUNTS+=("$name")
}

# run_as USER HOME [NAME=VALUE...] COMMAND...: COMMAND as USER with its groups, with HOME
# and nothing of this shell's environment but PATH and the NAME=VALUEs given.
run_as() {
  local user=$1 home=$2
  shift 2
  setpriv --reuid="$user" --regid="$user" --init-groups env -i PATH=/usr/bin:/bin HOME="$home" "$@"
}

# start_agent SOCKET [OPTION...]: brokerkey-agent on SOCKET (and the broker BROKERKEY_CONF
# names) with OPTIONs, in the background as AGENT_PID, its stderr added to $WORK/agent.log;
# returns once SOCKET is there, or fails the test with the agent's log after 10 s.
start_agent() {
  local socket=$1
  shift
  "$AGENT" --socket "$socket" "$@" 2>>"$WORK/agent.log" &
  AGENT_PID=$!
  wait_for_socket "$socket"
}
# wait_for_socket SOCKET: as start_agent, for an agent started otherwise.
wait_for_socket() {
  for _ in $(seq 100); do [ -S "$1" ] && return; sleep 0.1; done
  fail "no agent socket $1 after 10 s: $(cat "$WORK/agent.log" 2>/dev/null)"
}
# stop_agent: the agent of start_agent stopped (SIGTERM), and waited for.
stop_agent() {
  kill "$AGENT_PID" && wait "$AGENT_PID" || true
  AGENT_PID=
}

finish() {
  echo "$checks passed, $failures failed"
  [ "$failures" -eq 0 ]
}
