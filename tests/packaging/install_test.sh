#!/bin/bash
# The Debian packages install on a fresh Debian bookworm: builds them (packaging/build_debs.sh),
# unpacks a pristine `debootstrap --variant=minbase bookworm` root (cached, see lib.sh; the
# output says when the cache was cold), installs the three .debs with apt resolving their
# dependencies from the mirror, and checks inside the root: each binary's --version, the
# reconciler's user, conffile and enabled unit, the agent's enabled unit and the tools it
# runs. /proc is mounted in the root only while apt runs, and unmounted on every exit.
#
# Usage: install_test.sh BUILD_DIR BUILD_DEBS_ARGS... Exit 77 (skipped) when not root or
# debootstrap is missing.
set -u
BUILD=$(cd "$1" && pwd)
shift
SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
source "$SOURCE/tests/packaging/lib.sh"
skip_unless_release "$@"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (debootstrap, chroot, mounting /proc in the root)"
  exit 77
fi
if ! command -v debootstrap >/dev/null; then
  echo "SKIP: debootstrap is missing (make deps installs it)"
  exit 77
fi
WORK=$(mktemp -d /var/tmp/wirewarp-install.XXXXXX)
ROOT=$WORK/root
cleanup() {
  if mountpoint -q "$ROOT/proc" 2>/dev/null; then umount "$ROOT/proc" || umount -l "$ROOT/proc"; fi
  remove_tree "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The packages, from this build.
if ! bash "$SOURCE/packaging/build_debs.sh" "$@" --out "$WORK/debs" >"$WORK/build.log" 2>&1; then
  cat "$WORK/build.log"
  echo "FAIL: build_debs.sh"
  exit 1
fi
VERSION=$(dpkg-deb --field "$WORK/debs"/wwctl_*.deb Version)
pass "built $(cd "$WORK/debs" && echo *.deb)"

make_root "$ROOT" "$WORK" || exit 1
if apt_install "$ROOT" "$WORK/apt.log" "$WORK/debs"/*.deb; then
  pass "apt-get install of $(cd "$WORK/debs" && echo *.deb) in a fresh minbase bookworm root"
else
  tail -n 40 "$WORK/apt.log"
  echo "FAIL: apt-get install of the packages"
  exit 1
fi

check_output() {  # NAME EXPECTED COMMAND...
  local name=$1 expected=$2 output
  shift 2
  output=$(in_root "$ROOT" "$@" 2>&1)
  if [ "$output" = "$expected" ]; then pass "$name: $output"; else fail "$name: expected \"$expected\", got \"$output\""; fi
}
WIRE_FORMAT=$("$BUILD/agent/wirewarp-agent" --version | sed -n 's/.*(wire format \([0-9]*\))/\1/p')
check_output "wirewarp-reconciler --version" "$VERSION" wirewarp-reconciler --version
check_output "wirewarp-agent --version" "wirewarp-agent $VERSION (wire format $WIRE_FORMAT)" wirewarp-agent --version
check_output "wwctl --version" "wwctl $VERSION (wire format $WIRE_FORMAT)" wwctl --version
check_output "the reconciler's user" "wirewarp-reconciler:/var/lib/wirewarp-reconciler:/usr/sbin/nologin" \
  sh -c 'getent passwd wirewarp-reconciler | cut -d: -f1,6,7'
check_output "the conffile" "/etc/wirewarp/reconciler.yaml" \
  sh -c "dpkg-query -W -f='\${Conffiles}' wirewarp-reconciler | awk '{print \$1}'"
for unit in wirewarp-reconciler wirewarp-agent; do
  if [ -L "$ROOT/etc/systemd/system/multi-user.target.wants/$unit.service" ] &&
     [ -f "$ROOT/lib/systemd/system/$unit.service" ]; then
    pass "$unit.service installed and enabled"
  else
    fail "$unit.service is not installed and enabled"
  fi
done
for tool in wg ip iptables-restore sysctl; do
  if in_root "$ROOT" sh -c "command -v $tool" >/dev/null; then pass "the agent's dependency $tool is installed"; else fail "$tool missing"; fi
done

finish_checks
echo "all install checks passed"
