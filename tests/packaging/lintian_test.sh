#!/bin/bash
# lintian over the three packages built from this build directory: no error or warning may
# remain (overrides ship in the packages, each with its reason). Informational tags are
# printed, not failed.
# Usage: lintian_test.sh BUILD_DEBS_ARGS... Exit 77 (skipped) without lintian.
set -u
SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
source "$SOURCE/tests/packaging/lib.sh"
skip_unless_release "$@"
if ! command -v lintian >/dev/null; then
  echo "SKIP: lintian is missing (make deps installs it)"
  exit 77
fi
WORK=$(mktemp -d /tmp/wirewarp-lintian.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
if ! bash "$SOURCE/packaging/build_debs.sh" "$@" --out "$WORK" >"$WORK/build.log" 2>&1; then
  cat "$WORK/build.log"
  echo "FAIL: build_debs.sh"
  exit 1
fi
# lintian refuses to run as root without this; it only reads the packages.
lintian --allow-root --display-info --fail-on error,warning "$WORK"/*.deb
code=$?
if [ "$code" != 0 ]; then echo "FAIL: lintian found errors or warnings (exit $code)"; exit 1; fi
echo "lintian: no errors or warnings in $(cd "$WORK" && echo *.deb)"
