import Flows
import Foundation
import Packets
import Testing

@testable import Store

/// Reports over stored counters whose totals pass `Int64.max` (what an older collector accepted from a hostile
/// sensor): each answers, saturated at `Int64.max`, where SQLite's `sum()` failed the query with "integer overflow";
/// totals below stay exact.
@Suite("saturating report sums")
struct SaturatingSumTests {
    static let ts = 1_732_550_400.0

    static func flow(_ uid: String, bytes: UInt64, packets: UInt64) -> Record {
        .flow(
            FlowRecord(
                ts: ts, uid: uid, sensor: "s1", id: Sample.conn(), proto: 6, service: nil, duration: 1,
                origBytes: bytes, respBytes: bytes, origPackets: packets, respPackets: packets, origIPBytes: bytes,
                respIPBytes: bytes, connState: "SF", history: "", tcpFlagsOrig: [.syn], tcpFlagsResp: [.ack],
                retransPackets: packets, icmpType: nil, icmpCode: nil, vlan: nil, innerVlan: nil, communityID: "",
                final: true, reason: "fin", truncated: false))
    }

    static func series(_ ts: Double, _ value: UInt64) -> Record {
        var tcp = ProtocolCounters()
        tcp.packets = value
        tcp.bytes = value
        tcp.flows = value
        return .series(
            SeriesRecord(
                ts: ts, interval: 60, sensor: "s1", packets: value, bytes: value, flows: value,
                perProtocol: ["tcp": tcp]))
    }

    @Test("top talkers, ports, tcp, protocols and traffic saturate at Int64.max over counters near 2^64")
    func saturated() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/s.db", synchronous: .normal)
            defer { store.close() }
            let huge = UInt64.max - 1
            let records =
                (1...3).map { Self.flow("Cbig\($0)", bytes: huge, packets: huge) }
                + [Self.series(Self.ts, .max), Self.series(Self.ts + 1, .max)]
            _ = try store.commit(Sample.batch(1, records))
            let query = ReportQuery()
            let talkers = try store.topTalkers(query)
            #expect(talkers.count == 2)
            for talker in talkers {
                #expect(talker.sentBytes == UInt64(Int64.max))
                #expect(talker.receivedPackets == UInt64(Int64.max))
                #expect(talker.origFlows + talker.respFlows == 3)
                // The sum of two saturated halves saturates too, never wraps.
                #expect(talker.bytes == UInt64(Int64.max) * 2)
            }
            let ports = try store.ports(query)
            #expect(ports.first?.bytes == UInt64(Int64.max))
            #expect(ports.first?.flows == 3)
            let tcp = try store.tcpSummary(query)
            #expect(tcp.flows == 3)
            #expect(tcp.retransmittedPackets == UInt64(Int64.max))
            let protocols = try store.protocols(query)
            #expect(protocols.first?.bytes == .max)
            let traffic = try store.traffic(query, bucket: 60)
            #expect(traffic.first?.packets == .max)
        }
    }

    @Test("sums below Int64.max stay exact, past 2^53 where a double would round")
    func exact() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/s.db", synchronous: .normal)
            defer { store.close() }
            let value: UInt64 = (1 << 53) + 1
            _ = try store.commit(Sample.batch(1, (1...3).map { Self.flow("Cexact\($0)", bytes: value, packets: 1) }))
            let talkers = try store.topTalkers(ReportQuery())
            #expect(talkers.first?.sentBytes == 3 * value)
            #expect(talkers.first?.bytes == 6 * value)
        }
    }

    @Test("the sum of no rows is zero, as before")
    func empty() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/s.db", synchronous: .normal)
            defer { store.close() }
            #expect(try store.tcpSummary(ReportQuery()).flows == 0)
            #expect(try store.topTalkers(ReportQuery()).isEmpty)
        }
    }
}
