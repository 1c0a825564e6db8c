# The Debian package as an administrator uses it, on this (throwaway) machine: build it with
# the documented command (lintian errors fail the build), install it with apt, then check
# --version, the man pages, the units (systemd-analyze verify), the service account, a
# signature through the installed module by a broker the service account made in its home,
# the installed agent run as the service account serving a consumer account (stock ssh-add and
# ssh-keygen), that nothing was enabled; remove it (the broker directory and the account stay), purge it,
# and leave the machine as it was. Run by tests/run.sh after every other suite, so no other
# test sees an installed brokerkey.   Usage: bash tests/integration/deb_test.sh   (as root)
set -euo pipefail
SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
TRIPLET=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
MODULE=/usr/lib/$TRIPLET/pkcs11/libbrokerkey-pkcs11.so
source "$SOURCE/tests/integration/lib.sh" /usr/bin/brokerkey "$MODULE"
export DEBIAN_FRONTEND=noninteractive
ACCOUNT=_brokerkey
HOME_DIR=/var/lib/brokerkey
BROKER=$HOME_DIR/broker   # where docs/PACKAGING.md puts the system broker

[ "$(id -u)" -eq 0 ] || { echo "deb_test.sh: run as root (it installs and purges a package)" >&2; exit 1; }
if dpkg-query -W -f='${Status}' brokerkey 2>/dev/null | grep -q "ok installed"; then
  echo "deb_test.sh: brokerkey is already installed here; this test installs and purges it" >&2
  exit 1
fi
if [ -e /etc/brokerkey ] || [ -e "$BROKER" ]; then
  echo "deb_test.sh: /etc/brokerkey or $BROKER exists here; this test makes a system broker there" >&2
  exit 1
fi
if grep -rqs 'path-exclude=*/usr/share/man' /etc/dpkg/dpkg.cfg.d/; then
  echo "deb_test.sh: dpkg excludes /usr/share/man on this machine (/etc/dpkg/dpkg.cfg.d): no man page could install" >&2
  exit 1
fi
# What this test creates it removes again, however it ends; an account or home that was
# here before stays.
had_account=$(getent passwd "$ACCOUNT" >/dev/null && echo yes || echo no)
had_home=$([ -e "$HOME_DIR" ] && echo yes || echo no)
CONSUMER=bkdeb$$ CONSUMER_GROUP=bkdebg$$
AGENT_PID=
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  userdel -r "$CONSUMER" >/dev/null 2>&1 || true
  groupdel "$CONSUMER_GROUP" >/dev/null 2>&1 || true
  dpkg-query -W brokerkey >/dev/null 2>&1 && dpkg --purge brokerkey >/dev/null 2>&1
  rm -rf "$BROKER" "$WORK" /etc/brokerkey
  [ "$had_home" = no ] && rm -rf "$HOME_DIR"
  [ "$had_account" = no ] && getent passwd "$ACCOUNT" >/dev/null && deluser --quiet --system "$ACCOUNT" >/dev/null 2>&1
  return 0
}
trap cleanup EXIT
as_account() { runuser -u "$ACCOUNT" -- env -i PATH=/usr/bin:/bin HOME="$HOME_DIR" "$@"; }

# Build: the one documented command.
expect 0 "packaging/build-deb.sh" -- bash "$SOURCE/packaging/build-deb.sh" "$SOURCE/build-deb"
DEB=$(tail -1 <<<"$OUT")
[ -f "$DEB" ] && pass || { fail "no package: $OUT"; finish; }
VERSION=$(dpkg-deb -f "$DEB" Version)
PROJECT_VERSION=$(sed -nE 's/^project\(brokerkey VERSION ([0-9.]+) .*/\1/p' "$SOURCE/CMakeLists.txt")
[ "$VERSION" = "$PROJECT_VERSION" ] && pass || fail "package version $VERSION, CMakeLists.txt $PROJECT_VERSION"
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
for dep in adduser libssl3 libp11-kit0 libboost-json1.81.0 libc6; do
  grep -q "$dep" <<<"$DEPENDS" && pass || fail "Depends lacks $dep: $DEPENDS"
done

# Install with apt, as an administrator does.
expect 0 "apt-get install ./brokerkey_*.deb" -- apt-get install -y -qq "$DEB"
[ "$(command -v brokerkey)" = /usr/bin/brokerkey ] && pass || fail "brokerkey is not /usr/bin/brokerkey"
programs=(brokerkey brokerkey-ssh-keygen brokerkey-gpgsm)
[ -e /usr/bin/brokerkey-agent ] && programs+=(brokerkey-agent)
for program in "${programs[@]}"; do
  expect 0 "$program --version" -- "/usr/bin/$program" --version
  [ "$OUT" = "$program $VERSION" ] && pass || fail "$program --version: $OUT"
done
[ -f "$MODULE" ] && pass || fail "no module at $MODULE"
[ -f /usr/include/brokerkey/pkcs11-vendor.h ] && pass || fail "no vendor header"
grep -qx "module: $MODULE" /usr/share/p11-kit/modules/brokerkey.module && pass || fail "p11-kit module file"

# Man pages where man finds them, and readable.
pages=(brokerkey brokerkey-init brokerkey-check brokerkey-ssh-keygen brokerkey-gpgsm "5 brokerkey.conf" "7 brokerkey-pkcs11")
[ -e /usr/bin/brokerkey-agent ] && pages+=("8 brokerkey-agent")
for page in "${pages[@]}"; do
  expect 0 "man -w $page" -- man -w $page
  [[ "$OUT" == /usr/share/man/man*/*.gz ]] && pass || fail "man -w $page: $OUT"
done
MANWIDTH=200 man brokerkey 2>/dev/null | grep -q "brokerkey - keeps one broker-wide Ed25519 signing key" && pass || fail "man brokerkey"

# Bash completion, from the program's own --help.
completion=$(bash -c 'source /usr/share/bash-completion/bash_completion
  source /usr/share/bash-completion/completions/brokerkey
  COMP_WORDS=(brokerkey cons); COMP_CWORD=1; COMP_LINE="brokerkey cons"; COMP_POINT=14
  _brokerkey; echo "${COMPREPLY[*]}"')
[ "$completion" = consumer ] && pass || fail "completion of 'brokerkey cons': $completion"

# The units as installed: systemd-analyze verify needs no running systemd.
units=(/lib/systemd/system/brokerkey-*)
[ "${#units[@]}" -ge 2 ] && pass || fail "units: ${units[*]}"
expect 0 "systemd-analyze verify" -- systemd-analyze verify "${units[@]}"
[ -z "$OUT" ] && pass || fail "systemd-analyze verify says: $OUT"
# Installed, not enabled, not started.
[ -z "$(find /etc/systemd/system -name 'brokerkey*' 2>/dev/null)" ] && pass || fail "a brokerkey unit was enabled"

# The service account: a system user and group, no login, a private home.
entry=$(getent passwd "$ACCOUNT") && pass || fail "no account $ACCOUNT"
IFS=: read -r _ _ uid gid _ home shell <<<"$entry"
[ "$uid" -lt 1000 ] && pass || fail "$ACCOUNT uid $uid is not a system uid"
[ "$(getent group "$ACCOUNT" | cut -d: -f3)" = "$gid" ] && pass || fail "no group $ACCOUNT as its primary group"
[ "$home" = "$HOME_DIR" ] && [ "$shell" = /usr/sbin/nologin ] && pass || fail "account home/shell: $entry"
[ "$(stat -c '%U %a' "$HOME_DIR")" = "$ACCOUNT 700" ] && pass || fail "home: $(stat -c '%U %a' "$HOME_DIR")"

# The system broker as docs/PACKAGING.md makes it: by the service account with the installed
# keytool, found through /etc/brokerkey/brokerkey.conf; a signature through the installed
# module, verified with OpenSSL against the exported public key.
expect 0 "brokerkey init as $ACCOUNT" -- as_account brokerkey init --dir "$BROKER" --service acme --purpose git-signing --env prod
install -d -m 0755 /etc/brokerkey
ln -s "$BROKER/brokerkey.conf" /etc/brokerkey/brokerkey.conf
expect 0 "mint" -- as_account brokerkey mint
expect 0 "consumer add" -- as_account brokerkey consumer add ci
CI_PIN=$(grep -o 'ci:[a-z0-9]*' <<<"$OUT")
expect 0 "fingerprint --check through the installed module" -- as_account brokerkey fingerprint --check
contains "ok  current  acme-git-signing-ed25519-prod" "the installed keytool found the installed module"
as_account brokerkey pubkey --format pem > "$WORK/key.pem"
chmod 755 "$WORK"
install -d -o "$ACCOUNT" -m 700 "$WORK/signer"
echo "signed through the installed package" > "$WORK/message"
chmod 644 "$WORK/message"
expect 0 "pkcs11-tool --sign through $MODULE" -- as_account pkcs11-tool --module "$MODULE" --login --pin "$CI_PIN" \
  --sign --mechanism EDDSA -i "$WORK/message" -o "$WORK/signer/message.sig"
expect 0 "the signature verifies" -- openssl pkeyutl -verify -pubin -inkey "$WORK/key.pem" -rawin \
  -in "$WORK/message" -sigfile "$WORK/signer/message.sig"
expect 0 "C_GetInfo through the installed module" -- as_account pkcs11-tool --module "$MODULE" --show-info
grep -Eq "^Library +brokerkey .*\(ver ${VERSION%.*}\)$" <<<"$OUT" && pass || fail "libraryVersion: $OUT"
exec_start=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/brokerkey-check.service)
conf=$(sed -n 's/^Environment=//p' /lib/systemd/system/brokerkey-check.service)
expect 0 "the check unit's command as $ACCOUNT" -- as_account env "$conf" $exec_start
contains "healthy" "check output"

# The installed agent, run as the service account (the service unit's User= and command; no
# systemd here to start it), serves a consumer account that cannot read the broker: stock
# ssh-add and ssh-keygen through its socket, the signing log naming the consumer.
groupadd "$CONSUMER_GROUP"
useradd -m -d "$WORK/home-$CONSUMER" -G "$CONSUMER_GROUP" "$CONSUMER"
expect 0 "consumer add --user (as $ACCOUNT)" -- as_account brokerkey consumer add deb --user "$CONSUMER"
install -d -o "$ACCOUNT" -g "$CONSUMER_GROUP" -m 0750 "$WORK/run"
SOCKET=$WORK/run/agent.sock
setpriv --reuid="$ACCOUNT" --regid="$ACCOUNT" --init-groups env -i PATH=/usr/bin:/bin HOME="$HOME_DIR" \
  /usr/bin/brokerkey-agent --socket "$SOCKET" 2>"$WORK/agent.log" &
AGENT_PID=$!
for _ in $(seq 100); do [ -S "$SOCKET" ] && break; sleep 0.1; done
chgrp "$CONSUMER_GROUP" "$SOCKET"
as_consumer() {
  setpriv --reuid="$CONSUMER" --regid="$CONSUMER" --init-groups \
    env -i PATH=/usr/bin:/bin HOME="$WORK/home-$CONSUMER" SSH_AUTH_SOCK="$SOCKET" "$@"
}
expect 2 "the consumer cannot read the broker" -- as_consumer ls "$BROKER"
expect 0 "ssh-add -L through the installed agent" -- as_consumer ssh-add -L
contains "acme-git-signing-ed25519-prod" "the agent lists the broker key"
as_consumer sh -c 'ssh-add -L > "$HOME/key.pub"; echo release > "$HOME/msg"'
expect 0 "stock ssh-keygen -Y sign through the installed agent" -- \
  as_consumer ssh-keygen -Y sign -n git -f "$WORK/home-$CONSUMER/key.pub" "$WORK/home-$CONSUMER/msg"
as_account brokerkey allowed-signers --principal ci@acme.example > "$WORK/allowed_signers"
expect 0 "the signature verifies" -- ssh-keygen -Y verify -f "$WORK/allowed_signers" -I ci@acme.example -n git \
  -s "$WORK/home-$CONSUMER/msg.sig" < "$WORK/home-$CONSUMER/msg"
grep -q '"consumer":"deb","uid":'"$(id -u "$CONSUMER")" "$BROKER/signing-log.jsonl" && pass || fail "the signing log does not name the consumer"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" && pass || fail "the agent did not exit 0 on SIGTERM: $(cat "$WORK/agent.log")"
AGENT_PID=

# Removal leaves the broker and the account; purge too (Debian never removes a system account).
# apt-get removes; a package installed from a file is purged by dpkg (apt no longer knows it).
snapshot() { (cd "$BROKER" && find . -type f -exec sha256sum {} + | sort); }
before=$(snapshot)
expect 0 "apt-get remove brokerkey" -- apt-get remove -y -qq brokerkey
[ ! -e /usr/bin/brokerkey ] && [ ! -e "$MODULE" ] && pass || fail "remove left programs behind"
[ "$(snapshot)" = "$before" ] && pass || fail "removal changed the broker directory"
getent passwd "$ACCOUNT" >/dev/null && pass || fail "removal deleted the account"
expect 0 "dpkg --purge brokerkey" -- dpkg --purge brokerkey
dpkg-query -W brokerkey >/dev/null 2>&1 && fail "dpkg still knows brokerkey after purge" || pass
[ "$(snapshot)" = "$before" ] && pass || fail "purge changed the broker directory"
getent passwd "$ACCOUNT" >/dev/null && pass || fail "purge deleted the account"
finish
