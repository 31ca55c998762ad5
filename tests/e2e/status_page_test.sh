#!/usr/bin/env bash
# The read-only status page in Debian's headless Chromium, served by the real StatusListener
# with the embedded page (tests/browser/status_fixture.cc) from canned snapshots in
# tests/testdata/status/:
#   - DOM assertions (--dump-dom): banner, agents (a deleted one with its enroll command, an
#     agent's warnings), handshake ages, traffic, forwards, the
#     revision, the rejected commit with its errors, history and events;
#   - HTML/script payloads in a description, an agent's lastError, a commit message (and more)
#     are rendered as text: the text is there, no injected element or handler is;
#   - the page refreshes itself (a later snapshot replaces the first without a reload);
#   - screenshots at 1280x900 and 390x844 (and 1280x900 dark) under
#     BUILD_DIR/test-artifacts/status-page/;
#   - POST/PUT/DELETE are refused 405 (curl), the CSP header is sent.
# Usage: bash status_page_test.sh BUILD_DIR. Exit 77 (skip) only when chromium is missing.
set -euo pipefail

BUILD_DIR=$(cd "${1:?usage: status_page_test.sh BUILD_DIR}" && pwd)
SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TESTDATA=$SOURCE_DIR/tests/testdata/status
FIXTURE=$BUILD_DIR/tests/status_fixture
CHROMIUM=/usr/bin/chromium
ARTIFACTS=$BUILD_DIR/test-artifacts/status-page

if [[ ! -x $CHROMIUM ]]; then
  echo "SKIP: $CHROMIUM is not installed (make deps installs Debian's chromium package)"
  exit 77
fi
if [[ ! -x $FIXTURE ]]; then
  echo "FAIL: $FIXTURE is missing: build the status_fixture target"
  exit 1
fi
for tool in curl python3; do
  command -v "$tool" > /dev/null || { echo "FAIL: $tool is required"; exit 1; }
done

WORK=$(mktemp -d /tmp/ww-status-page.XXXXXX)
FIXTURE_PID=""
PORT=""
cleanup() {
  if [[ -n $FIXTURE_PID ]]; then
    kill "$FIXTURE_PID" 2> /dev/null || true
    wait "$FIXTURE_PID" 2> /dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$ARTIFACTS"

fail() {
  echo "FAIL: $*"
  exit 1
}

# start_fixture SNAPSHOT... : (re)starts the fixture on a free port, sets PORT.
start_fixture() {
  stop_fixture
  local out=$WORK/fixture.out
  : > "$out"
  "$FIXTURE" "$@" > "$out" 2> "$WORK/fixture.err" &
  FIXTURE_PID=$!
  for _ in $(seq 1 100); do
    if grep -q '^listening on ' "$out"; then
      PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)/$|\1|p' "$out")
      return 0
    fi
    kill -0 "$FIXTURE_PID" 2> /dev/null || fail "the fixture exited: $(cat "$WORK/fixture.err")"
    sleep 0.05
  done
  fail "the fixture did not start"
}

stop_fixture() {
  if [[ -n $FIXTURE_PID ]]; then
    kill "$FIXTURE_PID" 2> /dev/null || true
    wait "$FIXTURE_PID" 2> /dev/null || true
    FIXTURE_PID=""
  fi
}

# chromium_run BUDGET_MS ARGS... : headless Chromium with a fresh profile, no network but ours.
chromium_run() {
  local budget=$1
  shift
  local profile
  profile=$(mktemp -d "$WORK/profile.XXXXXX")
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --virtual-time-budget="$budget" "$@" 2> "$WORK/chromium.err"
}

# dump_dom NAME [BUDGET_MS] : the page's DOM after its scripts ran, into $WORK/NAME.html.
dump_dom() {
  local name=$1 budget=${2:-5000}
  chromium_run "$budget" --dump-dom "http://127.0.0.1:$PORT/" > "$WORK/$name.html" ||
    fail "chromium --dump-dom failed: $(tail -5 "$WORK/chromium.err")"
  cp "$WORK/$name.html" "$ARTIFACTS/$name.dom.html"
}

# screenshots NAME : desktop and phone PNGs of the current fixture's page.
screenshots() {
  local name=$1 size
  for size in 1280,900 390,844; do
    local file=$ARTIFACTS/$name-${size/,/x}.png
    rm -f "$file"
    chromium_run 5000 --hide-scrollbars --screenshot="$file" --window-size="$size" "http://127.0.0.1:$PORT/" > /dev/null ||
      fail "chromium --screenshot failed: $(tail -5 "$WORK/chromium.err")"
    [[ -s $file ]] || fail "no screenshot at $file"
    # A PNG's signature, and not an empty page: a rendered page compresses to well over 10 kB.
    [[ $(head -c 8 "$file" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "$file is not a PNG"
    (($(stat -c %s "$file") > 10000)) || fail "$file is suspiciously small (blank page?)"
  done
  # The dark theme (prefers-color-scheme: dark), for a person to look at.
  chromium_run 5000 --hide-scrollbars --blink-settings=preferredColorScheme=0 --screenshot="$ARTIFACTS/$name-dark-1280x900.png" \
    --window-size=1280,900 "http://127.0.0.1:$PORT/" > /dev/null || fail "chromium --screenshot (dark) failed"
}

# dom_check FILE CHECK... : runs tests/e2e checks on the DOM text through Python's HTML parser
#   text:STRING      the page's visible text contains STRING
#   class:NAME       some element has class NAME
#   id-text:ID=TEXT  the element with id ID contains TEXT in its text
dom_check() {
  local file=$1
  shift
  python3 - "$file" "$@" << 'PYTHON'
import sys
from html.parser import HTMLParser

class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements = []   # (tag, attrs dict)
        self.text = []
        self.stack = []      # ids of open elements with an id, with their text buffers
        self.id_text = {}
    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag in ("img", "br", "meta", "link", "input"):
            return
        self.stack.append(attributes.get("id"))
    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()
    def handle_data(self, data):
        self.text.append(data)
        for element_id in self.stack:
            if element_id:
                self.id_text[element_id] = self.id_text.get(element_id, "") + data

page = Page()
page.feed(open(sys.argv[1], encoding="utf-8").read())
text = "".join(page.text)
failures = []
for check in sys.argv[2:]:
    kind, _, value = check.partition(":")
    if kind == "text":
        if value not in text:
            failures.append("the page text lacks %r" % value)
    elif kind == "class":
        if not any(value in (attrs.get("class") or "").split() for _, attrs in page.elements):
            failures.append("no element has class %r" % value)
    elif kind == "id-text":
        element_id, _, wanted = value.partition("=")
        if wanted not in page.id_text.get(element_id, ""):
            failures.append("#%s lacks %r (it reads %r)" % (element_id, wanted, page.id_text.get(element_id, "")[:200]))
    elif kind == "safe":
        # Only the page's own elements: no injected id, handler, script, image or frame.
        for tag, attrs in page.elements:
            for name, attribute in attrs.items():
                if name.startswith("on"):
                    failures.append("<%s> has a handler attribute %s" % (tag, name))
                if name == "id" and attribute and attribute.startswith("pwned"):
                    failures.append("an injected element <%s id=%r> exists" % (tag, attribute))
                if name == "data-pwned":
                    failures.append("an injected handler ran: <%s data-pwned=%r>" % (tag, attribute))
            if tag == "script" and attrs.get("src") != "/app.js":
                failures.append("an injected <script> exists: %r" % (attrs,))
            if tag == "img" and attrs.get("src") != "/favicon.svg":
                failures.append("an injected <img> exists: %r" % (attrs,))
            if tag in ("iframe", "svg", "object", "embed", "u", "i", "em", "b"):
                failures.append("an injected <%s> exists" % tag)
            if tag == "a" and (attrs.get("href") or "").startswith("javascript:"):
                failures.append("an injected javascript: link exists")
    else:
        failures.append("unknown check %r" % check)
for failure in failures:
    print("  " + failure)
sys.exit(1 if failures else 0)
PYTHON
}

expect_dom() {
  local name=$1
  shift
  dom_check "$WORK/$name.html" "$@" || fail "$name: DOM assertions failed (DOM saved as $ARTIFACTS/$name.dom.html)"
}

# http_status METHOD PATH : the status code of one request to the fixture.
http_status() {
  curl -s -o /dev/null -w '%{http_code}' -X "$1" --max-time 10 ${3:+--data "$3"} "http://127.0.0.1:$PORT$2"
}

echo "== converged fleet"
start_fixture "$TESTDATA/converged.json"
dump_dom converged
expect_dom converged \
  "class:banner-good" "id-text:banner-title=Fleet converged" "id-text:banner-detail=All 2 agents run revision #7." \
  "id-text:agents=vps" "id-text:agents=vps-fra-1" "id-text:agents=home-gw" "id-text:agents=raspberrypi" \
  "id-text:agents=seen 12 s ago" "id-text:agents=seen 5 s ago" "id-text:agents=2 of 2 connected" \
  "id-text:agents=Converged" "id-text:agents=server" "id-text:agents=client" "id-text:agents=0.1.0" \
  "id-text:tunnels=home-gw" "id-text:tunnels=10.8.0.2/32" "id-text:tunnels=12 s ago" \
  "id-text:tunnels=1.5 GiB" "id-text:tunnels=50 MiB" \
  "id-text:forwards=minecraft" "id-text:forwards=Minecraft server in the basement" \
  "id-text:forwards=192.168.1.10:25565" "id-text:forwards=2 applied" "id-text:forwards=0 failed" \
  "id-text:revision=3f9a2c1e8b7d6f5a4c3b2a19081726354d6e7f80" "id-text:revision-author=Ada Lovelace <ada@example.org>" \
  "id-text:revision-message=Open the Minecraft port on the VPS" "id-text:revision=(15 min ago)" \
  "id-text:history=#5" "id-text:history=a1b2c3d" "id-text:history=Grace Hopper" "id-text:history=current" \
  "id-text:events=revision-accepted" "id-text:events=revision 7 from commit 3f9a2c1" "id-text:events=10 s ago" \
  "text:Updated "
grep -q 'id="rejected"' "$WORK/converged.html" && fail "converged: a rejected-commit section is shown"
grep -q 'id="banner-diverged"' "$WORK/converged.html" && fail "converged: a divergence from git is shown"
# Defect 11: a phone (unmanaged) is flagged and counted apart from the agents' peers.
expect_dom converged "id-text:tunnels=unmanaged" "id-text:tile-peers=1 / 1" "id-text:tile-devices=0 / 1" \
  "id-text:tile-devices=devices online"

screenshots converged

echo "== the listener's answers"
headers=$(curl -s -D - -o /dev/null --max-time 10 "http://127.0.0.1:$PORT/")
grep -qi "^Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'" <<< "$headers" ||
  fail "GET / lacks the Content-Security-Policy header: $headers"
grep -qi '^X-Content-Type-Options: nosniff' <<< "$headers" || fail "GET / lacks X-Content-Type-Options"
for method in POST PUT DELETE PATCH; do
  for path in / /status.json /metrics /badge.svg /app.js; do
    code=$(http_status "$method" "$path" '{}')
    [[ $code == 405 ]] || fail "$method $path answered $code, not 405"
  done
done
allow=$(curl -s -D - -o /dev/null -X DELETE --max-time 10 "http://127.0.0.1:$PORT/status.json" | tr -d '\r' | sed -n 's/^Allow: //ip')
[[ $allow == "GET, HEAD" ]] || fail "405 Allow header is \"$allow\""
[[ $(http_status POST /hooks/git '{"ref":"refs/heads/main"}') == 202 ]] || fail "POST /hooks/git was not routed to the webhook"
[[ $(http_status PUT /hooks/git '{}') == 405 ]] || fail "PUT /hooks/git was not refused"
[[ $(curl -s -o /dev/null -w '%{http_code}' -I --max-time 10 "http://127.0.0.1:$PORT/status.json") == 200 ]] || fail "HEAD /status.json"
[[ $(http_status GET /no-such-file) == 404 ]] || fail "GET /no-such-file is not 404"
# Whole bodies into variables first: `curl | grep -q` fails under pipefail when grep stops early.
metrics=$(curl -s --max-time 10 "http://127.0.0.1:$PORT/metrics")
grep -qx 'wirewarp_fleet_converged 1' <<< "$metrics" || fail "/metrics lacks wirewarp_fleet_converged 1"
grep -qx 'wirewarp_agent_connected{agent="home-gw"} 1' <<< "$metrics" || fail "/metrics lacks home-gw's connection"
badge=$(curl -s --max-time 10 "http://127.0.0.1:$PORT/badge.svg")
grep -q '<title>wirewarp: converged</title>' <<< "$badge" || fail "/badge.svg is not the converged badge"

echo "== fresh install: waiting for enrollment, not degraded"
start_fixture "$TESTDATA/enrollment.json"
dump_dom enrollment
expect_dom enrollment \
  "class:banner-warn" "id-text:banner-title=Waiting for enrollment" \
  "id-text:banner-detail=home-gw and vps have not enrolled yet" \
  "id-text:enroll-commands=wwctl token create --type server --name vps" \
  "id-text:enroll-commands=wwctl token create --type client --name home-gw" \
  "id-text:forwards=udp 2302-2305,27016" "id-text:tunnels=unmanaged" "id-text:tile-peers=0 / 1"
grep -q 'banner-bad' "$WORK/enrollment.html" && fail "enrollment: the banner is red"
grep -q 'Fleet degraded' "$WORK/enrollment.html" && fail "enrollment: the page says degraded"
badge=$(curl -s --max-time 10 "http://127.0.0.1:$PORT/badge.svg")
grep -q '<title>wirewarp: waiting for enrollment</title>' <<< "$badge" || fail "enrollment: /badge.svg is not the waiting badge"
screenshots enrollment

echo "== degraded fleet with a rejected commit"
start_fixture "$TESTDATA/degraded.json"
dump_dom degraded
expect_dom degraded \
  "class:banner-bad" "id-text:banner-title=Fleet degraded" "id-text:banner-detail=home-gw disconnected" \
  "id-text:banner-detail=1 forward failed" "id-text:banner=Commit deadbee was rejected; revision #7 stays in force." \
  "id-text:banner-diverged=Diverged from git at 0123456 (override by wirewarp://default/admin/admin at " \
  "id-text:banner-diverged=, rollback); the next commit replaces it." \
  "id-text:rejected=deadbee" "id-text:rejected=2 errors" "id-text:rejected=The fleet stays on revision #7." \
  'id-text:rejected=fleet/vps.yaml:12:7: error: PortForward/minecraft: spec.to.address: "192.168.1.300" is not an IPv4 address' \
  'id-text:rejected=fleet/vps.yaml:20:3: error: Tunnel/home: spec.peers[1].name: "home-gw" is listed twice' \
  "id-text:agents=Disconnected" "id-text:agents=seen 15 min ago" "id-text:agents=2 of 4 connected" \
  "id-text:banner-detail=cabin deleted" "id-text:agents=Deleted" "id-text:agents=deleted 10 min ago" \
  "id-text:agents=wwctl token create --type client --name cabin" "class:enroll-command" "class:agent-warnings" \
  'id-text:agents=Peer/cabin of Tunnel/home is left out: agent "cabin" has no WireGuard public key' \
  "id-text:agents=ip link add wg0 type wireguard: Operation not permitted" "id-text:agents=2 steps" \
  "id-text:agents=3 failures in a row · retry in 40 s" \
  "id-text:agents=add DNAT rule tcp 25565 -> 192.168.1.10:25565" "id-text:agents=applying generation 4" \
  "id-text:agents=Drift" "id-text:agents=Pending" "id-text:agents=0.0.9" \
  "id-text:tunnels=15 min ago" "id-text:tunnels=never" "id-text:tunnels=70 MiB" "id-text:tunnels=2.0 KiB" \
  "class:forward-failed" "class:forward-pending" "class:forward-applied" \
  "id-text:forwards=1 applied" "id-text:forwards=1 pending" "id-text:forwards=1 failed" "id-text:forwards=Office printer" \
  "id-text:events=commit-rejected" "id-text:events=commit deadbee rejected: 2 errors" "id-text:events=no report for 300 s"
screenshots degraded

echo "== HTML and script payloads are text"
start_fixture "$TESTDATA/payload.json"
dump_dom payload
expect_dom payload "safe:" \
  "id-text:forwards=<img src=x onerror=\"document.body.setAttribute('data-pwned','description')\" id=\"pwned-description\"><script id=\"pwned-script\">document.title='pwned'</script>" \
  "id-text:agents=<img src=x onerror=\"document.body.setAttribute('data-pwned','lastError')\" id=\"pwned-error-img\">" \
  "id-text:revision-message=<img src=x onerror=\"document.body.setAttribute('data-pwned','message')\"><b id=\"pwned-message\">bold</b>" \
  "id-text:revision-author=Mallory <script>alert('author')</script>" \
  "id-text:rejected=<iframe id=\"pwned-error\" src=\"javascript:alert(1)\"></iframe>" \
  "id-text:agents=<u id=\"pwned-version\">1</u>" \
  "id-text:tunnels=<i id=\"pwned-peer\">peer</i>" \
  "id-text:history=<b id=\"pwned-history\">history</b>" \
  "id-text:events=<em id=\"pwned-kind\">k</em>"
grep -q '<title>WireWarp · Fleet degraded</title>' "$WORK/payload.html" || fail "payload: the page title was changed"
screenshots payload

echo "== the page refreshes itself"
start_fixture "$TESTDATA/converged.json" "$TESTDATA/degraded.json"
dump_dom refreshed 9000
expect_dom refreshed "id-text:banner-title=Fleet degraded" "id-text:rejected=deadbee"

echo "== an unreachable reconciler is reported, the last data stays"
start_fixture "$TESTDATA/converged.json" "$WORK/missing.json"
dump_dom unreachable 9000
expect_dom unreachable "id-text:banner-title=Fleet converged" "class:refresh-bad" "text:Cannot reach the reconciler"

stop_fixture
echo "PASS: status page (screenshots in $ARTIFACTS)"
