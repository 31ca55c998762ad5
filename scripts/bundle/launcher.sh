#!/bin/sh
# wwctl for Linux @ARCH@ with every library it needs, glibc's loader included, so it runs on
# any runner whatever its own libraries are. A gzip'd tar of bin/wwctl and lib/ follows this
# script: the first run unpacks it into a per-user cache named by the tar's sha256 (into a
# temporary directory, then one rename, so concurrent first runs are safe); later runs exec at
# once. Needs only sh, tail, gzip, tar, mkdir, mv, rm and id.
set -u
payload_sha256=@PAYLOAD_SHA256@
payload_offset=@PAYLOAD_OFFSET@
loader=@LOADER@

fail() {
  echo "wwctl bundle: $*" >&2
  exit 126
}

# A usable cache directory is one we own (a directory another user made in /tmp could hold
# their programs).
usable() {
  mkdir -p "$1" 2>/dev/null && [ -d "$1" ] && [ ! -L "$1" ] && [ -O "$1" ] && [ -w "$1" ]
}

umask 077
cache=
if [ -n "${XDG_CACHE_HOME:-}" ]; then
  cache=$XDG_CACHE_HOME/wirewarp
elif [ -n "${HOME:-}" ] && [ "$HOME" != / ]; then
  cache=$HOME/.cache/wirewarp
fi
if [ -z "$cache" ] || ! usable "$cache"; then
  cache=/tmp/wirewarp-$(id -u)
  usable "$cache" || fail "cannot use $cache as a cache directory (it must be ours and writable)"
fi

dir=$cache/wwctl-$payload_sha256
if [ ! -x "$dir/bin/wwctl" ] || [ ! -f "$dir/lib/$loader" ]; then
  # A copy with files missing (a cache cleaner) is replaced.
  [ -d "$dir" ] && rm -rf "$dir"
  tmp=$cache/.wwctl-$payload_sha256.$$
  rm -rf "$tmp"
  mkdir "$tmp" || fail "cannot create $tmp"
  tail -c +"$payload_offset" "$0" | gzip -dc | tar -xf - -C "$tmp"
  if [ ! -x "$tmp/bin/wwctl" ] || [ ! -f "$tmp/lib/$loader" ]; then
    rm -rf "$tmp"
    fail "cannot unpack $0 (truncated download?) into $cache"
  fi
  [ -d "$dir" ] || mv "$tmp" "$dir" 2>/dev/null
  # Lost a race: another run renamed its copy first (and mv may have put ours inside it).
  rm -rf "$tmp" "$dir/.wwctl-$payload_sha256.$$"
  [ -x "$dir/bin/wwctl" ] || fail "cannot move the unpacked copy to $dir"
fi
exec "$dir/lib/$loader" --argv0 wwctl --library-path "$dir/lib" "$dir/bin/wwctl" "$@"
exit 126
