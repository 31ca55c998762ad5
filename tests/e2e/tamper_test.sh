#!/usr/bin/env bash
# A tampered reconciler database cannot make an agent run what render never produces (issue 11).
#
# The lib.sh topology with the reconciler in `ctl`; the vps and gw agents enroll, run as
# daemons and converge. Then, with the reconciler stopped, the gw agent's latest stored
# desired config in the SQLite file gets a sysctl WireWarp never sets
# (net.ipv4.icmp_echo_ignore_all=1: scoped to the agent's network namespace, so a failure of
# this test cannot touch the host) as a newer plan generation. The reconciler starts again:
# the sysctl must stay 0 in gw's namespace while the fleet converges again. The same tampered
# config handed to the agent directly (`apply --desired`, and as the last-applied file that
# `restore` reads) is refused naming the field, with nothing run.
#
# Usage: tamper_test.sh BUILD_DIR      Exit 77 (skip) when not root.
set -euo pipefail

BUILD=$(realpath "$1")
WWCTL=$BUILD/cli/wwctl
AGENT=$BUILD/agent/wirewarp-agent
RECONCILER=$BUILD/reconciler/daemon/wirewarp-reconciler
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=lib.sh
source "$HERE/lib.sh"
ww_require_root "the tamper test needs root to create network namespaces, WireGuard devices and iptables rules" curl python3
export WW_WITH_CTL=1
ww_init tamper
ww_make_topology
# shellcheck source=lib_controlplane.sh
source "$HERE/lib_controlplane.sh"

FORBIDDEN=net.ipv4.icmp_echo_ignore_all
forbidden_value() { in_ns "$NS_GW" cat /proc/sys/net/ipv4/icmp_echo_ignore_all; }

ww_start_reconciler || exit 1
ww_enroll vps "$NS_VPS" server || { cat "$WORK/enroll-vps.log"; exit 1; }
ww_enroll gw "$NS_GW" client || { cat "$WORK/enroll-gw.log"; exit 1; }
ww_start_agent vps "$NS_VPS"
ww_start_agent gw "$NS_GW"
ww_write_fleet "$WORK/fleet"
ww_wwctl apply -f "$WORK/fleet" > "$WORK/apply.log" 2>&1 || { fail "wwctl apply"; cat "$WORK/apply.log"; }
if ww_wwctl wait --for=converged --timeout 60s > "$WORK/wait-1.log" 2>&1; then pass "the fleet converged"
else fail "the fleet did not converge"; cat "$WORK/wait-1.log"; fi
[ "$(forbidden_value)" = 0 ] || fail "$FORBIDDEN is already set in gw's namespace"

# ---------------------------------------------------------------- the tampered store
kill "$RECONCILER_PID"; wait "$RECONCILER_PID" 2>/dev/null || true
/usr/bin/python3 - "$CTL_DATA" "$WORK/tampered.json" "$FORBIDDEN" <<'PY'
import glob, json, sqlite3, sys
data, out, key = sys.argv[1:4]
database = [p for p in glob.glob(data + "/*.db") + glob.glob(data + "/*.sqlite*") if not p.endswith(("-wal", "-shm"))][0]
db = sqlite3.connect(database)
agent_id, generation, revision, desired, plan = db.execute(
    "SELECT p.agent_id, p.generation, p.revision_id, p.desired_json, p.plan_json FROM plan_generations p "
    "JOIN agents a ON a.id = p.agent_id WHERE a.name = 'gw' AND a.deleted_at IS NULL "
    "ORDER BY p.generation DESC LIMIT 1").fetchone()
config = json.loads(desired)
config.setdefault("sysctls", []).append({"key": key, "value": "1"})
tampered = json.dumps(config, separators=(",", ":"))
db.execute("INSERT INTO plan_generations (agent_id, generation, revision_id, created_at, desired_json, plan_json) "
           "VALUES (?, ?, ?, strftime('%s','now'), ?, ?)", (agent_id, generation + 1, revision, tampered, plan))
db.commit()
open(out, "w").write(tampered)
print(f"tampered: {database}: gw generation {generation + 1} carries {key}=1")
PY
ww_start_reconciler || exit 1
sleep 3
if ww_wwctl wait --for=converged --timeout 60s > "$WORK/wait-2.log" 2>&1; then pass "the fleet converges again after the tampered start"
else fail "the fleet did not converge after the tampered start"; cat "$WORK/wait-2.log"; fi
[ "$(forbidden_value)" = 0 ] && pass "the tampered sysctl was never applied in gw's namespace" \
  || fail "$FORBIDDEN=$(forbidden_value) in gw's namespace: the tampered config ran"
if grep -q "$FORBIDDEN" "$WORK/state-gw/last-applied.json" 2>/dev/null; then fail "the tampered config became gw's last applied config"
else pass "gw's last applied config does not carry the tampered sysctl"; fi

# ---------------------------------------------------------------- the agent's own guard
# A copy of gw's state dir: the running daemon holds the original's lock.
cp -a "$WORK/state-gw" "$WORK/state-gw-copy"
rm -f "$WORK/state-gw-copy/"*.lock 2>/dev/null || true
if in_ns "$NS_GW" "$AGENT" apply --state-dir "$WORK/state-gw-copy" --desired "$WORK/tampered.json" -v \
    > "$WORK/apply-tampered.log" 2>&1; then
  fail "wirewarp-agent apply accepted the tampered config"
elif grep -q "sysctls\[[0-9]*\]\.key" "$WORK/apply-tampered.log" && grep -q "$FORBIDDEN" "$WORK/apply-tampered.log"; then
  pass "apply --desired refuses it, naming the field: $(grep -m1 -o 'sysctls\[[0-9]*\]\.key[^"]*' "$WORK/apply-tampered.log" | head -c 160)"
else
  fail "apply failed without naming the field"; cat "$WORK/apply-tampered.log"
fi
cp "$WORK/tampered.json" "$WORK/state-gw-copy/last-applied.json"
if in_ns "$NS_GW" "$AGENT" restore --state-dir "$WORK/state-gw-copy" -v > "$WORK/restore-tampered.log" 2>&1; then
  fail "wirewarp-agent restore accepted the tampered last-applied file"
elif grep -q "$FORBIDDEN" "$WORK/restore-tampered.log"; then pass "restore refuses the tampered last-applied file"
else fail "restore failed for another reason"; cat "$WORK/restore-tampered.log"; fi
[ "$(forbidden_value)" = 0 ] && pass "$FORBIDDEN is still 0 in gw's namespace" || fail "$FORBIDDEN changed"
grep -q "event=capabilities effective=cap_net_admin,cap_net_raw" "$WORK/gw-run.log" \
  && pass "the gw daemon runs with CAP_NET_ADMIN and CAP_NET_RAW only" \
  || { fail "the gw daemon did not report its dropped capabilities"; head -5 "$WORK/gw-run.log"; }

ww_summary tamper
