# The module exports the PKCS#11 entry points and nothing else.
source "$(dirname "$0")/lib.sh"

symbols=$(nm -D --defined-only "$MODULE" | awk '{print $3}')
others=$(grep -v '^C_' <<<"$symbols" || true)
[ -z "$others" ] && pass || fail "exports more than C_*: $others"
for required in C_GetFunctionList C_Initialize C_Sign C_GetAttributeValue; do
  grep -qx "$required" <<<"$symbols" && pass || fail "does not export $required"
done
count=$(grep -c '^C_' <<<"$symbols")
[ "$count" -eq 68 ] && pass || fail "exports $count C_ functions, expected the 68 of PKCS#11 2.40"
# No OpenSSL, Boost or libstdc++ symbols leak into the host process.
nm -D --defined-only "$MODULE" | grep -qiE 'ssl|boost|_ZN' && fail "library internals exported" || pass
finish
