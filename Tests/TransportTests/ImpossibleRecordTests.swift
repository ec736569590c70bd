import Collector
import Flows
import Foundation
import Store
import TestSupport
import Testing
import Wire

/// A record no sensor can produce (a crafted capture file is enough to make an honest sensor produce one) is dropped
/// and counted; the rest of its batch is stored and acknowledged, so the sensor is not stuck replaying it.
@Suite("impossible records")
struct ImpossibleRecordTests {
    private func flow(_ uid: String, origBytes: UInt64 = 1200, tsMicros: Int64 = 1_700_000_000_000_000)
        -> Wirewatch_V1_Flow
    {
        var message = Wirewatch_V1_Flow()
        message.tsMicros = tsMicros
        message.uid = uid
        message.id.origH = Data([10, 0, 0, 1])
        message.id.respH = Data([10, 0, 0, 2])
        message.id.origP = 40_000
        message.id.respP = 443
        message.proto = 6
        message.origBytes = origBytes
        message.connState = "SF"
        return message
    }

    private func hello(bootID: [UInt8]) throws -> [UInt8] {
        var envelope = Wirewatch_V1_Envelope()
        envelope.hello.protocolVersion = WireProtocol.version
        envelope.hello.sensorName = "edge-1"
        envelope.hello.bootID = Data(bootID)
        return try Frames.frame(envelope)
    }

    @Test("the impossible records of a batch are dropped and counted, the others stored, the batch acknowledged")
    func droppedAndCounted() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        var first = Wirewatch_V1_Envelope()
        first.batch.sequence = 1
        first.batch.flows = [
            flow("Cgood1"), flow("Cbytes", origBytes: .max), flow("Cgood2"),
            flow("Ctime", tsMicros: .max),
        ]
        var second = Wirewatch_V1_Envelope()
        second.batch.sequence = 2
        second.batch.flows = [flow("Cgood3")]
        let bootID = [UInt8](repeating: 9, count: 16)
        let result = try await rawExchange(
            port: collector.port, tls: try MutualTLS.clientContext(pki.sensorFiles("edge-1")),
            bytes: try hello(bootID: bootID), followUp: try Frames.frame(first) + Frames.frame(second),
            enough: { $0.envelopes.count >= 3 })
        #expect(result.errorCode == nil)
        #expect(result.envelopes.dropFirst().map(\.ack.sequence) == [1, 2])
        let stored = try collector.store.records(RecordQuery(sensor: "edge-1")).compactMap { record -> String? in
            if case .flow(let flow) = record { return flow.uid }
            return nil
        }
        #expect(Set(stored) == ["Cgood1", "Cgood2", "Cgood3"])
        #expect(collector.server.metrics.refusedRecords == 2)
        #expect(try collector.store.committedSequence(sensor: "edge-1", bootID: bootID) == 2)
        let lines = collector.logs.all.filter { $0.contains("no sensor can produce") }
        #expect(lines.count == 1, "\(collector.logs.all)")
        #expect(lines.first?.contains("dropped 2 records") == true)
        #expect(lines.first?.contains("flows[1].orig_bytes: 18446744073709551615") == true)
    }
}
