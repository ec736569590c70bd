import Flows
import Foundation
import NIOCore
import Packets
import SwiftProtobuf
import TestSupport
import Testing

@testable import Wire

/// The collector's direct batch reader (`BatchFrame`) gives exactly what swift-protobuf and `recordsAndRefusals` give,
/// record for record and refusal for refusal, or leaves the frame to them (nil); never a different answer.
@Suite("batch frames read directly")
struct BatchFrameTests {
    /// What the general path makes of a frame: nil when it is not a batch or not valid.
    static func general(_ bytes: [UInt8], sensor: String = "edge-1") -> BatchFrame.Decoded? {
        guard let envelope = try? EnvelopeCodec.decode(ByteBuffer(bytes: bytes)),
            case .batch(let batch) = envelope.body
        else { return nil }
        let (records, refused) = batch.recordsAndRefusals(sensor: sensor)
        return BatchFrame.Decoded(sequence: batch.sequence, records: records, refused: refused)
    }

    static func direct(_ bytes: [UInt8], sensor: String = "edge-1") -> BatchFrame.Decoded? {
        BatchFrame.decode(ByteBuffer(bytes: bytes), sensor: sensor)
    }

    static func frame(_ batch: Wirewatch_V1_RecordBatch) throws -> [UInt8] {
        var envelope = Wirewatch_V1_Envelope()
        envelope.batch = batch
        return try envelope.serializedBytes()
    }

    /// Both paths agree; returns the direct path's answer (nil when it left the frame to the general path).
    @discardableResult
    static func agree(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> BatchFrame.Decoded? {
        let direct = direct(bytes)
        if let direct {
            let general = general(bytes)
            #expect(
                general != nil, "direct path decoded a frame the general path refuses", sourceLocation: sourceLocation)
            #expect(direct.sequence == general?.sequence, sourceLocation: sourceLocation)
            #expect(direct.records == general?.records, sourceLocation: sourceLocation)
            #expect(direct.refused == general?.refused, sourceLocation: sourceLocation)
        }
        return direct
    }

    @Test(
        "every record of the fixtures, every kind, decodes as swift-protobuf decodes it",
        arguments: ["http.pcap", "dns.pcap", "tls.pcap", "udp-unreach.pcap", "vlan.pcap", "ipv6-tcp.pcap"])
    func fixtures(fixture: String) throws {
        let original = try pipelineRecords(files: [Harness.fixture(fixture)], sensor: "edge-1", uidSeed: 7)
        var builder = BatchBuilder()
        for record in original { builder.append(record) }
        let decoded = try #require(Self.agree(try Self.frame(builder.take(sequence: 42))))
        #expect(decoded.sequence == 42)
        #expect(decoded.records.count == original.count)
        #expect(decoded.refused.isEmpty)
    }

    @Test("random flows, impossible values and odd addresses included, give the same records and refusals")
    func randomFlows() throws {
        var random = SplitMix64(state: 13)
        func pick<T>(_ values: [T]) -> T { values[Int(random.next() % UInt64(values.count))] }
        for round in 0..<50 {
            var batch = Wirewatch_V1_RecordBatch()
            batch.sequence = random.next() % 1000
            for _ in 0..<(1 + Int(random.next() % 60)) {
                var m = Wirewatch_V1_Flow()
                m.tsMicros = pick([1_700_000_000_123_456, 0, -5, Int64.max, RecordLimits.maxTimestampMicros])
                m.uid = pick(["", "Cabc", "C0123456789abcdefXYZ"])
                m.id.origH = Data(pick([[10, 0, 0, 1], [1, 2, 3], [], Array(repeating: 0xfe, count: 16)]))
                m.id.respH = Data(pick([[192, 168, 1, 200], Array(0..<16)]))
                m.id.origP = pick([0, 53, 65535, 65536])
                m.id.respP = pick([443, 70_000])
                m.proto = pick([6, 17, 1, 58, 255, 256])
                m.service = pick(["", "dns", "http"])
                m.durationMicros = pick([0, 1_500_000, -1, RecordLimits.maxDurationMicros + 1])
                m.origBytes = pick([0, 1234, RecordLimits.maxCounter, RecordLimits.maxCounter + 1])
                m.respBytes = random.next() % 100_000
                m.origPkts = pick([1, UInt64.max])
                m.respPkts = random.next() % 100
                m.origIpBytes = random.next() % 100_000
                m.respIpBytes = pick([0, 1 << 60])
                m.connState = pick(["S0", "SF", "REJ", "OTH"])
                m.history = pick(["D", "ShADadFf", "", "^hADTadtfF"])
                if random.next() % 2 == 0 { m.tcpFlagsOrig = pick([0, 0x12, 0x1FF, 70_000]) }
                if random.next() % 2 == 0 { m.tcpFlagsResp = UInt32(random.next() % 0x200) }
                m.retransPkts = pick([0, 3])
                if random.next() % 3 == 0 { m.icmpType = pick([0, 3, 8, 300]) }
                if random.next() % 3 == 0 { m.icmpCode = pick([0, 13, 256]) }
                if random.next() % 4 == 0 { m.vlan = pick([0, 100, 4095, 70_000]) }
                if random.next() % 4 == 0 { m.innerVlan = pick([1, 65_536]) }
                m.communityID = pick(["", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="])
                m.final = random.next() % 2 == 0
                m.endReason = pick(["idle", "fin", "active", ""])
                m.truncated = random.next() % 5 == 0
                batch.flows.append(m)
            }
            if round % 5 == 0 {
                var dns = Wirewatch_V1_Dns()
                dns.tsMicros = 1_700_000_000_000_000
                dns.id.origH = Data([10, 0, 0, 1])
                dns.id.respH = Data([10, 0, 0, 2])
                dns.query = "example.com"
                batch.dns.append(dns)
                var stats = Wirewatch_V1_Stats()
                stats.tsMicros = 1_700_000_000_000_000
                stats.packetsReceived = pick([1, UInt64.max])
                batch.stats.append(stats)
            }
            let decoded = try #require(Self.agree(try Self.frame(batch)))
            #expect(
                decoded.records.count + decoded.refused.count == batch.flows.count + batch.dns.count + batch.stats.count
            )
        }
    }

    /// Field `number` with wire type `type` and `body` (a varint's bytes or a length-delimited value).
    static func field(_ number: Int, _ type: UInt8, _ body: [UInt8]) -> [UInt8] {
        varint(UInt64(number << 3) | UInt64(type)) + (type == 2 ? varint(UInt64(body.count)) : []) + body
    }

    static func varint(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        return out + [UInt8(rest)]
    }

    static func envelope(batch fields: [UInt8]) -> [UInt8] { field(3, 2, fields) }

    static let baseFlow: [UInt8] =
        field(1, 0, varint(1_700_000_000_000_000)) + field(2, 2, Array("Cuid".utf8))
        + field(3, 2, field(1, 2, [10, 0, 0, 1]) + field(2, 0, varint(5353)) + field(3, 2, [10, 0, 0, 2]))
        + field(4, 0, varint(17))

    @Test("unknown fields are skipped, the last value of a field wins and a repeated id merges, as protobuf says")
    func protobufRules() throws {
        let unknown =
            Self.baseFlow + Self.field(99, 0, Self.varint(7)) + Self.field(100, 2, [1, 2, 3])
            + Self.field(101, 5, [0, 0, 0, 0]) + Self.field(102, 1, Array(repeating: 0, count: 8))
        let lastWins = Self.baseFlow + Self.field(4, 0, Self.varint(6)) + Self.field(2, 2, Array("Csecond".utf8))
        // The second id sets the responder port only: the addresses of the first stay.
        let merged = Self.baseFlow + Self.field(3, 2, Self.field(4, 0, Self.varint(53)) + Self.field(9, 0, [1]))
        for flow in [unknown, lastWins, merged] {
            let bytes = Self.envelope(
                batch: Self.field(1, 0, Self.varint(3)) + Self.field(2, 2, flow) + Self.field(50, 2, [9])
                    + Self.field(1, 0, Self.varint(4)))
            let decoded = try #require(Self.agree(bytes))
            #expect(decoded.sequence == 4)
            #expect(decoded.records.count == 1)
        }
        let decoded = try #require(Self.direct(Self.envelope(batch: Self.field(2, 2, merged))))
        guard case .flow(let flow) = decoded.records.first else {
            Issue.record("no flow")
            return
        }
        #expect(flow.id.origHost == IPAddress.v4(0x0A00_0001) && flow.id.origPort == 5353 && flow.id.respPort == 53)
    }

    @Test("what the direct reader does not handle is left to swift-protobuf")
    func leftToGeneral() throws {
        let cases: [[UInt8]] = [
            // Text that is not ASCII: swift-protobuf validates UTF-8 (this is valid; the next is not).
            Self.envelope(batch: Self.field(2, 2, Self.baseFlow + Self.field(14, 2, Array("Sé".utf8)))),
            Self.envelope(batch: Self.field(2, 2, Self.baseFlow + Self.field(14, 2, [0xC3]))),
            // A known field with another wire type.
            Self.envelope(batch: Self.field(2, 2, Self.baseFlow + Self.field(7, 2, [1]))),
            Self.envelope(batch: Self.field(2, 2, Self.baseFlow + Self.field(2, 0, [1]))),
            // A group, a truncated varint, a length beyond the message.
            Self.envelope(batch: Self.field(2, 2, Self.baseFlow + [0x9B, 0x06, 0x9C, 0x06])),
            Self.envelope(batch: Self.field(2, 2, Self.baseFlow + [0x38, 0xFF])),
            Self.envelope(batch: Self.field(2, 2, Self.baseFlow) + [0x12, 0x40, 0x08]),
            // Not a batch, or more than one Envelope field.
            Self.field(5, 2, Self.field(1, 0, [1])),
            Self.envelope(batch: Self.field(2, 2, Self.baseFlow)) + Self.field(5, 2, []),
            [],
        ]
        for bytes in cases {
            #expect(Self.direct(bytes) == nil, "\(bytes)")
        }
        // The valid non-ASCII text decodes through the general path all the same.
        #expect(Self.general(cases[0])?.records.count == 1)
    }

    @Test("random damage to batch frames never makes the two paths disagree")
    func damagedFrames() throws {
        let original = try pipelineRecords(files: [Harness.fixture("dns.pcap")], sensor: "edge-1", uidSeed: 7)
        var builder = BatchBuilder()
        for record in original.prefix(40) { builder.append(record) }
        let bytes = try Self.frame(builder.take(sequence: 1))
        var random = SplitMix64(state: 99)
        var decodedDirectly = 0
        for _ in 0..<3000 {
            var damaged = bytes
            for _ in 0..<(1 + Int(random.next() % 3)) {
                let index = Int(random.next() % UInt64(damaged.count))
                damaged[index] = UInt8(truncatingIfNeeded: random.next())
            }
            if random.next() % 8 == 0 { damaged.removeLast(Int(random.next() % 16)) }
            if Self.agree(damaged) != nil { decodedDirectly += 1 }
        }
        #expect(decodedDirectly > 0)
    }
}
