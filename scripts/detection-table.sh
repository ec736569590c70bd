#!/usr/bin/env bash
# detection-table.sh - regenerate the table of detection results per labelled capture in docs/DETECTION.md.
#
# Runs `wirewatch analyze` (the collector's detectors, offline, default configuration) on every labelled capture
# in Tests/Fixtures and writes, between the markers in docs/DETECTION.md, one row per capture: what it is
# labelled, what was detected (kind/subtype, scope, speed), the time to detection in probes and seconds, and the
# alerts that do not fit the label (false alerts). Exits 1 when a labelled detection is missed or a false alert
# appears, so it doubles as a check.
#   scripts/detection-table.sh [--bin DIR] [--check]   (--check: compare, do not rewrite the doc)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN="${WIREWATCH_BIN:-}"
CHECK=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) shift; BIN="$1" ;;
        --check) CHECK=1 ;;
        *) echo "usage: $0 [--bin DIR] [--check]" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$BIN" ]; then
    for dir in "$HERE/.build/release" "$HERE/.build/debug"; do
        if [ -x "$dir/wirewatch" ]; then BIN="$dir"; break; fi
    done
fi
[ -x "$BIN/wirewatch" ] || { echo "no wirewatch binary; build first (swift build -c release)" >&2; exit 2; }
FIX="$HERE/Tests/Fixtures"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# capture(s) | label: expected kind/subtype[/scope], or "benign" | what it is
LABELS=$(cat <<'LIST'
scan-sS.pcap|port-scan/tcp-syn/vertical|nmap -sS (SYN, half-open)
scan-sT.pcap|port-scan/tcp-connect/vertical|nmap -sT (full connect)
scan-sU.pcap|port-scan/udp/vertical|nmap -sU
scan-sF.pcap|port-scan/tcp-fin/vertical|nmap -sF
scan-sN.pcap|port-scan/tcp-null/vertical|nmap -sN
scan-sX.pcap|port-scan/tcp-xmas/vertical|nmap -sX
scan-sA.pcap|port-scan/tcp-ack/vertical|nmap -sA
scan-slow.pcap|port-scan/tcp-syn/vertical|nmap -sS --scan-delay (slow)
scan-sweep.pcap|port-scan/tcp-syn/horizontal|nmap -sS of one port across 127.0.0.x
scan-decoy.pcap|port-scan/tcp-syn/vertical|nmap -sS -D (decoys)
scan-split-a.pcap scan-split-b.pcap|port-scan/tcp-syn/vertical|one SYN scan seen half by each of two sensors
scan-split-a.pcap|benign|first half of the split scan alone (below threshold)
scan-split-b.pcap|benign|second half of the split scan alone (below threshold)
dns-tunnel.pcap|dns-suspicious/tunneling|base32 labels under one domain, TXT/NULL/CNAME
dns-dga.pcap|dns-suspicious/high-entropy|40 generated names, NXDOMAIN
benign-web.pcap|benign|curl to a web server, bulk transfer
dns-benign.pcap|benign|popular names, a few NXDOMAIN typos, PTR lookups
http.pcap|benign|curl HTTP/1.1
dns.pcap|benign|dig against dnsmasq
tls.pcap|benign|openssl s_client, curl https
mixed.pcap|benign|web, DNS, TLS, ping, one scan-free mix
LIST
)

rows="$WORK/rows.md"
failures=0
while IFS='|' read -r files label what; do
    [ -n "$files" ] || continue
    args=()
    for f in $files; do args+=("$FIX/$f"); done
    [ ${#args[@]} -gt 1 ] && args=(--sensor-per-file "${args[@]}")
    "$BIN/wirewatch" analyze "${args[@]}" --format json >"$WORK/out.json" 2>"$WORK/err.txt" || {
        echo "analyze failed on $files: $(cat "$WORK/err.txt")" >&2; exit 1; }
    line=$(python3 - "$label" "$files" "$what" "$WORK/out.json" <<'PY'
import json, sys
label, files, what, path = sys.argv[1:5]
alerts = json.load(open(path))
want = None if label == "benign" else label.split("/")
def fits(a):
    if want is None: return False
    if a["kind"] != want[0] or a["subtype"] != want[1]: return False
    return len(want) < 3 or a.get("scope") == want[2]
hits = [a for a in alerts if fits(a)]
# For a labelled capture, only alerts of other kinds count as false; several alerts of the labelled kind are
# reported in the detected column. For a benign capture every alert is false.
false = [a for a in alerts if (want is None) or a["kind"] != want[0]]
if hits:
    a = hits[0]
    scope = a.get("scope", "")
    speed = a.get("speed", "")
    detected = "yes: %s/%s" % (a["kind"], a["subtype"]) + ("" if len(hits) == 1 else " (%d alerts)" % len(hits))
    probes = a.get("detected_after_probes", "")
    secs = a.get("detected_after_seconds")
    secs = ("%.1f" % secs if secs >= 1 else "%.4f" % secs) if isinstance(secs, (int, float)) else ""
    sensors = ",".join(a.get("sensors", []))
else:
    wrong = [a for a in alerts if want is not None and a["kind"] == want[0]]
    detected = "no" if want is not None else "-"
    if wrong: detected += " (got %s)" % ",".join("%s/%s/%s" % (w["kind"], w["subtype"], w.get("scope","")) for w in wrong)
    scope = speed = probes = secs = sensors = ""
falses = ", ".join("%s/%s" % (a["kind"], a["subtype"]) for a in false) or "0"
ok = (want is None and not alerts) or (want is not None and hits and not false)
cells = ["`%s`" % f for f in files.split()]
print("%d||| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (0 if ok else 1, " + ".join(cells), what, label,
      detected, scope, speed, probes, secs, sensors, falses))
PY
)
    status=${line%%||*}
    echo "${line#*||}" >>"$rows"
    if [ "$status" != 0 ]; then failures=$((failures + 1)); echo "MISMATCH: $files ($label)" >&2; fi
done <<<"$LABELS"

table="$WORK/table.md"
{
    echo "| capture | traffic | label | detected | scope | speed | probes to detection | seconds to detection | sensors | false alerts |"
    echo "|---|---|---|---|---|---|---:|---:|---|---|"
    cat "$rows"
} >"$table"

doc="$HERE/docs/DETECTION.md"
python3 - "$doc" "$table" "$CHECK" <<'PY'
import sys
doc, table, check = sys.argv[1], open(sys.argv[2]).read(), sys.argv[3] == "1"
begin, end = "<!-- detection-table:begin -->", "<!-- detection-table:end -->"
text = open(doc).read()
i, j = text.index(begin) + len(begin), text.index(end)
new = text[:i] + "\n" + table + text[j:]
if check:
    if new != text:
        print("docs/DETECTION.md's table differs from what the captures give now; rerun scripts/detection-table.sh",
              file=sys.stderr)
        sys.exit(1)
else:
    open(doc, "w").write(new)
PY
cat "$table"
if [ "$failures" -gt 0 ]; then echo "$failures captures did not give their labelled result" >&2; exit 1; fi
