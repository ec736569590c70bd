#!/usr/bin/env bash
# bench/sensor.sh: wirewatch-sensor offline throughput compared with the libpcap floor,
# tcpdump and softflowd, over loopback captures of real traffic (see bench/README.md): two
# many-flow captures that look like a network (net-mixed, net-small) and two few-flow ones
# (mixed, small).
#
#   bench/sensor.sh [--regen] [--no-build] [--only KIND[,KIND...]] [--repeats N]
#
# KIND: net-mixed, net-small, mixed, small (default: all four, in that order).
# Environment: PACKETS (minimum packets of mixed and small, default 1000000), NET_PACKETS
# (minimum packets of net-mixed, default 6000000), COPIES (copies in net-mixed, default 8),
# SNAPLEN (default 262144 = full), REPEATS (default 3), SENSOR (sensor binary, default
# .build/release/wirewatch-sensor), BENCH_PORT_BASE (default 15200), GEN_TIMEOUT (seconds
# per few-flow capture, default 90; the net base capture gets 4 times as long), OUT
# (default bench/out).
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
NET_PACKETS=${NET_PACKETS:-6000000}
COPIES=${COPIES:-8}
REGEN=0
BUILD=1
KINDS=(net-mixed net-small mixed small)

# Bump this when the traffic recipe changes, so cached captures are regenerated.
GENERATOR_VERSION=1
# The same for the net recipe and bench/make-network.py (net-base, net-mixed, net-small).
NET_GENERATOR_VERSION=1
# The largest frame on a 1500-byte-MTU Ethernet link: 14 header + 1500 payload (IEEE 802.3).
ETHERNET_MAX_FRAME=1514
# TCP payload per segment: 1500 MTU - 20 IPv4 - 20 TCP - up to 60 of options, so no segment
# is bigger than an Ethernet frame. Loopback's MTU is 65536; without this iperf3 and HTTP
# would send 64 KiB segments that no Ethernet sensor ever sees.
MSS=1400
# The net recipe's rates (see bench/README.md, "Captures"): per iperf3 TCP stream (4 of them),
# short TCP connections a second, DNS queries a second, long-lived connections and the mean
# seconds between two polls on each.
NET_BULK_RATE=40M
NET_SHORT_RATE=800
NET_DNS_RATE=1200
NET_SESSIONS=8000
NET_POLL_SECONDS=10

usage() { sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
        --regen) REGEN=1 ;;
        --no-build) BUILD=0 ;;
        --only)
            shift
            IFS=, read -r -a KINDS <<<"${1:-}"
            [ ${#KINDS[@]} -gt 0 ] || { usage; exit 2; }
            for kind in "${KINDS[@]}"; do
                case $kind in net-mixed|net-small|mixed|small) ;; *) usage; exit 2 ;; esac
            done ;;
        --repeats) shift; REPEATS=${1:-}; [[ $REPEATS =~ ^[1-9][0-9]*$ ]] || { usage; exit 2; } ;;
        -h|--help) usage; exit 0 ;;
        *) echo "unknown argument: $1" >&2; usage; exit 2 ;;
    esac
    shift
done
[[ $PACKETS =~ ^[1-9][0-9]*$ && $REPEATS =~ ^[1-9][0-9]*$ && $SNAPLEN =~ ^[1-9][0-9]*$ && $PORT_BASE =~ ^[1-9][0-9]*$ &&
    $NET_PACKETS =~ ^[1-9][0-9]*$ && $COPIES =~ ^[1-9][0-9]*$ ]] ||
    { echo "PACKETS, NET_PACKETS, COPIES, REPEATS, SNAPLEN and BENCH_PORT_BASE must be positive integers" >&2; exit 2; }
[ "$COPIES" -le 64 ] || { echo "COPIES must be at most 64" >&2; exit 2; }

P_TCP=$((PORT_BASE + 1))     # iperf3 TCP
P_UDP=$((PORT_BASE + 2))     # iperf3 UDP
P_ECHO=$((PORT_BASE + 7))    # short TCP connections
P_OBJ=$((PORT_BASE + 8))     # net: short and long-lived TCP connections asking for objects
P_HTTPS=$((PORT_BASE + 43))  # HTTPS (python ssl)
P_DNS=$((PORT_BASE + 53))    # dnsmasq
P_HTTP=$((PORT_BASE + 80))   # HTTP (python http.server)

mkdir -p "$OUT"
WORK=$OUT/tmp
mkdir -p "$WORK"
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3

say() { printf '%s\n' "$*"; }
hr() { printf '%*s\n' 120 '' | tr ' ' '-'; }

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

def serve_stream(port, handle, backlog):
    """An asyncio TCP server on 127.0.0.1:port with the Ethernet-sized MSS, serving handle for ever."""
    async def main():
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        limit_mss(sock)
        sock.bind(("127.0.0.1", port))
        server = await asyncio.start_server(handle, sock=sock, backlog=backlog)
        await server.serve_forever()
    asyncio.run(main())

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
    serve_stream(port, handle, 1024)

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

# The `net` recipe: clients bound to addresses of their own in 127.0.0.0/8 (127.P.Y.Z, P = the client kind),
# so that bench/make-network.py can turn each one into a host of its own.

def raise_fd_limit():
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (max(hard, 65536), hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return
        except (ValueError, OSError):
            pass

def client_address(prefix, i):
    i += 1  # never 127.P.0.0
    return "127.%d.%d.%d" % (prefix, (i >> 8) & 0xFF, i & 0xFF)

async def paced(rate, stop, start_one, cap=4000):
    """Calls start_one(n) `rate` times a second until the stop file appears, at most `cap` unfinished at once."""
    loop = asyncio.get_running_loop()
    tasks = set()
    begun = loop.time()
    n = 0
    while not os.path.exists(stop):
        due = int((loop.time() - begun) * rate)
        while n < due and len(tasks) < cap:
            n += 1
            task = asyncio.create_task(start_one(n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.005)

def serve_objects(port):
    """Requests are lines holding a byte count; each is answered with that many bytes, one send per MSS, on
    the same connection until the client closes it."""
    raise_fd_limit()
    async def handle(reader, writer):
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while line := await reader.readline():
                size = max(0, min(int(line or b"0"), 1 << 20))
                while size > 0:
                    writer.write(b"o" * min(size, MSS))
                    size -= MSS
                await writer.drain()
        except (OSError, ValueError):
            pass
        finally:
            writer.close()
    serve_stream(port, handle, 4096)

def object_size(rng):
    """A web-like response size: mostly small, a few tens of KiB."""
    r = rng.random()
    if r < 0.55:
        return rng.randint(60, 1200)
    if r < 0.9:
        return rng.randint(1200, 8000)
    return rng.randint(8000, 48000)

def short_clients(port, stop, prefix, addresses, rate):
    """Short TCP connections (one request, its answer, close; every 16th closed with RST), `rate` a second,
    from `addresses` client addresses in turn."""
    import random
    raise_fd_limit()
    rng = random.Random(1)
    async def one(n):
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, local_addr=(client_address(prefix, n % addresses), 0)), 3)
        except (OSError, asyncio.TimeoutError):
            return
        try:
            size = object_size(rng)
            writer.write(b"%d\n" % size)
            await asyncio.wait_for(reader.readexactly(size), 5)
            if n % 16 == 0:  # abortive close: RST instead of FIN
                writer.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
    asyncio.run(paced(rate, stop, one))

def sessions(port, stop, prefix, count, interval):
    """`count` long-lived TCP connections, each from an address of its own, opened 2,000 a second; each asks
    for a small answer every `interval` seconds on average (a heartbeat or a poll), until the stop file appears."""
    import random
    raise_fd_limit()
    rng = random.Random(2)
    async def one(n):
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, local_addr=(client_address(prefix, n), 0)), 5)
        except (OSError, asyncio.TimeoutError):
            return
        try:
            while not os.path.exists(stop):
                await asyncio.sleep(rng.uniform(0.3, 1.7) * interval)
                size = rng.randint(40, 600)
                writer.write(b"%d\n" % size)
                await asyncio.wait_for(reader.readexactly(size), 10)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
    async def main():
        tasks = []
        for n in range(count):
            tasks.append(asyncio.create_task(one(n)))
            if n % 20 == 19:
                await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
    asyncio.run(main())

def dns_query(rng, n):
    """A DNS query (RFC 1035 §4.1) for one of the names the benchmark's dnsmasq answers, fails or refuses."""
    import struct
    r = rng.random()
    if r < 0.3:
        name, qtype = "www.bench.test", rng.choice((1, 28))
    elif r < 0.55:
        name, qtype = "host%d.a.bench.test" % (n % 5000), 1
    elif r < 0.7:
        name, qtype = "missing-%d.bench.test" % n, 1
    elif r < 0.8:
        name, qtype = "bench.test", rng.choice((15, 16))
    elif r < 0.9:
        name, qtype = "11.0.0.127.in-addr.arpa", 12
    else:
        name, qtype = "site%d.example.org" % (n % 900), 1
    labels = b"".join(bytes([len(label)]) + label.encode() for label in name.split("."))
    return struct.pack("!HHHHHH", rng.getrandbits(16), 0x0100, 1, 0, 0, 0) + labels + b"\x00" + struct.pack("!HH", qtype, 1)

def resolver(port, stop, prefix, addresses, rate):
    """DNS queries over UDP, `rate` a second, each from a new socket (a new source port) of one of
    `addresses` client addresses in turn; each waits up to a second for its answer."""
    import random
    rng = random.Random(3)
    class Answer(asyncio.DatagramProtocol):
        def __init__(self, done):
            self.done = done
        def datagram_received(self, data, addr):
            if not self.done.done():
                self.done.set_result(data)
        def error_received(self, exc):
            if not self.done.done():
                self.done.set_result(None)
    async def one(n):
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: Answer(done), local_addr=(client_address(prefix, n % addresses), 0),
                remote_addr=("127.0.0.1", port))
        except OSError:
            return
        try:
            transport.sendto(dns_query(rng, n))
            await asyncio.wait_for(done, 1)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            transport.close()
    asyncio.run(paced(rate, stop, one))

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
    elif mode == "objects":
        serve_objects(int(args[0]))
    elif mode == "clients":
        short_clients(int(args[0]), args[1], int(args[2]), int(args[3]), float(args[4]))
    elif mode == "sessions":
        sessions(int(args[0]), args[1], int(args[2]), int(args[3]), float(args[4]))
    elif mode == "resolver":
        resolver(int(args[0]), args[1], int(args[2]), int(args[3]), float(args[4]))
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

# The batches take an optional client address to send from (the net recipe's); without one
# they send from 127.0.0.1, as the mixed and small recipes do.
dns_batch() { dig ${1:+-b "$1"} @127.0.0.1 -p "$P_DNS" +tries=1 +time=1 -f "$WORK/queries.txt"; }
http_batch() {
    curl -s --max-time 5 ${1:+--interface "$1"} -A "wirewatch-bench/1" "http://127.0.0.1:$P_HTTP/index.html" \
        "http://127.0.0.1:$P_HTTP/page.html" "http://127.0.0.1:$P_HTTP/blob.bin" \
        "http://127.0.0.1:$P_HTTP/no-such-page" --next -s --max-time 5 ${1:+--interface "$1"} \
        -d "user=bench&item=$RANDOM" "http://127.0.0.1:$P_HTTP/form"
}
https_batch() {
    local tls=(--tlsv1.3)
    [ $((RANDOM % 2)) -eq 0 ] && tls=(--tlsv1.2 --tls-max 1.2)
    curl -s --max-time 5 ${1:+--interface "$1"} -k "${tls[@]}" --resolve "bench.test:$P_HTTPS:127.0.0.1" \
        "https://bench.test:$P_HTTPS/index.html" "https://bench.test:$P_HTTPS/page.html"
}
# net: each batch from one of 250 client addresses of its kind (127.5.K.1-250).
net_http() { http_batch "127.5.1.$((RANDOM % 250 + 1))"; }
net_https() { https_batch "127.5.2.$((RANDOM % 250 + 1))"; }
net_dns() { dns_batch "127.5.3.$((RANDOM % 250 + 1))"; }
# net: a short ping (4 echoes) from one of 4,000 addresses (127.3.0-15.1-250).
net_ping() { ping -q -c 4 -i 0.05 -W 1 -I "127.3.$((RANDOM % 16)).$((RANDOM % 250 + 1))" 127.0.0.1; }

# generate KIND DEST COUNT TIMEOUT: capture COUNT packets of KIND traffic (mixed, small or net)
# on lo into DEST, within TIMEOUT seconds.
generate() {
    local kind=$1 dest=$2 count=$3 timeout=$4 part=$WORK/$1.part.pcap
    local -a ports=("$P_TCP" "$P_UDP" "$P_DNS") zopt=()
    case $kind in
        mixed) ports+=("$P_HTTP" "$P_HTTPS") ;;
        small) ports+=("$P_ECHO") ;;
        net) ports+=("$P_HTTP" "$P_HTTPS" "$P_OBJ") ;;
    esac
    [ "$(id -u)" -eq 0 ] && zopt=(-Z root)
    # Only this script's traffic, and only Ethernet-sized frames: on lo, a write that can't
    # leave at once is merged into one GSO frame of up to 64 KiB, which no sensor on an
    # Ethernet link would see; the few such frames are left out of the capture.
    local filter="host 127.0.0.1 and len <= $ETHERNET_MAX_FRAME and (icmp" p
    for p in "${ports[@]}"; do filter+=" or port $p"; done
    filter+=")"

    say "generating $kind capture ($count packets, snaplen $SNAPLEN) on lo ..."
    local t0=$SECONDS
    rm -f "$STOP" "$part"
    : >"$WORK/background.log"
    write_helpers || { say "cannot prepare helpers"; return 1; }

    # Servers.
    start_iperf "$P_TCP" && start_iperf "$P_UDP" && start_dns || return 1
    if [ "$kind" = mixed ] || [ "$kind" = net ]; then
        port_free "$P_HTTP" && port_free "$P_HTTPS" || return 1
        bg "$PYTHON" "$WORK/traffic.py" http "$P_HTTP" "$WORK/www"
        bg "$PYTHON" "$WORK/traffic.py" https "$P_HTTPS" "$WORK/www" "$WORK/tls.crt" "$WORK/tls.key"
        wait_listen tcp "$P_HTTP" && wait_listen tcp "$P_HTTPS" || return 1
        if [ "$kind" = net ]; then
            port_free "$P_OBJ" || return 1
            bg "$PYTHON" "$WORK/traffic.py" objects "$P_OBJ"
            wait_listen tcp "$P_OBJ" || return 1
        fi
    else
        port_free "$P_ECHO" || return 1
        bg "$PYTHON" "$WORK/traffic.py" echo "$P_ECHO"
        wait_listen tcp "$P_ECHO" || return 1
    fi

    # Capture: tcpdump stops by itself after $count packets (-c) and flushes the file on
    # exit, so -U (one write per packet) isn't needed. -B: 128 MiB kernel buffer.
    tcpdump -i lo -n -s "$SNAPLEN" -B 131072 -c "$count" "${zopt[@]}" -w "$part" "$filter" \
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
    elif [ "$kind" = net ]; then
        # The mixed recipe's traffic, slower bulk, each client kind from addresses of its own,
        # plus what makes a network: many short TCP connections carrying web-sized objects,
        # long-lived connections that poll now and then, DNS queries each from a new socket,
        # short pings (see bench/README.md for the rates).
        bg iperf3 -c 127.0.0.1 -B 127.5.0.1 -p "$P_TCP" -t 600 -P 4 -N -M "$MSS" -l "$MSS" \
            -b "$NET_BULK_RATE" --pacing-timer 100
        bg iperf3 -c 127.0.0.1 -B 127.5.0.2 -p "$P_UDP" -t 600 -u -l 1200 -b 10M
        bg loop net_http
        bg loop net_http
        bg loop net_https
        bg loop net_dns
        bg "$PYTHON" "$WORK/traffic.py" sessions "$P_OBJ" "$STOP" 4 "$NET_SESSIONS" "$NET_POLL_SECONDS"
        bg "$PYTHON" "$WORK/traffic.py" clients "$P_OBJ" "$STOP" 1 16000 "$NET_SHORT_RATE"
        bg "$PYTHON" "$WORK/traffic.py" resolver "$P_DNS" "$STOP" 2 12000 "$NET_DNS_RATE"
        bg loop net_ping
        bg loop net_ping
    else
        # Small packets: 64-byte UDP and TCP payloads, short TCP connections, DNS, ICMP.
        bg iperf3 -c 127.0.0.1 -p "$P_UDP" -t 600 -u -l 64 -b 60M
        bg iperf3 -c 127.0.0.1 -p "$P_TCP" -t 600 -P 2 -N -M "$MSS" -l 64 -b 15M --pacing-timer 100
        bg "$PYTHON" "$WORK/traffic.py" churn "$P_ECHO" "$STOP"
        bg "$PYTHON" "$WORK/traffic.py" churn "$P_ECHO" "$STOP"
        bg loop dns_batch
    fi
    if [ "$kind" = net ]; then bg ping -q -i 0.01 -s 56 -I 127.5.0.3 127.0.0.1; else bg ping -q -i 0.01 -s 56 127.0.0.1; fi
    local -a gen_pids=("${BG_PIDS[@]:$first}")

    local deadline=$((SECONDS + timeout))
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
    if [ "${got:-0}" -lt "$count" ]; then
        say "  fewer than $count packets within $timeout s; raise GEN_TIMEOUT or see $WORK/tcpdump-$kind.log"
        rm -f "$part"; return 1
    fi
    mv "$part" "$dest"
    local version=$GENERATOR_VERSION
    [ "$kind" = net ] && version=net$NET_GENERATOR_VERSION
    printf 'generator=%s packets=%s snaplen=%s\n' "$version" "$got" "$SNAPLEN" >"$dest.info"
}

# capture_ok FILE: the cached capture exists and was made by this recipe and settings.
capture_ok() {
    [ -s "$1" ] && [ -s "$1.info" ] || return 1
    local info; info=$(cat "$1.info")
    [[ $info == *"generator=$GENERATOR_VERSION "* && $info == *"snaplen=$SNAPLEN"* ]] || return 1
    local n=${info#*packets=}; n=${n%% *}
    [ "$n" -ge "$PACKETS" ]
}

# info_field FILE FIELD: FIELD=value from FILE.info.
info_field() { tr ' ' '\n' <"$1.info" | sed -n "s/^$2=//p" | head -n 1; }

# net_ok FILE: a cached net-mixed or net-small capture made by this recipe from this many copies.
net_ok() {
    [ -s "$1" ] && [ -s "$1.info" ] || return 1
    local info; info=$(cat "$1.info")
    [[ $info == *"generator=net$NET_GENERATOR_VERSION "* && $info == *" snaplen=$SNAPLEN "* &&
        $info == *" copies=$COPIES "* ]] || return 1
    [ "$(info_field "$1" base_packets)" -ge "$NET_BASE_PACKETS" ]
}

# make_network: net-mixed and net-small from the net base capture (made first if needed):
# COPIES overlapping, address-rewritten copies, every fourth 802.1Q-tagged (make-network.py).
make_network() {
    local base=$OUT/net-base.snap$SNAPLEN.pcap
    local mixed=$OUT/net-mixed.snap$SNAPLEN.pcap small=$OUT/net-small.snap$SNAPLEN.pcap
    local info
    if [ $REGEN -eq 1 ] || ! { [ -s "$base" ] && [ -s "$base.info" ] &&
        [[ $(cat "$base.info") == *"generator=net$NET_GENERATOR_VERSION "* ]] &&
        [[ $(cat "$base.info") == *"snaplen=$SNAPLEN"* ]] &&
        [ "$(info_field "$base" packets)" -ge "$NET_BASE_PACKETS" ]; }; then
        rm -f "$base" "$base.info"
        # The bound is 4 x GEN_TIMEOUT: the net recipe runs its bulk slower, ~25 s at 750,000 packets.
        generate net "$base" "$NET_BASE_PACKETS" $((GEN_TIMEOUT * 4)) || return 1
    else
        say "reusing $base ($(cat "$base.info"))"
    fi
    say "making net-mixed and net-small: $COPIES copies of $base (bench/make-network.py) ..."
    rm -f "$mixed" "$mixed.info" "$small" "$small.info"
    "$PYTHON" "$REPO/bench/make-network.py" "$base" "$mixed.part" --copies "$COPIES" --small "$small.part" \
        >"$WORK/make-network.log" 2>&1 || { sed 's/^/  /' "$WORK/make-network.log"; return 1; }
    sed -n 's/^/  /; /^  stats /!p' "$WORK/make-network.log"
    local base_packets; base_packets=$(info_field "$base" packets)
    for f in "$mixed" "$small"; do
        info=$(grep "^stats " "$WORK/make-network.log" | sed -n "$([ "$f" = "$mixed" ] && echo 1 || echo 2)p")
        info=${info#stats }
        printf 'generator=net%s %s snaplen=%s copies=%s base_packets=%s\n' "$NET_GENERATOR_VERSION" "$info" "$SNAPLEN" \
            "$COPIES" "$base_packets" >"$f.info"
        mv "$f.part" "$f"
    done
}

NET_BASE_PACKETS=$(((NET_PACKETS + COPIES - 1) / COPIES))
NET_MADE=0
declare -A CAPTURE
for kind in "${KINDS[@]}"; do
    file=$OUT/$kind.snap$SNAPLEN.pcap
    case $kind in
        net-*)
            if [ $NET_MADE -eq 0 ] && { [ $REGEN -eq 1 ] || ! net_ok "$OUT/net-mixed.snap$SNAPLEN.pcap" ||
                ! net_ok "$OUT/net-small.snap$SNAPLEN.pcap"; }; then
                make_network || { say "could not make the $kind capture"; exit 1; }
                NET_MADE=1
            else
                say "reusing $file ($(cat "$file.info"))"
            fi
            ;;
        *)
            if [ $REGEN -eq 1 ] || ! capture_ok "$file"; then
                rm -f "$file" "$file.info"
                generate "$kind" "$file" "$PACKETS" "$GEN_TIMEOUT" || { say "could not make the $kind capture"; exit 1; }
            else
                say "reusing $file ($(cat "$file.info"))"
            fi
            ;;
    esac
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
    if [[ $kind == net-* ]]; then
        say "  $(info_field "$file" flows) bidirectional flows, at most $(info_field "$file" max_open) open at once," \
            "$(info_field "$file" addresses) distinct addresses, $(info_field "$file" vlan_share)% 802.1Q-tagged," \
            "$(info_field "$file" copies) copies of a $(info_field "$file" base_packets)-packet capture"
    fi
    printf '  %-22s %10s %8s %9s %7s %11s %12s %9s %9s %12s\n' tool packets "best s" "median s" "cpu s" "startup ms" \
        packets/s "vs floor" "vs sfd" "peak RSS MB"
    floor_pps=""
    sfd_pps=""
    [ "${STATUS[$kind.softflowd]}" = ok ] &&
        sfd_pps=$(awk -v n="$npk" -v t="${BEST[$kind.softflowd]}" 'BEGIN {printf "%.0f", n / t}')
    for tool in "${TOOLS[@]}"; do
        if [ "${STATUS[$kind.$tool]}" != ok ]; then
            printf '  %-22s %s\n' "$(tool_label "$tool")" "${STATUS[$kind.$tool]}"; continue
        fi
        best=${BEST[$kind.$tool]}
        pps=$(awk -v n="$npk" -v t="$best" 'BEGIN {printf "%.0f", n / t}')
        [ "$tool" = floor ] && floor_pps=$pps
        ratio=$(awk -v p="$pps" -v f="${floor_pps:-0}" 'BEGIN {if (f > 0) printf "%.1f%%", 100 * p / f; else print "-"}')
        vs_sfd=$(awk -v p="$pps" -v f="${sfd_pps:-0}" 'BEGIN {if (f > 0) printf "%.2fx", p / f; else print "-"}')
        shown=${PKTS[$kind.$tool]:-$npk}
        [ -n "${PKTS[$kind.$tool]:-}" ] && [ "${PKTS[$kind.$tool]}" != "$npk" ] && shown="${shown}*"
        startup=$(awk -v t="${STARTUP[$kind.$tool]}" 'BEGIN {if (t == "") print "-"; else printf "%.1f", 1000 * t}')
        printf '  %-22s %10s %8.3f %9.3f %7.2f %11s %12s %9s %9s %12.1f\n' "$(tool_label "$tool")" "$shown" "$best" \
            "${MEDIAN[$kind.$tool]}" "${CPU[$kind.$tool]}" "$startup" "$pps" "$ratio" "$vs_sfd" \
            "$(awk -v k="${RSS[$kind.$tool]}" 'BEGIN {print k / 1024}')"
    done
    say "  ('*' = the tool itself reported a different packet count than the capture holds; vs sfd = packets/s"
    say "  as a multiple of softflowd's)"
    if [ "$kind" = net-mixed ]; then
        # The shape issue 13 asks of the many-flow capture.
        awk -v p="$npk" -v f="$(info_field "$file" flows)" -v o="$(info_field "$file" max_open)" \
            -v a="$(info_field "$file" addresses)" 'BEGIN {
            ok = (p >= 5000000 && f >= 400000 && o > 50000 && a > 100000)
            printf "  capture shape (>= 5 M packets, >= 400,000 flows, > 50,000 open at once, > 100,000 addresses): %s\n",
                ok ? "MET" : "MISSED (raise NET_PACKETS or COPIES, or see the net recipe'"'"'s rates)"
        }'
    fi
    # Targets: few-flow captures as before; many-flow ones from issue 13.
    case $kind in
        net-mixed) min_share=40; min_speedup=1.5; max_rss=150 ;;
        net-small) min_share=0; min_speedup=1.5; max_rss=150 ;;
        *) min_share=40; min_speedup=1; max_rss=0 ;;
    esac
    if [ $SENSOR_OK -eq 1 ] && [ "${STATUS[$kind.sensor]}" = ok ] && [ "${STATUS[$kind.floor]}" = ok ] &&
        [ "${STATUS[$kind.softflowd]}" = ok ]; then
        awk -v s="${BEST[$kind.sensor]}" -v f="${BEST[$kind.floor]}" -v sf="${BEST[$kind.softflowd]}" \
            -v rss="${RSS[$kind.sensor]}" -v ms="$min_share" -v mx="$min_speedup" -v mr="$max_rss" 'BEGIN {
            share = 100 * f / s; speedup = sf / s; mib = rss / 1024; ok = 1
            if (ms > 0) {
                printf "  target: sensor at >= %d%% of the floor packets/s: %.1f%% -> %s\n", ms, share, (share >= ms ? "MET" : "MISSED")
                ok = ok && share >= ms
            }
            if (mx > 1) {
                printf "  target: sensor at >= %.1fx softflowd packets/s: %.2fx -> %s\n", mx, speedup, (speedup >= mx ? "MET" : "MISSED")
                ok = ok && speedup >= mx
            } else {
                printf "  target: sensor faster than softflowd: %.2fx softflowd packets/s -> %s\n", speedup, (speedup > 1 ? "MET" : "MISSED")
                ok = ok && speedup > 1
            }
            if (mr > 0) {
                printf "  target: sensor peak RSS <= %d MiB: %.1f MiB -> %s\n", mr, mib, (mib <= mr ? "MET" : "MISSED")
                ok = ok && mib <= mr
            }
            exit !ok
        }' || MET_ALL=0
    else
        MET_ALL=0
        why="sensor not benchmarked"
        [ $SENSOR_OK -eq 1 ] && why="a tool failed"
        say "  targets: not checked, $why"
    fi
done
hr
if [ $SENSOR_OK -eq 1 ]; then
    if [ $MET_ALL -eq 1 ]; then say "sensor meets its targets on every capture"; else say "sensor: targets not met on every capture (see above)"; fi
else
    say "sensor not benchmarked: build it with 'swift build -c release --static-swift-stdlib --product wirewatch-sensor' or set SENSOR"
fi
[ $FAILED -eq 0 ] || say "a tool failed (exit status 1)"
exit $FAILED
