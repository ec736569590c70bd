#!/usr/bin/env bash
# Many sensors delivering to one collector while it is attacked: runs the LoadTests test (Tests/TransportTests/
# LoadTests.swift) at full shape and prints its figures. The collector is the real wirewatch-collector program;
# the sensors are the shipper, spool and client a sensor runs, in the test process, each with its own
# certificate; 2,000 unauthenticated connections come from 127.0.0.2 (half silent, half a stalled ClientHello);
# one certified sensor trickles a frame a byte every 200 ms. Everything stays on loopback.
#
#   bench/hostile-load.sh                      # 200 sensors x 40 records/s for 180 s, 2,000 attacks
#   SENSORS=100 SECONDS_=60 bench/hostile-load.sh
#   --no-build                                 # use the debug build that is there
#
# The figures are from a debug build (the test bundle's); CI runs the same test at 40 sensors for 12 s.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
BUILD=1
for arg in "$@"; do
    case $arg in
    --no-build) BUILD=0 ;;
    *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
    esac
done
[ "$BUILD" = 1 ] && swift build --build-tests >&2
report=$(mktemp)
trap 'rm -f "$report"' EXIT
export WIREWATCH_LOAD_SENSORS=${SENSORS:-200}
export WIREWATCH_LOAD_SECONDS=${SECONDS_:-180}
export WIREWATCH_LOAD_RATE=${RATE:-40}
export WIREWATCH_LOAD_ATTACKS=${ATTACKS:-2000}
export WIREWATCH_LOAD_REPORT=$report
status=0
# The test bundle is run directly (not through swift test, which holds the build directory's lock for the run).
"$(swift build --show-bin-path)/wirewatchPackageTests.xctest" --testing-library swift-testing --filter LoadTests >&2 ||
    status=$?
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
echo "shape: $WIREWATCH_LOAD_SENSORS sensors x $WIREWATCH_LOAD_RATE records/s for $WIREWATCH_LOAD_SECONDS s, $WIREWATCH_LOAD_ATTACKS unauthenticated connections, 1 trickling sensor"
if [ -s "$report" ]; then
    column -t <"$report"
else
    echo "no figures: the test failed before the end (see above)"
fi
exit "$status"
