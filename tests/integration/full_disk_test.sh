# A full disk while the ledger or the signing log is appended to: the command or C_Sign fails
# with its reason, the file keeps every earlier record byte for byte, and its chain verifies.
# The disk is "full" at the file's current size: the file-size limit (prlimit --fsize) with
# SIGXFSZ ignored, so write() fails with EFBIG just as it would with ENOSPC.
source "$(dirname "$0")/lib.sh"
new_broker "$WORK/broker"
B=$WORK/broker
full_at() {
  local size=$1
  shift
  ( trap '' XFSZ && exec prlimit --fsize="$size" "$@" )
}
digest() { sha256sum < "$1"; }

# The ledger.
before=$(digest "$B/ledger.jsonl")
expect 1 "consumer add on a full disk" -- full_at "$(stat -c %s "$B/ledger.jsonl")" "$BROKERKEY" consumer add disk
contains "cannot append to $B/ledger.jsonl" "the reason names the file"
one_line "full-disk message"
[ "$(digest "$B/ledger.jsonl")" = "$before" ] && pass || fail "the ledger changed"
expect 0 "the ledger chain verifies" -- "$BROKERKEY" audit verify
expect 0 "consumer list" -- "$BROKERKEY" consumer list
if grep -q "^disk" <<<"$OUT"; then fail "the refused consumer was added"; else pass; fi
expect 0 "with room again, the same command works" -- "$BROKERKEY" consumer add disk

# The signing log: no record, no signature.
printf 'payload\n' > "$WORK/msg"
sign() {
  "$@" pkcs11-tool --module "$MODULE" --login --pin "$PIN" --sign --mechanism EDDSA -i "$WORK/msg" -o "$WORK/sig"
}
expect 0 "a signature with room" -- sign
before=$(digest "$B/signing-log.jsonl")
rm -f "$WORK/sig"
# The limit is set once the module is initialised (it copies its backend module into memory at
# C_Initialize, which a file-size limit also stops): pkcs11-tool opens its input, a FIFO, only
# when it signs, so it waits there while prlimit lowers its limit.
full_sign() {
  local size=$1 pid status
  rm -f "$WORK/fifo"
  mkfifo "$WORK/fifo"
  ( trap '' XFSZ && exec pkcs11-tool --module "$MODULE" --login --pin "$PIN" --sign --mechanism EDDSA \
      -i "$WORK/fifo" -o "$WORK/sig" ) &
  pid=$!
  # Once the backend's in-memory copy is mapped, it is complete.
  for _ in $(seq 300); do
    grep -q "memfd:libsofthsm2" "/proc/$pid/maps" 2>/dev/null && break
    sleep 0.1
  done
  prlimit --pid "$pid" --fsize="$size"
  printf 'payload\n' > "$WORK/fifo"
  wait "$pid"
}
expect 1 "C_Sign with a full signing log" -- full_sign "$(stat -c %s "$B/signing-log.jsonl")"
contains "failed: rv = CKR_DEVICE_MEMORY" "the module says the token is out of space"
[ "$(digest "$B/signing-log.jsonl")" = "$before" ] && pass || fail "the signing log changed"
if [ -s "$WORK/sig" ]; then fail "a signature was released without its log record"; else pass; fi
expect 0 "both chains verify" -- "$BROKERKEY" audit verify
expect 0 "with room again, signing works" -- sign
finish
