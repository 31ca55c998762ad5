#!/usr/bin/env bash
# `make demo` does what it prints: scripts/demo.sh with WW_DEMO_CHECK=1 sets the fleet up,
# runs the printed forward check, pushes the printed change (the repository's hook sends the
# signed webhook), checks the moved port and the status page from the host, and then cleans
# up; this test also checks nothing is left behind. Usage: demo_test.sh BUILD_DIR (root).
set -uo pipefail
BUILD=$(realpath "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "SKIP: make demo needs root (namespaces, WireGuard, iptables)"; exit 77; fi
before_ns=$(ip netns list | wc -l)
out=$(WW_DEMO_CHECK=1 timeout 300 bash "$ROOT/scripts/demo.sh" "$BUILD" 2>&1)
status=$?
echo "$out" | tail -25
failures=0
check() { if grep -q -- "$1" <<< "$out"; then echo "ok   - $2"; else echo "FAIL - $2"; failures=$((failures + 1)); fi; }
[ $status = 0 ] && echo "ok   - the demo ran and stopped (exit 0)" || { echo "FAIL - demo exit $status"; failures=$((failures + 1)); }
check "Status page:  http://169.254.77.2:8080/" "it prints the status page address"
check "git push" "it prints how to push a change"
check "demo check: tcp/8080 answered 'peer=203.0.113.1'" "the printed forward works, with the client's real address"
check "demo check: after the push, tcp/8081 answered 'peer=203.0.113.1'" "the pushed change reached the agents"
check 'demo check: status page from the host: {"agents"' "the status page answers from the host"
[ "$(ip netns list | wc -l)" = "$before_ns" ] && echo "ok   - no namespace left behind" || { echo "FAIL - namespaces left: $(ip netns list)"; failures=$((failures + 1)); }
ip link show wwdemo-host > /dev/null 2>&1 && { echo "FAIL - wwdemo-host left behind"; failures=$((failures + 1)); } || echo "ok   - the host veth is gone"
pgrep -f "wirewarp-agent run --state-dir /tmp/wirewarp-demo" > /dev/null && { echo "FAIL - agents still running"; failures=$((failures + 1)); } || echo "ok   - no agent process left"
[ $failures = 0 ] && echo "demo: all checks passed" || { echo "demo: $failures check(s) failed"; exit 1; }
