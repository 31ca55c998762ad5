#!/usr/bin/env bash
# Captures the host-tool outputs the agent's observation parsers are tested on, from a real
# userspace WireGuard (wireguard-go) setup in two throwaway network namespaces.
# Run as root from anywhere: tests/testdata/agent/capture.sh [OUTPUT_DIR]
# Everything it creates (namespaces, wireguard-go processes, sockets, temp files) is removed
# on exit, also on failure. Secrets never reach OUTPUT_DIR: the private key and preshared
# key in `wg show dump` are replaced by throwaway keys used nowhere else.
set -euo pipefail

out=${1:-$(cd "$(dirname "$0")" && pwd)}
vps=wwobs-vps-$$
gw=wwobs-gw-$$
shapes=wwobs-shapes-$$
tmp=$(mktemp -d)
wg_pids=()

cleanup() {
  set +e
  for pid in "${wg_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${wg_pids[@]}"; do wait "$pid" 2>/dev/null; done
  ip netns del "$vps" 2>/dev/null
  ip netns del "$gw" 2>/dev/null
  ip netns del "$shapes" 2>/dev/null
  rm -f /var/run/wireguard/wwobs0.sock /var/run/wireguard/wwobs1.sock /var/run/wireguard/wwobs2.sock
  rm -rf "$tmp"
}
trap cleanup EXIT

for name in wwobs0 wwobs1 wwobs2; do
  if [[ -e /var/run/wireguard/$name.sock ]]; then
    echo "capture.sh: /var/run/wireguard/$name.sock exists; another capture is running" >&2
    exit 1
  fi
done

in_vps() { ip netns exec "$vps" "$@"; }
in_gw() { ip netns exec "$gw" "$@"; }

# Starts wireguard-go in the foreground (so its pid is ours to kill) and waits for its socket.
start_wireguard_go() {
  local namespace=$1 name=$2
  WG_PROCESS_FOREGROUND=1 ip netns exec "$namespace" wireguard-go "$name" >"$tmp/$name.log" 2>&1 &
  wg_pids+=($!)
  for _ in $(seq 50); do
    [[ -S /var/run/wireguard/$name.sock ]] && return 0
    sleep 0.1
  done
  echo "capture.sh: wireguard-go $name did not start:" >&2
  cat "$tmp/$name.log" >&2
  return 1
}

# Writes `wg show NAME dump` with the private key (line 1, field 1) and every preshared key
# (peer lines, field 2) replaced by throwaway keys that configure nothing.
save_redacted_dump() {
  local namespace=$1 name=$2 file=$3
  local fake_private fake_preshared
  fake_private=$(wg genkey)
  fake_preshared=$(wg genpsk)
  ip netns exec "$namespace" wg show "$name" dump |
    awk -F'\t' -v OFS='\t' -v fp="$fake_private" -v fk="$fake_preshared" '
      NR == 1 { if ($1 != "(none)") $1 = fp; print; next }
      { if ($2 != "(none)") $2 = fk; print }' >"$file"
}

ip netns add "$vps"
ip netns add "$gw"
in_vps ip link set lo up
in_gw ip link set lo up

# The "internet" link between the VPS and the gateway (TEST-NET-1), and the gateway's LAN.
ip link add wwobs-uplink netns "$vps" type veth peer name wwobs-wan netns "$gw"
in_vps ip link set wwobs-uplink up
in_gw ip link set wwobs-wan up
in_vps ip addr add 192.0.2.1/24 dev wwobs-uplink
in_gw ip addr add 192.0.2.2/24 dev wwobs-wan
in_gw ip link add wwobs-lan type veth peer name wwobs-lanpeer
in_gw ip link set wwobs-lan up
in_gw ip addr add 192.168.1.1/24 dev wwobs-lan

# Throwaway keys.
(umask 077 && wg genkey >"$tmp/vps.key" && wg genkey >"$tmp/gw.key" && wg genpsk >"$tmp/x.psk")
gw_public=$(wg pubkey <"$tmp/gw.key")
vps_public=$(wg pubkey <"$tmp/vps.key")
peer_x_public=$(wg genkey | wg pubkey)
peer_y_public=$(wg genkey | wg pubkey)

start_wireguard_go "$vps" wwobs0
start_wireguard_go "$gw" wwobs1
start_wireguard_go "$vps" wwobs2   # left unconfigured: no key, no port, no peers

in_vps wg set wwobs0 private-key "$tmp/vps.key" listen-port 51820 fwmark 0xca6c \
  peer "$gw_public" allowed-ips 10.77.0.2/32,192.168.1.0/24 \
  peer "$peer_x_public" preshared-key "$tmp/x.psk" persistent-keepalive 25 allowed-ips '' \
  peer "$peer_y_public" endpoint 198.51.100.20:51820 allowed-ips 10.77.0.3/32
in_vps ip addr add 10.77.0.1/24 dev wwobs0
in_vps ip link set wwobs0 mtu 1420 up

in_gw wg set wwobs1 private-key "$tmp/gw.key" listen-port 51821 \
  peer "$vps_public" endpoint 192.0.2.1:51820 allowed-ips 0.0.0.0/0 persistent-keepalive 25
in_gw ip addr add 10.77.0.2/24 dev wwobs1
in_gw ip link set wwobs1 mtu 1420 up

# Real traffic so the VPS sees a handshake, an endpoint and byte counters (no ping on a
# minimal host: a few UDP datagrams through the tunnel do the same).
for _ in 1 2 3; do in_gw bash -c 'echo wirewarp >/dev/udp/10.77.0.1/9'; done
for _ in $(seq 50); do
  in_vps wg show wwobs0 latest-handshakes | grep -q "^$gw_public[[:space:]][1-9]" && break
  sleep 0.1
done
in_vps wg show wwobs0 latest-handshakes | grep -q "^$gw_public[[:space:]][1-9]" ||
  { echo "capture.sh: no handshake between wwobs1 and wwobs0" >&2; exit 1; }

# Routes and rules. Owned ones carry proto 87; the others are foreign and must be ignored.
in_vps ip route add 192.168.1.0/24 dev wwobs0 proto 87
in_vps ip route add 10.98.0.0/16 via 192.0.2.2 dev wwobs-uplink
in_gw ip route add default via 10.77.0.1 dev wwobs1 table 101 proto 87
in_gw ip route add 192.168.1.0/24 dev wwobs-lan table 101 proto 87
in_gw ip route add 10.77.0.1 dev wwobs1 table 101 proto 87
in_gw ip route add unreachable 10.96.0.0/16 table 101 proto 87
in_gw ip route add 10.95.0.0/16 via 192.0.2.1 dev wwobs-wan table 102
in_gw ip route add 10.93.0.0/16 via 10.77.0.1 dev wwobs1 proto 87
in_gw ip route add 10.94.0.0/16 dev wwobs1 table default proto 87
in_gw ip rule add priority 10000 to 192.0.2.1 lookup main proto 87
in_gw ip rule add priority 10001 to 203.0.113.5 lookup main proto 87
in_gw ip rule add priority 10002 to 192.168.1.0/24 lookup main proto 87
in_gw ip rule add priority 10003 fwmark 0x101 lookup 101 proto 87
in_gw ip rule add priority 10004 from 192.168.1.0/24 lookup 101 proto 87
in_gw ip rule add priority 10005 from 10.77.0.2 lookup 101 proto 87
in_gw ip rule add priority 9000 to 198.51.100.0/24 lookup main
in_gw ip rule add priority 20000 fwmark 0x7 lookup 102 proto 87
in_gw ip rule add priority 10006 fwmark 0x5/0xff lookup 102

# Foreign firewall state first, as Docker, ufw or a user would leave it.
in_vps iptables -N DOCKER-USER
in_vps iptables -A DOCKER-USER -j RETURN
in_vps iptables -A FORWARD -j DOCKER-USER
in_vps iptables -A FORWARD -s 198.51.100.7/32 -m comment --comment "user rule, not -j WIREWARP-FORWARD" -j DROP
in_vps iptables -t nat -A POSTROUTING -s 192.168.50.0/24 -o eth0 -j MASQUERADE
in_vps iptables -t nat -N WIREWARPISH
in_vps iptables -t nat -A WIREWARPISH -j RETURN

# Owned chains, written the way the agent writes them: one iptables-restore --noflush.
cat >"$tmp/owned.rules" <<'EOF'
*nat
:WIREWARP-PREROUTING - [0:0]
:WIREWARP-POSTROUTING - [0:0]
-A WIREWARP-PREROUTING -d 203.0.113.10 -p tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565
-A WIREWARP-PREROUTING -d 203.0.113.10/32 -p udp -m udp --dport 27015:27030 -j DNAT --to-destination 10.77.0.2:27015-27030
-A WIREWARP-PREROUTING -p tcp -d 203.0.113.10 --dport 8080 -j DNAT --to-destination 192.168.1.10:80
-A WIREWARP-PREROUTING -d 203.0.113.10/32 -p tcp -m multiport --dports 80,443 -j DNAT --to-destination 192.168.1.10
-A WIREWARP-PREROUTING -i eth0 -p udp --dport 51000:51010 -m comment --comment "wirewarp:forward/voice chat" -j DNAT --to-destination 192.168.1.11
-A WIREWARP-PREROUTING -p tcp --dport 2222 -m comment --comment wirewarp:forward/ssh -j DNAT --to-destination 192.168.1.12:22
-A WIREWARP-PREROUTING -p tcp --dport 0x50 -j DNAT --to-destination 10.77.0.2:80
-A WIREWARP-POSTROUTING -s 10.77.0.0/24 -o eth0 -j MASQUERADE
-A WIREWARP-POSTROUTING -o wwobs-lan -m connmark --mark 0x102 -j MASQUERADE
-A WIREWARP-POSTROUTING -s 10.77.0.0/255.255.255.0 -o eth0 -j SNAT --to-source 203.0.113.10
-I PREROUTING 1 -m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING
-I POSTROUTING 1 -j WIREWARP-POSTROUTING
COMMIT
*filter
:WIREWARP-FORWARD - [0:0]
:WIREWARP-EMPTY - [0:0]
-A WIREWARP-FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A WIREWARP-FORWARD -d 10.77.0.2 -p tcp --dport 25565 -j ACCEPT
-A WIREWARP-FORWARD -i eth0 -o wwobs0 -d 192.168.1.10/32 -p tcp -m multiport --dports 80,443 -m conntrack --ctstate NEW -j ACCEPT
-A WIREWARP-FORWARD -p udp -d 10.77.0.2 --dport 27015:27030 -j ACCEPT
-A WIREWARP-FORWARD -i wwobs0 -o eth0 -j ACCEPT
-A WIREWARP-FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT
-A WIREWARP-FORWARD -p tcp -m tcp --dport 1000:2000 -m comment --comment "say \"hi\"" -j ACCEPT
-I FORWARD 1 -j WIREWARP-FORWARD
COMMIT
*mangle
:WIREWARP-PREROUTING - [0:0]
:WIREWARP-OUTPUT - [0:0]
:WIREWARP-FORWARD - [0:0]
:WIREWARP-POSTROUTING - [0:0]
-A WIREWARP-PREROUTING -i wwobs0 -m conntrack --ctstate NEW -j CONNMARK --set-mark 0x101
-A WIREWARP-PREROUTING ! -i wwobs0 -j CONNMARK --restore-mark
-A WIREWARP-PREROUTING -i wwobs0 -j MARK --set-mark 0x1
-A WIREWARP-PREROUTING -s 192.168.1.0/24 ! -d 192.168.1.0/24 -j MARK --set-xmark 0x102/0xffffffff
-A WIREWARP-PREROUTING -i wwobs0 -j CONNMARK --save-mark
-A WIREWARP-PREROUTING -m connmark --mark 0x101/0xfff -j MARK --set-mark 257
-A WIREWARP-OUTPUT -j CONNMARK --restore-mark
-A WIREWARP-OUTPUT -m connmark --mark 0x101 -j MARK --set-mark 0x101
-A WIREWARP-FORWARD -i wwobs0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1380
-A WIREWARP-POSTROUTING -o wwobs0 -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A WIREWARP-POSTROUTING -p tcp --tcp-flags SYN,RST SYN -o wwobs0 -j TCPMSS --clamp-mss-to-pmtu
-I PREROUTING 1 -j WIREWARP-PREROUTING
-I OUTPUT 1 -j WIREWARP-OUTPUT
-I FORWARD 1 -j WIREWARP-FORWARD
-I POSTROUTING 1 -j WIREWARP-POSTROUTING
COMMIT
EOF
in_vps iptables-restore --noflush <"$tmp/owned.rules"
# The same rules through the legacy (x_tables) backend, on the gateway, to compare the forms.
in_gw iptables-legacy-restore --noflush <"$tmp/owned.rules"
cp "$tmp/owned.rules" "$out/iptables-restore-input.rules"

in_vps sysctl -qw net.ipv4.ip_forward=1
in_vps sysctl -qw net.ipv4.conf.wwobs0.rp_filter=2

# The rule shapes schema/render.cc emits (its templates filled with sample values), through
# both iptables backends in a namespace of their own: each must come back byte for byte.
cat >"$tmp/render-shapes.rules" <<'EOF'
*nat
:WIREWARP-PREROUTING - [0:0]
:WIREWARP-POSTROUTING - [0:0]
-A WIREWARP-PREROUTING ! -i wwobs0 -p tcp -m tcp --dport 25565 -j DNAT --to-destination 10.77.0.2:25565
-A WIREWARP-PREROUTING ! -i wwobs0 -p udp -m udp --dport 27015:27030 -j DNAT --to-destination 10.77.0.2:27015-27030
-A WIREWARP-PREROUTING -i eth0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.168.1.10:80
-A WIREWARP-POSTROUTING -s 10.77.0.0/24 ! -o wwobs0 -j MASQUERADE
-A WIREWARP-POSTROUTING -s 192.168.1.0/24 -o eth0 -j MASQUERADE
-A WIREWARP-POSTROUTING -d 192.168.1.10/32 ! -o wwobs0 -m connmark --mark 0x57570123 -j MASQUERADE
-I PREROUTING 1 -m addrtype --dst-type LOCAL -j WIREWARP-PREROUTING
-I POSTROUTING 1 -j WIREWARP-POSTROUTING
COMMIT
*filter
:WIREWARP-FORWARD - [0:0]
-A WIREWARP-FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A WIREWARP-FORWARD -i wwobs0 -o wwobs0 -j ACCEPT
-A WIREWARP-FORWARD -d 10.77.0.2/32 -o wwobs0 -p tcp -m tcp --dport 25565 -m conntrack --ctstate DNAT -j ACCEPT
-A WIREWARP-FORWARD -d 10.77.0.2/32 -o wwobs0 -p udp -m udp --dport 27015:27030 -m conntrack --ctstate DNAT -j ACCEPT
-A WIREWARP-FORWARD -s 10.77.0.0/24 -i wwobs0 -j ACCEPT
-A WIREWARP-FORWARD -d 192.168.1.0/24 -i wwobs0 -j ACCEPT
-A WIREWARP-FORWARD -s 192.168.1.0/24 -o wwobs0 -j ACCEPT
-I FORWARD 1 -j WIREWARP-FORWARD
COMMIT
*mangle
:WIREWARP-PREROUTING - [0:0]
:WIREWARP-OUTPUT - [0:0]
:WIREWARP-MSS - [0:0]
-A WIREWARP-PREROUTING -i wwobs0 -m conntrack --ctstate NEW -j CONNMARK --set-xmark 0x57570123/0xffffffff
-A WIREWARP-PREROUTING ! -i wwobs0 -m connmark --mark 0x57570123 -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A WIREWARP-OUTPUT -m connmark --mark 0x57570123 -j CONNMARK --restore-mark --nfmask 0xffffffff --ctmask 0xffffffff
-A WIREWARP-MSS -o wwobs0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-A WIREWARP-MSS -i wwobs0 -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu
-I PREROUTING 1 -j WIREWARP-PREROUTING
-I OUTPUT 1 -j WIREWARP-OUTPUT
-I FORWARD 1 -j WIREWARP-MSS
COMMIT
EOF
cp "$tmp/render-shapes.rules" "$out/iptables-restore-render-shapes.rules"
ip netns add "$shapes"
ip netns exec "$shapes" iptables-restore --noflush <"$tmp/render-shapes.rules"
ip netns exec "$shapes" iptables-legacy-restore --noflush <"$tmp/render-shapes.rules"
ip netns exec "$shapes" iptables-save 2>/dev/null >"$out/iptables-save-render-shapes.txt"
ip netns exec "$shapes" iptables-legacy-save >"$out/iptables-legacy-save-render-shapes.txt"
# "-I CHAIN 1 RULE" comes back as "-A CHAIN RULE"; every other line must come back as given.
sed -n -e 's/^-I \([A-Z]*\) 1 /-A \1 /p' -e '/^-A /p' "$tmp/render-shapes.rules" >"$tmp/render-shapes.expected"
for saved in iptables-save-render-shapes.txt iptables-legacy-save-render-shapes.txt; do
  while IFS= read -r line; do
    grep -qxF -- "$line" "$out/$saved" || echo "capture.sh: NOT CANONICAL in $saved: $line"
  done <"$tmp/render-shapes.expected"
done

# --- Captures ----------------------------------------------------------------------------
save_redacted_dump "$vps" wwobs0 "$out/wg-dump-vps-wwobs0.txt"
save_redacted_dump "$gw" wwobs1 "$out/wg-dump-gw-wwobs1.txt"
save_redacted_dump "$vps" wwobs2 "$out/wg-dump-vps-wwobs2-unconfigured.txt"
in_vps wg show wwobs9 dump >"$out/wg-dump-missing.stdout" 2>"$out/wg-dump-missing.stderr" &&
  { echo "capture.sh: wg show on a missing interface succeeded" >&2; exit 1; }
echo "$?" >"$out/wg-dump-missing.exitcode"

in_vps iptables-save >"$out/iptables-save-vps.txt"
for table in nat filter mangle; do
  in_vps iptables-save -t "$table" >"$out/iptables-save-vps-$table.txt"
done

in_gw iptables-legacy-save >"$out/iptables-legacy-save-gw.txt"
# With legacy tables present, nf_tables iptables-save adds a "# Warning: ..." line on stderr.
in_gw iptables-save -t nat 2>"$out/iptables-save-gw-legacy-warning.stderr" >/dev/null

in_vps ip -j route show table all >"$out/ip-route-vps-all.json"
in_gw ip -j route show table all >"$out/ip-route-gw-all.json"
in_vps ip -4 -N -j route show table all proto 87 >"$out/ip-route-vps-proto87.json"
in_gw ip -4 -N -j route show table all proto 87 >"$out/ip-route-gw-proto87.json"
in_gw ip -4 -j route show table all proto 87 >"$out/ip-route-gw-proto87-named.json"
in_gw ip -j rule show >"$out/ip-rule-gw.json"
in_gw ip -4 -N -j rule show >"$out/ip-rule-gw-numeric.json"
in_vps ip -4 -N -j rule show >"$out/ip-rule-vps-numeric.json"

in_vps ip -j address show >"$out/ip-address-vps-all.json"
in_vps ip -d -j link show >"$out/ip-link-vps-detail.json"
in_vps ip -d -j address show dev wwobs0 >"$out/ip-address-vps-wwobs0-detail.json"
in_vps ip -d -j address show dev wwobs2 >"$out/ip-address-vps-wwobs2-detail.json"
in_gw ip -d -j address show dev wwobs1 >"$out/ip-address-gw-wwobs1-detail.json"
in_vps ip -d -j address show dev wwobs-uplink >"$out/ip-address-vps-uplink-detail.json"
in_vps ip -d -j address show dev wwobs9 >"$out/ip-address-missing.stdout" 2>"$out/ip-address-missing.stderr" &&
  { echo "capture.sh: ip address show on a missing interface succeeded" >&2; exit 1; }
echo "$?" >"$out/ip-address-missing.exitcode"

in_vps sysctl -n net.ipv4.ip_forward >"$out/sysctl-vps-ip_forward.txt"
in_vps sysctl -n net.ipv4.conf.wwobs0.rp_filter >"$out/sysctl-vps-wwobs0-rp_filter.txt"
in_vps sysctl -n net.ipv4.conf.wwobs9.rp_filter >"$out/sysctl-missing.stdout" 2>"$out/sysctl-missing.stderr" &&
  { echo "capture.sh: sysctl of a missing key succeeded" >&2; exit 1; }
echo "$?" >"$out/sysctl-missing.exitcode"

# Userspace detection: the socket wg itself prefers, and test(1)'s answers.
test -S /var/run/wireguard/wwobs0.sock
test -S /var/run/wireguard/wwobs9.sock && { echo "capture.sh: unexpected socket" >&2; exit 1; }

# Name the secrets' absence: the real private keys must not appear anywhere in OUTPUT_DIR.
for secret in "$(cat "$tmp/vps.key")" "$(cat "$tmp/gw.key")" "$(cat "$tmp/x.psk")"; do
  if grep -rqF -- "$secret" "$out"; then
    echo "capture.sh: a secret leaked into $out" >&2
    exit 1
  fi
done
echo "capture.sh: captured into $out"
