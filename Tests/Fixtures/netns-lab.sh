# netns-lab.sh: what the fixture scripts share; sourced, not run. A private network namespace with its loopback
# up, a work directory and the background programs to stop, all removed when the script exits.
#
#   . "$HERE/netns-lab.sh"
#   lab_start NAME TOOL[:PACKAGE] ...
#
# lab_start checks for root, installs each missing TOOL (from PACKAGE, default the tool's name), and sets WORK (a
# new directory under /tmp), NS (the namespace) and PIDS (append the pid of each background program; `ip netns exec`
# execs, so $! is the program itself). It defines say, die and ns (run a command in the namespace).
# KEEP_WORK=1 keeps the work directory.

lab_start() {
    LAB_NAME=$1
    shift
    say() { printf '[%s] %s\n' "$LAB_NAME" "$*" >&2; }
    die() { say "ERROR: $*"; exit 1; }
    ns() { ip netns exec "$NS" "$@"; }
    [ "$(id -u)" -eq 0 ] || die "run as root (ip netns, tcpdump, low ports)"
    local pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null ||
            { say "installing ${pair#*:}"; apt-get install -y -qq "${pair#*:}" >/dev/null; }
    done
    WORK=$(mktemp -d "/tmp/wirewatch-$LAB_NAME.XXXXXX")
    NS="ww-$LAB_NAME-$$"
    PIDS=()
    trap lab_cleanup EXIT
    ip netns add "$NS"
    ns ip link set lo up
}

lab_cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    if [ "${KEEP_WORK:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
