import Flows
import Packets
import TestSupport
import Testing

/// Feeds frames built in the test through the decoder into a flow table and keeps what it emits.
final class FlowHarness {
    private let box = RecordBox()
    private let table: FlowTable

    init(configure: (inout FlowConfig) -> Void = { _ in }) {
        var config = FlowConfig(sensor: "test")
        config.uidSeed = 42
        configure(&config)
        let box = self.box
        table = FlowTable(config: config, emit: { box.records.append($0) })
    }

    func feed(_ frame: [UInt8], at ts: Double) throws {
        try frame.withBytes { bytes in
            guard let packet = try PacketDecoder.decode(bytes, linkType: .ethernet) else { return }
            table.process(packet, bytes: bytes, timestamp: ts)
        }
    }

    func advance(to ts: Double) { table.advance(to: ts) }
    func flush() { table.flushAll() }
    var emitted: [Record] { box.records }
    var flows: [FlowRecord] { box.records.compactMap { if case .flow(let f) = $0 { return f } else { return nil } } }
    var finalFlows: [FlowRecord] { flows.filter(\.final) }
    var evicted: UInt64 { table.flowsEvicted }
}

final class RecordBox { var records: [Record] = [] }

@Suite("flow table")
struct FlowTableTests {
    typealias F = FrameBuilder
    let client = "10.1.1.1"
    let server = "10.2.2.2"

    /// A complete connection: handshake, one request, one response, FIN from each side.
    func handshake(_ h: FlowHarness, start: Double = 100) throws {
        try h.feed(F.tcpFrame(client, 40000, server, 80, flags: .syn, sequence: 1000), at: start)
        try h.feed(
            F.tcpFrame(server, 80, client, 40000, flags: [.syn, .ack], sequence: 5000, acknowledgment: 1001),
            at: start + 0.01)
        try h.feed(
            F.tcpFrame(client, 40000, server, 80, flags: .ack, sequence: 1001, acknowledgment: 5001), at: start + 0.02)
    }

    @Test(
        "a full TCP connection: Zeek history ShADdFf (the responder never sends a bare ACK), state SF, counts per direction"
    )
    func fullConnection() throws {
        let h = FlowHarness()
        try handshake(h)
        let request = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        let response = Array("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".utf8)
        try h.feed(
            F.tcpFrame(
                client, 40000, server, 80, flags: [.ack, .psh], sequence: 1001, acknowledgment: 5001, payload: request),
            at: 100.03)
        try h.feed(
            F.tcpFrame(
                server, 80, client, 40000, flags: [.ack, .psh], sequence: 5001,
                acknowledgment: 1001 + UInt32(request.count), payload: response), at: 100.04)
        try h.feed(
            F.tcpFrame(
                client, 40000, server, 80, flags: [.ack, .fin], sequence: 1001 + UInt32(request.count),
                acknowledgment: 5001 + UInt32(response.count)), at: 100.05)
        try h.feed(
            F.tcpFrame(
                server, 80, client, 40000, flags: [.ack, .fin], sequence: 5001 + UInt32(response.count),
                acknowledgment: 1002 + UInt32(request.count)), at: 100.06)
        try h.feed(
            F.tcpFrame(
                client, 40000, server, 80, flags: .ack, sequence: 1002 + UInt32(request.count),
                acknowledgment: 5002 + UInt32(response.count)), at: 100.07)
        h.flush()
        let flow = try #require(h.finalFlows.first)
        #expect(h.finalFlows.count == 1)
        #expect(flow.history == "ShADdFf")
        #expect(flow.connState == "SF")
        #expect(flow.id.origHost == IPAddress(client) && flow.id.respPort == 80)
        #expect(flow.origPackets == 5 && flow.respPackets == 3)
        #expect(flow.origBytes == UInt64(request.count) && flow.respBytes == UInt64(response.count))
        #expect(flow.origIPBytes == 5 * 40 + UInt64(request.count))
        #expect(flow.service == "http")
        #expect(abs(flow.duration - 0.07) < 1e-6)
        let http = h.emitted.compactMap { if case .http(let r) = $0 { return r } else { return nil } }
        #expect(http.count == 1)
        #expect(http.first?.transaction.statusCode == 200 && http.first?.uid == flow.uid)
    }

    @Test("SYN answered by RST is REJ")
    func rejected() throws {
        let h = FlowHarness()
        try h.feed(F.tcpFrame(client, 40001, server, 23, flags: .syn), at: 1)
        try h.feed(
            F.tcpFrame(server, 23, client, 40001, flags: [.rst, .ack], sequence: 0, acknowledgment: 1001), at: 1.001)
        h.flush()
        let flow = try #require(h.finalFlows.first)
        #expect(flow.connState == "REJ")
        #expect(flow.history == "Sr")
    }

    @Test("an unanswered SYN is S0; a half-open scan probe (SYN, SYN-ACK, RST) is RSTO")
    func synStates() throws {
        let h = FlowHarness()
        try h.feed(F.tcpFrame(client, 40002, server, 22, flags: .syn), at: 1)
        try h.feed(F.tcpFrame(client, 40003, server, 443, flags: .syn), at: 2)
        try h.feed(
            F.tcpFrame(server, 443, client, 40003, flags: [.syn, .ack], sequence: 9, acknowledgment: 1001), at: 2.001)
        try h.feed(F.tcpFrame(client, 40003, server, 443, flags: .rst, sequence: 1001), at: 2.002)
        h.flush()
        let byPort = Dictionary(uniqueKeysWithValues: h.finalFlows.map { ($0.id.respPort, $0) })
        #expect(byPort[22]?.connState == "S0")
        #expect(byPort[22]?.history == "S")
        #expect(byPort[443]?.connState == "RSTO")
        #expect(byPort[443]?.history == "ShR")
    }

    @Test("a SYN-ACK seen first makes its receiver the originator and marks the history with ^")
    func flipped() throws {
        let h = FlowHarness()
        try h.feed(
            F.tcpFrame(server, 80, client, 40004, flags: [.syn, .ack], sequence: 5000, acknowledgment: 1001), at: 1)
        try h.feed(F.tcpFrame(client, 40004, server, 80, flags: .ack, sequence: 1001, acknowledgment: 5001), at: 1.1)
        h.flush()
        let flow = try #require(h.finalFlows.first)
        #expect(flow.id.origHost == IPAddress(client) && flow.id.origPort == 40004)
        #expect(flow.history.hasPrefix("^"))
        #expect(flow.respPackets == 1 && flow.origPackets == 1)
    }

    @Test("a repeated segment counts as a retransmission and its bytes once")
    func retransmission() throws {
        let h = FlowHarness()
        try handshake(h)
        let data = Array(repeating: UInt8(0x42), count: 100)
        try h.feed(
            F.tcpFrame(
                client, 40000, server, 80, flags: [.ack, .psh], sequence: 1001, acknowledgment: 5001, payload: data),
            at: 100.1)
        try h.feed(
            F.tcpFrame(
                client, 40000, server, 80, flags: [.ack, .psh], sequence: 1001, acknowledgment: 5001, payload: data),
            at: 100.3)
        h.flush()
        let flow = try #require(h.finalFlows.first)
        #expect(flow.retransPackets == 1)
        #expect(flow.origBytes == 100)
        #expect(flow.history.contains("T"))
    }

    @Test("idle timeouts run on packet time: UDP after 60 s, closed TCP after 5 s")
    func idleTimeouts() throws {
        let h = FlowHarness()
        try h.feed(F.udpFrame(client, 5000, server, 9999, payload: [1]), at: 10)
        try h.feed(F.tcpFrame(client, 40005, server, 80, flags: .syn), at: 10)
        try h.feed(F.tcpFrame(server, 80, client, 40005, flags: [.rst, .ack], acknowledgment: 1001), at: 10.5)
        h.advance(to: 14)
        #expect(h.finalFlows.isEmpty)
        h.advance(to: 16)
        #expect(h.finalFlows.map(\.proto) == [IPProtocol.tcp])
        #expect(h.finalFlows.first?.reason == "rst")
        h.advance(to: 69)
        #expect(h.finalFlows.count == 1)
        h.advance(to: 71)
        #expect(h.finalFlows.count == 2)
        #expect(h.finalFlows.last?.reason == "idle" && h.finalFlows.last?.connState == "S0")
    }

    @Test("a long flow emits interim records (final false) every active timeout, then one final record")
    func activeTimeout() throws {
        let h = FlowHarness { $0.activeTimeout = 60 }
        for second in stride(from: 0.0, through: 150, by: 5) {
            try h.feed(
                F.udpFrame(client, 6000, server, 7000, payload: [UInt8](repeating: 1, count: 10)), at: 1000 + second)
        }
        h.flush()
        let interim = h.flows.filter { !$0.final }
        #expect(interim.count == 2)
        #expect(interim.allSatisfy { $0.reason == "active" })
        let final = try #require(h.finalFlows.first)
        #expect(Set(h.flows.map(\.uid)).count == 1)
        #expect(final.origPackets == 31)
        #expect(interim[0].origPackets < interim[1].origPackets && interim[1].origPackets < final.origPackets)
    }

    @Test("the memory cap evicts the idlest flows, counted and emitted")
    func eviction() throws {
        let h = FlowHarness { $0.maxFlows = 10 }
        for port in UInt16(1)...25 {
            try h.feed(F.udpFrame(client, 10000 + port, server, 53, payload: []), at: 1 + Double(port) / 100)
        }
        #expect(h.evicted == 15)
        #expect(h.finalFlows.count == 15)
        #expect(h.finalFlows.allSatisfy { $0.reason == "evicted" })
        #expect(h.finalFlows.map(\.id.origPort).sorted() == (10001...10015).map { UInt16($0) })
    }

    @Test("echo request and reply are one ICMP flow; the reply counts for the responder")
    func icmpEcho() throws {
        let h = FlowHarness()
        let request = F.ethernet(
            F.ipv4(
                source: client, destination: server, proto: IPProtocol.icmp,
                payload: F.icmp(type: 8, code: 0, rest: [0, 1, 0, 1], payload: [1, 2, 3, 4])))
        let reply = F.ethernet(
            F.ipv4(
                source: server, destination: client, proto: IPProtocol.icmp,
                payload: F.icmp(type: 0, code: 0, rest: [0, 1, 0, 1], payload: [1, 2, 3, 4])))
        try h.feed(request, at: 1)
        try h.feed(reply, at: 1.001)
        try h.feed(request, at: 2)
        try h.feed(reply, at: 2.001)
        h.flush()
        #expect(h.finalFlows.count == 1)
        let flow = try #require(h.finalFlows.first)
        #expect(flow.id.origHost == IPAddress(client) && flow.id.origPort == 8 && flow.id.respPort == 0)
        #expect(flow.origPackets == 2 && flow.respPackets == 2)
        #expect(flow.icmpType == 8)
        #expect(flow.origBytes == 8)
    }

    @Test("a port unreachable is tied to the UDP probe that caused it")
    func portUnreachable() throws {
        let h = FlowHarness()
        let probe = F.ipv4(
            source: client, destination: server, proto: IPProtocol.udp,
            payload: F.udp(sourcePort: 33434, destinationPort: 161, payload: [0, 0]))
        try h.feed(F.ethernet(probe), at: 1)
        try h.feed(
            F.ethernet(
                F.ipv4(
                    source: server, destination: client, proto: IPProtocol.icmp,
                    payload: F.icmp(type: 3, code: 3, payload: Array(probe.prefix(28))))), at: 1.001)
        h.flush()
        let udp = try #require(h.finalFlows.first { $0.proto == IPProtocol.udp })
        #expect(udp.icmpType == 3 && udp.icmpCode == 3)
        #expect(udp.connState == "S0")
        #expect(h.finalFlows.contains { $0.proto == IPProtocol.icmp && $0.id.origHost == IPAddress(server) })
    }

    @Test("DNS over UDP: query and response paired with rtt")
    func dnsPairing() throws {
        let h = FlowHarness()
        // Query id 0x1234 "a.test" A; response with one A record 192.0.2.7, TTL 300.
        let question: [UInt8] = [1, 0x61, 4, 0x74, 0x65, 0x73, 0x74, 0, 0, 1, 0, 1]
        let query: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0] + question
        let answer: [UInt8] = [0xC0, 12, 0, 1, 0, 1, 0, 0, 0x01, 0x2C, 0, 4, 192, 0, 2, 7]
        let response: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0] + question + answer
        try h.feed(F.udpFrame(client, 5353, server, 53, payload: query), at: 50)
        try h.feed(F.udpFrame(server, 53, client, 5353, payload: response), at: 50.25)
        h.flush()
        let dns = h.emitted.compactMap { if case .dns(let r) = $0 { return r } else { return nil } }
        #expect(dns.count == 1)
        let record = try #require(dns.first)
        #expect(record.query == "a.test" && record.qtypeName == "A" && record.rcodeName == "NOERROR")
        #expect(record.answers == ["192.0.2.7"] && record.ttls == [300])
        #expect(abs((record.rtt ?? 0) - 0.25) < 1e-9)
        #expect(h.finalFlows.first?.service == "dns")
    }

    @Test("VLAN-tagged copies of one conversation are separate flows")
    func vlanKeys() throws {
        let h = FlowHarness()
        let ip = F.ipv4(
            source: client, destination: server, proto: IPProtocol.udp,
            payload: F.udp(sourcePort: 1, destinationPort: 2, payload: []))
        try h.feed(F.ethernet(ip, vlans: [10]), at: 1)
        try h.feed(F.ethernet(ip, vlans: [20]), at: 1)
        try h.feed(F.ethernet(ip), at: 1)
        h.flush()
        #expect(Set(h.finalFlows.map(\.vlan)) == [10, 20, nil])
    }

    @Test("series records count packets, bytes and new flows per interval of packet time")
    func series() throws {
        let h = FlowHarness { $0.seriesInterval = 10 }
        try h.feed(F.udpFrame(client, 1, server, 2, payload: [1]), at: 100)
        try h.feed(F.udpFrame(client, 1, server, 2, payload: [1]), at: 105)
        try h.feed(F.udpFrame(client, 3, server, 4, payload: [1]), at: 112)
        h.flush()
        let series = h.emitted.compactMap { if case .series(let r) = $0 { return r } else { return nil } }
        #expect(series.map(\.ts) == [100, 110])
        #expect(series.map(\.packets) == [2, 1])
        #expect(series.map(\.flows) == [1, 1])
        #expect(series.first?.bytes == 2 * 29)
        #expect(series.first?.perProtocol["udp"]?.packets == 2)
    }
}

@Suite("Community ID v1")
struct CommunityIDTests {
    // Expected values computed with the reference implementation (pycommunityid 1.x), not with this code.
    @Test(
        "reference vectors",
        arguments: [
            (
                "128.232.110.120", "66.35.250.204", UInt16(34855), UInt16(80), IPProtocol.tcp,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
            ),
            (
                "66.35.250.204", "128.232.110.120", UInt16(80), UInt16(34855), IPProtocol.tcp,
                "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
            ),
            ("fe80::1", "fe80::2", UInt16(53), UInt16(5353), IPProtocol.udp, "1:K1gRBG7QLdxJnzb4Vr7fkh3ITeI="),
        ])
    func vectors(source: String, destination: String, sport: UInt16, dport: UInt16, proto: UInt8, expected: String)
        throws
    {
        let s = try #require(IPAddress(source))
        let d = try #require(IPAddress(destination))
        #expect(
            CommunityID.hash(source: s, destination: d, sourcePort: sport, destinationPort: dport, proto: proto)
                == expected)
    }

    @Test("ICMP echo request and reply share one ID; unreachable is one-way")
    func icmp() throws {
        func id(_ s: String, _ d: String, _ type: UInt8, _ code: UInt8, v6: Bool = false) throws -> String {
            let (a, b, oneWay) = CommunityID.icmpPorts(type: type, code: code, v6: v6)
            return CommunityID.hash(
                source: try #require(IPAddress(s)), destination: try #require(IPAddress(d)), sourcePort: a,
                destinationPort: b, proto: v6 ? IPProtocol.icmpv6 : IPProtocol.icmp, oneWay: oneWay)
        }
        #expect(try id("192.168.0.89", "192.168.0.1", 8, 0) == "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=")
        #expect(try id("192.168.0.1", "192.168.0.89", 0, 0) == "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=")
        #expect(try id("10.0.0.1", "10.0.0.2", 3, 3) == "1:sn6MAmXQ6UD1gYE1XbV3XTNewrk=")
        #expect(
            try id("fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0, v6: true)
                == "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=")
    }
}

@Suite("flow table: connection reuse")
struct ConnectionReuseTests {
    typealias F = FrameBuilder

    @Test("a new SYN on a closed 5-tuple starts a new flow; the old one is emitted")
    func synAfterReset() throws {
        let h = FlowHarness()
        for attempt in 0..<3 {
            let t = Double(attempt)
            try h.feed(
                F.tcpFrame("10.9.9.9", 4444, "10.8.8.8", 80, flags: .syn, sequence: UInt32(100 * attempt)), at: t)
            try h.feed(
                F.tcpFrame(
                    "10.8.8.8", 80, "10.9.9.9", 4444, flags: [.rst, .ack], sequence: 0,
                    acknowledgment: UInt32(100 * attempt + 1)), at: t + 0.001)
        }
        h.flush()
        #expect(h.finalFlows.count == 3)
        #expect(h.finalFlows.allSatisfy { $0.connState == "REJ" && $0.origPackets == 1 && $0.respPackets == 1 })
        #expect(Set(h.finalFlows.map(\.uid)).count == 3)
    }
}

@Suite("flow table: Zeek history letters for odd segments")
struct HistoryLetterTests {
    typealias F = FrameBuilder

    @Test("a missing segment is a content gap (G); FIN with RST is inconsistent (I)")
    func gapAndInconsistent() throws {
        let h = FlowHarness()
        try h.feed(F.tcpFrame("10.1.1.1", 1000, "10.2.2.2", 80, flags: .syn, sequence: 0), at: 1)
        try h.feed(
            F.tcpFrame("10.2.2.2", 80, "10.1.1.1", 1000, flags: [.syn, .ack], sequence: 0, acknowledgment: 1), at: 1.1)
        try h.feed(F.tcpFrame("10.1.1.1", 1000, "10.2.2.2", 80, flags: .ack, sequence: 1, acknowledgment: 1), at: 1.2)
        // Bytes 1..<101 never captured; the next segment starts at 101.
        try h.feed(
            F.tcpFrame(
                "10.1.1.1", 1000, "10.2.2.2", 80, flags: [.ack, .psh], sequence: 101, acknowledgment: 1,
                payload: [UInt8](repeating: 0x41, count: 10)), at: 1.3)
        try h.feed(
            F.tcpFrame("10.2.2.2", 80, "10.1.1.1", 1000, flags: [.fin, .rst, .ack], sequence: 1, acknowledgment: 1),
            at: 1.4)
        h.flush()
        let flow = try #require(h.finalFlows.first)
        #expect(flow.history.contains("G"), "\(flow.history)")
        #expect(flow.history.contains("i"), "\(flow.history)")
        // Payload bytes follow the sequence space, as Zeek's orig_bytes: the 100 missing bytes count.
        #expect(flow.origBytes == 110)
    }

    @Test("a segment that arrives after a later one adds no bytes twice")
    func reordered() throws {
        let h = FlowHarness()
        try h.feed(F.tcpFrame("10.1.1.1", 1001, "10.2.2.2", 80, flags: .syn, sequence: 0), at: 1)
        try h.feed(
            F.tcpFrame("10.2.2.2", 80, "10.1.1.1", 1001, flags: [.syn, .ack], sequence: 0, acknowledgment: 1), at: 1.1)
        let chunk = [UInt8](repeating: 0x42, count: 50)
        try h.feed(
            F.tcpFrame("10.1.1.1", 1001, "10.2.2.2", 80, flags: .ack, sequence: 51, acknowledgment: 1, payload: chunk),
            at: 1.2)
        try h.feed(
            F.tcpFrame("10.1.1.1", 1001, "10.2.2.2", 80, flags: .ack, sequence: 1, acknowledgment: 1, payload: chunk),
            at: 1.3)
        h.flush()
        let flow = try #require(h.finalFlows.first)
        #expect(flow.origBytes == 100)
        #expect(flow.origPackets == 3)
    }
}
