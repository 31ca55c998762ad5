# shellcheck shell=bash
# The README's day-two tour, run for real (tests/e2e/tour_test.sh): scripts/demo.sh sources
# this file once its fleet has converged, with the demo's names in scope (NS_*, CLONE, WORK,
# ADMIN_CONFIG, ww_wwctl, in_ns, ...). Every command line of the fenced blocks between
# "<!-- tour:begin -->" and "<!-- tour:end -->" in README.md runs in order, in the demo's
# fleet clone; a line must exit 0 unless its comment says "exit N". A comment line
# "# on the gateway:" sends the lines after it to the gateway's namespace, "# on your
# machine:" back. Lines the README can only show with placeholders are mapped:
#   wirewarp-agent enroll ...   runs the line the last `wwctl token create` printed, with a
#                               fresh state directory instead of /var/lib/wirewarp
#   wirewarp-agent run ...      starts the gateway daemon on that state directory
# After the tour, the checks at the end say whether each step did what the README says.
set +e  # demo.sh runs with -e; each tour line's status is checked here
README=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/README.md
TOUR_LOG=$WORK/tour.log
TOUR_STATE=$WORK/state-gw-again
TOUR_FAILURES=0
TOUR_COMMANDS=()
tour_pass() { echo "ok   - tour: $*"; }
tour_fail() { echo "FAIL - tour: $*"; TOUR_FAILURES=$((TOUR_FAILURES + 1)); }

wwctl() { ww_wwctl "$@"; }
export GIT_AUTHOR_NAME=tour GIT_AUTHOR_EMAIL=tour@example.org GIT_COMMITTER_NAME=tour GIT_COMMITTER_EMAIL=tour@example.org

# The tour's command lines, one per line, continuation lines joined; comment lines kept.
tour_lines() {
  awk '/<!-- tour:begin -->/ {on = 1; next} /<!-- tour:end -->/ {on = 0}
       on && /^```/ {block = !block; next}
       on && block {
         if (sub(/\\$/, "")) { pending = pending $0; next }
         print pending $0; pending = "" }' "$README"
}

tour_run_line() {  # tour_run_line HOST LINE: runs it, prints its output to the log; returns its status
  local host=$1 line=$2
  case $line in
    "wirewarp-agent enroll"*)
      local printed
      printed=$(grep -h '^wirewarp-agent enroll' "$WORK"/tour-*.out | tail -1)
      [ -n "$printed" ] || { echo "no printed enroll line"; return 1; }
      printed=${printed/--state-dir \/var\/lib\/wirewarp/--state-dir $TOUR_STATE}
      [[ $printed == *"--state-dir $TOUR_STATE"* ]] || printed="$printed --state-dir $TOUR_STATE"
      rm -rf "$TOUR_STATE"
      # shellcheck disable=SC2086  # the printed line, split into words as a shell would
      in_ns "$NS_GW" ${printed/wirewarp-agent/$AGENT}
      return ;;
    "wirewarp-agent run"*)
      [ -n "${AGENT_PIDS[gw]:-}" ] && ww_stop "${AGENT_PIDS[gw]}"
      ip netns exec "$NS_GW" "$AGENT" run --state-dir "$TOUR_STATE" >> "$WORK/gw-again-run.log" 2>&1 &
      AGENT_PIDS[gw]=$!
      PIDS+=($!)
      return 0 ;;
  esac
  if [ "$host" = gateway ]; then in_ns "$NS_GW" bash -c "$line"; else eval "$line"; fi
}

tour_main() {
  local host=mine line expected status count=0
  cd "$CLONE" || return 1
  while IFS= read -r line; do
    case $line in
      "# on the gateway"*) host=gateway; continue ;;
      "# on your machine"*) host=mine; continue ;;
      "#"*|"") continue ;;
    esac
    expected=0
    [[ $line =~ \#.*exit\ ([0-9]) ]] && expected=${BASH_REMATCH[1]}
    count=$((count + 1))
    echo "\$ $line" >> "$TOUR_LOG"
    tour_run_line "$host" "$line" > "$WORK/tour-last.out" 2> "$WORK/tour-last.err" < /dev/null
    status=$?
    cat "$WORK/tour-last.out" "$WORK/tour-last.err" > "$WORK/tour-$count.out"
    TOUR_COMMANDS+=("$line")
    cat "$WORK/tour-$count.out" >> "$TOUR_LOG"
    if [ "$status" = "$expected" ]; then tour_pass "\`$line\` exits $status"
    else tour_fail "\`$line\` exited $status, want $expected:"; tail -n 15 "$WORK/tour-last.out" "$WORK/tour-last.err"; fi
  done < <(tour_lines)
  [ "$count" -ge 10 ] && tour_pass "the README's tour has $count commands" || tour_fail "only $count tour commands found in README.md"
}

# tour_output N PATTERN: the output of the Nth tour command matching PATTERN (a fixed string).
tour_output() {
  local wanted=$1 pattern=$2 index seen=0
  for index in "${!TOUR_COMMANDS[@]}"; do
    [[ ${TOUR_COMMANDS[$index]} == *"$pattern"* ]] || continue
    seen=$((seen + 1))
    [ "$seen" = "$wanted" ] && { cat "$WORK/tour-$((index + 1)).out"; return 0; }
  done
  echo "(no tour command #$wanted matching '$pattern')"
}

tour_expect() {  # tour_expect N PATTERN REGEX WHAT
  if tour_output "$1" "$2" | tr "\n" " " | grep -Eq -- "$3"; then tour_pass "$4"
  else tour_fail "$4: \`$2\` (#$1) printed:"; tour_output "$1" "$2" | tail -20; fi
}

tour_checks() {
  tour_expect 1 "wwctl diff" 'PortForward/web-remap' "diff names the changed PortForward"
  tour_expect 1 "wwctl diff" '"?8080"? -> "?8081"?' "diff shows the changed field, old -> new"
  tour_expect 1 "wwctl wait" 'Converged' "wait says when the fleet converged"
  tour_expect 3 "wwctl wait" 'gw: (pending|applying).*gw: converged' "wait prints the re-enrolled gw's phases as they change"
  tour_expect 1 "wwctl rollback" '.' "rollback --force answers"
  tour_expect 1 "wwctl status" 'Diverged: +from git at [0-9a-f]{7}.*override by' "status says the fleet diverged from git, and whose override it is"
  tour_expect 2 "wwctl status" 'token create --type client --name gw' "status says how to enroll the deleted gw again"
  if grep -q '^kind: Peer' "$CLONE/fleet/phone.yaml" && grep -q 'publicKey:' "$CLONE/fleet/phone.yaml"; then
    tour_pass "peer new printed the Peer document with the phone's public key"
  else tour_fail "fleet/phone.yaml: $(head -c 400 "$CLONE/fleet/phone.yaml")"; fi
  tour_expect 1 "wwctl peer new" '▀|▄|█' "peer new shows the config as a QR code in the terminal"
  if ww_forward_works tcp 8080 || wait_for_handshake 8080; then tour_pass "after the revert and the re-enrollment, tcp/8080 reaches the LAN host with the real client address"
  else tour_fail "tcp/8080 does not answer after the tour"; fi
  local key config=$CLONE/phone.conf
  if [ -f "$config" ] && [ "$(stat -c %a "$config")" = 600 ]; then tour_pass "phone.conf was written 0600"
  else tour_fail "phone.conf: $(stat -c '%a %n' "$config" 2>&1)"; fi
  key=$(sed -n 's/^PrivateKey *= *//p' "$config" 2>/dev/null)
  if [ -z "$key" ]; then tour_fail "phone.conf has no PrivateKey"
  elif git -C "$CLONE" log -p --all | grep -qF "$key" || grep -rqF "$key" "$REPO" "$CTL_DATA" "$WORK/reconciler.log" \
       "$CLONE/fleet"; then
    tour_fail "the phone's private key reached git, the fleet or the reconciler"
  else tour_pass "the phone's private key is only in phone.conf: not in git, the fleet, the reconciler's data or its log"; fi
  tour_expect 1 "wwctl get peers" 'phone' "get peers lists the phone"
}

tour_main
tour_checks
[ "$TOUR_FAILURES" = 0 ] && echo "tour: all checks passed" || { echo "tour: $TOUR_FAILURES check(s) failed; the whole log:"; cat "$TOUR_LOG"; exit 1; }
