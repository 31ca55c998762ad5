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
for tool in ip iptables iptables-save wg wireguard-go strip /usr/bin/python3; do
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
trap cleanup EXIT INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
new_ns() { ip netns add "$1"; in_ns "$1" ip link set lo up; }
field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }  # field NAME "wall_ms=1 maxrss_kb=2 exit=0"
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
    echo "hostile input ($kind): refused: $(head -c 200 "$WORK/hostile-$kind.err" | sed "s|$WORK/||")"
  fi
done
hostile_snapshot > "$WORK/hostile.after"
if ! cmp -s "$WORK/hostile.before" "$WORK/hostile.after"; then
  echo "hostile input: the namespace changed:"; diff "$WORK/hostile.before" "$WORK/hostile.after" | head -20
  HOSTILE_FAILURES=$((HOSTILE_FAILURES + 1))
fi

# ---------------------------------------------------------------- agent: apply from scratch
new_ns $NS_AGENT
APPLY=$(in_ns $NS_AGENT $RUN --stdout "$WORK/apply.report" --stderr "$WORK/apply.err" -- \
          "$AGENT" apply --state-dir "$WORK/state" --desired "$WORK/desired.json")
if [ "$(field exit "$APPLY")" != 0 ]; then
  echo "agent benchmark: apply did not converge ($APPLY):" >&2; head -c 2000 "$WORK/apply.err" >&2; exit 1
fi
APPLY_MS=$(field wall_ms "$APPLY")
APPLY_RSS_KB=$(field maxrss_kb "$APPLY")
APPLY_COMMANDS=$(json_count "$WORK/apply.report" commands)
AGENT_RULES=$(in_ns $NS_AGENT iptables-save | grep -c '^-A ' || true)

# ---------------------------------------------------------------- agent: no-op re-apply
NOOP_TIMES=()
NOOP_RSS_KB=0
for _ in 1 2 3 4 5; do
  NOOP=$(in_ns $NS_AGENT $RUN --stdout "$WORK/noop.report" --stderr "$WORK/noop.err" -- \
           "$AGENT" apply --state-dir "$WORK/state" --desired "$WORK/desired.json")
  [ "$(field exit "$NOOP")" = 0 ] || { echo "agent benchmark: no-op re-apply failed ($NOOP)" >&2; cat "$WORK/noop.err" >&2; exit 1; }
  [ "$(json_count "$WORK/noop.report" commands)" = 0 ] || { echo "agent benchmark: the re-apply ran commands" >&2; exit 1; }
  NOOP_TIMES+=("$(field wall_ms "$NOOP")")
  rss=$(field maxrss_kb "$NOOP"); [ "$rss" -gt "$NOOP_RSS_KB" ] && NOOP_RSS_KB=$rss
done
NOOP_MS=$(printf '%s\n' "${NOOP_TIMES[@]}" | sort -n | sed -n 3p)

# ---------------------------------------------------------------- seed scripts' loop
new_ns $NS_LOOP
LOOP=$(in_ns $NS_LOOP $RUN --stderr "$WORK/loop.err" -- bash "$WORK/seed-loop.sh")
[ "$(field exit "$LOOP")" = 0 ] || { echo "agent benchmark: the iptables loop failed ($LOOP):" >&2; tail -5 "$WORK/loop.err" >&2; exit 1; }
LOOP_MS=$(field wall_ms "$LOOP")
LOOP_RULES=$(in_ns $NS_LOOP iptables-save | grep -c '^-A ' || true)

# ---------------------------------------------------------------- binary size
strip -o "$WORK/wirewarp-agent.stripped" "$AGENT"
STRIPPED_BYTES=$(stat -c %s "$WORK/wirewarp-agent.stripped")

# ---------------------------------------------------------------- report
/usr/bin/python3 - "$FORWARDS" "$APPLY_MS" "$LOOP_MS" "$NOOP_MS" "$APPLY_RSS_KB" "$NOOP_RSS_KB" "$STRIPPED_BYTES" \
  "$APPLY_COMMANDS" "$AGENT_RULES" "$LOOP_RULES" "$HOSTILE_FAILURES" "${NOOP_TIMES[*]}" <<'PY'
import sys
(forwards, apply_ms, loop_ms, noop_ms, apply_rss, noop_rss, stripped, commands, agent_rules, loop_rules,
 hostile_failures, noop_times) = sys.argv[1:]
apply_ms, loop_ms, noop_ms = float(apply_ms), float(loop_ms), float(noop_ms)
ratio = loop_ms / apply_ms if apply_ms > 0 else float("inf")
rows = [
    ("agent apply from scratch", "%.0f ms" % apply_ms, "< 1000 ms", apply_ms < 1000),
    ("seed loop (iptables -C || -A)", "%.0f ms" % loop_ms, "", None),
    ("speed-up (loop / agent)", "%.1fx" % ratio, ">= 20x", ratio >= 20),
    ("no-op re-apply (median of 5)", "%.1f ms" % noop_ms, "< 50 ms", noop_ms < 50),
    ("peak RSS, apply", "%.1f MB" % (int(apply_rss) / 1024), "< 15 MB", int(apply_rss) < 15 * 1024),
    ("peak RSS, no-op re-apply", "%.1f MB" % (int(noop_rss) / 1024), "", None),
    ("stripped wirewarp-agent", "%.2f MB" % (int(stripped) / 1e6), "", None),
    ("hostile inputs refused, host unchanged", "3 of 3" if hostile_failures == "0" else "FAILED", "all", hostile_failures == "0"),
]
print()
print("agent benchmark: %s port forwards, one tunnel (wireguard-go), real iptables in network namespaces" % forwards)
print("%-40s %12s %10s  %s" % ("figure", "value", "target", "met"))
for name, value, target, met in rows:
    print("%-40s %12s %10s  %s" % (name, value, target, "" if met is None else ("met" if met else "NOT met")))
print()
print("agent: %s mutating commands, %s iptables rules after apply; loop: %s iptables rules" % (commands, agent_rules, loop_rules))
print("no-op re-apply runs (ms): %s" % noop_times)
print("peak RSS is the largest of the agent and the tools it waited for (wait4, like /usr/bin/time %M)")
PY
