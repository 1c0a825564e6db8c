# Shared helpers for the shell integration tests. Each test gets a fresh temporary directory
# with a real broker on a real SoftHSM token, made by the real keytool.
set -euo pipefail
BROKERKEY=$1
MODULE=$2
SOFTHSM=/usr/lib/softhsm/libsofthsm2.so
WORK=$(mktemp -d "${TMPDIR:-/tmp}/brokerkey-shell-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
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

# Under the sanitizer build's LD_PRELOAD, p11tool deadlocks at exit inside glibc's locale lock
# (p11-kit's destructor, not brokerkey code): p11tool checks run in the regular build only.
p11tool_usable() {
  if [ -n "${BROKERKEY_SANITIZER_PRELOAD:-}" ]; then
    echo "p11tool checks: regular build only (sanitizer preload)"
    return 1
  fi
}

finish() {
  echo "$checks passed, $failures failed"
  [ "$failures" -eq 0 ]
}
