#!/usr/bin/env bash
# The reconciler serves the wwctl bundle, and the CI examples' install steps work as written:
# GET /v1/artifacts lists it without a client certificate, curl downloads it against the CA,
# its sha256 matches the listing, the .sha256 line and the build's file, and the install
# lines of examples/ci/github-actions.yaml and gitlab-ci.yaml (run here with their variables
# set; apt-get skipped, sudo dropped, /usr/local/bin moved into the test's directory) install a
# wwctl that talks to the reconciler over mutual TLS. A wrong pinned sha256 installs nothing.
# Loopback only; no root needed. Usage: artifacts_test.sh BUILD_DIR
set -uo pipefail
BUILD=$(realpath "$1")
SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
BUNDLE=$(ls "$BUILD"/artifacts/wwctl-linux-* 2>/dev/null | head -1)
if [ -z "$BUNDLE" ]; then
  echo "FAIL - no $BUILD/artifacts/wwctl-linux-* (cmake --build $BUILD --target wwctl-bundle)"
  exit 1
fi
PLATFORM=${BUNDLE##*/wwctl-}
WORK=$(mktemp -d /tmp/ww-artifacts.XXXXXX)
PID=''
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
failures=0
ok() { echo "ok   - $1"; }
bad() { echo "FAIL - $1"; failures=$((failures + 1)); }
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

PORT=$(free_port)
URL=https://127.0.0.1:$PORT
"$BUILD/reconciler/daemon/wirewarp-reconciler" --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" --status-listen off \
  --artifacts-dir "$BUILD/artifacts" > "$WORK/reconciler.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  [ -f "$WORK/data/ca.pem" ] && curl -s -o /dev/null --cacert "$WORK/data/ca.pem" "$URL/v1/ca" && break
  sleep 0.1
done
CA=$WORK/data/ca.pem
grep -q "artifacts: 1 in $BUILD/artifacts: wwctl-$PLATFORM" "$WORK/reconciler.log" && ok "the reconciler logs the artifact it serves" \
  || bad "log: $(cat "$WORK/reconciler.log")"

expected=$(sha256sum "$BUNDLE" | cut -d' ' -f1)
size=$(stat -c %s "$BUNDLE")
listing=$(curl --fail -sS --cacert "$CA" "$URL/v1/artifacts")
[ "$listing" = "{\"artifacts\":[{\"name\":\"wwctl\",\"platform\":\"$PLATFORM\",\"version\":\"$("$BUILD/cli/wwctl" version --client | sed 's/.*wwctl \([^ ]*\) .*/\1/')\",\"sha256\":\"$expected\",\"size\":$size}]}" ] \
  && ok "GET /v1/artifacts without a client certificate lists wwctl/$PLATFORM, its sha256 and size" || bad "listing: $listing"

mkdir -p "$WORK/get" && cd "$WORK/get" || exit 1
start=$(date +%s%N)
curl --fail -sS -D headers --cacert "$CA" "$URL/v1/artifacts/wwctl/$PLATFORM" -o "wwctl-$PLATFORM"
took=$(( ($(date +%s%N) - start) / 1000000 ))
curl --fail -sS --cacert "$CA" "$URL/v1/artifacts/wwctl/$PLATFORM.sha256" -o "wwctl-$PLATFORM.sha256"
sha256sum -c "wwctl-$PLATFORM.sha256" > /dev/null && cmp -s "wwctl-$PLATFORM" "$BUNDLE" \
  && grep -qi "^X-Content-Sha256: $expected" headers \
  && ok "curl downloads the bundle ($size bytes in $took ms); sha256sum -c of the .sha256 line and X-Content-Sha256 agree" \
  || bad "download: $(cat headers "wwctl-$PLATFORM.sha256")"
chmod +x "wwctl-$PLATFORM"
out=$(HOME=$WORK/get "./wwctl-$PLATFORM" --config "$WORK/data/admin.wwctl.yaml" version 2>&1)
grep -q "Server: wirewarp-reconciler" <<< "$out" && ok "the downloaded bundle talks to the reconciler (mutual TLS): $(tr '\n' ' ' <<< "$out")" \
  || bad "downloaded wwctl version: $out"

# The examples' install lines, as a pipeline would run them.
example_lines() {  # $1 = github | gitlab
  /usr/bin/python3 - "$SOURCE/examples/ci" "$1" <<'PY'
import sys, yaml
folder, which = sys.argv[1], sys.argv[2]
if which == "github":
    steps = yaml.safe_load(open(folder + "/github-actions.yaml"))["jobs"]["check"]["steps"]
    print(next(step["run"] for step in steps if step.get("name") == "Install wwctl"))
else:
    for line in yaml.safe_load(open(folder + "/gitlab-ci.yaml"))[".wwctl"]["before_script"]:
        if not line.startswith("apt-get"):
            print(line)
PY
}
run_example() {  # $1 = github | gitlab, then NAME=VALUE environment
  local which=$1 dir=$WORK/$1$RANDOM
  shift
  mkdir -p "$dir/bin" "$dir/tmp"
  example_lines "$which" | sed -e "s|/usr/local/bin/wwctl|$dir/bin/wwctl|" -e 's/^sudo //' \
    -e "s/linux-amd64/$PLATFORM/g" > "$dir/install.sh"
  (cd "$dir" && env RUNNER_TEMP="$dir/tmp" "$@" bash -eo pipefail install.sh > "$dir/out" 2>&1)
  local code=$?
  INSTALLED=$dir/bin/wwctl
  OUTPUT=$(cat "$dir/out")
  return $code
}
if run_example github WIREWARP_URL="$URL" WIREWARP_CA="$(cat "$CA")" WWCTL_SHA256= && cmp -s "$INSTALLED" "$BUNDLE" \
  && [ -x "$INSTALLED" ] && HOME=$WORK "$INSTALLED" version --client > /dev/null; then
  ok "examples/ci/github-actions.yaml's install step installs the bundle (checked against the .sha256 route)"
else
  bad "github install step: $OUTPUT"
fi
run_example github WIREWARP_URL="$URL" WIREWARP_CA="$(cat "$CA")" WWCTL_SHA256="$expected" && cmp -s "$INSTALLED" "$BUNDLE" \
  && ok "... and with WWCTL_SHA256 pinned" || bad "github install step, pinned: $OUTPUT"
wrong=$(printf '%064d' 0)
if run_example github WIREWARP_URL="$URL" WIREWARP_CA="$(cat "$CA")" WWCTL_SHA256="$wrong" || [ -e "$INSTALLED" ]; then
  bad "a wrong pinned sha256 was not refused: $OUTPUT"
else
  ok "a wrong pinned sha256 fails the step and installs nothing"
fi
if run_example gitlab WIREWARP_URL="$URL" WIREWARP_CA="$CA" && cmp -s "$INSTALLED" "$BUNDLE" \
  && HOME=$WORK "$INSTALLED" version --client > /dev/null; then
  ok "examples/ci/gitlab-ci.yaml's before_script installs the bundle"
else
  bad "gitlab before_script: $OUTPUT"
fi

[ "$failures" = 0 ] || { echo "$failures check(s) failed"; exit 1; }
