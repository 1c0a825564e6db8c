#!/usr/bin/env bash
# Writes every brokerkey man page into OUTDIR (man1/ man5/ man7/ man8/, each page gzip -9n),
# each from one source so a page cannot drift from what it describes:
#  - a program's page is help2man's reading of the program's own --help and --version; the
#    include file man/PROGRAM.h2m adds only what --help does not say (NAME, FILES, SEE ALSO);
#  - the keytool gets brokerkey(1) and one brokerkey-COMMAND(1) per command in the command
#    table 'brokerkey --help' prints (NAME is the command's summary from that table);
#  - the configuration file's and the module's pages are the scdoc sources man/*.scd.
# Usage: generate.sh OUTDIR VERSION PROGRAM:SECTION...   (the keytool is the one named brokerkey)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$1 version=$2
shift 2
export LC_ALL=C.UTF-8  # help2man looks for the English "Usage:"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
manual="brokerkey Manual"
source_name="brokerkey $version"

keytool=
others=()
for entry in "$@"; do
  path=${entry%:*}
  if [ "$(basename "$path")" = brokerkey ]; then keytool=$path; else others+=("$entry"); fi
done
[ -n "$keytool" ] || { echo "generate.sh: no brokerkey program given" >&2; exit 2; }

# The command table: "  NAME  SUMMARY" lines after "Commands:" in the overview.
"$keytool" --help | sed -n '/^Commands:$/,/^$/p' | sed -nE 's/^  ([a-z-]+) +(.*)$/\1\t\2/p' > "$work/commands"
[ -s "$work/commands" ] || { echo "generate.sh: no command table in 'brokerkey --help'" >&2; exit 1; }

see_also() {  # see_also PAGE(SECTION)...: an include file with a SEE ALSO section
  local file=$work/see-also-$RANDOM
  echo "[SEE ALSO]" > "$file"
  local sep=,
  local n=$#
  for page in "$@"; do
    n=$((n - 1))
    [ "$n" -eq 0 ] && sep=
    echo ".BR ${page%(*} (${page#*(}$sep" >> "$file"
  done
  echo "$file"
}

all_pages=()
while IFS=$'\t' read -r command summary; do all_pages+=("brokerkey-$command(1)"); done < "$work/commands"
for entry in "${others[@]}"; do all_pages+=("$(basename "${entry%:*}")(${entry##*:})"); done
all_pages+=("brokerkey.conf(5)" "brokerkey-pkcs11(7)")

mkdir -p "$work/man1" "$work/man5" "$work/man7" "$work/man8"
h2m() { help2man --no-info --manual="$manual" --source="$source_name" "$@"; }

h2m --section=1 --include="$here/brokerkey.h2m" --include="$here/brokerkey-command.h2m" \
  --include="$(see_also "${all_pages[@]}")" --output="$work/man1/brokerkey.1" "$keytool"
while IFS=$'\t' read -r command summary; do
  h2m --section=1 --name="$summary" --help-option="$command --help" \
    --version-string="brokerkey-$command $version" --include="$here/brokerkey-command.h2m" \
    --include="$(see_also "brokerkey(1)" "brokerkey.conf(5)")" \
    --output="$work/man1/brokerkey-$command.1" "$keytool"
done < "$work/commands"

for entry in "${others[@]}"; do
  path=${entry%:*} section=${entry##*:} name=$(basename "${entry%:*}")
  include=()
  [ -f "$here/$name.h2m" ] && include=(--include="$here/$name.h2m")
  h2m --section="$section" "${include[@]}" --output="$work/man$section/$name.$section" "$path"
done

for source in "$here"/*.scd; do
  page=$(basename "$source" .scd)
  scdoc < "$source" > "$work/man${page##*.}/$page"
done

gzip -9n "$work"/man*/*
rm -rf "$out"
mkdir -p "$out"
for section in "$work"/man*; do
  if [ -n "$(ls "$section")" ]; then cp -r "$section" "$out"/; fi
done
