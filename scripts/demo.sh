#!/usr/bin/env bash
# `make demo`: the whole WireWarp fleet on this machine, in network namespaces:
#   ctl   the reconciler, following a local bare git repository (webhook + 15 s polling),
#         with the status page; reachable from this host at 169.254.77.2 (a link-local veth)
#   vps   the tunnel server agent        gw   the gateway agent (client, gateway for its LAN)
#   lan   a host at home with TCP/UDP echo services      inet  a host on the internet
# It prints what to run to see a forward work and how to push a change, keeps running until
# Ctrl-C, and then removes every namespace, interface, process and file it made.
# Usage (root): scripts/demo.sh BUILD_DIR
set -euo pipefail

BUILD=$(realpath "${1:-build}")
WWCTL=$BUILD/cli/wwctl
AGENT=$BUILD/agent/wirewarp-agent
RECONCILER=$BUILD/reconciler/daemon/wirewarp-reconciler
E2E=$(cd "$(dirname "$0")/../tests/e2e" && pwd)

# shellcheck source=../tests/e2e/lib.sh
source "$E2E/lib.sh"
if [ "$(id -u)" != 0 ]; then
  echo "make demo needs root: it creates network namespaces, WireGuard devices and iptables rules." >&2
  exit 1
fi
export WW_WITH_CTL=1 WG_VPS=wwdemo-vps WG_GW=wwdemo-gw
ww_init demo
# shellcheck source=../tests/e2e/lib_controlplane.sh
source "$E2E/lib_controlplane.sh"
HOST_LINK=wwdemo-host
# ww_cleanup exits with the status it is entered with: hand it the script's, not ip's.
demo_cleanup() { local status=$?; set +e; ip link del "$HOST_LINK" 2>/dev/null; (exit "$status"); ww_cleanup; }
trap demo_cleanup EXIT

echo "Setting up namespaces $NS_CTL $NS_INET $NS_VPS $NS_GW $NS_LAN ..."
ww_make_topology
ww_start_echo_services
ip link add "$HOST_LINK" type veth peer name wwdemo-ctl netns "$NS_CTL"
ip addr add 169.254.77.1/30 dev "$HOST_LINK" && ip link set "$HOST_LINK" up
in_ns "$NS_CTL" ip addr add 169.254.77.2/30 dev wwdemo-ctl && in_ns "$NS_CTL" ip link set wwdemo-ctl up

REPO=$WORK/fleet.git CLONE=$WORK/fleet SECRET_FILE=$WORK/webhook.secret
git init -q --bare -b main "$REPO"
git init -q -b main "$CLONE"
ww_write_fleet "$CLONE/fleet"
git -C "$CLONE" add -A
git -C "$CLONE" -c user.name=demo -c user.email=demo@example.org commit -qm "The demo fleet: web and game forwards"
git -C "$CLONE" remote add origin "$REPO" && git -C "$CLONE" push -q -u origin main
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET_FILE")
# The hook a forge would call: this repository calls it itself after every push.
cat > "$REPO/hooks/post-receive" <<HOOK
#!/bin/sh
ip netns exec $NS_INET /usr/bin/python3 $E2E/gitops.py webhook http://$CTL_ADDRESS:8080/hooks/git \
  "\$(cat $SECRET_FILE)" "push-\$(date +%s%N)" > /dev/null 2>&1 || true
HOOK
chmod +x "$REPO/hooks/post-receive"

echo "Starting the reconciler ..."
ww_start_reconciler --git-url "$REPO" --git-branch main --git-path fleet --git-interval 15s \
  --webhook-secret-file "$SECRET_FILE" --status-listen 0.0.0.0:8080
echo "Enrolling the agents ..."
ww_enroll vps "$NS_VPS" server || { cat "$WORK/enroll-vps.log"; exit 1; }
ww_enroll gw "$NS_GW" client || { cat "$WORK/enroll-gw.log"; exit 1; }
ww_start_agent vps "$NS_VPS"
ww_start_agent gw "$NS_GW"
if ww_wwctl wait --for=converged --timeout 90s > /dev/null; then echo "The fleet has converged."
else echo "The fleet has not converged yet; see the status page."; fi
wait_for_handshake || true

cat <<EOF

WireWarp demo is running. Work files: $WORK

  Status page:  http://169.254.77.2:8080/   (from this host; also /status.json, /metrics, /badge.svg)

  A forward, from the internet host to the LAN host's echo service through the VPS
  (the LAN host answers with the address it saw: the client's real one, 203.0.113.1):
    ip netns exec $NS_INET python3 $E2E/echo.py tcp $VPS_ADDRESS 8080 3
    ip netns exec $NS_INET python3 $E2E/echo.py udp $VPS_ADDRESS 27016 3

  The fleet as wwctl sees it:
    ip netns exec $NS_CTL env WWCTL_CONFIG=$ADMIN_CONFIG $WWCTL status
    ip netns exec $NS_CTL env WWCTL_CONFIG=$ADMIN_CONFIG $WWCTL get forwards

  Push a change (the repository's hook sends a signed webhook; agents converge in about a second):
    cd $CLONE
    sed -i 's/ports: "8080"/ports: "8081"/' fleet/forwards.yaml
    git -c user.name=you -c user.email=you@example.org commit -qam "Move the web port" && git push -q
    ip netns exec $NS_INET python3 $E2E/echo.py tcp $VPS_ADDRESS 8081 3

Press Ctrl-C to stop; everything the demo made is removed.
EOF
if [ -n "${WW_DEMO_RUN:-}" ]; then
  # For tests (tests/e2e/tour_test.sh): run a script in this fleet, then clean up.
  # shellcheck source=/dev/null
  source "$WW_DEMO_RUN"
  exit $?
fi
if [ "${WW_DEMO_CHECK:-}" = 1 ]; then
  # For the test (tests/e2e/demo_test.sh): do what the text above says, then stop.
  answer=$(ip netns exec "$NS_INET" python3 "$E2E/echo.py" tcp $VPS_ADDRESS 8080 3 || true)
  echo "demo check: tcp/8080 answered '$answer'"
  sed -i 's/ports: "8080"/ports: "8081"/' "$CLONE/fleet/forwards.yaml"
  git -C "$CLONE" -c user.name=you -c user.email=you@example.org commit -qam "Move the web port" && git -C "$CLONE" push -q
  ww_wwctl wait --for=converged --revision "$(git -C "$CLONE" rev-parse HEAD)" --timeout 30s > /dev/null || true
  answer=$(ip netns exec "$NS_INET" python3 "$E2E/echo.py" tcp $VPS_ADDRESS 8081 3 || true)
  echo "demo check: after the push, tcp/8081 answered '$answer'"
  answer=$(curl -s --max-time 5 http://169.254.77.2:8080/status.json | head -c 200 || true)
  echo "demo check: status page from the host: ${answer:0:40}"
  exit 0
fi
# Keep running until Ctrl-C (the INT trap from ww_init exits, and EXIT cleans up).
while kill -0 "$RECONCILER_PID" 2>/dev/null; do sleep 1; done
echo "The reconciler stopped; see $WORK/reconciler.log"
