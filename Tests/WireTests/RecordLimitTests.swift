import Flows
import Foundation
import Testing
import Wire

/// A batch holding one record whose values no sensor can produce is refused whole, the error naming the record,
/// the field and the value; values at the limits pass.
@Suite("record limits at decode")
struct RecordLimitTests {
    static func flow(_ change: (inout Wirewatch_V1_Flow) -> Void = { _ in }) -> Wirewatch_V1_Flow {
        var flow = Wirewatch_V1_Flow()
        flow.tsMicros = 1_732_550_400_000_000
        flow.id.origH = Data([10, 0, 0, 1])
        flow.id.respH = Data([10, 0, 0, 2])
        flow.proto = 6
        change(&flow)
        return flow
    }

    static func refusal(_ batch: Wirewatch_V1_RecordBatch) -> WireRecordError? {
        do {
            _ = try batch.records(sensor: "s")
            return nil
        } catch {
            return error
        }
    }

    @Test(
        "an absurd flow counter, time or duration is refused, naming record, field and value",
        arguments: [
            ("flows[1].orig_bytes", "18446744073709551615", { @Sendable m in m.origBytes = .max }),
            ("flows[1].resp_ip_bytes", "9007199254740993", { @Sendable m in m.respIpBytes = (1 << 53) + 1 }),
            ("flows[1].resp_pkts", "9223372036854775807", { @Sendable m in m.respPkts = UInt64(Int64.max) }),
            ("flows[1].retrans_pkts", "18446744073709551615", { @Sendable m in m.retransPkts = .max }),
            ("flows[1].ts", "-2147483648000001", { @Sendable m in m.tsMicros = -2_147_483_648_000_001 }),
            ("flows[1].ts", "9223372036854775807", { @Sendable m in m.tsMicros = .max }),
            ("flows[1].duration", "-5", { @Sendable m in m.durationMicros = -5 }),
            ("flows[1].duration", "315576000000001", { @Sendable m in m.durationMicros = 315_576_000_000_001 }),
        ] as [(String, String, @Sendable (inout Wirewatch_V1_Flow) -> Void)])
    func flowRefused(field: String, value: String, change: @Sendable (inout Wirewatch_V1_Flow) -> Void) throws {
        var batch = Wirewatch_V1_RecordBatch()
        batch.flows = [Self.flow(), Self.flow(change)]
        let error = try #require(Self.refusal(batch))
        #expect(error.field == field)
        #expect(error.reason.hasPrefix(value + " "), "\(error)")
        #expect(error.description.hasPrefix("\(field): \(value)"))
    }

    @Test("counters, times and durations at their limits are accepted")
    func limitsAccepted() throws {
        var batch = Wirewatch_V1_RecordBatch()
        batch.flows = [
            Self.flow { m in
                m.origBytes = RecordLimits.maxCounter
                m.respIpBytes = RecordLimits.maxCounter
                m.origPkts = RecordLimits.maxCounter
                m.tsMicros = RecordLimits.maxTimestampMicros
                m.durationMicros = RecordLimits.maxDurationMicros
            },
            Self.flow { m in m.tsMicros = RecordLimits.minTimestampMicros },
        ]
        var stats = Wirewatch_V1_Stats()
        stats.bytesReceived = RecordLimits.maxLifetimeCounter
        stats.flowTableSize = RecordLimits.maxFlowTableSize
        stats.weird = ["ipv4.truncated": RecordLimits.maxLifetimeCounter]
        batch.stats = [stats]
        let records = try batch.records(sensor: "s")
        #expect(records.count == 3)
        #expect(records.dropFirst().first.map { if case .flow(let f) = $0 { f.ts } else { 0 } } == -2_147_483_648)
        guard case .flow(let flow) = records.first else {
            Issue.record("no flow first: \(records)")
            return
        }
        #expect(flow.origBytes == 1 << 53)
        #expect(flow.ts == 4_294_967_296)
    }

    @Test("the other kinds' counters and spans are checked too")
    func otherKinds() throws {
        var series = Wirewatch_V1_Series()
        series.packets = .max
        var batch = Wirewatch_V1_RecordBatch()
        batch.series = [series]
        #expect(Self.refusal(batch)?.field == "series[0].packets")

        var counters = Wirewatch_V1_ProtocolCounters()
        counters.protocol = "tcp"
        counters.bytes = 1 << 60
        series.packets = 1
        series.perProtocol = [counters]
        batch.series = [series]
        #expect(Self.refusal(batch)?.field == "series[0].per_protocol[tcp].bytes")

        series.perProtocol = []
        series.intervalMicros = -60_000_000
        batch.series = [series]
        #expect(Self.refusal(batch)?.field == "series[0].interval")

        counters.protocol = "tcp\u{1B}[2J"
        series.perProtocol = [counters]
        series.intervalMicros = 60_000_000
        batch.series = [series]
        #expect(Self.refusal(batch)?.field == "series[0].per_protocol[tcp\\x1B[2J].bytes")

        var stats = Wirewatch_V1_Stats()
        stats.weird = ["dns.pointer_loop\u{7}": .max]
        batch = Wirewatch_V1_RecordBatch()
        batch.stats = [stats]
        #expect(Self.refusal(batch)?.field == "stats[0].weird[dns.pointer_loop\\x07]")
        stats.weird = [:]
        stats.flowTableSize = .max
        batch.stats = [stats]
        #expect(Self.refusal(batch)?.field == "stats[0].flow_table_size")

        var http = Wirewatch_V1_Http()
        http.id.origH = Data([10, 0, 0, 1])
        http.id.respH = Data([10, 0, 0, 2])
        http.statusCode = 1_000
        batch = Wirewatch_V1_RecordBatch()
        batch.http = [http]
        #expect(Self.refusal(batch)?.field == "http[0].status_code")
        http.statusCode = 200
        http.responseBodyLen = .max
        batch.http = [http]
        #expect(Self.refusal(batch)?.field == "http[0].response_body_len")

        var dns = Wirewatch_V1_Dns()
        dns.id = http.id
        dns.rttMicros = -86_400_000_001
        batch = Wirewatch_V1_RecordBatch()
        batch.dns = [dns]
        #expect(Self.refusal(batch)?.field == "dns[0].rtt")

        var tls = Wirewatch_V1_Tls()
        tls.id = http.id
        tls.tsMicros = RecordLimits.maxTimestampMicros + 1
        batch = Wirewatch_V1_RecordBatch()
        batch.tls = [tls]
        #expect(Self.refusal(batch)?.field == "tls[0].ts")
    }
}
