#!/usr/bin/env bash
# Unpacks Debian's tor-geoipdb (IPFire Location data: IPv4 and IPv6 ranges -> country) into
# /usr/local/share/wirewatch/tor-geoip, where Wirewatch looks for it when no --geoip .mmdb is given.
# `apt-get download` + `dpkg-deb -x`: the data only, without the tor package and its daemon.
set -euo pipefail
DEST=${1:-/usr/local/share/wirewatch/tor-geoip}
if [ -f "$DEST/usr/share/tor/geoip" ] && [ -f "$DEST/usr/share/tor/geoip6" ]; then
    echo "tor-geoipdb already in $DEST"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download tor-geoipdb)
mkdir -p "$DEST"
dpkg-deb -x "$tmp"/tor-geoipdb_*.deb "$DEST"
echo "tor-geoipdb unpacked into $DEST"
