#!/usr/bin/env bash
# bench/sensor.sh: wirewatch-sensor offline throughput compared with the libpcap floor,
# tcpdump and softflowd, over two loopback captures of real traffic (see bench/README.md).
#
#   bench/sensor.sh [--regen] [--no-build] [--only mixed|small] [--repeats N]
#
# Environment: PACKETS (minimum packets per capture, default 1000000), SNAPLEN (default
# 262144 = full), REPEATS (default 3), SENSOR (sensor binary, default
# .build/release/wirewatch-sensor), BENCH_PORT_BASE (default 15200), GEN_TIMEOUT (seconds
# per capture, default 90), OUT (default bench/out).
#
# Exit status: 0 when every tool that was run succeeded, whether or not the sensor meets
# its targets; 1 when a tool failed or a capture could not be made; 2 on a usage error.
set -uo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$REPO/bench/out}
PACKETS=${PACKETS:-1000000}
SNAPLEN=${SNAPLEN:-262144}
REPEATS=${REPEATS:-3}
SENSOR=${SENSOR:-$REPO/.build/release/wirewatch-sensor}
PORT_BASE=${BENCH_PORT_BASE:-15200}
GEN_TIMEOUT=${GEN_TIMEOUT:-90}
REGEN=0
BUILD=1
KINDS=(mixed small)

# Bump this when the traffic recipe changes, so cached captures are regenerated.
GENERATOR_VERSION=1
# The largest frame on a 1500-byte-MTU Ethernet link: 14 header + 1500 payload (IEEE 802.3).
ETHERNET_MAX_FRAME=1514
# TCP payload per segment: 1500 MTU - 20 IPv4 - 20 TCP - up to 60 of options, so no segment
# is bigger than an Ethernet frame. Loopback's MTU is 65536; without this iperf3 and HTTP
# would send 64 KiB segments that no Ethernet sensor ever sees.
MSS=1400

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --regen) REGEN=1 ;;
        --no-build) BUILD=0 ;;
        --only) shift; case ${1:-} in mixed|small) KINDS=("$1") ;; *) usage; exit 2 ;; esac ;;
        --repeats) shift; REPEATS=${1:-}; [[ $REPEATS =~ ^[1-9][0-9]*$ ]] || { usage; exit 2; } ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage; exit 2 ;;
    esac
    shift
done
[[ $PACKETS =~ ^[1-9][0-9]*$ && $REPEATS =~ ^[1-9][0-9]*$ && $SNAPLEN =~ ^[1-9][0-9]*$ && $PORT_BASE =~ ^[1-9][0-9]*$ ]] ||
    { echo "PACKETS, REPEATS, SNAPLEN and BENCH_PORT_BASE must be positive integers" >&2; exit 2; }

P_TCP=$((PORT_BASE + 1))     # iperf3 TCP
P_UDP=$((PORT_BASE + 2))     # iperf3 UDP
P_ECHO=$((PORT_BASE + 7))    # short TCP connections
P_HTTPS=$((PORT_BASE + 43))  # HTTPS (python ssl)
P_DNS=$((PORT_BASE + 53))    # dnsmasq
P_HTTP=$((PORT_BASE + 80))   # HTTP (python http.server)

mkdir -p "$OUT"
WORK=$OUT/tmp
mkdir -p "$WORK"
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

say() { printf '%s\n' "$*"; }
hr() { printf '%*s\n' 98 '' | tr ' ' '-'; }

# ---------------------------------------------------------------- 1. tools
ensure_tools() {
    local -a missing=()
    local pair cmd pkg
    for pair in tcpdump:tcpdump softflowd:softflowd iperf3:iperf3 curl:curl dig:bind9-dnsutils \
        dnsmasq:dnsmasq-base openssl:openssl cc:gcc ss:iproute2 ping:iputils-ping \
        /usr/bin/time:time "$PYTHON":python3; do
        cmd=${pair%:*}; pkg=${pair##*:}
        command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ -f /usr/include/pcap/pcap.h ] || missing+=(libpcap-dev)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -eq 0 ]; then
        say "installing: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$WORK/apt.log" 2>&1 || {
            DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$WORK/apt.log" 2>&1 &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$WORK/apt.log" 2>&1
        } || { say "apt-get failed, see $WORK/apt.log"; exit 1; }
    else
        say "missing tools; as root run: apt-get install -y ${missing[*]}"
        exit 1
    fi
}
export PATH=$PATH:/usr/sbin:/sbin
ensure_tools

# ---------------------------------------------------------------- the floor
FLOOR=$OUT/pcap_floor
if [ ! -x "$FLOOR" ] || [ "$REPO/bench/pcap_floor.c" -nt "$FLOOR" ]; then
    cc -O2 -Wall -Wextra -o "$FLOOR" "$REPO/bench/pcap_floor.c" -lpcap || { say "cannot compile pcap_floor.c"; exit 1; }
fi

# floor_field FILE FIELD: one field of pcap_floor's output line for FILE.
floor_field() { "$FLOOR" "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# ---------------------------------------------------------------- 2. captures
BG_PIDS=()   # every background process this script started; killed by pid on exit
STOP=$WORK/stop

cleanup() {
    touch "$STOP"
    local pid
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
    BG_PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bg() { "$@" >>"$WORK/background.log" 2>&1 & BG_PIDS+=($!); }

# wait_listen tcp|udp PORT: until something listens on 127.0.0.1:PORT (max 10 s).
wait_listen() {
    local flag=-ltn i
    [ "$1" = udp ] && flag=-lun
    for i in $(seq 100); do
        ss -H $flag "sport = :$2" | grep -q . && return 0
        sleep 0.1
    done
    say "nothing listens on $1 port $2"; return 1
}

port_free() {
    if ss -Htuln "( sport = :$1 )" | grep -q .; then
        say "port $1 is in use; set BENCH_PORT_BASE to another base"; return 1
    fi
}

write_helpers() {
    # Python helper: HTTP/HTTPS/echo servers that keep segments Ethernet-sized, and a client
    # that opens many short TCP connections (some closed with RST).
    cat >"$WORK/traffic.py" <<'PY'
import asyncio, functools, os, socket, socketserver, ssl, sys, time
from http.server import ThreadingHTTPServer, SimpleHTTPRequestHandler

MSS = int(os.environ.get("MSS", "1400"))

def limit_mss(sock):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, MSS)

class Handler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def copyfile(self, source, outputfile):
        # One send per MSS with TCP_NODELAY: one Ethernet-sized segment each on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while chunk := source.read(MSS):
            outputfile.write(chunk)
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b"stored\n"
        self.send_response(201)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    def server_bind(self):
        limit_mss(self.socket)
        socketserver.TCPServer.server_bind(self)  # skips HTTPServer's reverse DNS lookup
        self.server_name, self.server_port = self.server_address[:2]

class TLSServer(Server):
    context = None
    def finish_request(self, request, client_address):
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

def serve_http(port, root, cert=None, key=None):
    handler = functools.partial(Handler, directory=root)
    cls = Server
    if cert:
        cls = TLSServer
        cls.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cls.context.load_cert_chain(cert, key)
    cls(("127.0.0.1", port), handler).serve_forever()

def serve_echo(port):
    async def handle(reader, writer):
        try:
            data = await reader.read(256)
            writer.write(b"pong " + data[:64])
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()
    async def main():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        limit_mss(sock)
        sock.bind(("127.0.0.1", port))
        server = await asyncio.start_server(handle, sock=sock, backlog=1024)
        await server.serve_forever()
    asyncio.run(main())

def churn(port, stop):
    """Short TCP connections: connect, send a line, read the reply, close; every 16th is reset."""
    n = 0
    while n % 256 or not os.path.exists(stop):
        n += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"ping %d\n" % n)
                if n % 16 == 0:  # abortive close: RST instead of FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    continue
                s.recv(256)
        except OSError:
            time.sleep(0.01)

if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "http":
        serve_http(int(args[0]), args[1])
    elif mode == "https":
        serve_http(int(args[0]), args[1], args[2], args[3])
    elif mode == "echo":
        serve_echo(int(args[0]))
    elif mode == "churn":
        churn(int(args[0]), args[1])
PY
    # Web content: small, medium and large bodies.
    mkdir -p "$WORK/www"
    head -c 200 /dev/urandom | base64 >"$WORK/www/index.html"
    head -c 6000 /dev/urandom | base64 >"$WORK/www/page.html"
    head -c 65536 /dev/urandom >"$WORK/www/blob.bin"
    if [ ! -s "$WORK/tls.key" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
            -subj /CN=bench.test -addext subjectAltName=DNS:bench.test \
            -keyout "$WORK/tls.key" -out "$WORK/tls.crt" >/dev/null 2>&1 || return 1
    fi
    # DNS queries: answered (A, AAAA, MX, TXT, SRV, PTR), NXDOMAIN, REFUSED, some over TCP.
    local i
    {
        for i in $(seq 1 40); do
            echo "www.bench.test A"
            echo "www.bench.test AAAA"
            echo "bench.test MX"
            echo "bench.test TXT"
            echo "_http._tcp.bench.test SRV"
            echo "11.0.0.127.in-addr.arpa PTR"
            echo "host$i.a.bench.test A"
            echo "missing-$i.bench.test A"
            echo "a-rather-long-label-number-$i.for-the-decoder.bench.test AAAA"
            echo "example$i.org A"
            [ $((i % 8)) -eq 0 ] && echo "+tcp bench.test TXT"
        done
    } >"$WORK/queries.txt"
}

start_dns() {
    port_free "$P_DNS" || return 1
    bg dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root --pid-file="$WORK/dnsmasq.pid" \
        --port="$P_DNS" --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts \
        --local=/bench.test/ --address=/a.bench.test/127.0.0.10 \
        --host-record=www.bench.test,127.0.0.11,::1 --mx-host=bench.test,mail.bench.test,10 \
        --txt-record=bench.test,"v=spf1 -all","wirewatch benchmark zone" \
        --srv-host=_http._tcp.bench.test,www.bench.test,80 --ptr-record=11.0.0.127.in-addr.arpa,www.bench.test \
        --cache-size=0
    wait_listen udp "$P_DNS"
}

start_iperf() {  # start_iperf PORT
    port_free "$1" || return 1
    bg iperf3 -s -B 127.0.0.1 -p "$1"
    wait_listen tcp "$1"
}

# loop CMD...: run CMD until the stop file appears.
loop() { while [ ! -e "$STOP" ]; do "$@" >/dev/null 2>&1 || sleep 0.05; done; }

dns_batch() { dig @127.0.0.1 -p "$P_DNS" +tries=1 +time=1 -f "$WORK/queries.txt"; }
http_batch() {
    curl -s --max-time 5 -A "wirewatch-bench/1" "http://127.0.0.1:$P_HTTP/index.html" \
        "http://127.0.0.1:$P_HTTP/page.html" "http://127.0.0.1:$P_HTTP/blob.bin" \
        "http://127.0.0.1:$P_HTTP/no-such-page" --next -s --max-time 5 -d "user=bench&item=$RANDOM" \
        "http://127.0.0.1:$P_HTTP/form"
}
https_batch() {
    local tls=(--tlsv1.3)
    [ $((RANDOM % 2)) -eq 0 ] && tls=(--tlsv1.2 --tls-max 1.2)
    curl -s --max-time 5 -k "${tls[@]}" --resolve "bench.test:$P_HTTPS:127.0.0.1" \
        "https://bench.test:$P_HTTPS/index.html" "https://bench.test:$P_HTTPS/page.html"
}

# generate KIND DEST: capture PACKETS packets of KIND traffic on lo into DEST.
generate() {
    local kind=$1 dest=$2 part=$WORK/$1.part.pcap
    local -a ports=("$P_TCP" "$P_UDP" "$P_DNS") zopt=()
    [ "$kind" = mixed ] && ports+=("$P_HTTP" "$P_HTTPS") || ports+=("$P_ECHO")
    [ "$(id -u)" -eq 0 ] && zopt=(-Z root)
    # Only this script's traffic, and only Ethernet-sized frames: on lo, a write that can't
    # leave at once is merged into one GSO frame of up to 64 KiB, which no sensor on an
    # Ethernet link would see; the few such frames are left out of the capture.
    local filter="host 127.0.0.1 and len <= $ETHERNET_MAX_FRAME and (icmp" p
    for p in "${ports[@]}"; do filter+=" or port $p"; done
    filter+=")"

    say "generating $kind capture ($PACKETS packets, snaplen $SNAPLEN) on lo ..."
    local t0=$SECONDS
    rm -f "$STOP" "$part"
    : >"$WORK/background.log"
    write_helpers || { say "cannot prepare helpers"; return 1; }

    # Servers.
    start_iperf "$P_TCP" && start_iperf "$P_UDP" && start_dns || return 1
    if [ "$kind" = mixed ]; then
        port_free "$P_HTTP" && port_free "$P_HTTPS" || return 1
        bg "$PYTHON" "$WORK/traffic.py" http "$P_HTTP" "$WORK/www"
        bg "$PYTHON" "$WORK/traffic.py" https "$P_HTTPS" "$WORK/www" "$WORK/tls.crt" "$WORK/tls.key"
        wait_listen tcp "$P_HTTP" && wait_listen tcp "$P_HTTPS" || return 1
    else
        port_free "$P_ECHO" || return 1
        bg "$PYTHON" "$WORK/traffic.py" echo "$P_ECHO"
        wait_listen tcp "$P_ECHO" || return 1
    fi

    # Capture: tcpdump stops by itself after $PACKETS packets (-c) and flushes the file on
    # exit, so -U (one write per packet) isn't needed. -B: 128 MiB kernel buffer.
    tcpdump -i lo -n -s "$SNAPLEN" -B 131072 -c "$PACKETS" "${zopt[@]}" -w "$part" "$filter" \
        2>"$WORK/tcpdump-$kind.log" &
    local tcpdump_pid=$!
    BG_PIDS+=("$tcpdump_pid")
    local i
    for i in $(seq 100); do grep -q listening "$WORK/tcpdump-$kind.log" && break; sleep 0.1; done

    # Traffic, all to 127.0.0.1.
    local first=${#BG_PIDS[@]}
    if [ "$kind" = mixed ]; then
        # Bulk TCP, paced (-b, --pacing-timer) and unbuffered (-N) so that each MSS-sized
        # write leaves as its own segment, one UDP stream, HTTP, HTTPS, DNS and ICMP.
        bg iperf3 -c 127.0.0.1 -p "$P_TCP" -t 600 -P 4 -N -M "$MSS" -l "$MSS" -b 150M --pacing-timer 100
        bg iperf3 -c 127.0.0.1 -p "$P_UDP" -t 600 -u -l 1200 -b 20M
        bg loop http_batch
        bg loop http_batch
        bg loop https_batch
        bg loop dns_batch
    else
        # Small packets: 64-byte UDP and TCP payloads, short TCP connections, DNS, ICMP.
        bg iperf3 -c 127.0.0.1 -p "$P_UDP" -t 600 -u -l 64 -b 60M
        bg iperf3 -c 127.0.0.1 -p "$P_TCP" -t 600 -P 2 -N -M "$MSS" -l 64 -b 15M --pacing-timer 100
        bg "$PYTHON" "$WORK/traffic.py" churn "$P_ECHO" "$STOP"
        bg "$PYTHON" "$WORK/traffic.py" churn "$P_ECHO" "$STOP"
        bg loop dns_batch
    fi
    bg ping -q -i 0.01 -s 56 127.0.0.1
    local -a gen_pids=("${BG_PIDS[@]:$first}")

    local deadline=$((SECONDS + GEN_TIMEOUT))
    while kill -0 "$tcpdump_pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    kill -INT "$tcpdump_pid" 2>/dev/null
    wait "$tcpdump_pid" 2>/dev/null
    # Stop traffic, then servers: loops finish their current batch, the rest get SIGTERM.
    touch "$STOP"
    local pid alive
    for pid in "${gen_pids[@]}"; do
        case $(ps -o comm= -p "$pid" 2>/dev/null) in iperf3|ping) kill -INT "$pid" 2>/dev/null ;; esac
    done
    for i in $(seq 50); do
        alive=0
        for pid in "${gen_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    cleanup
    rm -f "$STOP"
    grep -E 'captured|dropped' "$WORK/tcpdump-$kind.log" | sed 's/^/  tcpdump: /'

    local got
    got=$(floor_field "$part" packets)
    say "  $got packets in $((SECONDS - t0)) s"
    if [ "${got:-0}" -lt "$PACKETS" ]; then
        say "  fewer than $PACKETS packets within GEN_TIMEOUT=$GEN_TIMEOUT s; raise it or see $WORK/tcpdump-$kind.log"
        rm -f "$part"; return 1
    fi
    mv "$part" "$dest"
    printf 'generator=%s packets=%s snaplen=%s\n' "$GENERATOR_VERSION" "$got" "$SNAPLEN" >"$dest.info"
}

# capture_ok FILE: the cached capture exists and was made by this recipe and settings.
capture_ok() {
    [ -s "$1" ] && [ -s "$1.info" ] || return 1
    local info; info=$(cat "$1.info")
    [[ $info == *"generator=$GENERATOR_VERSION "* && $info == *"snaplen=$SNAPLEN"* ]] || return 1
    local n=${info#*packets=}; n=${n%% *}
    [ "$n" -ge "$PACKETS" ]
}

declare -A CAPTURE
for kind in "${KINDS[@]}"; do
    file=$OUT/$kind.snap$SNAPLEN.pcap
    if [ $REGEN -eq 1 ] || ! capture_ok "$file"; then
        rm -f "$file" "$file.info"
        generate "$kind" "$file" || { say "could not make the $kind capture"; exit 1; }
    else
        say "reusing $file ($(cat "$file.info"))"
    fi
    CAPTURE[$kind]=$file
done

# ---------------------------------------------------------------- 3. the sensor
SENSOR_OK=0
if [ $BUILD -eq 1 ] && { [ ! -x "$SENSOR" ] ||
    [ -n "$(find "$REPO/Sources" "$REPO/Package.swift" -newer "$SENSOR" -print -quit 2>/dev/null)" ]; }; then
    if command -v swift >/dev/null 2>&1 && [ "$SENSOR" = "$REPO/.build/release/wirewatch-sensor" ]; then
        say "building wirewatch-sensor (release) ..."
        if ! (cd "$REPO" && swift build -c release --static-swift-stdlib --product wirewatch-sensor) >"$WORK/swift-build.log" 2>&1; then
            say "  swift build failed; last lines of $WORK/swift-build.log:"
            tail -n 5 "$WORK/swift-build.log" | sed 's/^/    /'
        fi
    fi
fi
if [ -x "$SENSOR" ]; then SENSOR_OK=1; else say "sensor missing: $SENSOR (not benchmarked)"; fi

# ---------------------------------------------------------------- 4. timing
TOOLS=(floor tcpdump softflowd)
[ $SENSOR_OK -eq 1 ] && TOOLS+=(sensor)

tool_label() {
    case $1 in
        floor) echo "pcap_floor" ;; tcpdump) echo "tcpdump -w /dev/null" ;;
        softflowd) echo "softflowd -r" ;; sensor) echo "wirewatch-sensor" ;;
    esac
}

tool_cmd() {  # tool_cmd TOOL FILE: prints nothing, sets CMD
    case $1 in
        floor) CMD=("$FLOOR" "$2") ;;
        tcpdump) CMD=(tcpdump -n -r "$2" -w /dev/null) ;;
        # -r implies foreground and exit at end of file; NetFlow v5 goes to the discard port
        # on loopback. No -c: a control socket given after -r makes 1.1.0 block in accept().
        softflowd) CMD=(softflowd -r "$2" -n 127.0.0.1:9) ;;
        sensor) CMD=("$SENSOR" --read "$2" --emit none) ;;
    esac
}

# reported_packets TOOL: the packet count the tool itself printed, if any.
reported_packets() {
    case $1 in
        floor) sed -n 's/.*packets=\([0-9]*\).*/\1/p' "$WORK/run.out" | head -n 1 ;;
        softflowd) sed -n 's/^Packets processed: \([0-9]*\).*/\1/p' "$WORK/run.out" | head -n 1 ;;
        sensor) cat "$WORK/run.out" "$WORK/run.err" | grep -Eo '[0-9]+ packets' | grep -Eo '[0-9]+' | head -n 1 ;;
        *) echo "" ;;
    esac
}

FAILED=0
declare -A BEST MEDIAN RSS PKTS STATUS STARTUP CPU

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

# time_run TOOL FILE: run TOOL on FILE once; sets RUN_S (wall seconds), RUN_CPU (user + system CPU
# seconds, 10 ms resolution), RUN_KB (peak RSS) and RUN_RC. Wall time comes from bash's microsecond
# clock, CPU time and RSS from GNU time.
time_run() {
    tool_cmd "$1" "$2"
    local t0 t1
    t0=$EPOCHREALTIME
    /usr/bin/time -v -o "$WORK/run.time" "${CMD[@]}" >"$WORK/run.out" 2>"$WORK/run.err"
    RUN_RC=$?
    t1=$EPOCHREALTIME
    RUN_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.6f", b - a}')
    RUN_KB=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/run.time")
    RUN_CPU=$(awk -F': ' '/User time \(seconds\)|System time \(seconds\)/ {t += $2} END {printf "%.2f", t}' "$WORK/run.time")
}

for kind in "${KINDS[@]}"; do
    file=${CAPTURE[$kind]}
    cat "$file" >/dev/null  # page cache: every tool reads from memory
    # A one-packet capture measures each tool's fixed cost (exec, libraries, runtime setup).
    one=$WORK/$kind.one.pcap
    tcpdump -n -r "$file" -c 1 -w "$one" 2>/dev/null
    declare -A TIMES=() RSSMAX=() CPUS=()
    for tool in "${TOOLS[@]}"; do
        STATUS[$kind.$tool]=ok; TIMES[$tool]=""; RSSMAX[$tool]=0; STARTUP[$kind.$tool]=""; CPUS[$tool]=""
    done
    for r in $(seq "$REPEATS"); do
        for tool in "${TOOLS[@]}"; do  # interleaved, so drift hits every tool alike
            [ "${STATUS[$kind.$tool]}" = ok ] || continue
            time_run "$tool" "$file"
            if [ $RUN_RC -ne 0 ]; then
                STATUS[$kind.$tool]="FAILED (exit $RUN_RC)"; FAILED=1
                say "$(tool_label "$tool") failed on $kind (exit $RUN_RC): ${CMD[*]}"
                tail -n 5 "$WORK/run.err" | sed 's/^/    /'
                continue
            fi
            TIMES[$tool]+="$RUN_S "
            CPUS[$tool]+="$RUN_CPU "
            [ "${RUN_KB:-0}" -gt "${RSSMAX[$tool]}" ] && RSSMAX[$tool]=$RUN_KB
            PKTS[$kind.$tool]=$(reported_packets "$tool")
            time_run "$tool" "$one"
            [ $RUN_RC -eq 0 ] && STARTUP[$kind.$tool]+="$RUN_S "
        done
    done
    for tool in "${TOOLS[@]}"; do
        [ "${STATUS[$kind.$tool]}" = ok ] || continue
        BEST[$kind.$tool]=$(printf '%s\n' ${TIMES[$tool]} | sort -g | head -n 1)
        MEDIAN[$kind.$tool]=$(printf '%s\n' ${TIMES[$tool]} | median)
        RSS[$kind.$tool]=${RSSMAX[$tool]}
        CPU[$kind.$tool]=$(printf '%s\n' ${CPUS[$tool]} | sort -g | head -n 1)
        STARTUP[$kind.$tool]=$(printf '%s\n' ${STARTUP[$kind.$tool]} | sort -g | head -n 1)
    done
done

# ---------------------------------------------------------------- 5. report
say ""
hr
say "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), kernel $(uname -r)," \
    "$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
say "tools:   $(tcpdump --version 2>&1 | head -n 1), $(tcpdump --version 2>&1 | sed -n 's/^libpcap version \([^ ]*\).*/libpcap \1/p')," \
    "softflowd $(softflowd -h 2>&1 | sed -n 's/.*softflowd version \([^ .]*\.[^ ]*\)\..*/\1/p' | head -n 1)," \
    "sensor $([ $SENSOR_OK -eq 1 ] && echo "$SENSOR" || echo missing)"
say "timing:  wall time of $REPEATS interleaved runs per tool, capture in page cache; packets/s = packets in"
say "         the capture / best time; startup = best time on a one-packet capture (included in best);"
say "         cpu s = least user + system CPU time over the runs (the sensor reads with libpcap on one"
say "         thread and decodes and tracks flows on another, so its CPU time exceeds its wall time);"
say "         peak RSS = largest over the runs"
awk -v n="$(nproc)" '{ if ($1 > n) printf "warning: load average %s on %d CPUs while timing; expect noise, or rerun with --repeats 10\n", $1, n }' /proc/loadavg
MET_ALL=1
for kind in "${KINDS[@]}"; do
    file=${CAPTURE[$kind]}
    npk=$(floor_field "$file" packets)
    hr
    say "$kind capture: $file"
    say "  $npk packets, $(du -m "$file" | cut -f1) MB, snaplen $SNAPLEN, $(floor_field "$file" linktype)," \
        "mean frame $(awk -v b="$(floor_field "$file" wire_bytes)" -v n="$npk" 'BEGIN {printf "%.0f", b / n}') bytes"
    printf '  %-22s %10s %8s %9s %7s %11s %12s %9s %12s\n' tool packets "best s" "median s" "cpu s" "startup ms" \
        packets/s "vs floor" "peak RSS MB"
    floor_pps=""
    for tool in "${TOOLS[@]}"; do
        if [ "${STATUS[$kind.$tool]}" != ok ]; then
            printf '  %-22s %s\n' "$(tool_label "$tool")" "${STATUS[$kind.$tool]}"; continue
        fi
        best=${BEST[$kind.$tool]}
        pps=$(awk -v n="$npk" -v t="$best" 'BEGIN {printf "%.0f", n / t}')
        [ "$tool" = floor ] && floor_pps=$pps
        ratio=$(awk -v p="$pps" -v f="${floor_pps:-0}" 'BEGIN {if (f > 0) printf "%.1f%%", 100 * p / f; else print "-"}')
        shown=${PKTS[$kind.$tool]:-$npk}
        [ -n "${PKTS[$kind.$tool]:-}" ] && [ "${PKTS[$kind.$tool]}" != "$npk" ] && shown="${shown}*"
        startup=$(awk -v t="${STARTUP[$kind.$tool]}" 'BEGIN {if (t == "") print "-"; else printf "%.1f", 1000 * t}')
        printf '  %-22s %10s %8.3f %9.3f %7.2f %11s %12s %9s %12.1f\n' "$(tool_label "$tool")" "$shown" "$best" \
            "${MEDIAN[$kind.$tool]}" "${CPU[$kind.$tool]}" "$startup" "$pps" "$ratio" \
            "$(awk -v k="${RSS[$kind.$tool]}" 'BEGIN {print k / 1024}')"
    done
    say "  ('*' = the tool itself reported a different packet count than the capture holds)"
    if [ $SENSOR_OK -eq 1 ] && [ "${STATUS[$kind.sensor]}" = ok ] && [ "${STATUS[$kind.floor]}" = ok ] &&
        [ "${STATUS[$kind.softflowd]}" = ok ]; then
        awk -v s="${BEST[$kind.sensor]}" -v f="${BEST[$kind.floor]}" -v sf="${BEST[$kind.softflowd]}" 'BEGIN {
            share = 100 * f / s; speedup = sf / s
            printf "  target: sensor at >= 40%% of the floor packets/s: %.1f%% -> %s\n", share, (share >= 40 ? "MET" : "MISSED")
            printf "  target: sensor faster than softflowd: %.2fx softflowd packets/s -> %s\n", speedup, (speedup > 1 ? "MET" : "MISSED")
            exit !(share >= 40 && speedup > 1)
        }' || MET_ALL=0
    else
        MET_ALL=0
        why="sensor not benchmarked"
        [ $SENSOR_OK -eq 1 ] && why="a tool failed"
        say "  targets (>= 40% of the floor packets/s; faster than softflowd): not checked, $why"
    fi
done
hr
if [ $SENSOR_OK -eq 1 ]; then
    if [ $MET_ALL -eq 1 ]; then say "sensor meets both targets on every capture"; else say "sensor: targets not met on every capture (see above)"; fi
else
    say "sensor not benchmarked: build it with 'swift build -c release --static-swift-stdlib --product wirewatch-sensor' or set SENSOR"
fi
[ $FAILED -eq 0 ] || say "a tool failed (exit status 1)"
exit $FAILED
