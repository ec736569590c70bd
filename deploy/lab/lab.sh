#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions called indirectly (traps, wait_for) are reachable
# Wirewatch multi-host lab: a small switched network built from Linux network
# namespaces on this one machine, with a real collector, three live sensors,
# ordinary traffic and an nmap scan spread across the sensor hosts.
#
#   sudo deploy/lab/lab.sh [--bin DIR] [--keep] [--timeout S]
#
# Everything lives in namespaces this script creates (names ww<PID>-*) on the
# private range 10.77.0.0/24; the host's own interfaces, addresses and routes
# are never touched and no packet leaves the namespaces. A trap removes every
# process, namespace and veth pair on exit, error or Ctrl-C.
# Exit status: 0 when every check passed, 1 when one failed, 2 on bad usage or
# a missing tool/binary.

set -Eeuo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd -- "$SCRIPT_DIR/../.." && pwd)

# ---------------------------------------------------------------- options ---

BIN_DIR=""
KEEP=0
TIMEOUT=90
PORTS_PER_SENSOR=40
SCAN_THRESHOLD=""

usage() {
    cat <<EOF
Usage: $(basename "$0") [options]          (run as root)

Builds a namespace network (switch, collector, sensor1..3, client, attacker),
runs wirewatch-collector and three live wirewatch-sensor processes over mutual
TLS, generates ordinary traffic and an nmap SYN scan split across the three
sensor hosts, then checks what the collector stored and alerted.

Options:
  --bin DIR              Directory with wirewatch, wirewatch-sensor and
                         wirewatch-collector (default: \$WIREWATCH_BIN, else
                         $REPO_DIR/.build/release, else .build/debug).
  --keep                 Keep the work directory (PKI, database, logs).
  --timeout S            Longest wait for each phase, seconds (default: $TIMEOUT).
  --ports-per-sensor N   Ports the attacker probes on each sensor host
                         (default: $PORTS_PER_SENSOR; 3*N distinct ports in all).
  --scan-threshold N     Passed to wirewatch-collector --scan-threshold.
  -h, --help             This help.

Exit status: 0 all checks passed, 1 a check failed, 2 bad usage or missing tool.
EOF
}

die_usage() { echo "lab: $*" >&2; echo "Try '$(basename "$0") --help'." >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --bin) [[ $# -ge 2 ]] || die_usage "--bin needs a directory"; BIN_DIR=$2; shift 2 ;;
        --bin=*) BIN_DIR=${1#*=}; shift ;;
        --keep) KEEP=1; shift ;;
        --timeout) [[ $# -ge 2 ]] || die_usage "--timeout needs seconds"; TIMEOUT=$2; shift 2 ;;
        --timeout=*) TIMEOUT=${1#*=}; shift ;;
        --ports-per-sensor) [[ $# -ge 2 ]] || die_usage "--ports-per-sensor needs a number"; PORTS_PER_SENSOR=$2; shift 2 ;;
        --ports-per-sensor=*) PORTS_PER_SENSOR=${1#*=}; shift ;;
        --scan-threshold) [[ $# -ge 2 ]] || die_usage "--scan-threshold needs a number"; SCAN_THRESHOLD=$2; shift 2 ;;
        --scan-threshold=*) SCAN_THRESHOLD=${1#*=}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die_usage "unknown option '$1'" ;;
    esac
done

[[ $TIMEOUT =~ ^[0-9]+$ && $TIMEOUT -ge 5 ]] || die_usage "--timeout must be a whole number of seconds >= 5 (got '$TIMEOUT')"
[[ $PORTS_PER_SENSOR =~ ^[0-9]+$ && $PORTS_PER_SENSOR -ge 1 && $PORTS_PER_SENSOR -le 20000 ]] \
    || die_usage "--ports-per-sensor must be 1..20000 (got '$PORTS_PER_SENSOR')"
[[ -z $SCAN_THRESHOLD || $SCAN_THRESHOLD =~ ^[0-9]+$ ]] || die_usage "--scan-threshold must be a number (got '$SCAN_THRESHOLD')"

if [[ -z $BIN_DIR ]]; then
    if [[ -n ${WIREWATCH_BIN:-} ]]; then
        BIN_DIR=$WIREWATCH_BIN
    elif [[ -x $REPO_DIR/.build/release/wirewatch-collector ]]; then
        BIN_DIR=$REPO_DIR/.build/release
    else
        BIN_DIR=$REPO_DIR/.build/debug
    fi
fi
BIN_ABS=$(cd -- "$BIN_DIR" 2>/dev/null && pwd) || { echo "lab: binary directory '$BIN_DIR' does not exist (build with 'swift build -c release' or pass --bin DIR)" >&2; exit 2; }
BIN_DIR=$BIN_ABS
for b in wirewatch wirewatch-sensor wirewatch-collector; do
    [[ -x $BIN_DIR/$b ]] || { echo "lab: $BIN_DIR/$b is missing or not executable (build with 'swift build -c release' or pass --bin DIR)" >&2; exit 2; }
done
WW=$BIN_DIR/wirewatch
SENSOR_BIN=$BIN_DIR/wirewatch-sensor
COLLECTOR_BIN=$BIN_DIR/wirewatch-collector

# ------------------------------------------------------------ prerequisites ---

if [[ $(id -u) -ne 0 ]]; then
    echo "lab: must run as root (network namespaces, raw sockets for nmap and libpcap): sudo $0" >&2
    exit 2
fi

missing_pkgs=()
command -v ip      >/dev/null || missing_pkgs+=(iproute2)
command -v nmap    >/dev/null || missing_pkgs+=(nmap)
command -v python3 >/dev/null || missing_pkgs+=(python3)
command -v curl    >/dev/null || missing_pkgs+=(curl)
command -v timeout >/dev/null || missing_pkgs+=(coreutils)
if [[ ${#missing_pkgs[@]} -gt 0 ]]; then
    echo "lab: missing tools; install them with: apt-get install -y ${missing_pkgs[*]}" >&2
    exit 2
fi
HAVE_PING=1
command -v ping >/dev/null || { HAVE_PING=0; echo "lab: note: 'ping' not found (apt-get install -y iputils-ping); skipping pings"; }

# ------------------------------------------------------------------ state ---

ID="ww$$"
NET=10.77.0
COLLECTOR_IP=$NET.10
ATTACKER_IP=$NET.66
CLIENT_IP=$NET.20
PORT=7400
SENSORS=(sensor1 sensor2 sensor3)
declare -A HOST_IP=([collector]=$NET.10 [sensor1]=$NET.11 [sensor2]=$NET.12 [sensor3]=$NET.13 [client]=$CLIENT_IP [attacker]=$ATTACKER_IP)
HOSTS=(collector sensor1 sensor2 sensor3 client attacker)
SWITCH="$ID-switch"

NAMESPACES=()      # created namespaces, deleted by cleanup
PIDS=()            # background processes started by this script
declare -A PID_OF  # role -> pid
WORK=""
START=$(date +%s)

ns() { echo "$ID-$1"; }
elapsed() { echo "$(( $(date +%s) - START ))s"; }
log() { printf '[lab %5s] %s\n' "$(elapsed)" "$*"; }
alive() { kill -0 "$1" 2>/dev/null; }

tail_logs() {
    [[ -n $WORK && -d $WORK ]] || return 0
    local f
    for f in "$WORK"/logs/*; do
        [[ -s $f ]] || continue
        case ${f##*/} in certs.out|http-*.log|traffic.log) continue ;; esac
        echo "----- tail of $f -----"
        tail -n 15 "$f" || true
    done
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    set +e
    # Processes we started, by pid: TERM, a short grace, then KILL.
    local pid n
    for pid in "${PIDS[@]}"; do alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
    for n in $(seq 1 30); do
        local any=0
        for pid in "${PIDS[@]}"; do alive "$pid" && any=1; done
        [[ $any -eq 0 ]] && break
        sleep 0.1
    done
    for pid in "${PIDS[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
    # Anything else still running inside our own namespaces (children of the above).
    local space
    for space in "${NAMESPACES[@]}"; do
        for pid in $(ip netns pids "$space" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    wait 2>/dev/null
    # Deleting a namespace deletes the veth ends and the bridge inside it.
    for space in "${NAMESPACES[@]}"; do ip netns del "$space" 2>/dev/null; done
    if [[ -n $WORK && -d $WORK ]]; then
        if [[ $KEEP -eq 1 ]]; then
            echo "lab: work directory kept: $WORK"
        else
            rm -rf -- "$WORK"
        fi
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'echo "lab: unexpected failure (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'echo; echo "lab: interrupted" >&2; exit 130' INT
trap 'echo "lab: terminated" >&2; exit 143' TERM

fail_now() {
    echo "lab: FAIL: $*" >&2
    tail_logs >&2
    exit 1
}

# wait_for DESCRIPTION TIMEOUT COMMAND...: polls COMMAND every 0.2 s.
wait_for() {
    local what=$1 limit=$2; shift 2
    local deadline=$(( $(date +%s) + limit ))
    until "$@"; do
        if [[ $(date +%s) -ge $deadline ]]; then
            fail_now "timed out after ${limit}s waiting for $what"
        fi
        sleep 0.2
    done
}

# start ROLE NAMESPACE LOGBASE COMMAND...: runs COMMAND in NAMESPACE in the background,
# stdout to logs/LOGBASE.out, stderr to logs/LOGBASE.log.
start() {
    local role=$1 space=$2 base=$3; shift 3
    : >"$WORK/logs/$base.out"
    : >"$WORK/logs/$base.log"
    ip netns exec "$space" "$@" >"$WORK/logs/$base.out" 2>"$WORK/logs/$base.log" </dev/null &
    PIDS+=($!)
    PID_OF[$role]=$!
}

# --------------------------------------------------------------- topology ---

for h in switch "${HOSTS[@]}"; do
    if ip netns list | awk '{print $1}' | grep -qx "$(ns "$h")"; then
        echo "lab: namespace $(ns "$h") already exists; refusing to touch it" >&2
        exit 2
    fi
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wirewatch-lab.XXXXXX")
mkdir -p "$WORK/logs" "$WORK/www"
echo "wirewatch lab $ID" >"$WORK/www/index.html"
head -c 200000 /dev/urandom >"$WORK/www/blob.bin"

log "binaries: $BIN_DIR"
log "work directory: $WORK"
log "building the network (namespaces $ID-*, bridge in $SWITCH, $NET.0/24)"

# IPv6 off in every namespace, before any interface exists: keeps the captures to the lab's IPv4
# traffic (no router solicitations, MLD reports or DAD from link-local addresses).
ipv6_off() {
    local k
    for k in all default; do
        # /proc/sys/net is per network namespace: this changes the lab namespace only.
        ip netns exec "$1" sh -c "echo 1 >/proc/sys/net/ipv6/conf/$k/disable_ipv6" 2>/dev/null || true
    done
}

ip netns add "$SWITCH"
NAMESPACES+=("$SWITCH")
ipv6_off "$SWITCH"
ip -n "$SWITCH" link set lo up
ip -n "$SWITCH" link add br0 type bridge
ip -n "$SWITCH" link set br0 up

for h in "${HOSTS[@]}"; do
    space=$(ns "$h")
    ip netns add "$space"
    NAMESPACES+=("$space")
    ipv6_off "$space"
    ip -n "$space" link set lo up
    # The veth pair is created inside the host namespace, its peer moved straight into the switch
    # namespace: nothing is ever created in the machine's own namespace.
    ip -n "$space" link add eth0 type veth peer name "p-$h" netns "$SWITCH"
    ip -n "$space" addr add "${HOST_IP[$h]}/24" dev eth0
    ip -n "$space" link set eth0 up
    ip -n "$SWITCH" link set "p-$h" master br0
    ip -n "$SWITCH" link set "p-$h" up
done

if [[ $HAVE_PING -eq 1 ]]; then
    for h in sensor1 sensor2 sensor3 client attacker; do
        wait_for "$h to reach the collector ($COLLECTOR_IP)" "$TIMEOUT" \
            ip netns exec "$(ns "$h")" ping -n -q -c 1 -W 1 "$COLLECTOR_IP" >/dev/null
    done
    log "network up: every host reaches the collector"
fi

# ------------------------------------------------------------ certificates ---

PKI=$WORK/pki
"$WW" certs init --out "$PKI" --sensor sensor1 --sensor sensor2 --sensor sensor3 \
    --collector-address "$COLLECTOR_IP" >"$WORK/logs/certs.out" 2>"$WORK/logs/certs.log" \
    || fail_now "wirewatch certs init failed"
for f in ca.pem collector.pem collector-key.pem sensors/sensor1.pem sensors/sensor1-key.pem; do
    [[ -s $PKI/$f ]] || fail_now "wirewatch certs init did not write $PKI/$f"
done
log "PKI: CA, collector (IP $COLLECTOR_IP) and sensor1..3 certificates in $PKI"

# --------------------------------------------------------------- collector ---

DB=$WORK/lab.db
# The operators' example configuration (deploy/config/collector.conf) is used as is, so the lab also
# proves it loads; the command line wins over it for everything lab-specific.
EXAMPLE_CONF=$SCRIPT_DIR/../config/collector.conf
collector_args=()
COLLECTOR_CONF_NOTE=""
if [[ -f $EXAMPLE_CONF ]]; then
    collector_args+=(--config "$EXAMPLE_CONF")
    COLLECTOR_CONF_NOTE=" (--config deploy/config/collector.conf)"
fi
collector_args+=(--listen "$COLLECTOR_IP:$PORT" --tls-ca "$PKI/ca.pem" --tls-cert "$PKI/collector.pem"
    --tls-key "$PKI/collector-key.pem" --db "$DB" --alerts json --durability normal
    --allow sensor1 --allow sensor2 --allow sensor3)
METRICS=""
if timeout 10 "$COLLECTOR_BIN" --help 2>/dev/null | grep -q -e "--metrics"; then
    METRICS=$COLLECTOR_IP:9400
    collector_args+=(--metrics "$METRICS")
fi
[[ -n $SCAN_THRESHOLD ]] && collector_args+=(--scan-threshold "$SCAN_THRESHOLD")
start collector "$(ns collector)" collector "$COLLECTOR_BIN" "${collector_args[@]}"

collector_ready() {
    alive "${PID_OF[collector]}" || fail_now "wirewatch-collector exited before listening"
    grep -q "listening on" "$WORK/logs/collector.out"
}
wait_for "the collector to print 'listening on'" "$TIMEOUT" collector_ready
log "collector: $(grep -m1 'listening on' "$WORK/logs/collector.out")$COLLECTOR_CONF_NOTE"

# ------------------------------------------------- servers on sensor hosts ---

for s in "${SENSORS[@]}"; do
    start "http-$s" "$(ns "$s")" "http-$s" python3 -m http.server 8000 --bind "${HOST_IP[$s]}" --directory "$WORK/www"
done
http_ready() {
    local s
    for s in "${SENSORS[@]}"; do
        alive "${PID_OF[http-$s]}" || fail_now "the web server on $s exited"
        ip netns exec "$(ns client)" curl -fsS -o /dev/null --max-time 2 "http://${HOST_IP[$s]}:8000/" 2>/dev/null || return 1
    done
}
wait_for "the web servers on the sensor hosts" "$TIMEOUT" http_ready
log "web servers: python3 http.server on port 8000 of sensor1..3"

# ----------------------------------------------------------------- sensors ---

# As for the collector, the operators' example deploy/config/sensor.conf is loaded (snaplen,
# promiscuous, buffer and spool sizes from it); the command line wins for the lab's own values.
SENSOR_CONF=$SCRIPT_DIR/../config/sensor.conf
sensor_conf_args=()
[[ -f $SENSOR_CONF ]] && sensor_conf_args=(--config "$SENSOR_CONF")
for s in "${SENSORS[@]}"; do
    mkdir -p "$WORK/spool-$s"
    start "$s" "$(ns "$s")" "$s" "$SENSOR_BIN" "${sensor_conf_args[@]}" --interface eth0 --filter "not port $PORT" \
        --collector "$COLLECTOR_IP:$PORT" --tls-ca "$PKI/ca.pem" \
        --tls-cert "$PKI/sensors/$s.pem" --tls-key "$PKI/sensors/$s-key.pem" \
        --spool "$WORK/spool-$s" --drain-timeout "$TIMEOUT"
done
sensors_connected() {
    local s
    for s in "${SENSORS[@]}"; do
        alive "${PID_OF[$s]}" || fail_now "wirewatch-sensor on $s exited early"
    done
    alive "${PID_OF[collector]}" || fail_now "wirewatch-collector exited"
    for s in "${SENSORS[@]}"; do
        grep -q "sensor $s connected" "$WORK/logs/collector.log" || return 1
    done
}
wait_for "all three sensors to connect to the collector" "$TIMEOUT" sensors_connected
log "sensors: sensor1..3 capturing live on their eth0 (filter 'not port $PORT'), connected over mTLS${sensor_conf_args:+ (--config deploy/config/sensor.conf)}"
# libpcap is open before the TLS session is up, but give the capture loop a moment anyway.
sleep 1

# ----------------------------------------------------------------- traffic ---

CLIENT_NS=$(ns client)
if [[ $HAVE_PING -eq 1 ]]; then
    for s in "${SENSORS[@]}"; do
        ip netns exec "$CLIENT_NS" ping -n -q -c 3 -i 0.2 "${HOST_IP[$s]}" >>"$WORK/logs/traffic.log" 2>&1 || true
    done
fi
http_requests=0
for _ in 1 2 3; do
    for s in "${SENSORS[@]}"; do
        if ip netns exec "$CLIENT_NS" curl -fsS -o /dev/null --max-time 5 \
            -A "wirewatch-lab/1" "http://${HOST_IP[$s]}:8000/index.html" >>"$WORK/logs/traffic.log" 2>&1; then
            http_requests=$((http_requests + 1))
        fi
        if ip netns exec "$CLIENT_NS" curl -fsS -o /dev/null --max-time 5 \
            -A "wirewatch-lab/1" "http://${HOST_IP[$s]}:8000/blob.bin" >>"$WORK/logs/traffic.log" 2>&1; then
            http_requests=$((http_requests + 1))
        fi
    done
done
log "ordinary traffic: pings and $http_requests HTTP requests from client ($CLIENT_IP) to sensor1..3"

# One SYN scan from the attacker, cut in three: each sensor host is probed on its own slice of the
# port range, so every sensor sees only a third of the scan; the collector has to add them up.
ATTACKER_NS=$(ns attacker)
NMAP_START=$(date +%s)
scan_from=1
nmap_failed=0
for s in "${SENSORS[@]}"; do
    scan_to=$((scan_from + PORTS_PER_SENSOR - 1))
    echo "### nmap -sS -n -Pn --max-retries 0 -T4 -p $scan_from-$scan_to ${HOST_IP[$s]}" >>"$WORK/logs/nmap.out"
    if ! ip netns exec "$ATTACKER_NS" timeout "$TIMEOUT" nmap -sS -n -Pn --max-retries 0 -T4 \
        -p "$scan_from-$scan_to" "${HOST_IP[$s]}" >>"$WORK/logs/nmap.out" 2>>"$WORK/logs/nmap.log"; then
        nmap_failed=1
    fi
    scan_from=$((scan_to + 1))
done
NMAP_SECONDS=$(( $(date +%s) - NMAP_START ))
NMAP_DONE=$(grep -c "^Nmap done: 1 IP address (1 host up)" "$WORK/logs/nmap.out" || true)
log "attacker ($ATTACKER_IP): nmap SYN scan of ports 1-$((scan_from - 1)), $PORTS_PER_SENSOR per sensor host, ${NMAP_SECONDS}s; $NMAP_DONE/3 runs completed"

# ------------------------------------------------------ shipping and drain ---

flow_count() { # flow_count SENSOR [HOST]: stored flow records from SENSOR (involving HOST)
    local args=(flows --db "$DB" --sensor "$1" --format csv)
    [[ -n ${2:-} ]] && args+=(--host "$2")
    local n
    n=$("$WW" "${args[@]}" 2>/dev/null | tail -n +2 | grep -c . || true)
    echo "${n:-0}"
}
live_shipped() {
    local s
    for s in "${SENSORS[@]}"; do
        [[ $(flow_count "$s" "$ATTACKER_IP") -gt 0 ]] || return 1
    done
}
# Probes of closed ports end with a RST, so their flows are closed and shipped within seconds,
# while the sensors are still running. Wait for that, but not longer than a third of the timeout:
# SIGTERM below flushes every open flow anyway.
live_wait=$(( TIMEOUT / 3 ))
live_deadline=$(( $(date +%s) + live_wait ))
LIVE_SHIPPED=0
while [[ $(date +%s) -lt $live_deadline ]]; do
    if live_shipped; then LIVE_SHIPPED=1; break; fi
    sleep 1
done
if [[ $LIVE_SHIPPED -eq 1 ]]; then
    log "live shipping: scan flows from all three sensors already stored"
else
    log "live shipping: not every sensor's scan flows stored after ${live_wait}s; relying on the SIGTERM flush"
fi

METRICS_CONNECTED=""
if [[ -n $METRICS ]]; then
    ip netns exec "$(ns client)" curl -fsS --max-time 5 "http://$METRICS/metrics" >"$WORK/metrics.txt" 2>>"$WORK/logs/traffic.log" || true
    METRICS_CONNECTED=$(awk '$1 == "wirewatch_sensors_connected" { printf "%d", $2 }' "$WORK/metrics.txt")
    log "collector metrics (http://$METRICS/metrics): wirewatch_sensors_connected ${METRICS_CONNECTED:-?}"
fi

log "stopping the sensors with SIGTERM (flush every open flow, wait for the acknowledgements)"
for s in "${SENSORS[@]}"; do kill -TERM "${PID_OF[$s]}" 2>/dev/null || true; done
declare -A SENSOR_STATUS
sensors_stopped() {
    local s
    for s in "${SENSORS[@]}"; do alive "${PID_OF[$s]}" && return 1; done
    return 0
}
wait_for "the sensors to drain and exit" $(( TIMEOUT + 15 )) sensors_stopped
for s in "${SENSORS[@]}"; do
    status=0
    wait "${PID_OF[$s]}" || status=$?
    SENSOR_STATUS[$s]=$status
done
log "sensors exited: sensor1=${SENSOR_STATUS[sensor1]} sensor2=${SENSOR_STATUS[sensor2]} sensor3=${SENSOR_STATUS[sensor3]}"

log "stopping the collector with SIGTERM"
kill -TERM "${PID_OF[collector]}" 2>/dev/null || true
collector_stopped() { ! alive "${PID_OF[collector]}"; }
wait_for "the collector to exit" "$TIMEOUT" collector_stopped
COLLECTOR_STATUS=0
wait "${PID_OF[collector]}" || COLLECTOR_STATUS=$?
log "collector exited: $COLLECTOR_STATUS"

# ------------------------------------------------------------------ checks ---

RESULTS=()
FAILED=0
check() { # check NAME OK(0/1) DETAIL
    if [[ $2 -eq 1 ]]; then
        RESULTS+=("PASS  $1${3:+ — $3}")
    else
        RESULTS+=("FAIL  $1${3:+ — $3}")
        FAILED=1
    fi
}

check "nmap ran: 3 scans from the attacker completed" \
    "$([[ $nmap_failed -eq 0 && $NMAP_DONE -eq 3 ]] && echo 1 || echo 0)" "$NMAP_DONE/3 completed"
for s in "${SENSORS[@]}"; do
    check "$s drained and exited 0 after SIGTERM" "$([[ ${SENSOR_STATUS[$s]} -eq 0 ]] && echo 1 || echo 0)" "exit ${SENSOR_STATUS[$s]}"
done
check "collector exited 0 after SIGTERM" "$([[ $COLLECTOR_STATUS -eq 0 ]] && echo 1 || echo 0)" "exit $COLLECTOR_STATUS"

if [[ -n $METRICS ]]; then
    check "collector /metrics reported 3 sensors connected" "$([[ ${METRICS_CONNECTED:-0} -eq 3 ]] && echo 1 || echo 0)" \
        "wirewatch_sensors_connected ${METRICS_CONNECTED:-missing}"
fi

SENSORS_JSON=$WORK/sensors.json
"$WW" sensors --db "$DB" --format json >"$SENSORS_JSON" 2>"$WORK/logs/query-sensors.log" || true
listed=$(python3 - "$SENSORS_JSON" <<'PY'
import json, sys
text = open(sys.argv[1]).read().strip()
rows = []
if text:
    try:
        data = json.loads(text)
        rows = data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        rows = [json.loads(l) for l in text.splitlines() if l.strip()]
names = set()
for r in rows:
    if isinstance(r, dict):
        for key in ("sensor", "name"):
            if isinstance(r.get(key), str):
                names.add(r[key])
print(" ".join(sorted(names)))
PY
) || listed=""
all_listed=1
for s in "${SENSORS[@]}"; do [[ " $listed " == *" $s "* ]] || all_listed=0; done
check "wirewatch sensors lists sensor1, sensor2, sensor3" "$all_listed" "listed: ${listed:-none}"

for s in "${SENSORS[@]}"; do
    total=$(flow_count "$s")
    scan=$(flow_count "$s" "$ATTACKER_IP")
    web=$("$WW" flows --db "$DB" --sensor "$s" --host "$CLIENT_IP" --port 8000 --format csv 2>/dev/null | tail -n +2 | grep -c . || true)
    check "flows from $s stored: its whole slice of the scan and ordinary traffic" \
        "$([[ $total -gt 0 && $scan -ge $PORTS_PER_SENSOR && ${web:-0} -gt 0 ]] && echo 1 || echo 0)" \
        "$total flows, $scan with the attacker (>= $PORTS_PER_SENSOR expected), ${web:-0} HTTP flows from the client"
done

ALERTS_JSON=$WORK/port-scan-alerts.json
"$WW" alerts --db "$DB" --kind port-scan --format json >"$ALERTS_JSON" 2>"$WORK/logs/query-alerts.log" || true
# The alert must come from the attacker and name at least two sensors; checked in the stored alerts
# and in the JSON lines the collector printed as the alert fired and grew.
scan_verdict=$(python3 - "$ALERTS_JSON" "$WORK/logs/collector.out" "$ATTACKER_IP" <<'PY'
import json, sys
stored_path, printed_path, attacker = sys.argv[1:4]
def records(path):
    text = open(path, errors="replace").read().strip()
    if not text:
        return []
    try:
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    except json.JSONDecodeError:
        out = []
        for line in text.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return out
def best(rows):
    found = None
    for r in rows:
        if not isinstance(r, dict) or r.get("kind") != "port-scan" or r.get("src") != attacker:
            continue
        sensors = r.get("sensors") or []
        # The latest version of a growing episode: most sensors, then most ports.
        size = (len(sensors), len(r.get("ports") or []))
        if found is None or size >= (len(found.get("sensors") or []), len(found.get("ports") or [])):
            found = r
    return found
stored, printed = best(records(stored_path)), best(records(printed_path))
def describe(r):
    if r is None:
        return "none"
    return "sensors=%s ports=%d subtype=%s scope=%s" % (
        ",".join(r.get("sensors") or []), len(r.get("ports") or []), r.get("subtype"), r.get("scope"))
ok = stored is not None and len(stored.get("sensors") or []) >= 2
print(("1" if ok else "0") + "|stored: " + describe(stored) + "; printed by the collector: " + describe(printed))
PY
) || scan_verdict="0|cannot read the alerts"
check "port-scan alert from $ATTACKER_IP naming >= 2 sensors" "${scan_verdict%%|*}" "${scan_verdict#*|}"
# One episode: the stored alert's final version covers every port the attacker probed through the three sensors
# (the collector publishes each episode's latest version when it stops).
covered=0
if [[ $scan_verdict =~ stored:\ sensors=[^\ ]*\ ports=([0-9]+) ]]; then covered=${BASH_REMATCH[1]}; fi
check "the alert covers all $((3 * PORTS_PER_SENSOR)) ports probed" \
    "$([[ $covered -eq $((3 * PORTS_PER_SENSOR)) ]] && echo 1 || echo 0)" "it covers $covered"

# ------------------------------------------------------------------ report ---

echo
echo "=== wirewatch --db lab.db sensors"
"$WW" sensors --db "$DB" 2>&1 || true
echo
echo "=== wirewatch --db lab.db alerts"
"$WW" alerts --db "$DB" 2>&1 || true
echo
echo "=== alert lines printed by wirewatch-collector --alerts json"
grep '^{' "$WORK/logs/collector.out" || echo "(none)"
echo
echo "=== wirewatch --db lab.db top-talkers"
"$WW" top-talkers --db "$DB" 2>&1 || true
echo
echo "=== summary ($(elapsed))"
for r in "${RESULTS[@]}"; do echo "  $r"; done
echo
if [[ $FAILED -eq 0 ]]; then
    echo "LAB PASS"
    exit 0
fi
echo "LAB FAIL"
tail_logs
exit 1
