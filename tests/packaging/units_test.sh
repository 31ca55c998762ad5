#!/bin/bash
# The systemd units and the reconciler's packaged flag file (packaging/):
# - `systemd-analyze verify` accepts both units (ExecStart pointed at the built binaries);
# - `systemd-analyze security --offline=true` rates each "OK" or better, and prints the score;
# - the reconciler starts with packaging/reconciler.yaml, and a flag file with an unknown name
#   stops it with exit 2 and FILE:LINE.
# Usage: units_test.sh BUILD_DIR. Exit 77 (skipped) without systemd-analyze.
set -u
BUILD=$(cd "$1" && pwd)
SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=lib.sh
source "$SOURCE/tests/packaging/lib.sh"
RECONCILER=$BUILD/reconciler/daemon/wirewarp-reconciler
AGENT=$BUILD/agent/wirewarp-agent
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: systemd-analyze is missing (Debian package systemd)"
  exit 77
fi
WORK=$(mktemp -d /tmp/wirewarp-units.XXXXXX)
DAEMON=""
cleanup() {
  if [ -n "$DAEMON" ]; then kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# verify: the units as packaged, except where the binaries are. Documentation=man:... must
# name a page the package installs.
mkdir -p "$WORK/man/man8"
cp "$SOURCE"/packaging/man/*.8 "$WORK/man/man8/"
sed "s|/usr/bin/wirewarp-reconciler|$RECONCILER|" "$SOURCE/packaging/systemd/wirewarp-reconciler.service" \
  > "$WORK/wirewarp-reconciler.service"
sed "s|/usr/bin/wirewarp-agent|$AGENT|" "$SOURCE/packaging/systemd/wirewarp-agent.service" \
  > "$WORK/wirewarp-agent.service"
for unit in wirewarp-reconciler wirewarp-agent; do
  if output=$(cd "$WORK" && MANPATH=$WORK/man systemd-analyze verify "$WORK/$unit.service" 2>&1) && [ -z "$output" ]; then
    pass "systemd-analyze verify $unit.service"
  else
    fail "verify $unit.service: $output"
  fi
  security=$(systemd-analyze security --offline=true --no-pager "$SOURCE/packaging/systemd/$unit.service" 2>&1 | tail -n 1)
  # "→ Overall exposure level for wirewarp-agent.service: 2.4 OK 🙂"
  score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p' <<<"$security")
  case "$score" in
    *" SAFE" | *" OK") pass "systemd-analyze security $unit.service: exposure $score" ;;
    *) fail "systemd-analyze security $unit.service: expected OK or SAFE, got: $security" ;;
  esac
done

# The packaged flag file: every name in it is one the reconciler knows. Only data-dir is
# moved into the test's directory; --listen and --status-listen on the command line win over
# the file's values.
sed "s|^data-dir: .*|data-dir: $WORK/data|" "$SOURCE/packaging/reconciler.yaml" > "$WORK/reconciler.yaml"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$RECONCILER" --config "$WORK/reconciler.yaml" --listen "127.0.0.1:$port" --status-listen off >"$WORK/out" 2>"$WORK/log" &
DAEMON=$!
for _ in $(seq 1 100); do
  grep -q "listening on" "$WORK/log" && break
  kill -0 "$DAEMON" 2>/dev/null || break
  sleep 0.1
done
# max-connections 20000 from the file: taken, or lowered to fit this machine's open-file limit.
if grep -Eq "listening on 127.0.0.1:$port, .*data directory $WORK/data(, fleet [a-z0-9-]+)?$" "$WORK/log" &&
   grep -Eq "connections: at most 20000 to the API|--max-connections 20000 does not fit" "$WORK/log"; then
  pass "the reconciler starts with packaging/reconciler.yaml (data-dir, max-connections from the file, listen from the flag)"
else
  fail "the reconciler did not start with packaging/reconciler.yaml: $(cat "$WORK/log")"
fi
kill "$DAEMON" 2>/dev/null; wait "$DAEMON" 2>/dev/null; DAEMON=""

printf 'data-dir: %s\nlisen: 0.0.0.0:8443\n' "$WORK/data2" > "$WORK/bad.yaml"
"$RECONCILER" --config "$WORK/bad.yaml" >"$WORK/out" 2>"$WORK/log"
code=$?
expected="$WORK/bad.yaml:2:1: error: \"lisen\" is not a known flag; did you mean \"listen\"?"
if [ "$code" = 2 ] && grep -qF "$expected" "$WORK/log" && [ ! -e "$WORK/data2" ]; then
  pass "an unknown name in the flag file stops the reconciler (exit 2, file:line, nothing created)"
else
  fail "unknown flag-file name: exit $code, $(cat "$WORK/log")"
fi

finish_checks
echo "all unit checks passed"
