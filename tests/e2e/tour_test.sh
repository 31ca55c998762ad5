#!/usr/bin/env bash
# The README's day-two tour does what it says: scripts/demo.sh sets the fleet up (namespaces,
# a bare git repository with a webhook hook, the reconciler, both agents), then runs
# tour_steps.sh, which executes every command of the tour block in README.md and checks the
# results (diff, wait with progress, rollback --force and the divergence, delete and
# re-enroll, a phone with its private key kept local). Usage: tour_test.sh BUILD_DIR (root).
set -uo pipefail
BUILD=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "SKIP: the tour runs in make demo, which needs root (namespaces, WireGuard, iptables)"; exit 77; fi
LOG=$(mktemp /tmp/ww-tour.XXXXXX)
trap 'rm -f "$LOG"' EXIT
WW_DEMO_RUN=$ROOT/tests/e2e/tour_steps.sh timeout 600 bash "$ROOT/scripts/demo.sh" "$BUILD" 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
failures=0
# The demo's namespaces carry its PID: "Setting up namespaces wwctl123 ...".
suffix=$(grep -o 'Setting up namespaces wwctl[0-9]*' "$LOG" | grep -o '[0-9]*$')
if [ -n "$suffix" ] && ip netns list | grep -q "^ww[a-z]*$suffix\b"; then
  echo "FAIL - namespaces left: $(ip netns list | grep "$suffix" | tr '\n' ' ')"; failures=1
fi
[ $status = 0 ] && [ $failures = 0 ] && echo "tour_test: passed" || { echo "tour_test: failed (demo exit $status)"; exit 1; }
