import Flows
import Foundation
import NIOCore
import NIOSSL
import Sensor
import Spool
import SwiftProtobuf
import Synchronization
import TestSupport
import Testing
import Wire

@testable import Shipper

@Suite("sensor side of the wire")
struct ShipperTests {
    @Test("reconnect delays grow exponentially with jitter in [d/2, d] and stop at the maximum")
    func backoff() throws {
        let pki = try PKI()
        var options = ShipperOptions(host: "127.0.0.1", port: 9, sensorName: "edge-1")
        options.initialBackoff = 0.25
        options.maximumBackoff = 30
        let client = CollectorClient(
            options: options, spool: try Spool(directory: nil, maxBytes: 1 << 20),
            tls: try MutualTLS.clientContext(pki.sensorFiles("edge-1")), report: { _ in })
        defer { client.shutdown() }
        for failures in 1...12 {
            let ceiling = min(30, 0.25 * pow(2, Double(failures - 1)))
            let delays = (0..<200).map { _ in client.backoff(failures: failures) }
            #expect(delays.allSatisfy { $0 >= ceiling / 2 && $0 <= ceiling }, "failure \(failures)")
            // Jitter: the delays are spread, not one value.
            #expect(Set(delays).count > 100, "failure \(failures)")
        }
        #expect(client.backoff(failures: 1000) <= 30)
    }

    @Test("a full spool drops the oldest batches and the stats records say how many records were dropped")
    func spoolDropsAreReported() throws {
        let capture = try Harness.temporaryDirectory().appendingPathComponent("load.pcap").path
        try PcapWriter.udpFlows(path: capture, count: 2000)
        let spool = try Spool(directory: nil, maxBytes: 64 << 10)
        var batching = BatchingOptions()
        batching.maxRecords = 16
        let sink = ShippingSink(spool: spool, options: batching) {}
        var options = CaptureOptions()
        options.files = [capture]
        _ = try SensorPipeline(options: options, flow: FlowConfig(sensor: "edge-1"), sink: sink).runFiles()
        #expect(spool.droppedRecords > 0)
        #expect(sink.droppedRecords == UInt64(spool.droppedRecords))
        // The final stats record is in the newest batch; it counts every record dropped before it was made.
        let newest = try #require(spool.pending(after: 0, limit: 100_000, maxBytes: 1 << 30).last)
        let batch = try Wirewatch_V1_RecordBatch(serializedBytes: newest.payload)
        let stats = try #require(batch.stats.last)
        #expect(stats.final)
        #expect(stats.recordsDropped > 0)
        #expect(stats.recordsDropped <= UInt64(spool.droppedRecords))
        #expect(stats.spoolBytes > 0)
        // Nothing vanished silently: what is pending plus what was dropped is everything the pipeline made.
        let pending = spool.pending(after: 0, limit: 100_000, maxBytes: 1 << 30).map(\.recordCount).reduce(0, +)
        #expect(pending + spool.droppedRecords == 2000 + 2)  // 2,000 flows, one series, one stats
    }

    @Test("an encoded batch above the byte limit is halved until every part fits, records in order")
    func splitting() throws {
        var builder = BatchBuilder()
        let records = try expectedRecords(["http.pcap", "dns.pcap"], sensor: "edge-1")
        for record in records { builder.append(record) }
        let batch = builder.take(sequence: 0)
        let whole: [UInt8] = try batch.serializedBytes()
        let parts = ShippingSink.split(batch, maxBytes: whole.count / 5)
        #expect(parts.count >= 5)
        #expect(parts.allSatisfy { $0.bytes.count <= whole.count / 5 || $0.count == 1 })
        #expect(parts.map(\.count).reduce(0, +) == records.count)
        var joined: [Record] = []
        for part in parts {
            joined += try Wirewatch_V1_RecordBatch(serializedBytes: part.bytes).records(sensor: "edge-1")
        }
        #expect(joined.map(\.jsonLine).sorted() == records.map(\.jsonLine).sorted())
    }

    @Test("a partial batch is sealed by time: the capture loop's flush seals it once its oldest record waited maxDelay")
    func sealedByTime() async throws {
        let spool = try Spool(directory: nil, maxBytes: 1 << 20)
        var batching = BatchingOptions()
        batching.maxDelay = 0.2
        let sealed = Atomic<Int>(0)
        let sink = ShippingSink(spool: spool, options: batching) { sealed.add(1, ordering: .relaxed) }
        let records = try expectedRecords(["dns.pcap"], sensor: "edge-1")
        for record in records.prefix(3) { sink.write(record) }
        sink.flush()
        #expect(spool.pendingBatches == 0)
        try await Task.sleep(nanoseconds: 250_000_000)
        sink.flush()
        #expect(spool.pendingBatches == 1)
        #expect(spool.pendingRecords == 3)
        #expect(sealed.load(ordering: .relaxed) == 1)
    }
}
