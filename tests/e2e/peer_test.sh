#!/usr/bin/env bash
# Phones and laptops against the real daemon (issue 9): a server agent enrolls (a token from
# wwctl, a CSR from openssl, POST /v1/enroll), `wwctl peer new` builds a device config from the
# reconciler's current revision, the Peer document is applied, `wwctl peer config` rebuilds the
# same file, and the device's private key is nowhere on the reconciler's side: not in its log,
# not in any file of its data directory (SQLite, WAL, CA), not in the fleet. Also token
# warnings, token list and revoke. Loopback only; no root. Usage: peer_test.sh BUILD_DIR
set -uo pipefail
BUILD=$(realpath "$1")
RECONCILER=$BUILD/reconciler/daemon/wirewarp-reconciler
WWCTL=$BUILD/cli/wwctl
for binary in "$RECONCILER" "$WWCTL"; do
  [ -x "$binary" ] || { echo "FAIL: $binary is missing: build it first"; exit 1; }
done
WORK=$(mktemp -d /tmp/ww-peer.XXXXXX)
PID=''
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
failures=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; failures=$((failures + 1)); }
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API=$(free_port) STATUS=$(free_port)
URL=https://127.0.0.1:$API
DATA=$WORK/data
"$RECONCILER" --data-dir "$DATA" --listen "127.0.0.1:$API" --status-listen "127.0.0.1:$STATUS" --log-level debug \
  > "$WORK/reconciler.log" 2>&1 &
PID=$!
for _ in $(seq 150); do
  [ -f "$DATA/admin.wwctl.yaml" ] && curl -sk -o /dev/null --max-time 1 "$URL/v1/ca" && break
  kill -0 "$PID" 2>/dev/null || { cat "$WORK/reconciler.log"; echo "FAIL: the reconciler exited"; exit 1; }
  sleep 0.2
done
export WWCTL_CONFIG=$DATA/admin.wwctl.yaml

mkdir -p "$WORK/fleet"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cp "$ROOT/tests/testdata/peer/tunnel.yaml" "$WORK/fleet/"
"$WWCTL" apply -f "$WORK/fleet" > /dev/null 2>&1 && ok "the fleet is revision 1" || bad "apply failed"

# Token warnings: vps runs a Tunnel, so a client token for it is suspicious; nas is unknown.
"$WWCTL" token create --type client --name vps > /dev/null 2> "$WORK/warn.err"
grep -q 'wwctl: warning: agent "vps" runs a Tunnel in revision 1, so it enrolls with --mode server' "$WORK/warn.err" \
  && ok "token create warns about the wrong mode" || bad "no mode warning: $(cat "$WORK/warn.err")"
"$WWCTL" token create --type client --name nas > /dev/null 2> "$WORK/warn.err"
grep -q 'wwctl: warning: agent "nas" is not in the fleet' "$WORK/warn.err" \
  && ok "token create warns about a name the fleet does not use" || bad "no fleet warning: $(cat "$WORK/warn.err")"
stale=$("$WWCTL" token list -o json | /usr/bin/python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin) if t["name"] == "nas"][0])')
"$WWCTL" token revoke "$stale" > /dev/null && "$WWCTL" token list | grep -q "^$stale .* revoked " \
  && ok "token revoke: the token shows as revoked" || bad "token revoke/list: $("$WWCTL" token list)"

# The server agent enrolls as `wirewarp-agent enroll` would: token, CSR, WireGuard key.
"$WWCTL" token create --type server --name vps -o json > "$WORK/token.json" 2> /dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/agent.key" 2> /dev/null
openssl req -new -key "$WORK/agent.key" -subj /CN=vps -out "$WORK/agent.csr" 2> /dev/null
SERVER_KEY=$(head -c 32 /dev/urandom | base64)
/usr/bin/python3 - "$WORK" "$SERVER_KEY" > "$WORK/enroll.json" << 'PYTHON'
import json, sys
work, key = sys.argv[1], sys.argv[2]
print(json.dumps({"token": json.load(open(work + "/token.json"))["token"], "csr": open(work + "/agent.csr").read(),
                  "wireguardPublicKey": key, "hostname": "vps", "mode": "server", "name": "vps"}))
PYTHON
code=$(curl -s -o "$WORK/enrolled.json" -w '%{http_code}' --cacert "$DATA/ca.pem" -H 'Content-Type: application/json' \
  --data-binary @"$WORK/enroll.json" "$URL/v1/enroll")
[ "$code" = 200 ] && ok "the server agent enrolled" || bad "enroll answered $code: $(cat "$WORK/enrolled.json")"

# The phone.
if "$WWCTL" peer new phone --tunnel vps --dns 192.168.50.2 --wg-config "$WORK/phone.conf" --qr none \
  > "$WORK/fleet/phone.yaml" 2> "$WORK/peer.err"; then
  ok "peer new made the phone's config"
else
  bad "peer new failed: $(cat "$WORK/peer.err")"
fi
PRIVATE=$(sed -n 's/^PrivateKey = //p' "$WORK/phone.conf")
[ "$(stat -c %a "$WORK/phone.conf")" = 600 ] && ok "the config is 0600" || bad "mode $(stat -c %a "$WORK/phone.conf")"
grep -qx "PublicKey = $SERVER_KEY" "$WORK/phone.conf" && grep -qx "Endpoint = 203.0.113.10:51820" "$WORK/phone.conf" \
  && grep -qx "DNS = 192.168.50.2" "$WORK/phone.conf" && grep -qx "Address = 10.77.0.3/32" "$WORK/phone.conf" \
  && ok "the config has the enrolled server key, the endpoint, DNS and the next address" || bad "config: $(sed 's/^PrivateKey.*/PrivateKey = (hidden)/' "$WORK/phone.conf")"
"$WWCTL" apply -f "$WORK/fleet" > /dev/null 2>&1 && ok "the Peer document applies" || bad "applying the Peer document failed"
"$WWCTL" peer config phone --private-key-file "$WORK/phone.conf" 2> /dev/null | cmp -s - "$WORK/phone.conf" \
  && ok "peer config rebuilds the same file from the current revision" || bad "peer config differs"
curl -s --max-time 5 "http://127.0.0.1:$STATUS/status.json" | grep -q '"managed":false' \
  && ok "status.json flags the phone unmanaged" || bad "status.json lacks managed:false"

# The private key, as text or raw bytes, is nowhere on the reconciler's side.
kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=''
if /usr/bin/python3 - "$PRIVATE" "$DATA" "$WORK/reconciler.log" "$WORK/fleet" << 'PYTHON'; then
import base64, os, sys
key = sys.argv[1]
needles = [key.encode(), base64.b64decode(key)]
found = []
for root in sys.argv[2:]:
    paths = [root] if os.path.isfile(root) else [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
    for path in paths:
        data = open(path, "rb").read()
        found += [path for needle in needles if needle in data]
if found: print("\n".join(found))
sys.exit(1 if found or not key else 0)
PYTHON
  ok "the private key is in no log line, no data-directory file and no fleet file"
else
  bad "the private key leaked (above)"
fi
PUBLIC=$(sed -n 's/^  publicKey: "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$WORK/fleet/phone.yaml")
[ -n "$PUBLIC" ] && grep -rqF "$PUBLIC" "$DATA" \
  && ok "(the scan sees the data directory: the phone's public key is there)" || bad "the public key is not in the data directory"
[ $failures = 0 ] && echo "peer: all checks passed" || { tail -20 "$WORK/reconciler.log"; echo "peer: $failures check(s) failed"; exit 1; }
