#!/usr/bin/env bash
# `make run`: the reconciler with embedded defaults, following examples/homelab of this
# checkout's git repository (its current branch; commit to see a change), with SQLite and the
# CA in ./wirewarp-data and the status page on localhost. Prints the status URL, the admin
# config path and an install command for the VPS agent. Ctrl-C stops it.
# Usage: scripts/run.sh BUILD_DIR
# Environment (all optional):
#   WIREWARP_DATA           data directory: SQLite, CA, admin.wwctl.yaml (default ./wirewarp-data)
#   WIREWARP_LISTEN         the mutual-TLS API, HOST:PORT (default 127.0.0.1:8443)
#   WIREWARP_STATUS_LISTEN  the status page and webhook, HOST:PORT (default 127.0.0.1:8080)
#   WIREWARP_ADVERTISE      the URL agents dial, in install commands and the server certificate
#                           (default https://LISTEN); set it, and WIREWARP_LISTEN=0.0.0.0:8443,
#                           before the first start for agents on other hosts
#   WIREWARP_GIT_PATH       the fleet's folder in this checkout (default examples/homelab)
set -euo pipefail

BUILD=$(realpath "${1:-build}")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${WIREWARP_DATA:-$ROOT/wirewarp-data}
LISTEN=${WIREWARP_LISTEN:-127.0.0.1:8443}
STATUS=${WIREWARP_STATUS_LISTEN:-127.0.0.1:8080}
ADVERTISE=${WIREWARP_ADVERTISE:-}
FLEET_PATH=${WIREWARP_GIT_PATH:-examples/homelab}
SOURCE=()
if BRANCH=$(git -C "$ROOT" symbolic-ref --short HEAD 2>/dev/null); then
  SOURCE=(--git-url "$ROOT" --git-branch "$BRANCH" --git-path "$FLEET_PATH" --git-interval 60s)
  FOLLOWING="following $ROOT, branch $BRANCH, path $FLEET_PATH (commit to see a change)"
else
  FOLLOWING="not a git checkout: $FLEET_PATH uploaded once with wwctl apply"
fi
EXTRA=()
[ -n "$ADVERTISE" ] && EXTRA=(--advertise "$ADVERTISE")

# The build's wwctl bundle is served at /v1/artifacts (the package serves its own copy).
"$BUILD/reconciler/daemon/wirewarp-reconciler" --data-dir "$DATA" --listen "$LISTEN" "${SOURCE[@]}" \
  "${EXTRA[@]}" --status-listen "$STATUS" --artifacts-dir "$BUILD/artifacts" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
  [ -f "$DATA/admin.wwctl.yaml" ] && curl -sk -o /dev/null --max-time 1 "https://$LISTEN/v1/ca" && break
  kill -0 $PID 2>/dev/null || exit 1
  sleep 0.1
done
if [ ${#SOURCE[@]} -eq 0 ]; then
  WWCTL_CONFIG=$DATA/admin.wwctl.yaml "$BUILD/cli/wwctl" apply -f "$ROOT/$FLEET_PATH" > /dev/null
fi
INSTALL=$(WWCTL_CONFIG=$DATA/admin.wwctl.yaml "$BUILD/cli/wwctl" token create --type server --name vps --ttl 24h)
cat <<MSG

WireWarp reconciler is running, $FOLLOWING.
  Status page:   http://$STATUS/
  Admin config:  $DATA/admin.wwctl.yaml
                 export WWCTL_CONFIG=$DATA/admin.wwctl.yaml; $BUILD/cli/wwctl status
  Enroll the VPS agent (a single-use token, valid 24 h):
$INSTALL
Press Ctrl-C to stop.
MSG
wait $PID
