import Flows
import Sensor
import TestSupport
import Testing

/// The pipeline in process, over its capture reader thread.
@Suite("sensor pipeline over the reading thread")
struct PipelineTests {
    @Test("no capture file: no packets, one final stats record, no trap")
    func noFiles() throws {
        let sink = CollectingSink()
        let summary = try SensorPipeline(options: CaptureOptions(), flow: FlowConfig(sensor: "s"), sink: sink)
            .runFiles()
        #expect(summary.packets == 0 && summary.warnings.isEmpty)
        #expect(sink.records.count == 1)
        guard case .stats(let stats) = sink.records.first else {
            Issue.record("expected one stats record, got \(sink.records)")
            return
        }
        #expect(stats.final && stats.packetsReceived == 0)
    }

    @Test("a cut file among others: its complete packets count, and the warning names that file")
    func cutFileAmongOthers() throws {
        var options = CaptureOptions()
        options.files = [Harness.fixture("dns.pcap"), Harness.fixture("http-cut.pcap"), Harness.fixture("tls.pcap")]
        let sink = CollectingSink()
        let summary = try SensorPipeline(options: options, flow: FlowConfig(sensor: "s"), sink: sink).runFiles()
        let alone = try options.files.map { file -> UInt64 in
            var one = CaptureOptions()
            one.files = [file]
            return try SensorPipeline(options: one, flow: FlowConfig(sensor: "s"), sink: CountingSink()).runFiles()
                .packets
        }
        #expect(alone[1] == 50)
        #expect(summary.packets == alone.reduce(0, +))
        #expect(summary.warnings.count == 1)
        #expect(summary.warnings.first?.source == Harness.fixture("http-cut.pcap"))
        #expect(summary.warnings.first?.message.contains("middle of a packet record") == true)
    }
}
