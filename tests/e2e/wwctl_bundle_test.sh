#!/usr/bin/env bash
# The wwctl bundle (scripts/bundle) runs where none of our libraries, nor any glibc, exist: a
# chroot holding only the bundle, a statically linked busybox (sh, tail, gzip, tar, ...) and
# /dev/null. It unpacks into the right cache directory (XDG_CACHE_HOME, HOME, or
# /tmp/wirewarp-UID without HOME or for a user whose HOME is not writable), passes exit codes,
# stdin and stdout through, survives concurrent first runs, refuses a cache directory another
# user owns and a truncated file.
# Root (chroot, mknod); no network. Usage: wwctl_bundle_test.sh BUILD_DIR
set -uo pipefail
BUILD=$(realpath "$1")
SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: chroot and mknod need root"
  exit 77
fi
BUSYBOX=/bin/busybox
if [ ! -x "$BUSYBOX" ] || ldd "$BUSYBOX" >/dev/null 2>&1; then
  echo "FAIL - $BUSYBOX is missing or not statically linked (make deps installs busybox-static)"
  exit 1
fi
BUNDLE=$(ls "$BUILD"/artifacts/wwctl-linux-* 2>/dev/null | grep -v '\.sha256$' | head -1)
if [ -z "$BUNDLE" ]; then
  echo "FAIL - no $BUILD/artifacts/wwctl-linux-* (cmake --build $BUILD --target wwctl-bundle)"
  exit 1
fi
NAME=$(basename "$BUNDLE")
WORK=$(mktemp -d /tmp/ww-bundle.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
failures=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; failures=$((failures + 1)); }

# The payload holds bin/wwctl and exactly the libraries ldd lists, the loader included.
offset=$(sed -n 's/^payload_offset=//p' "$BUNDLE" | head -1)
tail -c +"$offset" "$BUNDLE" | gzip -dc | tar -tf - | grep -v '/$' | sort > "$WORK/contents"
{ echo bin/wwctl; ldd "$BUILD/cli/wwctl" | awk '$1 !~ /^linux-vdso/ { n = split($1, p, "/"); print "lib/" p[n] }'; } \
  | sort > "$WORK/expected"
diff -u "$WORK/expected" "$WORK/contents" > "$WORK/contents.diff" && ok "the payload is bin/wwctl and the $(grep -c ^lib/ "$WORK/expected") files ldd lists" \
  || bad "payload contents: $(cat "$WORK/contents.diff")"

ROOTFS=$WORK/root
mkdir -p "$ROOTFS/bin" "$ROOTFS/dev" "$ROOTFS/tmp" "$ROOTFS/home/ci"
chmod 1777 "$ROOTFS/tmp"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
chroot "$ROOTFS" /bin/busybox --install -s /bin
mknod -m 0666 "$ROOTFS/dev/null" c 1 3
cp "$BUNDLE" "$ROOTFS/$NAME"
cp -r "$SOURCE/examples/homelab" "$ROOTFS/fleet"
cp "$SOURCE/examples/invalid/peer-addresses.yaml" "$ROOTFS/invalid.yaml"
for dir in usr lib lib64 etc; do
  [ -e "$ROOTFS/$dir" ] && bad "the root has /$dir"
done
ok "the root has only /bin/busybox and its links, /dev/null, the bundle and the fleet files"

# Runs the bundle with WWCTL_ARGS in the root, in a clean environment plus "$@" (NAME=VALUE).
CHROOT=$(command -v chroot)
run() { env -i PATH=/bin "$@" "$CHROOT" "$ROOTFS" "/$NAME" "${WWCTL_ARGS[@]}"; }

WWCTL_ARGS=(version --client)
out=$(run 2>"$WORK/err"); code=$?
expected=$("$BUILD/cli/wwctl" version --client)
[ "$code" = 0 ] && [ "$out" = "$expected" ] && ok "version --client, HOME unset: \"$out\"" \
  || bad "version --client: exit $code, out \"$out\", err $(cat "$WORK/err")"
ls -d "$ROOTFS"/tmp/wirewarp-0/wwctl-* >/dev/null 2>&1 && ok "without HOME it unpacked into /tmp/wirewarp-0" \
  || bad "nothing in /tmp/wirewarp-0: $(ls -la "$ROOTFS/tmp")"
[ "$(stat -c %a "$ROOTFS/tmp/wirewarp-0")" = 700 ] && ok "/tmp/wirewarp-0 is 0700" || bad "/tmp/wirewarp-0 mode $(stat -c %a "$ROOTFS/tmp/wirewarp-0")"

WWCTL_ARGS=(validate -f /fleet)
run >"$WORK/out" 2>&1; code=$?
[ "$code" = 0 ] && ok "validate -f examples/homelab: exit 0" || bad "validate homelab: exit $code: $(cat "$WORK/out")"

WWCTL_ARGS=(validate -f -)
run < "$ROOTFS/invalid.yaml" >"$WORK/out" 2>&1; code=$?
[ "$code" = 1 ] && grep -q "spec.address" "$WORK/out" && ok "validate -f - (stdin): exit 1 with the finding" \
  || bad "validate stdin: exit $code: $(cat "$WORK/out")"

WWCTL_ARGS=(version --client)
run HOME=/home/ci >/dev/null 2>"$WORK/err" && ls -d "$ROOTFS"/home/ci/.cache/wirewarp/wwctl-* >/dev/null 2>&1 \
  && ok "with HOME it unpacks into \$HOME/.cache/wirewarp" || bad "HOME: $(cat "$WORK/err")"
run HOME=/home/ci XDG_CACHE_HOME=/xdg >/dev/null 2>"$WORK/err" && ls -d "$ROOTFS"/xdg/wirewarp/wwctl-* >/dev/null 2>&1 \
  && ok "with XDG_CACHE_HOME it unpacks into \$XDG_CACHE_HOME/wirewarp" || bad "XDG_CACHE_HOME: $(cat "$WORK/err")"

# Another user whose HOME cannot be written falls back to /tmp/wirewarp-UID.
out=$(env -i PATH=/bin HOME=/nonexistent "$CHROOT" --userspec=65534:65534 "$ROOTFS" "/$NAME" version --client 2>"$WORK/err")
[ "$out" = "$expected" ] && [ "$(stat -c %u "$ROOTFS/tmp/wirewarp-65534")" = 65534 ] \
  && ok "uid 65534 with HOME=/nonexistent: unpacks into its own /tmp/wirewarp-65534" || bad "uid 65534: $out $(cat "$WORK/err")"

# Eight first runs at once: all work, one copy stays, no temporary directory is left.
rm -rf "$ROOTFS/tmp/wirewarp-0"
pids=()
for i in 1 2 3 4 5 6 7 8; do run >"$WORK/race$i" 2>&1 & pids+=($!); done
codes=''
for pid in "${pids[@]}"; do wait "$pid"; codes="$codes$?"; done
copies=$(ls -A "$ROOTFS/tmp/wirewarp-0" | wc -l)
[ "$codes" = 00000000 ] && [ "$copies" = 1 ] && ok "8 concurrent first runs: all exit 0, one copy, nothing left over" \
  || bad "concurrent runs: exit codes $codes, cache holds $(ls -A "$ROOTFS/tmp/wirewarp-0"); $(cat "$WORK"/race*)"

# A cache directory another user made first is not used.
rm -rf "$ROOTFS/tmp/wirewarp-0"
mkdir "$ROOTFS/tmp/wirewarp-0" && chown 65534:65534 "$ROOTFS/tmp/wirewarp-0"
run >/dev/null 2>"$WORK/err"; code=$?
[ "$code" = 126 ] && grep -q "cannot use /tmp/wirewarp-0" "$WORK/err" && ok "refuses /tmp/wirewarp-0 owned by another user (exit 126)" \
  || bad "foreign cache: exit $code: $(cat "$WORK/err")"
rm -rf "$ROOTFS/tmp/wirewarp-0"

# A truncated download says so and leaves nothing behind.
head -c $((offset + 100000)) "$BUNDLE" > "$ROOTFS/truncated"
chmod 0755 "$ROOTFS/truncated"
env -i PATH=/bin "$CHROOT" "$ROOTFS" /truncated version --client >/dev/null 2>"$WORK/err"; code=$?
leftovers=$(ls -A "$ROOTFS/tmp/wirewarp-0" 2>/dev/null)
[ "$code" = 126 ] && grep -q "truncated" "$WORK/err" && [ -z "$leftovers" ] && ok "a truncated bundle: exit 126, nothing left in the cache" \
  || bad "truncated: exit $code, left \"$leftovers\": $(cat "$WORK/err")"

echo "bundle: $(stat -c %s "$BUNDLE") bytes"
[ "$failures" = 0 ] || { echo "$failures check(s) failed"; exit 1; }
