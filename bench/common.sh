# bench/common.sh: what bench/transport.sh and bench/query.sh share; sourced, not run.
# Sets REPO, BUILD (from --no-build), BIN (the release programs, built unless --no-build), PKI (certificates in $1).
# BIN=DIR in the environment takes the programs from DIR instead (nothing is built): to compare two builds in one run.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { printf '%s\n' "$*" >&2; }
now() { date +%s.%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# bench_setup OUT_DIR "$@": checks tools, builds the release programs (unless --no-build), makes certificates.
bench_setup() {
    local out=$1
    shift
    BUILD=1
    for arg in "$@"; do
        case $arg in
        --no-build) BUILD=0 ;;
        *) say "usage: $0 [--no-build]"; exit 2 ;;
        esac
    done
    for tool in python3 bc; do
        command -v "$tool" >/dev/null || { say "missing $tool (apt-get install -y python3 bc)"; exit 1; }
    done
    mkdir -p "$out"
    if [ -n "${BIN:-}" ]; then
        BUILD=0
        BIN=$(cd "$BIN" && pwd)
    elif [ "$BUILD" = 1 ]; then
        for product in wirewatch wirewatch-collector wirewatch-sensor; do
            (cd "$REPO" && swift build -c release --scratch-path .build-release --product "$product" >&2)
        done
    fi
    [ -n "${BIN:-}" ] || BIN=$(cd "$REPO" && swift build -c release --scratch-path .build-release --show-bin-path)
    for product in wirewatch wirewatch-collector wirewatch-sensor; do
        [ -x "$BIN/$product" ] || { say "no $BIN/$product: run without --no-build"; exit 1; }
    done
    PKI=$out/pki
    [ -f "$PKI/sensors/bench-1.pem" ] || "$BIN/wirewatch" certs init --out "$PKI" --sensor bench-1 >/dev/null
}

# start_collector DIR PORT [collector options]: a collector on 127.0.0.1:PORT with DIR/collector.{out,err};
# sets COLLECTOR (its pid) once it listens.
start_collector() {
    local dir=$1 port=$2
    shift 2
    "$BIN/wirewatch-collector" --listen "127.0.0.1:$port" --tls-ca "$PKI/ca.pem" --tls-cert "$PKI/collector.pem" \
        --tls-key "$PKI/collector-key.pem" "$@" >"$dir/collector.out" 2>"$dir/collector.err" &
    COLLECTOR=$!
    for _ in $(seq 1 200); do grep -q listening "$dir/collector.out" 2>/dev/null && return; sleep 0.05; done
    say "the collector did not start: $(cat "$dir/collector.err")"
    exit 1
}
