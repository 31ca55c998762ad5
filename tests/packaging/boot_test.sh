#!/bin/bash
# The units under a real systemd: the packages (with systemd and wireguard-go) installed in a
# fresh bookworm root (lib.sh's cached debootstrap root), booted with
# `systemd-nspawn -b --private-network` (loopback only). Checks that the reconciler starts at
# boot as its own user under the unit's hardening, that the agent's unit waits for an
# enrollment, then enrolls an agent on the same host, starts its unit and waits for
# convergence (a WireGuard interface wg0), and that stopping and restarting the agent's unit
# leaves wg0 and wireguard-go up, the restarted agent changing nothing.
#
# Usage: boot_test.sh BUILD_DEBS_ARGS... Exit 77 (skipped) when not root, or debootstrap or
# systemd-nspawn is missing.
set -u
SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
source "$SOURCE/tests/packaging/lib.sh"
skip_unless_release "$@"
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (debootstrap, systemd-nspawn)"
  exit 77
fi
for tool in debootstrap systemd-nspawn nsenter; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is missing (make deps installs debootstrap and systemd-container)"
    exit 77
  fi
done
WORK=$(mktemp -d /var/tmp/wirewarp-boot.XXXXXX)
ROOT=$WORK/root
NSPAWN=""
LEADER=""
cleanup() {
  if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then
    # SIGTERM makes nspawn shut the container down; SIGKILL if it does not within 30 s.
    kill "$NSPAWN"
    for _ in $(seq 1 60); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$NSPAWN" 2>/dev/null
  fi
  if mountpoint -q "$ROOT/proc" 2>/dev/null; then umount "$ROOT/proc" || umount -l "$ROOT/proc"; fi
  remove_tree "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
in_container() { nsenter -t "$LEADER" -a /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
# wait_for SECONDS COMMAND...: until COMMAND succeeds (quietly), at most SECONDS.
wait_for() {
  local seconds=$1
  shift
  for _ in $(seq 1 $((seconds * 4))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 1
}

if ! bash "$SOURCE/packaging/build_debs.sh" "$@" --out "$WORK/debs" >"$WORK/build.log" 2>&1; then
  cat "$WORK/build.log"
  echo "FAIL: build_debs.sh"
  exit 1
fi
make_root "$ROOT" "$WORK" || exit 1
if ! apt_install "$ROOT" "$WORK/apt.log" systemd systemd-sysv dbus wireguard-go "$WORK/debs"/*.deb; then
  tail -n 40 "$WORK/apt.log"
  echo "FAIL: apt-get install of systemd and the packages"
  exit 1
fi
echo wwboot > "$ROOT/etc/hostname"
cat > "$ROOT/root/fleet.yaml" <<'YAML'
apiVersion: wirewarp.dev/v1
kind: Tunnel
metadata: {name: vps}
spec:
  agent: vps
  endpoint: 192.0.2.10:51820
  network: 10.77.0.0/24
YAML

systemd-nspawn -D "$ROOT" -b --register=no --keep-unit --private-network >"$WORK/console.log" 2>&1 </dev/null &
NSPAWN=$!
wait_for 30 pgrep -P "$NSPAWN"
LEADER=$(pgrep -P "$NSPAWN" | head -n 1)
system_up() { in_container systemctl is-system-running | grep -Eq "^(running|degraded)$"; }
if [ -n "$LEADER" ] && wait_for 90 system_up; then
  pass "the root boots to $(in_container systemctl is-system-running) under systemd-nspawn"
else
  tail -n 30 "$WORK/console.log"
  echo "FAIL: the container did not boot"
  exit 1
fi

reconciler_listening() { in_container journalctl -u wirewarp-reconciler --no-pager | grep -q "listening on 0.0.0.0:8443"; }
if wait_for 30 reconciler_listening &&
   [ "$(in_container ps -o user= -p "$(in_container systemctl show -p MainPID --value wirewarp-reconciler)")" = \
     wirewarp-reconciler ]; then
  pass "wirewarp-reconciler.service started at boot, as the wirewarp-reconciler user, with /etc/wirewarp/reconciler.yaml"
else
  fail "wirewarp-reconciler.service: $(in_container systemctl status wirewarp-reconciler --no-pager 2>&1 | tail -n 15)"
fi
if [ "$(in_container systemctl is-active wirewarp-agent)" = inactive ] &&
   in_container systemctl status wirewarp-agent --no-pager | grep -q "ConditionPathExists=/var/lib/wirewarp/agent-name"; then
  pass "wirewarp-agent.service waits for an enrollment (condition, not a failure)"
else
  fail "wirewarp-agent.service before enrollment: $(in_container systemctl status wirewarp-agent --no-pager 2>&1 | tail -n 8)"
fi

# Enroll the agent on the same host, start its unit, converge.
WWCTL=(env WWCTL_CONFIG=/var/lib/wirewarp-reconciler/admin.wwctl.yaml wwctl)
in_container "${WWCTL[@]}" apply -f /root/fleet.yaml >"$WORK/apply.log" 2>&1 || fail "wwctl apply: $(cat "$WORK/apply.log")"
enroll=$(in_container "${WWCTL[@]}" token create --type server --name vps 2>&1 | grep "^wirewarp-agent enroll ")
# shellcheck disable=SC2086 # the printed command line, split into its words
if [ -n "$enroll" ] && in_container $enroll >"$WORK/enroll.log" 2>&1 && in_container systemctl start wirewarp-agent &&
   in_container "${WWCTL[@]}" wait --for=converged --timeout 60s >"$WORK/wait.log" 2>&1 &&
   in_container ip link show wg0 >/dev/null; then
  pass "enrolled, wirewarp-agent.service started and converged (wg0 up)"
else
  fail "enroll and converge: $(cat "$WORK/enroll.log" "$WORK/wait.log" 2>/dev/null)" \
       "$(in_container journalctl -u wirewarp-agent --no-pager | tail -n 10)"
fi
# The unit's bounding set and the daemon's own drop agree: two capabilities, for it and its children.
if in_container journalctl -u wirewarp-agent --no-pager |
   grep -q "event=capabilities effective=cap_net_admin,cap_net_raw bounding=cap_net_admin,cap_net_raw"; then
  pass "the agent runs with CAP_NET_ADMIN and CAP_NET_RAW only"
else
  fail "the agent's capabilities: $(in_container journalctl -u wirewarp-agent --no-pager | grep capabilities | tail -n 2)"
fi

# Stopping and restarting the unit never takes the tunnel down.
wireguard_go=$(in_container pgrep -x wireguard-go)
in_container systemctl stop wirewarp-agent
if [ "$(in_container systemctl is-active wirewarp-agent)" = inactive ] && in_container ip link show wg0 >/dev/null &&
   [ -n "$wireguard_go" ] && [ "$(in_container pgrep -x wireguard-go)" = "$wireguard_go" ]; then
  pass "systemctl stop wirewarp-agent: wg0 and wireguard-go (pid $wireguard_go) stay up"
else
  fail "after systemctl stop wirewarp-agent: $(in_container ip -br link 2>&1) wireguard-go: $(in_container pgrep -a wireguard-go)"
fi
in_container systemctl start wirewarp-agent
in_container systemctl restart wirewarp-agent
restored() { in_container journalctl -u wirewarp-agent --no-pager | grep -q "event=restore outcome=converged steps=0"; }
if wait_for 30 restored && in_container ip link show wg0 >/dev/null &&
   [ "$(in_container pgrep -x wireguard-go)" = "$wireguard_go" ]; then
  pass "systemctl restart wirewarp-agent: the restarted agent restores with 0 steps, wg0 and wireguard-go unchanged"
else
  fail "after restart: $(in_container journalctl -u wirewarp-agent --no-pager | tail -n 8)"
fi

finish_checks
echo "all boot checks passed"
