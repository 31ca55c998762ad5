# shellcheck shell=bash
# Shared plumbing for the end-to-end scripts (sourced, not run): check lines, namespaces,
# the four-host topology (plus an optional control host), echo services, the test fleet and
# the packet checks. Every name a script creates carries its PID, so runs never collide, and
# ww_cleanup (installed as the EXIT trap by ww_init) removes all of it, also on failure.
#
# Topology, joined by veth pairs:
#   inet  203.0.113.1 toward the VPS, 198.51.100.1 toward the gateway, 192.0.2.1 a server,
#         192.0.2.129 toward ctl (only with WW_WITH_CTL=1)
#   vps   203.0.113.10          tunnel server
#   gw    198.51.100.10, 192.168.50.1 on the LAN   tunnel client (gateway for its LAN)
#   lan   192.168.50.10         TCP/UDP echo services that report the source address they see
#   ctl   192.0.2.130           the reconciler (reached by vps and gw through inet)
# Tunnel network 10.77.0.0/24: the VPS is 10.77.0.1, the gateway 10.77.0.2.

WW_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ECHO="/usr/bin/python3 $WW_E2E_DIR/echo.py"
VPS_ADDRESS=203.0.113.10
CTL_ADDRESS=192.0.2.130

# ww_init PREFIX: names, the work directory and the EXIT trap. WG_VPS and WG_GW (the WireGuard
# interface names) may be set before; they default to unique per-run names (wireguard-go's
# control sockets in /var/run/wireguard are shared by every namespace).
ww_init() {
  SUFFIX=$$
  NS_INET=wwinet$SUFFIX NS_VPS=wwvps$SUFFIX NS_GW=wwgw$SUFFIX NS_LAN=wwlan$SUFFIX NS_CTL=wwctl$SUFFIX
  WG_VPS=${WG_VPS:-wwv$SUFFIX} WG_GW=${WG_GW:-wwg$SUFFIX}
  WORK=$(mktemp -d "/tmp/wirewarp-$1.XXXXXX")
  PIDS=()
  FAILURES=0
  trap ww_cleanup EXIT
  trap 'exit 130' INT TERM
}

# ww_use_build BUILD_DIR: WWCTL, AGENT and RECONCILER from a build directory; fails when one
# is not built. Call after ww_require_root.
ww_use_build() {
  local build binary
  build=$(realpath "$1")
  WWCTL=$build/cli/wwctl
  AGENT=$build/agent/wirewarp-agent
  RECONCILER=$build/reconciler/daemon/wirewarp-reconciler
  for binary in "$WWCTL" "$AGENT" "$RECONCILER"; do
    [ -x "$binary" ] || { echo "FAIL: $binary is not built"; exit 1; }
  done
}

ww_require_root() {  # $1 = why root is needed
  if [ "$(id -u)" != 0 ]; then
    echo "SKIP: $1"
    exit 77
  fi
  local tool
  for tool in ip iptables iptables-save wg wireguard-go /usr/bin/python3 "${@:2}"; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (make deps installs it)"; exit 1; }
  done
}

pass() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; FAILURES=$((FAILURES + 1)); }
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Stops one background process (a PID from PIDS) and waits for it; quiet when already gone.
# Start such processes with `ip netns exec NS PROGRAM ... &`, not in_ns (a backgrounded shell
# function is a subshell, so $! would not be the program).
ww_stop() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

ww_cleanup() {
  local status=$? pid ns
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for ns in $NS_INET $NS_VPS $NS_GW $NS_LAN $NS_CTL; do
    ip netns list 2>/dev/null | grep -qw "^$ns" || continue
    # Deleting the devices first makes wireguard-go exit.
    ip -n "$ns" link del "$WG_VPS" 2>/dev/null; ip -n "$ns" link del "$WG_GW" 2>/dev/null
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
  done
  sleep 0.3
  for ns in $NS_INET $NS_VPS $NS_GW $NS_LAN $NS_CTL; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  rm -f "/var/run/wireguard/$WG_VPS.sock" "/var/run/wireguard/$WG_GW.sock"
  if [ "${WW_E2E_KEEP:-}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}

# ---------------------------------------------------------------- topology
ww_make_topology() {
  local ns pair
  local all="$NS_INET $NS_VPS $NS_GW $NS_LAN"
  [ "${WW_WITH_CTL:-}" = 1 ] && all="$all $NS_CTL"
  for ns in $all; do
    ip netns add "$ns"
    in_ns "$ns" ip link set lo up
  done
  ip link add wwe-inet-v netns "$NS_INET" type veth peer name wwe-vps netns "$NS_VPS"
  ip link add wwe-inet-g netns "$NS_INET" type veth peer name wwe-gw netns "$NS_GW"
  ip link add wwe-gw-lan netns "$NS_GW" type veth peer name wwe-lan netns "$NS_LAN"
  in_ns "$NS_INET" ip addr add 203.0.113.1/24 dev wwe-inet-v
  in_ns "$NS_INET" ip addr add 198.51.100.1/24 dev wwe-inet-g
  in_ns "$NS_INET" ip addr add 192.0.2.1/32 dev lo  # a server on the internet (no dummy module needed)
  in_ns "$NS_VPS" ip addr add $VPS_ADDRESS/24 dev wwe-vps
  in_ns "$NS_GW" ip addr add 198.51.100.10/24 dev wwe-gw
  in_ns "$NS_GW" ip addr add 192.168.50.1/24 dev wwe-gw-lan
  in_ns "$NS_LAN" ip addr add 192.168.50.10/24 dev wwe-lan
  local links="$NS_INET:wwe-inet-v $NS_INET:wwe-inet-g $NS_VPS:wwe-vps $NS_GW:wwe-gw $NS_GW:wwe-gw-lan $NS_LAN:wwe-lan"
  if [ "${WW_WITH_CTL:-}" = 1 ]; then
    ip link add wwe-inet-c netns "$NS_INET" type veth peer name wwe-ctl netns "$NS_CTL"
    in_ns "$NS_INET" ip addr add 192.0.2.129/25 dev wwe-inet-c
    in_ns "$NS_CTL" ip addr add $CTL_ADDRESS/25 dev wwe-ctl
    links="$links $NS_INET:wwe-inet-c $NS_CTL:wwe-ctl"
  fi
  for pair in $links; do in_ns "${pair%%:*}" ip link set "${pair#*:}" up; done
  in_ns "$NS_INET" sysctl -qw net.ipv4.ip_forward=1
  in_ns "$NS_VPS" ip route add default via 203.0.113.1
  in_ns "$NS_GW" ip route add default via 198.51.100.1
  in_ns "$NS_LAN" ip route add default via 192.168.50.1
  [ "${WW_WITH_CTL:-}" = 1 ] && in_ns "$NS_CTL" ip route add default via 192.0.2.129
  # The gateway forwards for its LAN (a home router would); strict rp_filter like many distros.
  in_ns "$NS_GW" sysctl -qw net.ipv4.ip_forward=1
  in_ns "$NS_GW" sysctl -qw net.ipv4.conf.all.rp_filter=1
}

# ---------------------------------------------------------------- services
# LAN: tcp 8022, 80 and udp 27015-27017; inet: tcp 7000 on 192.0.2.1 (for gateway egress).
ww_start_echo_services() {
  ip netns exec "$NS_LAN" $ECHO serve 0.0.0.0 tcp:8022 tcp:80 udp:27015 udp:27016 udp:27017 > "$WORK/lan-echo.log" 2>&1 &
  PIDS+=($!)
  ip netns exec "$NS_INET" $ECHO serve 192.0.2.1 tcp:7000 > "$WORK/inet-echo.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do
    grep -q ready "$WORK/lan-echo.log" 2>/dev/null && grep -q ready "$WORK/inet-echo.log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "FAIL: the echo services did not start"; cat "$WORK/lan-echo.log" "$WORK/inet-echo.log"
  return 1
}

# ---------------------------------------------------------------- fleet
# ww_write_fleet DIR [with-ssh]: tunnel "edge" on agent vps, peer "home" on agent gw (gateway
# for its LAN), tcp 8080 -> LAN:80, udp 27015-27017 -> LAN, and with-ssh tcp 8022 -> LAN:8022.
ww_write_fleet() {
  local dir=$1
  mkdir -p "$dir"
  cat > "$dir/tunnel.yaml" <<YAML
apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: edge}
spec:
  agent: vps
  endpoint: $VPS_ADDRESS:51820
  interface: $WG_VPS
  network: 10.77.0.0/24
---
apiVersion: wirewarp.dev/v1
kind: Peer
metadata: {name: home}
spec:
  tunnel: edge
  agent: gw
  interface: $WG_GW
  address: 10.77.0.2
  lan: [192.168.50.0/24]
  gateway: true
YAML
  cat > "$dir/forwards.yaml" <<YAML
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
  if [ "${2:-}" = with-ssh ]; then
    cat >> "$dir/forwards.yaml" <<YAML
---
apiVersion: wirewarp.dev/v1
kind: PortForward
metadata: {name: ssh-single}
spec: {tunnel: edge, protocol: tcp, ports: "8022", to: {address: 192.168.50.10}}
YAML
  fi
}

# ---------------------------------------------------------------- packet checks
ww_forward_works() {  # protocol port [timeout]: quiet; true when the LAN host saw inet's address
  [ "$(in_ns "$NS_INET" $ECHO "$1" $VPS_ADDRESS "$2" "${3:-3}" 2>/dev/null)" = "peer=203.0.113.1" ]
}

check_forward() {  # protocol port [what]: the LAN host must see inet's real address
  local protocol=$1 port=$2 answer
  answer=$(in_ns "$NS_INET" $ECHO "$protocol" $VPS_ADDRESS "$port" 3 2>&1) || true
  if [ "$answer" = "peer=203.0.113.1" ]; then pass "$protocol/$port from inet reaches the LAN host with the real client address${3:+ ($3)}"
  else fail "$protocol/$port from inet${3:+ ($3)}: got '$answer', want 'peer=203.0.113.1'"; fi
}

check_closed() {
  local protocol=$1 port=$2
  if in_ns "$NS_INET" $ECHO "$protocol" $VPS_ADDRESS "$port" 1 >/dev/null 2>&1; then fail "$protocol/$port still answers after its forward was removed"
  else pass "$protocol/$port is closed after its forward was removed"; fi
}

check_gateway_egress() {
  local answer
  answer=$(in_ns "$NS_LAN" $ECHO tcp 192.0.2.1 7000 3 2>&1) || true
  if [ "$answer" = "peer=$VPS_ADDRESS" ]; then pass "gateway mode: the LAN reaches the internet with the VPS's address${1:+ ($1)}"
  else fail "gateway mode${1:+ ($1)}: inet saw '$answer', want 'peer=$VPS_ADDRESS'"; fi
}

# wait_for_handshake [tcp-port]: until a forward answers (at most about a minute).
# After a peer is removed and re-added, the client notices the dead session and re-handshakes
# only after WireGuard's keepalive + rekey timeouts (about 15 s). A server that lost a peer
# also lost its endpoint: only the client can re-establish the session, and it does so once it
# sends data that gets no answer. Nudge it with a datagram.
wait_for_handshake() {
  local port=${1:-8080}
  for _ in $(seq 60); do
    if in_ns "$NS_INET" $ECHO tcp $VPS_ADDRESS "$port" 1 >/dev/null 2>&1; then return 0; fi
    in_ns "$NS_GW" $ECHO udp 10.77.0.1 9 0.2 >/dev/null 2>&1 || true
  done
  return 1
}

ww_summary() {
  if [ "$FAILURES" -ne 0 ]; then echo "$1: $FAILURES check(s) failed"; exit 1; fi
  echo "$1: all checks passed"
}
