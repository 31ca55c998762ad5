#!/usr/bin/env bash
# wirewarp-reconciler as a process, on 127.0.0.1 only (no root, no namespaces): the first start
# creates the data directory and prints how to use admin.wwctl.yaml and create tokens; the API
# answers (the CA without a certificate, 401 for /v1/status without one, the status with the
# admin certificate); SIGTERM stops it cleanly with exit 0; a
# second start loads the same directory and prints no first-start text; bad flags exit 2. A
# second reconciler on a busy --listen, --status-listen or --data-dir exits non-zero naming it.
# It logs its open-file limit with the connection caps, and listens with a backlog of 1,024+.
# A new install has its own fleet id (fleet-id, the CA's name, the admin's certificate), kept
# across restarts; another install's admin certificate is refused 401 naming both fleets;
# --status-tls serves the status listener over HTTPS with the server's certificate and
# refuses plain HTTP.
# Usage: bash tests/e2e/reconciler_daemon_test.sh BUILD_DIR
set -u

BUILD=${1:?usage: reconciler_daemon_test.sh BUILD_DIR}
RECONCILER=$BUILD/reconciler/daemon/wirewarp-reconciler
[ -x "$RECONCILER" ] || { echo "SKIP: $RECONCILER is not built"; exit 77; }
command -v curl > /dev/null || { echo "SKIP: curl is missing"; exit 77; }

WORK=$(mktemp -d /tmp/wirewarp-daemon.XXXXXX)
DATA=$WORK/data
PID=''
PASSED=0 FAILED=0
cleanup() {
  [ -n "$PID" ] && kill -KILL "$PID" 2> /dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
pass() { echo "PASS: $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $1"; FAILED=$((FAILED + 1)); }

# Four free ports in a row (the API, the status listener and two for the busy-port checks),
# below the ephemeral range so other processes' outgoing connections cannot take one.
PORT=$(/usr/bin/python3 -c '
import random, socket
for _ in range(200):
    base = random.randint(20000, 30000)
    sockets = []
    try:
        for port in range(base, base + 4):
            s = socket.socket(); s.bind(("127.0.0.1", port)); sockets.append(s)
        print(base); break
    except OSError:
        pass
    finally:
        for s in sockets: s.close()
')
URL=https://127.0.0.1:$PORT

start() {  # start LOG [ARGS...]: the reconciler in the background, waiting until /v1/ca answers
  local log=$1
  shift
  "$RECONCILER" --data-dir "$DATA" --listen "127.0.0.1:$PORT" --worker-threads 16 --status-listen "127.0.0.1:$((PORT + 1))" "$@" > "$log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$URL/v1/ca")" = 200 ] && return 0
    kill -0 "$PID" 2> /dev/null || break
    sleep 0.1
  done
  fail "the reconciler did not start: $(cat "$log")"
  exit 1
}

stop() {  # stop: SIGTERM, then the exit status within 10 s
  kill -TERM "$PID"
  for _ in $(seq 100); do
    kill -0 "$PID" 2> /dev/null || break
    sleep 0.1
  done
  if kill -0 "$PID" 2> /dev/null; then
    fail "still running 10 s after SIGTERM"
    return
  fi
  wait "$PID"
  STATUS=$?
  PID=''
}

start "$WORK/first.log"
grep -q "^Created the reconciler's data directory $DATA" "$WORK/first.log" \
  && grep -q "export WWCTL_CONFIG=$DATA/admin.wwctl.yaml" "$WORK/first.log" \
  && grep -q "wwctl token create --type server" "$WORK/first.log" \
  && pass "the first start says how to use admin.wwctl.yaml and create tokens" \
  || fail "first start output: $(cat "$WORK/first.log")"
[ "$(stat -c %a "$DATA/admin.wwctl.yaml")" = 600 ] && [ "$(stat -c %a "$DATA")" = 700 ] \
  && pass "admin.wwctl.yaml is 0600 in a 0700 data directory" || fail "modes: $(stat -c '%a %n' "$DATA" "$DATA"/*)"

# The admin's certificate and key out of admin.wwctl.yaml, for curl.
/usr/bin/python3 - "$DATA/admin.wwctl.yaml" "$WORK" << 'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
for key, name in (("caCertificate", "ca.pem"), ("clientCertificate", "admin.pem"), ("clientKey", "admin.key")):
    start = lines.index(key + ": |") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        block.append(line[2:])
    open(sys.argv[2] + "/" + name, "w").write("\n".join(block) + "\n")
PY
admin() { curl -sS --max-time 40 --cacert "$WORK/ca.pem" --cert "$WORK/admin.pem" --key "$WORK/admin.key" "$@"; }

[ "$(curl -s --cacert "$WORK/ca.pem" -o /dev/null -w '%{http_code}' "$URL/v1/status")" = 401 ] \
  && pass "/v1/status without a client certificate is 401" || fail "/v1/status without a certificate was not 401"
admin -o "$WORK/status.json" "$URL/v1/status"
/usr/bin/python3 -c 'import json,sys; d = json.load(open(sys.argv[1])); assert d["revision"] is None and d["converged"] is False and d["agents"] == [], d' \
  "$WORK/status.json" && pass "the admin reads an empty fleet snapshot" || fail "status: $(cat "$WORK/status.json")"

# The install's fleet id: in fleet-id, printed, in the CA's name and in the admin's certificate.
FLEET=$(cat "$DATA/fleet-id")
[[ "$FLEET" =~ ^f[0-9a-f]{16}$ ]] && grep -q "^  Fleet id: $FLEET$" "$WORK/first.log" \
  && openssl x509 -noout -subject -in "$DATA/ca.pem" | grep -q "CN = WireWarp CA $FLEET" \
  && openssl x509 -noout -ext subjectAltName -in "$WORK/admin.pem" | grep -q "URI:wirewarp://$FLEET/admin/admin" \
  && pass "a new install has its own fleet id ($FLEET) in fleet-id, the CA's name and its certificates" \
  || fail "fleet id: '$FLEET', $(openssl x509 -noout -subject -in "$DATA/ca.pem")"

# One reconciler per port and per data directory: cpp-httplib's SO_REUSEPORT would let a
# second one bind beside the first, and the kernel would split connections between two CAs.
busy() {  # busy NAME PATTERN ARGS...: a second reconciler with ARGS exits non-zero, printing PATTERN
  local name=$1 pattern=$2
  shift 2
  timeout 20 "$RECONCILER" --worker-threads 8 "$@" > "$WORK/busy.log" 2>&1
  local code=$?
  if [ "$code" != 0 ] && [ "$code" != 124 ] && grep -qF -- "$pattern" "$WORK/busy.log"; then
    pass "$name (exit $code)"
  else
    fail "$name: exit $code, $(cat "$WORK/busy.log")"
  fi
}
busy "a second reconciler on the same --listen is refused, naming the address" \
  "--listen: cannot listen on 127.0.0.1:$PORT (the API server): Address already in use" \
  --data-dir "$WORK/other1" --listen "127.0.0.1:$PORT" --status-listen "127.0.0.1:$((PORT + 2))"
busy "a second reconciler on the same --status-listen is refused, naming the address" \
  "--status-listen: cannot listen on 127.0.0.1:$((PORT + 1)) (the status listener): Address already in use" \
  --data-dir "$WORK/other2" --listen "127.0.0.1:$((PORT + 2))" --status-listen "127.0.0.1:$((PORT + 1))"
busy "a second reconciler on the same --data-dir is refused, naming the lock and the holder" \
  "data directory \"$DATA\" is in use by another wirewarp-reconciler (pid $PID): it holds the lock $DATA/reconciler.lock" \
  --data-dir "$DATA" --listen "127.0.0.1:$((PORT + 2))" --status-listen "127.0.0.1:$((PORT + 3))"
for _ in 1 2 3; do
  [ "$(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$URL/v1/ca")" = 200 ] || fail "the first reconciler stopped answering"
done
# The refused second reconciler on other1 made its own data directory first: another install.
/usr/bin/python3 - "$WORK/other1/admin.wwctl.yaml" "$WORK" << 'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
for key, name in (("clientCertificate", "other.pem"), ("clientKey", "other.key")):
    start = lines.index(key + ": |") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        block.append(line[2:])
    open(sys.argv[2] + "/" + name, "w").write("\n".join(block) + "\n")
PY
OTHER_FLEET=$(cat "$WORK/other1/fleet-id")
OTHER=$(curl -sS --max-time 10 --cacert "$WORK/ca.pem" --cert "$WORK/other.pem" --key "$WORK/other.key" -w ' %{http_code}' "$URL/v1/status")
[ "${OTHER##* }" = 401 ] && [ "$OTHER_FLEET" != "$FLEET" ] \
  && grep -qF "fleet \\\"$OTHER_FLEET\\\", but was not signed by this reconciler's CA \\\"WireWarp CA $FLEET\\\" (fleet \\\"$FLEET\\\")" <<< "$OTHER" \
  && pass "another install's admin certificate is refused 401, naming both fleets" || fail "another install's certificate: $OTHER"
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z INFO wirewarp-reconciler .* listening on 127.0.0.1:'"$PORT" "$WORK/first.log" \
  && pass "log lines carry an RFC 3339 time and a level" || fail "log: $(cat "$WORK/first.log")"
grep -qE "INFO open files: [0-9]+; connections: at most [0-9]+ to the API \(2000 per address\), 1024 to the status listener" "$WORK/first.log" \
  && pass "it logs its open-file limit and the connection caps fitted to it" || fail "log: $(cat "$WORK/first.log")"
# The API's listen backlog (ss shows it as Send-Q of a listening socket; the kernel caps it at
# net.core.somaxconn).
BACKLOG=$(ss -Hltn "sport = :$PORT" 2> /dev/null | awk '{print $3}')
SOMAXCONN=$(cat /proc/sys/net/core/somaxconn)
WANTED=$((SOMAXCONN < 1024 ? SOMAXCONN : 1024))
[ -n "$BACKLOG" ] && [ "$BACKLOG" -ge "$WANTED" ] && pass "the API listens with a backlog of $BACKLOG (at least $WANTED)" \
  || fail "listen backlog: '$BACKLOG' (somaxconn $SOMAXCONN)"

stop
[ "${STATUS:-1}" = 0 ] && pass "SIGTERM stops it with exit status 0" || fail "exit status after SIGTERM: ${STATUS:-none}"
grep -q "SIGTERM, stopping" "$WORK/first.log" && pass "it says why it stops" || fail "log: $(cat "$WORK/first.log")"

start "$WORK/second.log" --status-tls
if grep -q "Created the reconciler's data directory" "$WORK/second.log"; then fail "the second start created the directory again"
else pass "the second start loads the data directory"; fi
[ "$(curl -s --cacert "$WORK/ca.pem" -o /dev/null -w '%{http_code}' "$URL/v1/ca")" = 200 ] \
  && pass "the same CA serves after a restart" || fail "the CA changed across a restart"
[ "$(cat "$DATA/fleet-id")" = "$FLEET" ] && [ "$(admin -o /dev/null -w '%{http_code}' "$URL/v1/status")" = 200 ] \
  && pass "the fleet id and the admin's certificate survive a restart" || fail "fleet id after restart: $(cat "$DATA/fleet-id")"
# --status-tls: the page over HTTPS with the server's certificate (checked against the CA), no plain HTTP.
STATUS_URL=127.0.0.1:$((PORT + 1))
[ "$(curl -s --max-time 5 --cacert "$WORK/ca.pem" -o /dev/null -w '%{http_code}' "https://$STATUS_URL/status.json")" = 200 ] \
  && [ "$(curl -s --max-time 5 --cacert "$WORK/ca.pem" -o /dev/null -w '%{http_code}' -X POST -d '{}' "https://$STATUS_URL/hooks/git")" = 405 ] \
  && grep -q "status page: https://$STATUS_URL/" "$WORK/second.log" \
  && pass "--status-tls serves the page over HTTPS with the server's certificate (and the webhook path)" \
  || fail "--status-tls: $(curl -sS --max-time 5 --cacert "$WORK/ca.pem" "https://$STATUS_URL/status.json" 2>&1 | head -c 300)"
PLAIN=$(curl -s --max-time 5 -o /dev/null -w '%{http_code}' "http://$STATUS_URL/status.json")
[ "$PLAIN" = 000 ] && pass "--status-tls refuses plain HTTP" || fail "plain HTTP on the TLS status listener answered $PLAIN"
stop
[ "${STATUS:-1}" = 0 ] && pass "the second instance stops cleanly too" || fail "second exit status: ${STATUS:-none}"

"$RECONCILER" --data-dir "$DATA" --status-listen off --status-tls > "$WORK/bad.log" 2>&1
BAD=$?
[ "$BAD" = 2 ] && grep -q -- '--status-tls needs the status listener' "$WORK/bad.log" \
  && pass "--status-tls with --status-listen off exits 2" || fail "--status-tls without a listener: status $BAD, $(cat "$WORK/bad.log")"

"$RECONCILER" --data-dir "$DATA" --listen nonsense > "$WORK/bad.log" 2>&1
BAD=$?
[ "$BAD" = 2 ] && grep -q -- 'listen address "nonsense" is not HOST:PORT' "$WORK/bad.log" \
  && pass "a bad --listen exits 2 naming the flag" || fail "bad --listen: status $BAD, $(cat "$WORK/bad.log")"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
