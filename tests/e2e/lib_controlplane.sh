# shellcheck shell=bash
# Control-plane plumbing on top of lib.sh (sourced after it, after ww_init with WW_WITH_CTL=1):
# the reconciler in the ctl namespace, wwctl with its admin config, tokens, enrollment and
# `wirewarp-agent run` daemons. Used by the GitOps test and `make demo`.
# Needs: RECONCILER, WWCTL, AGENT (binaries) and WORK (from ww_init).

CTL_URL=https://$CTL_ADDRESS:8443
CTL_DATA=$WORK/data
ADMIN_CONFIG=$CTL_DATA/admin.wwctl.yaml
RECONCILER_PID=''
declare -A AGENT_PIDS=()

ww_json() {  # ww_json FILE PYTHON-EXPRESSION (on `d`): prints the result
  /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# ww_start_reconciler [EXTRA FLAGS...]: in the ctl namespace; returns once it answers.
ww_start_reconciler() {
  ip netns exec "$NS_CTL" "$RECONCILER" --data-dir "$CTL_DATA" --listen "$CTL_ADDRESS:8443" --advertise "$CTL_URL" \
    "$@" >> "$WORK/reconciler.log" 2>&1 &
  RECONCILER_PID=$!
  PIDS+=("$RECONCILER_PID")
  for _ in $(seq 150); do
    [ "$(in_ns "$NS_CTL" curl -sk -o /dev/null -w '%{http_code}' --max-time 2 "$CTL_URL/v1/ca" 2>/dev/null)" = 200 ] && return 0
    kill -0 "$RECONCILER_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "FAIL: the reconciler did not start:"; cat "$WORK/reconciler.log"
  return 1
}

ww_wwctl() { in_ns "$NS_CTL" env WWCTL_CONFIG="$ADMIN_CONFIG" "$WWCTL" "$@"; }

# ww_enroll NAME NS MODE: a token from wwctl, then `wirewarp-agent enroll` with the printed
# URL and CA pin; the agent's state dir is $WORK/state-NAME.
ww_enroll() {
  local name=$1 ns=$2 mode=$3 token pin
  ww_wwctl token create --type "$mode" --name "$name" -o json > "$WORK/token-$name.json" || return 1
  token=$(ww_json "$WORK/token-$name.json" 'd["token"]')
  pin=$(grep -o 'sha256:[0-9a-f]\{64\}' <<< "$(ww_json "$WORK/token-$name.json" 'd["installCommand"]')" | head -1)
  (umask 077; printf '%s\n' "$token" > "$WORK/token-$name.secret")
  in_ns "$ns" "$AGENT" enroll --url "$CTL_URL" --token-file "$WORK/token-$name.secret" --ca-pin "$pin" \
    --mode "$mode" --state-dir "$WORK/state-$name" --name "$name" > "$WORK/enroll-$name.log" 2>&1
}

ww_start_agent() {  # ww_start_agent NAME NS: `wirewarp-agent run`; its PID in AGENT_PIDS[NAME]
  ip netns exec "$2" "$AGENT" run --state-dir "$WORK/state-$1" >> "$WORK/$1-run.log" 2>&1 &
  AGENT_PIDS[$1]=$!
  PIDS+=($!)
}

# ww_admin_pems: the CA, the admin certificate and key out of admin.wwctl.yaml (block
# scalars) into $WORK/certs/{ca.pem,admin.pem,admin.key}, for curl.
ww_admin_pems() {
  mkdir -p "$WORK/certs"
  local field file
  for field in caCertificate:ca.pem clientCertificate:admin.pem clientKey:admin.key; do
    file=$WORK/certs/${field#*:}
    awk -v key="${field%%:*}:" '$1 == key {on = 1; next} on && /^  / {sub(/^  /, ""); print; next} {on = 0}' \
      "$ADMIN_CONFIG" > "$file"
  done
  chmod 600 "$WORK/certs/admin.key"
}

# ww_fleet_status FILE: GET /v1/status as the admin into FILE (curl: fast enough to poll).
ww_fleet_status() {
  in_ns "$NS_CTL" curl -sS --max-time 5 --cacert "$WORK/certs/ca.pem" --cert "$WORK/certs/admin.pem" \
    --key "$WORK/certs/admin.key" -o "$1" "$CTL_URL/v1/status"
}
