#!/usr/bin/env bash
# Agent benchmark (issue 3), run by `make bench` after schema_bench.
#
# In throwaway network namespaces, with real iptables and wireguard-go:
#  1. `wirewarp-agent apply` from scratch of a config with one tunnel and N port forwards
#     (default 2,000; WW_BENCH_FORWARDS overrides), rendered by `wwctl render`;
#  2. the seed scripts' per-rule loop for the same forwards in a fresh namespace:
#     `iptables -C ... || iptables -A ...` for the DNAT rule and the FORWARD accept;
#  3. a no-op re-apply (median of 5), the agent's peak RSS while applying, the stripped
#     binary size; and a hostile-input check (the agent refuses and changes nothing).
# Prints a table of figures against the issue's targets. Information only: exits 0 unless
# something errors. Needs root; prints a SKIP line and exits 0 otherwise.
#
# Usage: agent_bench.sh WWCTL AGENT
set -euo pipefail

if [ "$#" -ne 2 ]; then echo "usage: $0 WWCTL AGENT" >&2; exit 2; fi
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: agent benchmark: needs root (network namespaces, WireGuard devices, iptables); run: sudo make bench"
  exit 0
fi
WWCTL=$(realpath "$1")
AGENT=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
RUN="/usr/bin/python3 $HERE/bench_run.py"
FORWARDS=${WW_BENCH_FORWARDS:-2000}
for tool in ip iptables iptables-save wg wireguard-go strip /usr/bin/python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "agent benchmark: $tool is not installed (make deps installs it)" >&2; exit 1; }
done

SUFFIX=$$
IFACE=wwb$SUFFIX            # unique: wireguard-go's sockets in /var/run/wireguard are shared by all namespaces
NS_AGENT=wwbench-agent-$SUFFIX
NS_LOOP=wwbench-loop-$SUFFIX
NS_HOSTILE=wwbench-hostile-$SUFFIX
WORK=$(mktemp -d /tmp/wirewarp-bench.XXXXXX)

cleanup() {
  set +e
  for ns in $NS_AGENT $NS_LOOP $NS_HOSTILE; do
    ip netns list 2>/dev/null | grep -qw "$ns" || continue
    # wireguard-go daemonized inside the namespace: end it by pid, then the namespace.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null; done
    ip -n "$ns" link del "$IFACE" 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  rm -f "/var/run/wireguard/$IFACE.sock"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
new_ns() { ip netns add "$1"; in_ns "$1" ip link set lo up; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }  # field exit "wall_ms=1 cpu_ms=1 maxrss_kb=2 exit=0"
json_count() { /usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))[sys.argv[2]]))' "$1" "$2"; }

# ---------------------------------------------------------------- fleet
# One tunnel on the benchmark agent; an unmanaged peer (a key, a LAN) to forward to;
# FORWARDS single-port forwards, tcp and udp alternating, to hosts on that LAN.
forward_protocol() { if [ $(($1 % 2)) = 0 ]; then echo tcp; else echo udp; fi; }
forward_port() { echo $((20000 + $1)); }
forward_address() { echo "192.168.$(($1 / 250)).$(($1 % 250 + 1))"; }

mkdir -p "$WORK/fleet"
AGENT_KEY=$("$AGENT" keygen --state-dir "$WORK/state")
PEER_KEY=$("$AGENT" keygen --state-dir "$WORK/peer-state")
printf 'bench: %s\n' "$AGENT_KEY" > "$WORK/keys.yaml"
cat > "$WORK/fleet/tunnel.yaml" <<YAML
apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: bench}
spec:
  agent: bench
  endpoint: 203.0.113.10:51820
  interface: $IFACE
  network: 10.77.0.0/24
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: home}
spec:
  tunnel: bench
  publicKey: $PEER_KEY
  address: 10.77.0.2
  lan: [192.168.0.0/16]
YAML
for ((i = 0; i < FORWARDS; i++)); do
  printf -- '---\napiVersion: wirewarp.dev/v1\nkind: PortForward\nmetadata: {name: forward-%d}\nspec: {tunnel: bench, protocol: %s, ports: "%d", to: {address: %s}}\n' \
    "$i" "$(forward_protocol $i)" "$(forward_port $i)" "$(forward_address $i)"
done > "$WORK/fleet/forwards.yaml"
# Each forward to an unmanaged peer's LAN draws a warning: keep them out of the output.
"$WWCTL" render -f "$WORK/fleet" --agent bench --keys "$WORK/keys.yaml" > "$WORK/desired.json" 2> "$WORK/render.err"

# The seed scripts' loop: check each rule, append it when missing.
{
  echo 'set -e'
  for ((i = 0; i < FORWARDS; i++)); do
    protocol=$(forward_protocol $i) port=$(forward_port $i) address=$(forward_address $i)
    dnat="PREROUTING -p $protocol --dport $port -j DNAT --to-destination $address:$port"
    accept="FORWARD -p $protocol -d $address --dport $port -j ACCEPT"
    echo "iptables -t nat -C $dnat 2>/dev/null || iptables -t nat -A $dnat"
    echo "iptables -C $accept 2>/dev/null || iptables -A $accept"
  done
} > "$WORK/seed-loop.sh"

# ---------------------------------------------------------------- hostile input
# Deep nesting, an interface name that reads as an option, a rule with a newline: the agent
# must refuse each with a clear error and leave the namespace as it was.
HOSTILE_FAILURES=0
new_ns $NS_HOSTILE
/usr/bin/python3 - "$WORK/desired.json" "$WORK" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
work = sys.argv[2]
open(work + "/hostile-nesting.json", "w").write('{"formatVersion":1,"agent":"bench","notices":' + "[" * 10000 + "]" * 10000 + "}")
option = json.loads(json.dumps(config)); option["interfaces"][0]["name"] = "-" + option["interfaces"][0]["name"]
json.dump(option, open(work + "/hostile-option.json", "w"))
newline = json.loads(json.dumps(config)); newline["chains"][0]["rules"][0] += "\n-F FORWARD"
json.dump(newline, open(work + "/hostile-newline.json", "w"))
PY
hostile_snapshot() { { in_ns $NS_HOSTILE iptables-save | sed '/^#/d'; in_ns $NS_HOSTILE ip -d link show; } 2>&1; }
hostile_snapshot > "$WORK/hostile.before"
for kind in nesting option newline; do
  if in_ns $NS_HOSTILE "$AGENT" apply --state-dir "$WORK/state-hostile" --desired "$WORK/hostile-$kind.json" \
       > "$WORK/hostile-$kind.out" 2> "$WORK/hostile-$kind.err"; then
    echo "hostile input ($kind): the agent accepted it"; HOSTILE_FAILURES=$((HOSTILE_FAILURES + 1))
  elif ! grep -q "^wirewarp-agent: error: reading $WORK/hostile-$kind.json: " "$WORK/hostile-$kind.err"; then
    echo "hostile input ($kind): unexpected error: $(head -c 300 "$WORK/hostile-$kind.err")"; HOSTILE_FAILURES=$((HOSTILE_FAILURES + 1))
  else
    message=$(sed "s|$WORK/||" "$WORK/hostile-$kind.err")
    [ "${#message}" -le 200 ] || message="${message:0:90} ... ${message: -90}"
    echo "hostile input ($kind): refused: $message"
  fi
done
hostile_snapshot > "$WORK/hostile.after"
if ! cmp -s "$WORK/hostile.before" "$WORK/hostile.after"; then
  echo "hostile input: the namespace changed:"; diff "$WORK/hostile.before" "$WORK/hostile.after" | head -20
  HOSTILE_FAILURES=$((HOSTILE_FAILURES + 1))
fi
# The agent stops at parsing, before it opens (and would create) its state directory.
if [ -e "$WORK/state-hostile" ]; then
  echo "hostile input: the agent got as far as creating its state directory"; HOSTILE_FAILURES=$((HOSTILE_FAILURES + 1))
fi

# ---------------------------------------------------------------- agent: apply from scratch
new_ns $NS_AGENT
APPLY=$(in_ns $NS_AGENT $RUN --stdout "$WORK/apply.report" --stderr "$WORK/apply.err" -- \
          "$AGENT" apply --state-dir "$WORK/state" --desired "$WORK/desired.json")
if [ "$(field exit "$APPLY")" != 0 ]; then
  echo "agent benchmark: apply did not converge ($APPLY):" >&2; head -c 2000 "$WORK/apply.err" >&2; exit 1
fi
APPLY_COMMANDS=$(json_count "$WORK/apply.report" commands)
AGENT_RULES=$(in_ns $NS_AGENT iptables-save | grep -c '^-A ' || true)

# ---------------------------------------------------------------- agent: no-op re-apply
NOOP_RUNS=()
for _ in 1 2 3 4 5; do
  NOOP=$(in_ns $NS_AGENT $RUN --stdout "$WORK/noop.report" --stderr "$WORK/noop.err" -- \
           "$AGENT" apply --state-dir "$WORK/state" --desired "$WORK/desired.json")
  [ "$(field exit "$NOOP")" = 0 ] || { echo "agent benchmark: no-op re-apply failed ($NOOP)" >&2; cat "$WORK/noop.err" >&2; exit 1; }
  [ "$(json_count "$WORK/noop.report" commands)" = 0 ] || { echo "agent benchmark: the re-apply ran commands" >&2; exit 1; }
  NOOP_RUNS+=("$NOOP")
done

# Where a no-op's time goes: the observer's one `iptables-save` for all tables, against three
# `iptables-save -t TABLE` calls (the nf_tables backend dumps every table's rules whichever
# table is asked for, so each costs about as much as one call for all).
SAVE_TABLES=$(for table in filter nat mangle; do in_ns $NS_AGENT $RUN -- iptables-save -t $table; done)
SAVE_ALL=$(in_ns $NS_AGENT $RUN -- iptables-save)

# ---------------------------------------------------------------- agent: down
DOWN=$(in_ns $NS_AGENT $RUN --stdout "$WORK/down.report" --stderr "$WORK/down.err" -- "$AGENT" down --state-dir "$WORK/state")
[ "$(field exit "$DOWN")" = 0 ] || { echo "agent benchmark: down failed ($DOWN)" >&2; cat "$WORK/down.err" >&2; exit 1; }
LEFT_RULES=$(in_ns $NS_AGENT iptables-save | grep -c '^-A ' || true)

# ---------------------------------------------------------------- seed scripts' loop
new_ns $NS_LOOP
LOOP=$(in_ns $NS_LOOP $RUN --stderr "$WORK/loop.err" -- bash "$WORK/seed-loop.sh")
[ "$(field exit "$LOOP")" = 0 ] || { echo "agent benchmark: the iptables loop failed ($LOOP):" >&2; tail -5 "$WORK/loop.err" >&2; exit 1; }
LOOP_RULES=$(in_ns $NS_LOOP iptables-save | grep -c '^-A ' || true)

# ---------------------------------------------------------------- binary size
strip -o "$WORK/wirewarp-agent.stripped" "$AGENT"
STRIPPED_BYTES=$(stat -c %s "$WORK/wirewarp-agent.stripped")

# ---------------------------------------------------------------- report
{
  echo "forwards $FORWARDS"
  echo "apply $APPLY"
  for run in "${NOOP_RUNS[@]}"; do echo "noop $run"; done
  echo "down $DOWN"
  echo "loop $LOOP"
  while read -r line; do echo "save_table $line"; done <<<"$SAVE_TABLES"
  echo "save_all $SAVE_ALL"
  echo "stripped $STRIPPED_BYTES"
  echo "counts $APPLY_COMMANDS $AGENT_RULES $LOOP_RULES $LEFT_RULES"
  echo "hostile_failures $HOSTILE_FAILURES"
} > "$WORK/figures"
/usr/bin/python3 - "$WORK/figures" <<'PY'
import statistics, sys

runs = {}
for line in open(sys.argv[1]):
    name, _, rest = line.strip().partition(" ")
    runs.setdefault(name, []).append(rest)

def figures(text):
    return {key: float(value) for key, value in (item.split("=") for item in text.split())}

forwards = runs["forwards"][0]
apply = figures(runs["apply"][0])
noops = [figures(text) for text in runs["noop"]]
down = figures(runs["down"][0])
loop = figures(runs["loop"][0])
save_tables = [figures(text) for text in runs["save_table"]]
save_all = figures(runs["save_all"][0])
stripped = int(runs["stripped"][0])
commands, agent_rules, loop_rules, left_rules = runs["counts"][0].split()
hostile_failures = int(runs["hostile_failures"][0])

noop_wall = statistics.median(run["wall_ms"] for run in noops)
noop_cpu = statistics.median(run["cpu_ms"] for run in noops)
noop_rss = max(run["maxrss_kb"] for run in noops)
ratio = loop["wall_ms"] / apply["wall_ms"]

def ms(value):
    return "%.0f ms" % value if value >= 100 else "%.1f ms" % value

def mb(kb):
    return "%.1f MB" % (kb / 1024) if kb > 0 else "n/a"

rows = [
    ("agent apply from scratch", ms(apply["wall_ms"]), ms(apply["cpu_ms"]), "< 1 s", apply["wall_ms"] < 1000),
    ("seed loop (iptables -C || -A per rule)", ms(loop["wall_ms"]), ms(loop["cpu_ms"]), "", None),
    ("speed-up, loop / agent (wall)", "%.0fx" % ratio, "%.0fx" % (loop["cpu_ms"] / apply["cpu_ms"]), ">= 20x", ratio >= 20),
    ("no-op re-apply, median of 5", ms(noop_wall), ms(noop_cpu), "< 50 ms", noop_wall < 50),
    ("peak RSS while applying", mb(apply["maxrss_kb"]), "", "< 15 MB",
     None if apply["maxrss_kb"] == 0 else apply["maxrss_kb"] < 15 * 1024),
    ("peak RSS, no-op re-apply", mb(noop_rss), "", "", None),
    ("down (remove everything)", ms(down["wall_ms"]), ms(down["cpu_ms"]), "", None),
    ("stripped wirewarp-agent", "%.2f MB" % (stripped / 1e6), "", "", None),
    ("hostile inputs refused, host unchanged", "%d of 3" % (3 - hostile_failures) if hostile_failures else "3 of 3", "",
     "3 of 3", hostile_failures == 0),
]
print()
print("agent benchmark: %s port forwards, one tunnel (wireguard-go), real iptables, in network namespaces" % forwards)
print("%-40s %10s %10s %8s  %s" % ("figure", "wall", "cpu", "target", "met"))
for name, wall, cpu, target, met in rows:
    print("%-40s %10s %10s %8s  %s" % (name, wall, cpu, target, "" if met is None else ("met" if met else "NOT met")))
print()
print("agent: %s mutating commands, %s iptables rules after apply, %s after down; loop: %s rules"
      % (commands, agent_rules, left_rules, loop_rules))
print("no-op re-apply runs, wall (cpu) ms: %s"
      % ", ".join("%.1f (%.1f)" % (run["wall_ms"], run["cpu_ms"]) for run in noops))
print("where a no-op goes: the observer's one iptables-save for all tables costs %s cpu; per table "
      "(iptables-save -t filter/nat/mangle) it would cost %s cpu (%s)"
      % (ms(save_all["cpu_ms"]), ms(sum(run["cpu_ms"] for run in save_tables)),
         " + ".join(ms(run["cpu_ms"]) for run in save_tables)))
print("peak RSS: GNU time %M, the largest of the agent and the tools it waited for")
PY
