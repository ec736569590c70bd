import Foundation
import TestSupport
import Testing

// Flow records of `wirewatch-sensor --read F --emit jsonl` against tshark's view of the same capture F, per
// conversation. tshark is run here, at test time; nothing it says is stored in the repository.
//
// tshark command (one per capture, shared by the flow and Community ID tests):
//   tshark -r F --enable-protocol communityid -T fields -E separator=/t -E occurrence=f
//     -e frame.number -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst -e ip.len -e ip.hdr_len -e ipv6.plen
//     -e ip.reassembled.length -e ipv6.reassembled.length -e tcp.srcport -e tcp.dstport -e udp.srcport
//     -e udp.dstport -e tcp.flags.syn -e tcp.flags.ack -e icmp.type -e icmpv6.type -e communityid
// `occurrence=f` keeps the outer header of an ICMP error (whose payload embeds an IP + UDP header); packets with
// an ICMP type are not in any TCP/UDP conversation (Zeek and tshark agree). tshark reassembles IP fragments
// (ip.defragment is on by default) and shows the transport header on the frame that completes the datagram;
// that frame stands for ONE packet of the reassembled datagram's IP length (IPv4: ip.hdr_len +
// ip.reassembled.length; IPv6: 40 + ipv6.reassembled.length), which is how Zeek and the sensor count it. The
// other fragments carry no ports and belong to no conversation.

/// A host and port as printed by both tools.
struct Endpoint: Hashable, Comparable, Sendable, CustomStringConvertible {
    var host: String
    var port: Int
    static func < (a: Endpoint, b: Endpoint) -> Bool { (a.host, a.port) < (b.host, b.port) }
    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A conversation independent of direction: protocol and the two endpoints in sorted order.
struct ConversationKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    var proto: String
    var low: Endpoint
    var high: Endpoint
    init(proto: String, _ a: Endpoint, _ b: Endpoint) {
        self.proto = proto
        low = min(a, b)
        high = max(a, b)
    }
    static func < (a: ConversationKey, b: ConversationKey) -> Bool {
        (a.proto, a.low, a.high) < (b.proto, b.low, b.high)
    }
    var description: String { "\(proto) \(low) <-> \(high)" }
}

/// Packets and IP bytes per direction, from the originator's point of view.
struct ConversationCounts: Equatable, Sendable, CustomStringConvertible {
    var originator: Endpoint
    var responder: Endpoint
    var origPackets = 0
    var origIPBytes = 0
    var respPackets = 0
    var respIPBytes = 0

    mutating func add(from sender: Endpoint, packets: Int, ipBytes: Int) {
        if sender == originator {
            origPackets += packets
            origIPBytes += ipBytes
        } else {
            respPackets += packets
            respIPBytes += ipBytes
        }
    }

    var description: String {
        "\(originator) -> \(responder): orig \(origPackets) pkts/\(origIPBytes) IP bytes, "
            + "resp \(respPackets) pkts/\(respIPBytes) IP bytes"
    }
}

/// One frame as tshark decoded it (outer headers).
struct TsharkPacket: Sendable {
    var frame: Int
    /// "tcp", "udp", "icmp", "icmpv6", or "" (fragment without transport header, other protocol).
    var proto: String
    var source: Endpoint
    var destination: Endpoint
    /// IP length (total length; the reassembled datagram's on the frame that completes it).
    var ipBytes: Int
    var isSYNWithoutACK: Bool
    var communityID: String

    static let fields = [
        "frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "ip.len", "ip.hdr_len", "ipv6.plen",
        "ip.reassembled.length", "ipv6.reassembled.length", "tcp.srcport", "tcp.dstport", "udp.srcport",
        "udp.dstport", "tcp.flags.syn", "tcp.flags.ack", "icmp.type", "icmpv6.type", "communityid",
    ]

    init(_ row: TsharkRow) {
        frame = row.int("frame.number") ?? 0
        let srcHost = row["ip.src"].isEmpty ? row["ipv6.src"] : row["ip.src"]
        let dstHost = row["ip.dst"].isEmpty ? row["ipv6.dst"] : row["ip.dst"]
        var srcPort = 0
        var dstPort = 0
        if !row["icmp.type"].isEmpty {
            proto = "icmp"
        } else if !row["icmpv6.type"].isEmpty {
            proto = "icmpv6"
        } else if let s = row.int("tcp.srcport"), let d = row.int("tcp.dstport") {
            proto = "tcp"
            (srcPort, dstPort) = (s, d)
        } else if let s = row.int("udp.srcport"), let d = row.int("udp.dstport") {
            proto = "udp"
            (srcPort, dstPort) = (s, d)
        } else {
            proto = ""
        }
        source = Endpoint(host: srcHost, port: srcPort)
        destination = Endpoint(host: dstHost, port: dstPort)
        if let payload = row.int("ip.reassembled.length") {
            ipBytes = (row.int("ip.hdr_len") ?? 20) + payload
        } else if let payload = row.int("ipv6.reassembled.length") {
            ipBytes = 40 + payload  // RFC 8200 §4.5: reassembled = fixed header + payload (no fragment header)
        } else if let length = row.int("ip.len") {
            ipBytes = length
        } else {
            ipBytes = 40 + (row.int("ipv6.plen") ?? 0)
        }
        isSYNWithoutACK = proto == "tcp" && row.flag("tcp.flags.syn") && !row.flag("tcp.flags.ack")
        communityID = row["communityid"]
    }

    /// All frames of `file` (cached for the test run).
    static func table(_ file: String) async throws -> [TsharkPacket] {
        try await RunCache.shared.value(key: "packets " + file) {
            try await Tshark.fields(file, fields, extraOptions: ["--enable-protocol", "communityid"])
                .map(TsharkPacket.init)
        }
    }
}

/// tshark's TCP and UDP conversations: counts, and the Community IDs its packets hash to.
struct TsharkConversations {
    var counts: [ConversationKey: ConversationCounts] = [:]
    var communityIDs: [ConversationKey: Set<String>] = [:]

    /// The originator is the sender of the first SYN without ACK, else the sender of the first packet.
    init(_ packets: [TsharkPacket]) {
        var firstSender: [ConversationKey: (Endpoint, Endpoint)] = [:]
        var synSender: [ConversationKey: (Endpoint, Endpoint)] = [:]
        var transport = packets.filter { $0.proto == "tcp" || $0.proto == "udp" }
        transport.sort { $0.frame < $1.frame }
        for p in transport {
            let key = ConversationKey(proto: p.proto, p.source, p.destination)
            if firstSender[key] == nil { firstSender[key] = (p.source, p.destination) }
            if p.isSYNWithoutACK && synSender[key] == nil { synSender[key] = (p.source, p.destination) }
            communityIDs[key, default: []].insert(p.communityID)
        }
        for (key, first) in firstSender {
            let (orig, resp) = synSender[key] ?? first
            counts[key] = ConversationCounts(originator: orig, responder: resp)
        }
        for p in transport {
            counts[ConversationKey(proto: p.proto, p.source, p.destination)]?.add(
                from: p.source, packets: 1, ipBytes: p.ipBytes)
        }
    }
}

/// The sensor's TCP and UDP flows grouped the same way (several flows of one 5-tuple are summed; the
/// earliest one's originator is the conversation's).
struct SensorConversations {
    var counts: [ConversationKey: ConversationCounts] = [:]
    var communityIDs: [ConversationKey: Set<String>] = [:]
    var problems: [String] = []

    init(_ flows: [JSONRecord]) {
        let sorted = flows.sorted { ($0.numbers["ts"] ?? 0) < ($1.numbers["ts"] ?? 0) }
        for flow in sorted {
            guard let proto = flow.string("proto"), proto == "tcp" || proto == "udp" else { continue }
            guard let origHost = flow.string("id.orig_h"), let origPort = flow.int("id.orig_p"),
                let respHost = flow.string("id.resp_h"), let respPort = flow.int("id.resp_p"),
                let origPackets = flow.int("orig_pkts"), let respPackets = flow.int("resp_pkts"),
                let origIPBytes = flow.int("orig_ip_bytes"), let respIPBytes = flow.int("resp_ip_bytes")
            else {
                problems.append("flow record without id/packet/byte fields: \(flow)")
                continue
            }
            let orig = Endpoint(host: origHost, port: origPort)
            let resp = Endpoint(host: respHost, port: respPort)
            let key = ConversationKey(proto: proto, orig, resp)
            if counts[key] == nil { counts[key] = ConversationCounts(originator: orig, responder: resp) }
            counts[key]?.add(from: orig, packets: origPackets, ipBytes: origIPBytes)
            counts[key]?.add(from: resp, packets: respPackets, ipBytes: respIPBytes)
            communityIDs[key, default: []].insert(flow.string("community_id") ?? "(none)")
        }
    }
}

/// Every capture that tshark and the sensor both read as a whole: the link-type variants (SLL, SLL2, VLAN,
/// QinQ, raw IP, NULL), pcapng, nanosecond pcap, snaplen 96, a file cut mid-packet, fragments.
/// Not here: malformed.pcap (tshark builds conversations from headers the sensor rejects, as Zeek does; see
/// CommandLineTests) and the files that are not captures.
let flowCaptures = [
    "http.pcap", "http.pcapng", "http-snap96.pcap", "http-cut.pcap", "dns.pcap", "dns-nano.pcap", "tls.pcap",
    "icmp.pcap", "udp-unreach.pcap", "scan-syn.pcap", "scans.pcap", "ipv6-tcp.pcap", "sll.pcap", "sll2.pcap",
    "fragments.pcap",
    "mixed.pcap", "vlan.pcap", "qinq.pcap", "rawip.pcap", "null.pcap",
    // The detectors' labelled captures (Tests/Fixtures/make-detect-*-fixtures.sh).
    "dns-tunnel.pcap", "dns-dga.pcap", "dns-benign.pcap", "scan-sS.pcap", "scan-sT.pcap", "scan-sU.pcap",
    "scan-sF.pcap", "scan-sN.pcap", "scan-sX.pcap", "scan-sA.pcap", "scan-slow.pcap", "scan-sweep.pcap",
    "scan-decoy.pcap", "scan-split-a.pcap", "scan-split-b.pcap", "benign-web.pcap",
]

/// Flow records compared with tshark's per-packet view of the same capture.
@Suite("Flows against tshark")
struct FlowParityTests {
    // Captures: every file in `flowCaptures`.
    @Test(
        "each TCP/UDP flow has tshark's packets and IP bytes per direction and its originator",
        arguments: flowCaptures)
    func flowsMatchTsharkConversations(capture: String) async throws {
        let file = Harness.fixture(capture)
        let run = try await Sensor.jsonl(fixture: capture)
        #expect(run.output.status == 0, "sensor exit status for \(capture); stderr: \(run.output.stderr)")
        #expect(run.unparsedLines.isEmpty, "non-JSON lines on stdout: \(run.unparsedLines.prefix(3))")
        for flow in run.flows where flow.bool("final") != true {
            Issue.record("\(capture): last record of flow \(flow.string("uid") ?? "?") is not final: \(flow)")
        }

        let packets = try await TsharkPacket.table(file)
        let expected = TsharkConversations(packets)
        let actual = SensorConversations(run.flows)
        #expect(actual.problems.isEmpty, "\(actual.problems)")

        if capture != "icmp.pcap" {  // the one capture without TCP or UDP
            #expect(!expected.counts.isEmpty, "\(capture): tshark shows no TCP/UDP conversation; wrong fields?")
        }
        let missing = Set(expected.counts.keys).subtracting(actual.counts.keys).sorted()
        let extra = Set(actual.counts.keys).subtracting(expected.counts.keys).sorted()
        #expect(missing.isEmpty, "\(capture): tshark conversations without a sensor flow: \(missing)")
        #expect(extra.isEmpty, "\(capture): sensor flows tshark has no conversation for: \(extra)")
        for key in expected.counts.keys.sorted() {
            guard let want = expected.counts[key], let got = actual.counts[key] else { continue }
            #expect(got == want, "\(capture) \(key): sensor \(got) / tshark \(want)")
        }

        // Every frame tshark read was read by the sensor too.
        let stats = try #require(run.finalStats, "\(capture): no final stats record")
        #expect(stats.int("packets_received") == packets.count, "\(capture): packets_received vs tshark's frames")
    }

    // Captures: every file in `flowCaptures` (those without TCP/UDP still have ICMP flows to check).
    @Test("each flow's community_id equals tshark's Community ID of its packets", arguments: flowCaptures)
    func communityIDsMatchTshark(capture: String) async throws {
        let run = try await Sensor.jsonl(fixture: capture)
        let packets = try await TsharkPacket.table(Harness.fixture(capture))
        let expected = TsharkConversations(packets)
        let actual = SensorConversations(run.flows)
        for (key, want) in expected.communityIDs.sorted(by: { $0.key < $1.key }) {
            #expect(want.count == 1, "\(capture) \(key): tshark gives its packets several IDs \(want)")
            guard let got = actual.communityIDs[key] else { continue }  // reported by the flow test
            #expect(got == want, "\(capture) \(key): sensor community_id \(got.sorted()), tshark \(want.sorted())")
        }
        // ICMP: an echo request and its reply hash to one ID; an error to the ID of its type/code.
        let icmpWant = Set(packets.filter { $0.proto == "icmp" || $0.proto == "icmpv6" }.map(\.communityID))
        let icmpGot = Set(
            run.flows.filter { ["icmp", "icmpv6"].contains($0.string("proto") ?? "") }
                .map { $0.string("community_id") ?? "(none)" })
        #expect(icmpGot == icmpWant, "\(capture): ICMP flow IDs \(icmpGot.sorted()), tshark \(icmpWant.sorted())")
        #expect(!expected.communityIDs.isEmpty || !icmpWant.isEmpty, "\(capture): tshark found no flows at all")
    }

    // Capture: fragments.pcap (IPv4 fragments of a 3000-byte UDP datagram, IPv6 Fragment headers, ICMP echo
    // of 3000 bytes in both families).
    @Test("a fragmented datagram counts as one packet of its reassembled IP length")
    func fragmentsAreReassembled() async throws {
        let file = Harness.fixture("fragments.pcap")
        let rows = try await Tshark.fields(
            file,
            [
                "frame.number", "ip.src", "ipv6.src", "ip.id", "ip.len", "ip.hdr_len", "ip.flags.mf", "ip.frag_offset",
                "ipv6.plen", "ipv6.fraghdr.ident", "udp.srcport", "udp.dstport", "ip.reassembled.length",
                "ipv6.reassembled.length",
            ])
        // tshark's fragments: IPv4 with MF or an offset, IPv6 with a Fragment header.
        let v4Fragments = rows.filter { $0.flag("ip.flags.mf") || ($0.int("ip.frag_offset") ?? 0) > 0 }
        let v6Fragments = rows.filter { !$0["ipv6.fraghdr.ident"].isEmpty }
        let datagrams = rows.filter { !$0["ip.reassembled.length"].isEmpty || !$0["ipv6.reassembled.length"].isEmpty }
        try #require(v4Fragments.count >= 3 && v6Fragments.count >= 3, "fixture has no fragments?")

        // The UDP datagram's IP length from the fragments themselves: one header plus every fragment's data.
        var v4Length: [String: Int] = [:]  // ip.id -> header + sum of fragment payloads
        for f in v4Fragments {
            let header = f.int("ip.hdr_len") ?? 20
            v4Length[f["ip.id"], default: header] += (f.int("ip.len") ?? 0) - header
        }
        var v6Length: [String: Int] = [:]  // ident -> 40 + sum of (payload length - 8-byte fragment header)
        for f in v6Fragments { v6Length[f["ipv6.fraghdr.ident"], default: 40] += (f.int("ipv6.plen") ?? 0) - 8 }

        let run = try await Sensor.jsonl(fixture: "fragments.pcap")
        #expect(run.output.status == 0)
        let udpDatagrams = datagrams.filter { !$0["udp.srcport"].isEmpty }
        #expect(udpDatagrams.count == 2, "tshark: UDP datagrams reassembled from fragments")
        for datagram in udpDatagrams {
            let port = datagram.int("udp.srcport") ?? -1
            let want =
                datagram["ip.id"].isEmpty
                ? v6Length[datagram["ipv6.fraghdr.ident"]] : v4Length[datagram["ip.id"]]
            let flow = run.flows.first { $0.string("proto") == "udp" && $0.int("id.orig_p") == port }
            let found = try #require(flow, "no sensor flow from UDP port \(port)")
            #expect(found.int("orig_pkts") == 1, "reassembled datagram is one packet: \(found)")
            #expect(found.int("orig_ip_bytes") == want, "reassembled IP length from tshark's fragments: \(found)")
            #expect(
                found.int("orig_bytes")
                    == (datagram.int("ip.reassembled.length") ?? datagram.int("ipv6.reassembled.length")).map { $0 - 8 },
                "UDP payload bytes of the reassembled datagram: \(found)")
        }
        let stats = try #require(run.finalStats)
        #expect(stats.int("fragments") == v4Fragments.count + v6Fragments.count, "fragments seen")
        #expect(stats.int("fragments_reassembled") == datagrams.count, "datagrams reassembled")
        #expect(stats.int("fragments_expired") == 0)
    }
}
