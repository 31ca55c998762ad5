#!/usr/bin/env bash
# End-to-end test of the agent data plane with real packets (issue 3).
#
# Four network namespaces stand in for the hosts, joined by veth pairs:
#   inet  (203.0.113.1 toward the VPS, 198.51.100.1 toward the gateway, 192.0.2.1 a server)
#   vps   (203.0.113.10)  tunnel server, WireGuard wwv<pid> 10.77.0.1
#   gw    (198.51.100.10, 192.168.50.1 on the LAN)  tunnel client, WireGuard wwg<pid> 10.77.0.2
#   lan   (192.168.50.10) runs TCP/UDP echo services that report the source address they see
#   ctl   (192.0.2.130)   the control server's address: a player there must get answers too
# The VPS's INPUT policy is DROP (as with ufw): the agent opens the listen port itself.
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
WW_WITH_CTL=1 ww_make_topology
# `ip netns exec` shows /etc/netns/NS/hosts as /etc/hosts: the gateway resolves the VPS's
# name from there (section 7). Removed with everything else.
mkdir -p "/etc/netns/$NS_GW"
printf '127.0.0.1 localhost\n' > "/etc/netns/$NS_GW/hosts"
# set +e first: under set -e the `(exit $status)` that hands the status on would end the
# trap before ww_cleanup whenever the test failed.
dataplane_cleanup() { local status=$?; set +e; rm -rf "/etc/netns/$NS_GW"; (exit $status); ww_cleanup; }
trap dataplane_cleanup EXIT

# A firewall like ufw's: nothing reaches the VPS itself unless a rule accepts it.
in_ns $NS_VPS iptables -P INPUT DROP

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
  "$WWCTL" render -f "$WORK/fleet" --agent gw --keys "$WORK/keys.yaml" --control-address $CTL_ADDRESS > "$WORK/gw.json"
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
in_ns $NS_VPS iptables -S INPUT | grep -qx -- '-P INPUT DROP' && in_ns $NS_VPS iptables -S INPUT | grep -qx -- '-A INPUT -j WIREWARP-INPUT' \
  && in_ns $NS_VPS iptables -S WIREWARP-INPUT | grep -qx -- '-A WIREWARP-INPUT -p udp -m udp --dport 51820 -j ACCEPT' \
  && pass "INPUT policy DROP: the listen port is opened in WIREWARP-INPUT, jumped from INPUT" \
  || fail "INPUT policy DROP: no WIREWARP-INPUT accept for the listen port: $(in_ns $NS_VPS iptables -S INPUT | tr '\n' ' ')"

# A player at the control server's own address (an operator testing from it, a monitor):
# the gateway keeps that address on the main table for its own traffic, but replies to a
# connection that came in through the tunnel must go back through it, from the address the
# player connected to. A connected UDP socket only takes an answer from that address.
check_from_control() {  # protocol port
  local answer
  answer=$(in_ns $NS_CTL $ECHO "$1" $VPS_ADDRESS "$2" 3 2>&1) || true
  if [ "$answer" = "peer=$CTL_ADDRESS" ]; then pass "$1/$2 from the control server's address reaches the LAN host and gets its answer"
  else fail "$1/$2 from the control server's address: got '$answer', want 'peer=$CTL_ADDRESS'"; fi
}
check_from_control tcp 8080
check_from_control udpc 27016
check_from_control udp 27017

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

# ---------------------------------------------------------------- 7: endpoint by host name
# The gateway dials the VPS by name; the agent resolves it, sets the address, records the
# name, and sets the peer again when the name points elsewhere (the daemon does the same
# every few minutes).
gw_endpoint() { in_ns $NS_GW wg show $WG_GW endpoints | awk '{print $2}'; }
printf '127.0.0.1 localhost\n%s vps.wirewarp.test\n' $VPS_ADDRESS > "/etc/netns/$NS_GW/hosts"
sed -i "s/endpoint: $VPS_ADDRESS:51820/endpoint: vps.wirewarp.test:51820/" "$WORK/fleet/tunnel.yaml"
render
grep -q '"endpoint": "vps.wirewarp.test:51820"' "$WORK/gw.json" || fail "render: the gateway's peer endpoint is not the name"
apply_host $NS_GW gw && [ "$(gw_endpoint)" = "$VPS_ADDRESS:51820" ] \
  && pass "an endpoint host name is resolved and set as an address" \
  || { fail "endpoint by name: wg shows '$(gw_endpoint)'"; cat "$WORK/gw.report" "$WORK/gw.err"; }
grep -q '"appliedEndpoint": "vps.wirewarp.test:51820"' "$WORK/gw.report" \
  && pass "the report shows the name applied next to the address" || fail "no appliedEndpoint in the report"
apply_host $NS_GW gw || true
[ "$(mutating_count "$WORK/gw.report")" = 0 ] && pass "an unchanged name and address run nothing" \
  || fail "re-apply with the same name ran $(mutating_count "$WORK/gw.report") commands"
printf '127.0.0.1 localhost\n203.0.113.99 vps.wirewarp.test\n' > "/etc/netns/$NS_GW/hosts"
apply_host $NS_GW gw || true
[ "$(gw_endpoint)" = "203.0.113.99:51820" ] && grep -q 'endpoint 203.0.113.99:51820' "$WORK/gw.report" \
  && pass "a name that moved is set again on the next pass" || fail "moved name: wg shows '$(gw_endpoint)'"
printf '127.0.0.1 localhost\n%s vps.wirewarp.test\n' $VPS_ADDRESS > "/etc/netns/$NS_GW/hosts"
apply_host $NS_GW gw || true
[ "$(gw_endpoint)" = "$VPS_ADDRESS:51820" ] || fail "moved back: wg shows '$(gw_endpoint)'"
wait_for_handshake
check_forward tcp 8080 "after the name moved back"
if "$WWCTL" validate -f "$WORK/fleet" > /dev/null 2>&1; then pass "the fleet validates"; else fail "the fleet does not validate"; fi

# ---------------------------------------------------------------- 8: a forward that would take the VPS's own ports
cp -r "$WORK/fleet" "$WORK/hijack"
cat >> "$WORK/hijack/forwards.yaml" <<YAML
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: wg-port}
spec: {tunnel: edge, protocol: udp, ports: "51820", to: {address: 192.168.50.10}}
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: ssh}
spec: {tunnel: edge, template: ssh, to: {address: 192.168.50.10}}
YAML
"$WWCTL" validate -f "$WORK/hijack" > "$WORK/hijack.out" 2>&1 && fail "wwctl validate accepted forwards on the VPS's own ports"
if grep -q 'PortForward/wg-port: spec.ports: udp 51820 is the WireGuard listenPort of Tunnel/edge' "$WORK/hijack.out" &&
   grep -q 'PortForward/ssh: spec.template: tcp 22 (template "ssh") is the SSH port of the VPS' "$WORK/hijack.out"; then
  pass "wwctl validate refuses forwards on the listen port and on tcp/22"
else fail "wwctl validate did not name the clashes:"; cat "$WORK/hijack.out"; fi

# ---------------------------------------------------------------- 9 + 10: down
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
