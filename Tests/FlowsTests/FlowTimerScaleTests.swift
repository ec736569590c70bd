import Flows
import Packets
import TestSupport
import Testing

/// The flow table's timers against a reference written here: the whole-table walk once a second of packet time that
/// the table made before it had timers, over a million flows of mixed kinds and timeouts.
@Suite("flow timers at scale")
struct FlowTimerScaleTests {
    /// Timeouts short enough that flows expire in every way many times over the stream.
    static func configure(_ config: inout FlowConfig) {
        config.uidSeed = 7
        config.tcpIdleTimeout = 30
        config.tcpClosedTimeout = 2
        config.udpIdleTimeout = 10
        config.icmpIdleTimeout = 7
        config.activeTimeout = 12
        config.maxFlows = 1 << 21
    }

    enum Kind: UInt8 { case udp, tcp, tcpFin, tcpRst, icmp }

    /// What a packet does to its flow, as far as timers care.
    enum Step: UInt8 { case open, data, reply, fin, rst }

    struct Packet {
        var ts: Double
        var client: Int32
        var kind: Kind
        var step: Step
    }

    /// A million flows starting 2 ms apart, each with one to six packets spread over up to 80 s, some with gaps longer
    /// than their idle timeout (so a later packet opens a new flow on the same 5-tuple), in packet-time order.
    static func stream(flows: Int) -> [Packet] {
        var rng = SplitMix64(state: 0x7133_0001)
        var packets: [Packet] = []
        packets.reserveCapacity(flows * 3)
        for client in 0..<flows {
            let start = 1_000 + Double(client) * 0.002
            let kind: Kind
            switch rng.next() % 10 {
            case 0...3: kind = .udp
            case 4, 5: kind = .tcp
            case 6, 7: kind = .tcpFin
            case 8: kind = .tcpRst
            default: kind = .icmp
            }
            let count = 1 + Int(rng.next() % 6)
            // Mostly short flows; one in eight lives long enough for interim records and idle re-checks.
            let span = rng.next() % 8 == 0 ? Double(rng.next() % 80_000) / 1_000 : Double(rng.next() % 5_000) / 1_000
            var offsets = (1..<count).map { _ in Double(rng.next() % 1_000_000) / 1_000_000 * span }
            offsets.sort()
            packets.append(Packet(ts: start, client: Int32(client), kind: kind, step: .open))
            for (index, offset) in offsets.enumerated() {
                var step: Step = rng.next() % 2 == 0 ? .data : .reply
                if index == offsets.count - 1 {
                    if kind == .tcpFin { step = .fin }
                    if kind == .tcpRst { step = .rst }
                }
                packets.append(Packet(ts: start + offset, client: Int32(client), kind: kind, step: step))
            }
        }
        packets.sort { $0.ts < $1.ts }
        // Distinct times, so that ties in start time (broken by the index's slot order) do not arise.
        for index in packets.indices { packets[index].ts += Double(index) * 1e-9 }
        return packets
    }

    /// One emitted flow record, as the comparison sees it.
    struct Event: Equatable, Comparable {
        var at: Double
        var final: Bool
        var reason: String
        var client: Int32
        var start: Double

        static func < (a: Event, b: Event) -> Bool { (a.client, a.start) < (b.client, b.start) }
    }

    /// The walk the table made before it had timers: every open flow looked at each sweep.
    static func reference(_ packets: [Packet], config: FlowConfig) -> [Event] {
        struct Open {
            var client: Int32
            var kind: Kind
            var start: Double
            var last: Double
            var lastExport: Double
            var closing = false
            var reset = false
        }
        var open: [Open] = []
        var byClient: [Int32: Int] = [:]  // client -> index in `open`
        var events: [Event] = []
        var now = 0.0
        var nextSweep = 0.0
        func idle(_ flow: Open) -> Double {
            switch flow.kind {
            case .udp: return config.udpIdleTimeout
            case .icmp: return config.icmpIdleTimeout
            case .tcp, .tcpFin, .tcpRst: return flow.closing ? config.tcpClosedTimeout : config.tcpIdleTimeout
            }
        }
        func reason(_ flow: Open) -> String { flow.closing ? (flow.reset ? "rst" : "fin") : "idle" }
        func sweep() {
            var kept: [Open] = []
            kept.reserveCapacity(open.count)
            var expired: [Open] = []
            for var flow in open {
                if now - flow.last >= idle(flow) {
                    expired.append(flow)
                } else {
                    if now - flow.lastExport >= config.activeTimeout {
                        flow.lastExport = now
                        events.append(
                            Event(at: now, final: false, reason: "active", client: flow.client, start: flow.start))
                    }
                    kept.append(flow)
                }
            }
            guard !expired.isEmpty else { return }
            open = kept
            byClient.removeAll(keepingCapacity: true)
            for (index, flow) in open.enumerated() { byClient[flow.client] = index }
            expired.sort { $0.start < $1.start }
            for flow in expired {
                events.append(Event(at: now, final: true, reason: reason(flow), client: flow.client, start: flow.start))
            }
        }
        for packet in packets {
            if packet.ts > now {
                now = packet.ts
                if packet.ts >= nextSweep {
                    nextSweep = packet.ts + 1
                    sweep()
                }
            }
            if let index = byClient[packet.client] {
                open[index].last = max(open[index].last, packet.ts)
                if packet.step == .fin || packet.step == .rst { open[index].closing = true }
                if packet.step == .rst { open[index].reset = true }
            } else {
                var flow = Open(
                    client: packet.client, kind: packet.kind, start: packet.ts, last: packet.ts, lastExport: packet.ts)
                if packet.step == .fin || packet.step == .rst { flow.closing = true }
                if packet.step == .rst { flow.reset = true }
                byClient[packet.client] = open.count
                open.append(flow)
            }
        }
        for flow in open.sorted(by: { $0.start < $1.start }) {
            events.append(Event(at: now, final: true, reason: "end", client: flow.client, start: flow.start))
        }
        return events
    }

    /// Frames for each kind and step, sent from or to the client whose address is written in at `clientOffset`.
    struct Templates {
        static let server = "192.168.0.1"
        static let clientOffset = 14 + 12  // the IPv4 source address, or the destination of a reply (+ 4)
        var frames: [Kind: [Step: (frame: [UInt8], reply: Bool)]] = [:]

        init() {
            typealias F = FrameBuilder
            let c = "10.0.0.0"
            let s = Self.server
            frames[.udp] = [
                .open: (F.udpFrame(c, 5000, s, 7000, payload: [1]), false),
                .data: (F.udpFrame(c, 5000, s, 7000, payload: [1, 2]), false),
                .reply: (F.udpFrame(s, 7000, c, 5000, payload: [3]), true),
            ]
            for kind in [Kind.tcp, .tcpFin, .tcpRst] {
                frames[kind] = [
                    .open: (F.tcpFrame(c, 5000, s, 80, flags: .syn, sequence: 100), false),
                    .data: (F.tcpFrame(c, 5000, s, 80, flags: [.ack, .psh], sequence: 101, payload: [1]), false),
                    .reply: (F.tcpFrame(s, 80, c, 5000, flags: .ack, sequence: 900, acknowledgment: 101), true),
                    .fin: (F.tcpFrame(c, 5000, s, 80, flags: [.fin, .ack], sequence: 102), false),
                    .rst: (F.tcpFrame(s, 80, c, 5000, flags: .rst, sequence: 901), true),
                ]
            }
            let echo = F.ethernet(
                F.ipv4(
                    source: c, destination: s, proto: IPProtocol.icmp,
                    payload: F.icmp(type: 8, code: 0, rest: [0, 1, 0, 1])))
            let echoReply = F.ethernet(
                F.ipv4(
                    source: s, destination: c, proto: IPProtocol.icmp,
                    payload: F.icmp(type: 0, code: 0, rest: [0, 1, 0, 1])))
            frames[.icmp] = [.open: (echo, false), .data: (echo, false), .reply: (echoReply, true)]
        }
    }

    static func clientAddress(_ client: Int32) -> [UInt8] {
        [
            10, UInt8(truncatingIfNeeded: client >> 16), UInt8(truncatingIfNeeded: client >> 8),
            UInt8(truncatingIfNeeded: client),
        ]
    }

    @Test(
        "a million flows of mixed kinds and timeouts expire at the same packet time and in the same order as a walk over the table"
    )
    func millionFlowsMatchTheWalk() throws {
        let flowCount = 1_000_000
        let packets = Self.stream(flows: flowCount)
        var config = FlowConfig(sensor: "scale")
        Self.configure(&config)
        let expected = Self.reference(packets, config: config)

        final class Sink {
            var events: [Event] = []
            var clock: () -> Double = { 0 }
        }
        let sink = Sink()
        let server = try #require(IPAddress(Templates.server))
        let table = FlowTable(config: config) { record in
            guard case .flow(let flow) = record else { return }
            // A flow whose first packet came from the server (a new flow after an idle gap) has it as originator.
            let bytes = flow.id.origHost == server ? flow.id.respHost.bytes : flow.id.origHost.bytes
            let client = Int32(bytes[1]) << 16 | Int32(bytes[2]) << 8 | Int32(bytes[3])
            sink.events.append(
                Event(at: sink.clock(), final: flow.final, reason: flow.reason, client: client, start: flow.ts))
        }
        sink.clock = { [unowned table] in table.now }
        var templates = Templates().frames
        for packet in packets {
            guard let (frame, reply) = templates[packet.kind]?[packet.step] else {
                Issue.record("no template for \(packet.kind) \(packet.step)")
                return
            }
            var bytes = frame
            let at = Templates.clientOffset + (reply ? 4 : 0)
            let address = Self.clientAddress(packet.client)
            for index in 0..<4 { bytes[at + index] = address[index] }
            try bytes.withBytes { raw in
                guard let decoded = try PacketDecoder.decode(raw, linkType: .ethernet) else {
                    Issue.record("template did not decode")
                    return
                }
                table.process(decoded, bytes: raw, timestamp: packet.ts)
            }
        }
        table.flushAll()
        templates.removeAll()

        let actual = Self.canonical(sink.events)
        let reference = Self.canonical(expected)
        #expect(reference.count > flowCount)
        #expect(reference.contains { !$0.final })
        #expect(Set(reference.map(\.reason)) == ["idle", "fin", "rst", "active", "end"])
        #expect(actual.count == reference.count)
        if let first = actual.indices.first(where: { $0 < reference.count && actual[$0] != reference[$0] }) {
            Issue.record("first difference at event \(first): table \(actual[first]), reference \(reference[first])")
        }
    }

    /// Interim records of one sweep come in the index's slot order, which the reference cannot know: within each run
    /// of interim records at one packet time they are compared sorted.
    static func canonical(_ events: [Event]) -> [Event] {
        var result = events
        var start = 0
        while start < result.count {
            var end = start + 1
            if !result[start].final {
                while end < result.count && !result[end].final && result[end].at == result[start].at { end += 1 }
                result[start..<end].sort()
            }
            start = end
        }
        return result
    }
}
