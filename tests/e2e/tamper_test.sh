#!/usr/bin/env bash
# Neither a compromised reconciler nor a tampered database can make an agent run what render
# never produces (issue 11).
#
# The lib.sh topology with the reconciler in `ctl`; the vps and gw agents enroll, run as
# daemons and converge. A fake reconciler holding the real server certificate then answers
# gw's poll with gw's config plus a sysctl WireWarp never sets: gw refuses it, reports the
# field, runs nothing and keeps forwarding. Then, with the reconciler stopped, the gw agent's latest stored
# desired config in the SQLite file gets a sysctl WireWarp never sets
# (net.ipv4.icmp_echo_ignore_all=1: scoped to the agent's network namespace, so a failure of
# this test cannot touch the host) as a newer plan generation. The reconciler starts again:
# the sysctl must stay 0 in gw's namespace while the fleet converges again. The same tampered
# config handed to the agent directly (`apply --desired`, and as the last-applied file that
# `restore` reads) is refused naming the field, with nothing run.
#
# Usage: tamper_test.sh BUILD_DIR      Exit 77 (skip) when not root.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
ww_require_root "the tamper test needs root to create network namespaces, WireGuard devices and iptables rules" curl python3
ww_use_build "$1"
export WW_WITH_CTL=1
ww_init tamper
ww_make_topology
ww_start_echo_services
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

# ---------------------------------------------------------------- a compromised reconciler
# It holds the real server certificate and answers gw's poll with gw's own config plus the
# forbidden sysctl. The agent must refuse it before any command and report the field.
kill "$RECONCILER_PID"; wait "$RECONCILER_PID" 2>/dev/null || true
/usr/bin/python3 - "$WORK/state-gw/last-applied.json" "$WORK/compromised.json" "$FORBIDDEN" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
config.setdefault("sysctls", []).append({"key": sys.argv[3], "value": "1"})
json.dump(config, open(sys.argv[2], "w"), separators=(",", ":"))
PY
ip netns exec "$NS_CTL" /usr/bin/python3 "$HERE/fake_reconciler.py" "$CTL_ADDRESS" 8443 "$CTL_DATA" gw \
  "$WORK/compromised.json" "$WORK/compromised-report.jsonl" > "$WORK/fake.log" 2>&1 &
FAKE_PID=$!
PIDS+=("$FAKE_PID")
for _ in $(seq 150); do [ -s "$WORK/compromised-report.jsonl" ] && break; sleep 0.2; done
kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null || true
if [ ! -s "$WORK/compromised-report.jsonl" ]; then
  fail "gw sent no report to the compromised reconciler within 30 s"; cat "$WORK/fake.log"; tail -5 "$WORK/gw-run.log"
elif grep -q '"generation":1000,"converged":false' "$WORK/compromised-report.jsonl" \
    && grep -q "sysctls\[[0-9]*\]\.key" "$WORK/compromised-report.jsonl" && grep -q "$FORBIDDEN" "$WORK/compromised-report.jsonl"; then
  pass "gw refused the compromised reconciler's config and reported the field: $(grep -o 'sysctls\[[0-9]*\]\.key[^,]*' "$WORK/compromised-report.jsonl" | head -1 | head -c 120)"
else
  fail "gw's report does not show the refusal"; head -c 600 "$WORK/compromised-report.jsonl"; echo
fi
[ "$(forbidden_value)" = 0 ] && pass "the compromised reconciler's sysctl did not run" || fail "$FORBIDDEN changed in gw's namespace"
check_forward tcp 8080 "the forward still carries packets (gw kept its last good state)"

# ---------------------------------------------------------------- the tampered store
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
superseded=$(/usr/bin/python3 - "$CTL_DATA/wirewarp.db" "$FORBIDDEN" <<'PY'
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
generation, desired = db.execute(
    "SELECT p.generation, p.desired_json FROM plan_generations p JOIN agents a ON a.id = p.agent_id "
    "WHERE a.name = 'gw' AND a.deleted_at IS NULL ORDER BY p.generation DESC LIMIT 1").fetchone()
print(f"{generation} {'tampered' if sys.argv[2] in desired else 'clean'}")
PY
)
[ "${superseded#* }" = clean ] && pass "the reconciler re-rendered gw at start: generation ${superseded% *} supersedes the tampered one" \
  || fail "gw's latest stored generation is still the tampered one ($superseded)"
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
