#!/usr/bin/env bash
# End-to-end test of the agent data plane with real packets (issue 3).
#
# Four network namespaces stand in for the hosts, joined by veth pairs:
#   inet  (203.0.113.1 toward the VPS, 198.51.100.1 toward the gateway, 192.0.2.1 a server)
#   vps   (203.0.113.10)  tunnel server, WireGuard wwvps0 10.77.0.1
#   gw    (198.51.100.10, 192.168.50.1 on the LAN)  tunnel client, WireGuard wwgw0 10.77.0.2
#   lan   (192.168.50.10) runs TCP/UDP echo services that report the source address they see
# WireGuard runs in wireguard-go (userspace) unless the kernel module works. Configs are
# rendered with `wwctl render` and applied with `wirewarp-agent apply`.
#
# Usage: dataplane_test.sh WWCTL AGENT      Exit 77 (skip) when not root.
set -euo pipefail

WWCTL=$(realpath "$1")
AGENT=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
ECHO="/usr/bin/python3 $HERE/echo.py"

if [ "$(id -u)" != 0 ]; then
  echo "SKIP: the data-plane test needs root to create network namespaces, WireGuard devices and iptables rules"
  exit 77
fi
for tool in ip iptables iptables-save wg wireguard-go /usr/bin/python3; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (make deps installs it)"; exit 1; }
done

SUFFIX=$$
NS_INET=wwinet$SUFFIX NS_VPS=wwvps$SUFFIX NS_GW=wwgw$SUFFIX NS_LAN=wwlan$SUFFIX
WORK=$(mktemp -d /tmp/wirewarp-e2e.XXXXXX)
PIDS=()
FAILURES=0

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for ns in $NS_INET $NS_VPS $NS_GW $NS_LAN; do
    # Deleting the devices first makes wireguard-go exit.
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
    ip -n "$ns" link del wwvps0 2>/dev/null; ip -n "$ns" link del wwgw0 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  pkill -f "wireguard-go wwvps0" 2>/dev/null; pkill -f "wireguard-go wwgw0" 2>/dev/null
  rm -f /var/run/wireguard/wwvps0.sock /var/run/wireguard/wwgw0.sock
  if [ "${WW_E2E_KEEP:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILURES=$((FAILURES + 1)); }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# ---------------------------------------------------------------- topology
for ns in $NS_INET $NS_VPS $NS_GW $NS_LAN; do
  ip netns add "$ns"
  in_ns "$ns" ip link set lo up
done
ip link add wwe-inet-v netns $NS_INET type veth peer name wwe-vps netns $NS_VPS
ip link add wwe-inet-g netns $NS_INET type veth peer name wwe-gw netns $NS_GW
ip link add wwe-gw-lan netns $NS_GW type veth peer name wwe-lan netns $NS_LAN
in_ns $NS_INET ip addr add 203.0.113.1/24 dev wwe-inet-v
in_ns $NS_INET ip addr add 198.51.100.1/24 dev wwe-inet-g
in_ns $NS_INET ip addr add 192.0.2.1/32 dev lo  # a server on the internet (no dummy module needed)
in_ns $NS_VPS ip addr add 203.0.113.10/24 dev wwe-vps
in_ns $NS_GW ip addr add 198.51.100.10/24 dev wwe-gw
in_ns $NS_GW ip addr add 192.168.50.1/24 dev wwe-gw-lan
in_ns $NS_LAN ip addr add 192.168.50.10/24 dev wwe-lan
for pair in "$NS_INET wwe-inet-v" "$NS_INET wwe-inet-g" "$NS_VPS wwe-vps" \
            "$NS_GW wwe-gw" "$NS_GW wwe-gw-lan" "$NS_LAN wwe-lan"; do
  set -- $pair; in_ns "$1" ip link set "$2" up
done
in_ns $NS_INET sysctl -qw net.ipv4.ip_forward=1
in_ns $NS_VPS ip route add default via 203.0.113.1
in_ns $NS_GW ip route add default via 198.51.100.1
in_ns $NS_LAN ip route add default via 192.168.50.1
# The gateway forwards for its LAN (a home router would); strict rp_filter like many distros.
in_ns $NS_GW sysctl -qw net.ipv4.ip_forward=1
in_ns $NS_GW sysctl -qw net.ipv4.conf.all.rp_filter=1

# Foreign rules that every apply and `down` must leave alone (Docker's chain, a user's NAT).
for ns in $NS_VPS $NS_GW; do
  in_ns "$ns" iptables -N DOCKER-USER
  in_ns "$ns" iptables -A DOCKER-USER -j RETURN
  in_ns "$ns" iptables -I FORWARD -j DOCKER-USER
  in_ns "$ns" iptables -t nat -A POSTROUTING -s 172.31.99.0/24 -j MASQUERADE
  in_ns "$ns" iptables -t mangle -S >/dev/null
done

snapshot() {  # the parts of a host the agent may touch, minus sysctls it sets on purpose
  local ns=$1
  # IPv4 only: IPv6 link-local routes appear on their own a moment after a link comes up.
  { in_ns "$ns" iptables -S; in_ns "$ns" iptables -t nat -S; in_ns "$ns" iptables -t mangle -S
    in_ns "$ns" ip -4 rule show; in_ns "$ns" ip -4 route show table all
    in_ns "$ns" ip -br link show | awk '{print $1, $2}'; in_ns "$ns" ip -4 -br addr show; } 2>&1
}
snapshot $NS_VPS > "$WORK/vps.before"
snapshot $NS_GW > "$WORK/gw.before"

foreign_rules_intact() {
  local ns=$1
  in_ns "$ns" iptables -S DOCKER-USER | grep -qx -- '-A DOCKER-USER -j RETURN' &&
    in_ns "$ns" iptables -S FORWARD | grep -qx -- '-A FORWARD -j DOCKER-USER' &&
    in_ns "$ns" iptables -t nat -S POSTROUTING | grep -qx -- '-A POSTROUTING -s 172.31.99.0/24 -j MASQUERADE'
}

# ---------------------------------------------------------------- services
in_ns $NS_LAN $ECHO serve 0.0.0.0 tcp:8022 tcp:80 udp:27015 udp:27016 udp:27017 > "$WORK/lan-echo.log" 2>&1 &
PIDS+=($!)
in_ns $NS_INET $ECHO serve 192.0.2.1 tcp:7000 > "$WORK/inet-echo.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do grep -q ready "$WORK/lan-echo.log" 2>/dev/null && grep -q ready "$WORK/inet-echo.log" 2>/dev/null && break; sleep 0.1; done

# ---------------------------------------------------------------- fleet and keys
mkdir -p "$WORK/fleet"
VPS_KEY=$(in_ns $NS_VPS "$AGENT" keygen --state-dir "$WORK/state-vps")
GW_KEY=$(in_ns $NS_GW "$AGENT" keygen --state-dir "$WORK/state-gw")
[ "$(in_ns $NS_VPS "$AGENT" keygen --state-dir "$WORK/state-vps")" = "$VPS_KEY" ] && pass "keygen is idempotent" || fail "keygen printed a different key the second time"
[ "$(stat -c %a "$WORK/state-vps")" = 700 ] && [ "$(stat -c %a "$WORK/state-vps/wireguard.key")" = 600 ] \
  && pass "state dir 0700, key 0600" || fail "state permissions: $(stat -c '%a %n' "$WORK/state-vps" "$WORK/state-vps/wireguard.key")"
printf 'vps: %s\ngw: %s\n' "$VPS_KEY" "$GW_KEY" > "$WORK/keys.yaml"

write_fleet() {  # $1 = "with-ssh" to include the single-port forward
  cat > "$WORK/fleet/tunnel.yaml" <<YAML
apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: edge}
spec:
  agent: vps
  endpoint: 203.0.113.10:51820
  interface: wwvps0
  network: 10.77.0.0/24
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: home}
spec:
  tunnel: edge
  agent: gw
  interface: wwgw0
  address: 10.77.0.2
  lan: [192.168.50.0/24]
  gateway: true
YAML
  cat > "$WORK/fleet/forwards.yaml" <<YAML
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: web-remap}
spec: {tunnel: edge, protocol: tcp, ports: "8080", to: {address: 192.168.50.10, port: 80}}
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: game-range}
spec: {tunnel: edge, protocol: udp, ports: "27015-27017", to: {address: 192.168.50.10}}
YAML
  if [ "${1:-}" = with-ssh ]; then
    cat >> "$WORK/fleet/forwards.yaml" <<YAML
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: ssh-single}
spec: {tunnel: edge, protocol: tcp, ports: "8022", to: {address: 192.168.50.10}}
YAML
  fi
}

render() {
  "$WWCTL" render -f "$WORK/fleet" --agent vps --keys "$WORK/keys.yaml" > "$WORK/vps.json"
  "$WWCTL" render -f "$WORK/fleet" --agent gw --keys "$WORK/keys.yaml" --control-address 198.51.100.1 > "$WORK/gw.json"
}

apply_host() {  # ns name -> report in $WORK/NAME.report; returns the agent's exit code
  local ns=$1 name=$2
  in_ns "$ns" "$AGENT" apply --state-dir "$WORK/state-$name" --desired "$WORK/$name.json" > "$WORK/$name.report" 2> "$WORK/$name.err"
}

mutating_count() { /usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["commands"]))' "$1"; }

check_forward() {  # protocol port -> the LAN host must see inet's real address
  local protocol=$1 port=$2 answer
  answer=$(in_ns $NS_INET $ECHO "$protocol" 203.0.113.10 "$port" 3 2>&1) || true
  if [ "$answer" = "peer=203.0.113.1" ]; then pass "$protocol/$port from inet reaches the LAN host with the real client address"
  else fail "$protocol/$port from inet: got '$answer', want 'peer=203.0.113.1'"; fi
}

check_closed() {
  local protocol=$1 port=$2
  if in_ns $NS_INET $ECHO "$protocol" 203.0.113.10 "$port" 1 >/dev/null 2>&1; then fail "$protocol/$port still answers after its forward was removed"
  else pass "$protocol/$port is closed after its forward was removed"; fi
}

check_gateway_egress() {
  local answer
  answer=$(in_ns $NS_LAN $ECHO tcp 192.0.2.1 7000 3 2>&1) || true
  if [ "$answer" = "peer=203.0.113.10" ]; then pass "gateway mode: the LAN reaches the internet with the VPS's address"
  else fail "gateway mode: inet saw '$answer', want 'peer=203.0.113.10'"; fi
}

wait_for_handshake() {
  # After a peer is removed and re-added, the client notices the dead session and
  # re-handshakes only after WireGuard's keepalive + rekey timeouts (about 15 s).
  # A server that lost a peer also lost its endpoint: only the client can re-establish the
  # session, and it does so once it sends data that gets no answer. Nudge it with a datagram.
  for _ in $(seq 60); do
    if in_ns $NS_INET $ECHO tcp 203.0.113.10 8080 1 >/dev/null 2>&1; then return 0; fi
    in_ns $NS_GW $ECHO udp 10.77.0.1 9 0.2 >/dev/null 2>&1 || true
  done
}

# ---------------------------------------------------------------- 1 + 2: first apply
write_fleet with-ssh
render
apply_host $NS_VPS vps && pass "vps: first apply converged" || { fail "vps: first apply did not converge"; cat "$WORK/vps.report" "$WORK/vps.err"; }
apply_host $NS_GW gw && pass "gw: first apply converged" || { fail "gw: first apply did not converge"; cat "$WORK/gw.report" "$WORK/gw.err"; }
wait_for_handshake
check_forward tcp 8022
check_forward tcp 8080
check_forward udp 27016
check_forward udp 27017
check_gateway_egress

# ---------------------------------------------------------------- 3: idempotent
apply_host $NS_VPS vps || true; apply_host $NS_GW gw || true
[ "$(mutating_count "$WORK/vps.report")" = 0 ] && [ "$(mutating_count "$WORK/gw.report")" = 0 ] \
  && pass "applying the same config again runs no mutating command" \
  || fail "re-apply ran commands: vps $(mutating_count "$WORK/vps.report"), gw $(mutating_count "$WORK/gw.report")"

# ---------------------------------------------------------------- 4: drift
in_ns $NS_VPS iptables -t nat -D WIREWARP-PREROUTING 1
in_ns $NS_VPS wg set wwvps0 peer "$GW_KEY" remove
if apply_host $NS_VPS vps && [ "$(mutating_count "$WORK/vps.report")" -gt 0 ] && grep -q '"result": "applied"' "$WORK/vps.report"; then
  pass "drift (deleted DNAT rule and peer) reported and healed"
else fail "drift was not healed"; cat "$WORK/vps.report"; fi
wait_for_handshake
check_forward tcp 8022
check_forward tcp 8080
for ns in $NS_VPS $NS_GW; do foreign_rules_intact $ns && pass "foreign rules intact in $ns after apply" || fail "foreign rules changed in $ns"; done

# ---------------------------------------------------------------- 5: remove one forward
write_fleet
render
apply_host $NS_VPS vps && pass "vps: apply without ssh-single converged" || fail "vps: apply without ssh-single failed"
check_closed tcp 8022
check_forward tcp 8080
check_forward udp 27015

# ---------------------------------------------------------------- 6: reboot of the gateway, no reconciler
in_ns $NS_GW ip link del wwgw0
for chain in WIREWARP-PREROUTING WIREWARP-OUTPUT WIREWARP-MSS; do in_ns $NS_GW iptables -t mangle -F $chain 2>/dev/null || true; done
in_ns $NS_GW iptables -F WIREWARP-FORWARD 2>/dev/null || true
sleep 0.5
if in_ns $NS_GW "$AGENT" restore --state-dir "$WORK/state-gw" > "$WORK/gw.restore" 2>&1; then pass "restore converged offline"
else fail "restore failed"; cat "$WORK/gw.restore"; fi
wait_for_handshake
check_forward tcp 8080
check_gateway_egress

# ---------------------------------------------------------------- 7 + 8: down
in_ns $NS_VPS "$AGENT" down --state-dir "$WORK/state-vps" > "$WORK/vps.down" 2>&1 && pass "vps: down" || { fail "vps: down failed"; cat "$WORK/vps.down"; }
in_ns $NS_GW "$AGENT" down --state-dir "$WORK/state-gw" > "$WORK/gw.down" 2>&1 && pass "gw: down" || { fail "gw: down failed"; cat "$WORK/gw.down"; }
in_ns $NS_GW "$AGENT" down --state-dir "$WORK/state-gw" > /dev/null 2>&1 && pass "down is idempotent" || fail "second down failed"
sleep 0.5
for name in vps gw; do
  ns=$NS_VPS; [ $name = gw ] && ns=$NS_GW
  foreign_rules_intact $ns && pass "foreign rules intact in $name after down" || fail "foreign rules changed in $name after down"
  snapshot $ns > "$WORK/$name.after"
  if diff -u "$WORK/$name.before" "$WORK/$name.after" > "$WORK/$name.diff"; then pass "down leaves $name as it was before the agent ran"
  else fail "down left $name changed:"; cat "$WORK/$name.diff"; fi
done

echo "$((FAILURES == 0 ? 1 : 0)) passed, $FAILURES failed" > /dev/null
if [ $FAILURES -ne 0 ]; then echo "e2e: $FAILURES check(s) failed"; exit 1; fi
echo "e2e: all checks passed"
