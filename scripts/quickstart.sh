#!/usr/bin/env bash
# quickstart.sh - the first of the README's two commands: install what is missing, build in release mode, and run
# the distributed pair on its embedded default (scripts/demo.sh: certificates, a collector on 127.0.0.1, two
# sensors replaying bundled captures that include a scan split across them, then the alerts and top talkers).
#
# Debian packages come from apt-get when run as root; otherwise the exact command is printed and nothing is
# installed. The package list is scripts/packages.txt (CI installs the same list).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$HERE"
say() { printf '[quickstart] %s\n' "$*"; }

mapfile -t PACKAGES < <(grep -v '^#' scripts/packages.txt | grep -v '^$')
missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        say "installing: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
    else
        say "missing Debian packages; install them, then run this again:"
        echo "sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
        exit 1
    fi
fi
if [ "$(id -u)" = 0 ]; then
    scripts/install-geoip.sh
else
    say "not root: skipping the country data (sudo scripts/install-geoip.sh); the demo does not need it"
fi
command -v swift >/dev/null || { say "the Swift toolchain is not on PATH (https://www.swift.org/install/linux/)"; exit 1; }

say "building in release mode (a first build takes several minutes)"
swift build -c release
say "running the demo"
scripts/demo.sh --bin "$HERE/.build/release"
