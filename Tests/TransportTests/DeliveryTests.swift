import Certs
import Collector
import Flows
import Foundation
import NIOCore
import NIOSSL
import Spool
import Store
import TestSupport
import Testing
import Wire

@Suite("delivery over mutual TLS on 127.0.0.1")
struct DeliveryTests {
    @Test("one sensor: the collector stores exactly the records --emit jsonl gives for the same captures")
    func oneSensor() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let fixtures = ["http.pcap", "dns.pcap", "tls.pcap", "udp-unreach.pcap", "vlan.pcap", "ipv6-tcp.pcap"]
        let expected = try expectedRecords(fixtures, sensor: "edge-1")
        #expect(expected.count > 20)
        let spool = try await shipInProcess(fixtures, sensor: "edge-1", pki: pki, port: collector.port, batchRecords: 7)
        #expect(spool.pendingBatches == 0)
        #expect(spool.droppedRecords == 0)
        #expect(try collector.jsonLines(sensor: "edge-1") == expected.map(normalizedJSON).sorted())
        // Every kind of record made it, under the authenticated name.
        let counts = try collector.store.counts()
        for kind in ["flow", "dns", "http", "tls", "stats"] { #expect((counts[kind] ?? 0) > 0, "\(kind)") }
        #expect(try collector.store.sensors().map(\.name) == ["edge-1"])
        #expect(collector.server.metrics.records == expected.count)
    }

    @Test("several sensors at once each deliver their own captures, attributed to their own names")
    func concurrentSensors() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let plan = [
            ("edge-1", ["http.pcap", "dns.pcap"]), ("edge-2", ["tls.pcap", "vlan.pcap"]),
            ("edge-3", ["scans.pcap"]), ("edge-4", ["ipv6-tcp.pcap", "udp-unreach.pcap"]),
        ]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (sensor, fixtures) in plan {
                group.addTask {
                    _ = try await shipInProcess(
                        fixtures, sensor: sensor, pki: pki, port: collector.port, batchRecords: 16)
                }
            }
            try await group.waitForAll()
        }
        for (sensor, fixtures) in plan {
            let expected = try expectedRecords(fixtures, sensor: sensor).map(normalizedJSON).sorted()
            #expect(try collector.jsonLines(sensor: sensor) == expected, "\(sensor)")
        }
        #expect(Set(try collector.store.sensors().map(\.name)) == Set(plan.map(\.0)))
    }

    @Test("a replayed batch is acknowledged again and stored once")
    func replayIsDeduplicated() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let directory = try Harness.temporaryDirectory().appendingPathComponent("spool").path
        // Ship once through a disk spool, then ship nothing new from a spool that still holds the same batches
        // (acknowledged on the collector, not yet deleted here): the collector must drop the replays.
        let spool = try await shipInProcess(
            ["dns.pcap"], sensor: "edge-2", pki: pki, port: collector.port, spoolDirectory: directory)
        let committed = try collector.store.committedSequence(sensor: "edge-2", bootID: spool.bootID)
        #expect(committed == spool.highestSequence)
        #expect(committed > 0)
        let before = try collector.store.counts()
        var batch = Wirewatch_V1_RecordBatch()
        batch.sequence = committed
        var flow = Wirewatch_V1_Flow()
        flow.id.origH = Data([127, 0, 0, 1])
        flow.id.respH = Data([127, 0, 0, 2])
        batch.flows = [flow]
        var hello = Wirewatch_V1_Envelope()
        hello.hello.protocolVersion = 1
        hello.hello.sensorName = "edge-2"
        hello.hello.bootID = Data(spool.bootID)
        var envelope = Wirewatch_V1_Envelope()
        envelope.batch = batch
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-2"))
        let result = try await rawExchange(
            port: collector.port, tls: tls, bytes: try Frames.frame(hello), followUp: try Frames.frame(envelope),
            enough: { $0.envelopes.count >= 2 })
        let answers = result.envelopes
        #expect(answers.first?.helloAck.committedSequence == committed)
        #expect(answers.contains { $0.ack.sequence == committed })
        #expect(try collector.store.counts() == before)
    }
}
