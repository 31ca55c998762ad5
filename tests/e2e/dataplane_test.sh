#!/usr/bin/env bash
# End-to-end test of the agent data plane with real packets (issue 3).
#
# Four network namespaces stand in for the hosts, joined by veth pairs:
#   inet  (203.0.113.1 toward the VPS, 198.51.100.1 toward the gateway, 192.0.2.1 a server)
#   vps   (203.0.113.10)  tunnel server, WireGuard wwv<pid> 10.77.0.1
#   gw    (198.51.100.10, 192.168.50.1 on the LAN)  tunnel client, WireGuard wwg<pid> 10.77.0.2
#   lan   (192.168.50.10) runs TCP/UDP echo services that report the source address they see
# WireGuard runs in wireguard-go (userspace) unless the kernel module works. Configs are
# rendered with `wwctl render` and applied with `wirewarp-agent apply`. The plumbing
# (topology, echo services, fleet, packet checks, cleanup) lives in lib.sh.
#
# Usage: dataplane_test.sh WWCTL AGENT      Exit 77 (skip) when not root.
set -euo pipefail

WWCTL=$(realpath "$1")
AGENT=$(realpath "$2")
HERE=$(cd "$(dirname "$0")" && pwd)

# shellcheck source=lib.sh
source "$HERE/lib.sh"
ww_require_root "the data-plane test needs root to create network namespaces, WireGuard devices and iptables rules"
ww_init e2e
ww_make_topology

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
ww_start_echo_services

# ---------------------------------------------------------------- fleet and keys
mkdir -p "$WORK/fleet"
VPS_KEY=$(in_ns $NS_VPS "$AGENT" keygen --state-dir "$WORK/state-vps")
GW_KEY=$(in_ns $NS_GW "$AGENT" keygen --state-dir "$WORK/state-gw")
[ "$(in_ns $NS_VPS "$AGENT" keygen --state-dir "$WORK/state-vps")" = "$VPS_KEY" ] && pass "keygen is idempotent" || fail "keygen printed a different key the second time"
[ "$(stat -c %a "$WORK/state-vps")" = 700 ] && [ "$(stat -c %a "$WORK/state-vps/wireguard.key")" = 600 ] \
  && pass "state dir 0700, key 0600" || fail "state permissions: $(stat -c '%a %n' "$WORK/state-vps" "$WORK/state-vps/wireguard.key")"
printf 'vps: %s\ngw: %s\n' "$VPS_KEY" "$GW_KEY" > "$WORK/keys.yaml"

write_fleet() { ww_write_fleet "$WORK/fleet" "$@"; }  # $1 = "with-ssh" to include the single-port forward

render() {
  "$WWCTL" render -f "$WORK/fleet" --agent vps --keys "$WORK/keys.yaml" > "$WORK/vps.json"
  "$WWCTL" render -f "$WORK/fleet" --agent gw --keys "$WORK/keys.yaml" --control-address 198.51.100.1 > "$WORK/gw.json"
}

apply_host() {  # ns name -> report in $WORK/NAME.report; returns the agent's exit code
  local ns=$1 name=$2
  in_ns "$ns" "$AGENT" apply --state-dir "$WORK/state-$name" --desired "$WORK/$name.json" > "$WORK/$name.report" 2> "$WORK/$name.err"
}

mutating_count() { /usr/bin/python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["commands"]))' "$1"; }

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
in_ns $NS_VPS wg set $WG_VPS peer "$GW_KEY" remove
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
in_ns $NS_GW ip link del $WG_GW
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

ww_summary e2e
