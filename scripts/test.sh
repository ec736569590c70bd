#!/usr/bin/env bash
# The whole test suite, as CI runs it: format lint, debug build with tests, a bounded fuzz run of the decoders
# (FuzzTesting/, libFuzzer + AddressSanitizer), then `swift test` (unit, fixture-vs-tshark, CLI and
# live-capture tests). Needs the Debian packages that .ci/run installs (libpcap-dev, tshark, tcpdump).
#   FUZZ_SECONDS=N   length of the fuzz run (default 60); 0 skips it
set -euo pipefail
cd "$(dirname "$0")/.."

# Formatting (the toolchain's swift-format, .swift-format: 4 spaces, 120 columns, no force unwraps or force tries).
git ls-files -z '*.swift' ':!:*.pb.swift' | xargs -0 swift format lint --strict --configuration .swift-format

swift build --build-tests

fuzz_seconds="${FUZZ_SECONDS:-60}"
if [ "$fuzz_seconds" != 0 ] && [ -x FuzzTesting/run.sh ]; then
    FuzzTesting/run.sh "$fuzz_seconds"
fi

# Last, so that its closing summary line is the last thing printed.
swift test
