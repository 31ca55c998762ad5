#!/bin/sh
# Usage: make_wwctl_bundle.sh WWCTL_BINARY ARCH OUTPUT
# Writes OUTPUT (e.g. wwctl-linux-amd64): launcher.sh followed by a gzip'd tar holding
# bin/wwctl (stripped) and lib/ with every shared library `ldd` lists, the dynamic loader
# included, and nothing else. The tar is reproducible (sorted, owner 0, mtime 0), so the same
# binary gives the same sha256 and cache directory. ldd runs the binary's loader: build the
# bundle on the architecture it is for.
set -eu
binary=$1
arch=$2
output=$3
here=$(cd "$(dirname "$0")" && pwd)

staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging/root/bin" "$staging/root/lib"
strip -o "$staging/root/bin/wwctl" "$binary" 2>/dev/null || cp "$binary" "$staging/root/bin/wwctl"
chmod 0755 "$staging/root/bin/wwctl"

loader=
ldd "$binary" > "$staging/ldd.txt"
if grep -q "not found" "$staging/ldd.txt"; then
  echo "make_wwctl_bundle: ldd cannot find some libraries of $binary:" >&2
  grep "not found" "$staging/ldd.txt" >&2
  exit 1
fi
while read -r first arrow path rest; do
  case "$first" in
    linux-vdso.so.* | linux-gate.so.*) continue ;;
    /*) loader=$(basename "$first"); cp -L "$first" "$staging/root/lib/$loader" ;;
    *) [ "$arrow" = "=>" ] && cp -L "$path" "$staging/root/lib/$first" ;;
  esac
done < "$staging/ldd.txt"
[ -n "$loader" ] || { echo "make_wwctl_bundle: ldd names no dynamic loader for $binary" >&2; exit 1; }

tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 --sort=name \
  -C "$staging/root" -cf - bin lib | gzip -9n > "$staging/payload"
sha=$(sha256sum "$staging/payload" | cut -c1-64)

# The payload starts right after the launcher, whose length depends on the offset's digits.
offset=1
while :; do
  sed -e "s/@PAYLOAD_SHA256@/$sha/" -e "s/@PAYLOAD_OFFSET@/$offset/" -e "s/@LOADER@/$loader/" \
    -e "s/@ARCH@/$arch/" "$here/launcher.sh" > "$staging/launcher"
  next=$(($(wc -c < "$staging/launcher") + 1))
  [ "$next" = "$offset" ] && break
  offset=$next
done

cat "$staging/launcher" "$staging/payload" > "$staging/bundle"
chmod 0755 "$staging/bundle"
mkdir -p "$(dirname "$output")"
mv "$staging/bundle" "$output"
