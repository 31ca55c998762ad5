#!/bin/bash
# The Debian packages install on a fresh Debian bookworm: builds them (packaging/build_debs.sh),
# unpacks a pristine `debootstrap --variant=minbase bookworm` root, installs the three .debs
# with apt resolving their dependencies from the mirror, and checks inside the root: each
# binary's --version, the reconciler's user, conffile and enabled unit, the agent's enabled
# unit. /proc is mounted in the root only while apt runs; it is unmounted (and the root
# removed) on every exit.
#
# The pristine root is cached as /var/tmp/wirewarp-debootstrap-bookworm-minbase-ARCH.tar.gz
# (the output says when the cache was cold and debootstrap ran), the downloaded .debs in
# /var/tmp/wirewarp-debootstrap-apt-archives-ARCH. The mirror is the first URIs: of
# /etc/apt/sources.list.d/debian.sources, and the root uses that file's suites too.
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
ARCH=$(dpkg --print-architecture)
SOURCES=/etc/apt/sources.list.d/debian.sources
MIRROR=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$SOURCES" 2>/dev/null | head -n 1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
CACHE=/var/tmp/wirewarp-debootstrap-bookworm-minbase-$ARCH.tar.gz
ARCHIVES=/var/tmp/wirewarp-debootstrap-apt-archives-$ARCH
WORK=$(mktemp -d /var/tmp/wirewarp-install.XXXXXX)
ROOT=$WORK/root

cleanup() {
  if mountpoint -q "$ROOT/proc" 2>/dev/null; then umount "$ROOT/proc" || umount -l "$ROOT/proc"; fi
  # Never remove a tree that still has something mounted in it.
  if grep -q " $WORK/" /proc/mounts; then
    echo "cleanup: mounts remain under $WORK; left in place"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
FAILURES=0
fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"; }

# The packages, from this build.
if ! bash "$SOURCE/packaging/build_debs.sh" "$@" --out "$WORK/debs" >"$WORK/build.log" 2>&1; then
  cat "$WORK/build.log"
  echo "FAIL: build_debs.sh"
  exit 1
fi
VERSION=$(dpkg-deb --field "$WORK/debs"/wwctl_*.deb Version)
pass "built $(cd "$WORK/debs" && echo *.deb)"

# The pristine root: from the cache, or made now (one maker at a time).
exec 9>"$CACHE.lock"
flock 9
if [ ! -s "$CACHE" ]; then
  echo "cache cold: no $CACHE; running debootstrap --variant=minbase bookworm from $MIRROR (minutes)"
  if ! debootstrap --variant=minbase --arch="$ARCH" bookworm "$WORK/pristine" "$MIRROR" >"$WORK/debootstrap.log" 2>&1; then
    tail -n 30 "$WORK/debootstrap.log"
    echo "FAIL: debootstrap"
    exit 1
  fi
  tar -C "$WORK/pristine" -czf "$CACHE.partial" . && mv "$CACHE.partial" "$CACHE"
  rm -rf "$WORK/pristine"
else
  echo "cache warm: $CACHE"
fi
flock -u 9
mkdir -p "$ROOT"
tar -C "$ROOT" -xzf "$CACHE"

# apt in the root: the host's mirror and suites, its resolver, the cached downloads.
rm -f "$ROOT/etc/apt/sources.list"
cp "$SOURCES" "$ROOT/etc/apt/sources.list.d/debian.sources"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mkdir -p "$ARCHIVES"
cp "$ARCHIVES"/*.deb "$ROOT/var/cache/apt/archives/" 2>/dev/null
cp "$WORK/debs"/*.deb "$ROOT/tmp/"
PACKAGES=()
for deb in "$WORK/debs"/*.deb; do PACKAGES+=("/tmp/$(basename "$deb")"); done
mount -t proc proc "$ROOT/proc"
if in_root apt-get update -qq >"$WORK/apt.log" 2>&1 &&
   in_root DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" \
     >>"$WORK/apt.log" 2>&1; then
  pass "apt-get install ${PACKAGES[*]} in a fresh minbase bookworm root"
  cp "$ROOT"/var/cache/apt/archives/*.deb "$ARCHIVES/" 2>/dev/null
  umount "$ROOT/proc"
else
  tail -n 40 "$WORK/apt.log"
  echo "FAIL: apt-get install of the packages"
  exit 1
fi

check_output() {  # NAME EXPECTED COMMAND...
  local name=$1 expected=$2 output
  shift 2
  output=$(in_root "$@" 2>&1)
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
  if in_root sh -c "command -v $tool" >/dev/null; then pass "the agent's dependency $tool is installed"; else fail "$tool missing"; fi
done

if [ "$FAILURES" -gt 0 ]; then echo "$FAILURES failure(s)"; exit 1; fi
echo "all install checks passed"
