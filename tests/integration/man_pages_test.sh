# The generated man pages: one per keytool command and per program, each saying what the
# program's --help says (same options, same version), every vendor constant of the public
# header in brokerkey-pkcs11(7), every configuration field the parser accepts in
# brokerkey.conf(5), and no page with a groff or man warning.
# Usage: man_pages_test.sh BROKERKEY MODULE PAGES_DIR SOURCE_DIR
source "$(dirname "$0")/lib.sh"
PAGES=$3
SOURCE=$4
BIN=$(dirname "$BROKERKEY")
export MANWIDTH=200 LC_ALL=C.UTF-8
render() { man -l "$1" 2>/dev/null | col -b; }

VERSION=$("$BROKERKEY" --version | cut -d' ' -f2)
commands=$("$BROKERKEY" --help | sed -n '/^Commands:$/,/^$/s/^  \([a-z-]*\) .*/\1/p')
[ "$(wc -w <<<"$commands")" -ge 10 ] && pass || fail "no command table in brokerkey --help"
check_page() {  # check_page PAGE HELP_TEXT: the page has every option of the help text
  local page=$1 help=$2 text option
  [ -f "$page" ] || { fail "no page $page"; return; }
  text=$(render "$page")
  for option in $(grep -o -- '--[a-z][a-z0-9-]*' <<<"$help" | sort -u); do
    grep -qF -- "$option" <<<"$text" && pass || fail "$(basename "$page") lacks $option"
  done
  grep -qF "brokerkey $VERSION" <<<"$text" && pass || fail "$(basename "$page") does not carry version $VERSION"
}
check_page "$PAGES/man1/brokerkey.1.gz" "$("$BROKERKEY" --help)"
for command in $commands; do
  check_page "$PAGES/man1/brokerkey-$command.1.gz" "$("$BROKERKEY" "$command" --help)"
  zcat "$PAGES/man1/brokerkey.1.gz" | grep -qF ".BR brokerkey-$command (1" && pass ||
    fail "brokerkey(1) does not refer to brokerkey-$command(1)"
done
for program in brokerkey-ssh-keygen brokerkey-gpgsm; do
  check_page "$PAGES/man1/$program.1.gz" "$("$BIN/$program" --help)"
done
if [ -x "$BIN/brokerkey-agent" ]; then
  check_page "$PAGES/man8/brokerkey-agent.8.gz" "$("$BIN/brokerkey-agent" --help)"
fi

# The module's page names every constant of the public vendor header.
module_page=$(render "$PAGES/man7/brokerkey-pkcs11.7.gz")
constants=$(sed -nE 's/^#define (CK[A-Z]_BROKERKEY_[A-Z0-9_]+).*/\1/p' "$SOURCE/include/brokerkey/pkcs11-vendor.h")
[ -n "$constants" ] && pass || fail "no vendor constants found in the header"
for constant in $constants; do
  grep -qF "$constant" <<<"$module_page" && pass || fail "brokerkey-pkcs11(7) lacks $constant"
done

# The configuration page names every field the parser accepts (the lists given to finish()).
config_page=$(render "$PAGES/man5/brokerkey.conf.5.gz")
fields=$(tr '\n' ' ' < "$SOURCE/pkcs11-module/core/config.cpp" | grep -o 'finish({[^}]*})' | grep -o '"[a-z0-9_]*"' | tr -d '"' | sort -u)
[ "$(wc -w <<<"$fields")" -ge 10 ] && pass || fail "no configuration fields found in config.cpp"
for field in $fields; do
  grep -qw -- "$field" <<<"$config_page" && pass || fail "brokerkey.conf(5) lacks the field $field"
done

# Every page renders without a warning from man or groff.
for page in "$PAGES"/man*/*; do
  warnings=$(MANROFFSEQ='' man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
  [ -z "$warnings" ] && pass || fail "$(basename "$page"): $warnings"
done
finish
