# shellcheck shell=bash
# Shared by the packaging tests (sourced).

# Check lines: `ok: ...` and `FAIL: ...`; finish_checks ends the test, failing if one failed.
FAILURES=0
fail() { echo "FAIL: $*"; FAILURES=$((FAILURES + 1)); }
pass() { echo "ok: $*"; }
finish_checks() {
  if [ "$FAILURES" -gt 0 ]; then echo "$FAILURES failure(s)"; exit 1; fi
}

# skip_unless_release BUILD_DEBS_ARGS...: packages come from Release builds only, so a test
# in a Debug build directory is skipped (exit 77) with the reason.
skip_unless_release() {
  local previous=""
  for argument in "$@"; do
    if [ "$previous" = --build-type ] && [ "$argument" != Release ]; then
      echo "SKIP: this build directory is a \"$argument\" build; packages come from Release builds"
      exit 77
    fi
    previous=$argument
  done
}

# The pristine `debootstrap --variant=minbase bookworm` root is cached as
# /var/tmp/wirewarp-debootstrap-bookworm-minbase-ARCH.tar.gz, apt's downloads in
# /var/tmp/wirewarp-debootstrap-apt-archives-ARCH. The mirror is the first URIs: of
# /etc/apt/sources.list.d/debian.sources, and the root uses that file's suites too.
DEBIAN_SOURCES=/etc/apt/sources.list.d/debian.sources
ROOT_ARCH=$(dpkg --print-architecture)
ROOT_CACHE=/var/tmp/wirewarp-debootstrap-bookworm-minbase-$ROOT_ARCH.tar.gz
ROOT_ARCHIVES=/var/tmp/wirewarp-debootstrap-apt-archives-$ROOT_ARCH

# make_root ROOT SCRATCH: a fresh root at ROOT from the cache, made first if the cache is
# cold (saying so). SCRATCH is a directory for debootstrap's work and log.
make_root() {
  local root=$1 scratch=$2 mirror
  mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' "$DEBIAN_SOURCES" 2>/dev/null | head -n 1)
  mirror=${mirror:-http://deb.debian.org/debian}
  exec 9>"$ROOT_CACHE.lock"
  flock 9  # one maker at a time
  if [ ! -s "$ROOT_CACHE" ]; then
    echo "cache cold: no $ROOT_CACHE; running debootstrap --variant=minbase bookworm from $mirror (minutes)"
    if ! debootstrap --variant=minbase --arch="$ROOT_ARCH" bookworm "$scratch/pristine" "$mirror" \
         >"$scratch/debootstrap.log" 2>&1; then
      tail -n 30 "$scratch/debootstrap.log"
      echo "FAIL: debootstrap"
      return 1
    fi
    tar -C "$scratch/pristine" -czf "$ROOT_CACHE.partial" . && mv "$ROOT_CACHE.partial" "$ROOT_CACHE"
    rm -rf "$scratch/pristine"
  else
    echo "cache warm: $ROOT_CACHE"
  fi
  flock -u 9
  mkdir -p "$root"
  tar -C "$root" -xzf "$ROOT_CACHE"
  # apt in the root: the host's mirror and suites, its resolver, the cached downloads.
  rm -f "$root/etc/apt/sources.list"
  cp "$DEBIAN_SOURCES" "$root/etc/apt/sources.list.d/debian.sources"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mkdir -p "$ROOT_ARCHIVES"
  cp "$ROOT_ARCHIVES"/*.deb "$root/var/cache/apt/archives/" 2>/dev/null
  return 0
}

# in_root ROOT COMMAND...: COMMAND in the root with a clean environment.
in_root() {
  local root=$1
  shift
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 "$@"
}

# apt_install ROOT LOG PACKAGE...: apt-get install in the root (names, or .deb files copied
# from the host into the root's /root), with /proc mounted only meanwhile. Keeps the downloads.
apt_install() {
  local root=$1 log=$2 package code=0
  shift 2
  local packages=()
  for package in "$@"; do
    if [ -f "$package" ]; then
      cp "$package" "$root/root/"
      package=/root/$(basename "$package")
    fi
    packages+=("$package")
  done
  mount -t proc proc "$root/proc" || return 1
  if in_root "$root" apt-get update -qq >"$log" 2>&1 &&
     in_root "$root" DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
       "${packages[@]}" >>"$log" 2>&1; then
    cp "$root"/var/cache/apt/archives/*.deb "$ROOT_ARCHIVES/" 2>/dev/null
  else
    code=1
  fi
  umount "$root/proc" || umount -l "$root/proc"
  return $code
}

# remove_tree DIR: removes DIR unless something is still mounted under it.
remove_tree() {
  if grep -q " $1/" /proc/mounts; then
    echo "cleanup: mounts remain under $1; left in place"
  else
    rm -rf "$1"
  fi
}
