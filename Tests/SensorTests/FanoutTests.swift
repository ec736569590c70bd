import Capture
import Flows
import Foundation
import TestSupport
import Testing

@testable import Sensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--workers`: parsing, the per-worker flow settings, the merged record stream, and a live capture with two
/// workers in a network namespace of its own.
@Suite("Capture on several cores (--workers)")
struct FanoutTests {
    @Test(
        "--workers accepts 1-64 and 'auto'",
        arguments: [("1", WorkerCount.count(1)), ("2", .count(2)), ("64", .count(64)), ("auto", .auto)])
    func workerCountParses(_ text: String, _ expected: WorkerCount) throws {
        #expect(try WorkerCount(parsing: text) == expected)
    }

    @Test("--workers refuses 0, words, negative and huge numbers", arguments: ["0", "abc", "-1", "65", "100000", ""])
    func workerCountRefuses(_ text: String) {
        #expect(throws: WorkerCountError.self) { try WorkerCount(parsing: text) }
    }

    @Test("'auto' is the cores less one, at least 1, at most 64")
    func autoResolves() {
        #expect(WorkerCount.auto.resolved(cores: 1) == 1)
        #expect(WorkerCount.auto.resolved(cores: 2) == 1)
        #expect(WorkerCount.auto.resolved(cores: 8) == 7)
        #expect(WorkerCount.auto.resolved(cores: 512) == 64)
        #expect(WorkerCount.count(3).resolved(cores: 1) == 3)
    }

    @Test("each worker's table gets a share of --max-flows and, with a uid seed, a seed of its own")
    func workerConfigs() {
        var flow = FlowConfig(sensor: "s")
        flow.maxFlows = 1000
        flow.uidSeed = 1
        let configs = (0..<4).map { FanoutPipeline.workerConfig(flow, worker: $0, of: 4) }
        #expect(configs.map(\.maxFlows) == [250, 250, 250, 250])
        #expect(configs[0].uidSeed == 1, "worker 0 keeps the seed, as one worker would")
        #expect(Set(configs.compactMap(\.uidSeed)).count == 4)
        flow.uidSeed = nil
        #expect(FanoutPipeline.workerConfig(flow, worker: 2, of: 3).uidSeed == nil)
        #expect(FanoutPipeline.workerConfig(flow, worker: 0, of: 3).maxFlows == 334)
    }

    static func series(_ ts: Double, tcp: UInt64, udp: UInt64) -> Record {
        func counters(_ packets: UInt64) -> ProtocolCounters {
            var counters = ProtocolCounters()
            counters.packets = packets
            counters.bytes = packets * 100
            counters.flows = 1
            return counters
        }
        var perProtocol: [String: ProtocolCounters] = [:]
        if tcp > 0 { perProtocol["tcp"] = counters(tcp) }
        if udp > 0 { perProtocol["udp"] = counters(udp) }
        return .series(
            SeriesRecord(
                ts: ts, interval: 10, sensor: "s", packets: tcp + udp, bytes: (tcp + udp) * 100,
                flows: (tcp > 0 ? 1 : 0) + (udp > 0 ? 1 : 0), perProtocol: perProtocol))
    }

    static func snapshot(ts: Double, packets: UInt64, dropped: UInt64) -> WorkerSnapshot {
        let stats = StatsRecord(
            ts: ts, sensor: "s", source: "lo", packetsReceived: packets, packetsDroppedKernel: nil,
            packetsDroppedInterface: nil, bytesReceived: packets * 100, nonIPPackets: 0, truncatedPackets: 0,
            decodeErrors: 0, fragments: 0, fragmentsReassembled: 0, fragmentsExpired: 0, flowTableSize: 1,
            flowsCreated: 1, flowsEvicted: 0, recordsDropped: 0, spoolBytes: 0, weird: ["tcp.x": 1], final: false)
        return WorkerSnapshot(
            stats: stats, kernel: CaptureCounters(received: packets, droppedByKernel: dropped, droppedByInterface: 0),
            discardedBeforeJoin: 0)
    }

    @Test("the merged stream has one series record per interval, written once every worker has passed it")
    func seriesMerge() throws {
        let sink = CollectingSink()
        let merged = FanoutSink(sink: sink, workers: 2, statsInterval: 1000, sensor: "s", source: "lo")
        // Worker 0 rolls interval 100 over at 111; worker 1 is still inside it: nothing is written yet.
        merged.deliver(
            worker: 0, records: [Self.series(100, tcp: 3, udp: 0)], watermark: 111,
            snapshot: Self.snapshot(ts: 111, packets: 3, dropped: 1))
        #expect(sink.records.isEmpty)
        // Worker 1 passes 110 too: interval 100 is complete, summed.
        merged.deliver(
            worker: 1, records: [Self.series(100, tcp: 2, udp: 5)], watermark: 112,
            snapshot: Self.snapshot(ts: 112, packets: 7, dropped: 2))
        guard case .series(let first) = sink.records.first, sink.records.count == 1 else {
            Issue.record("one series record for interval 100: \(sink.records)")
            return
        }
        #expect(first.ts == 100 && first.packets == 10 && first.bytes == 1000 && first.flows == 3)
        #expect(first.perProtocol["tcp"]?.packets == 5 && first.perProtocol["tcp"]?.flows == 2)
        #expect(first.perProtocol["udp"]?.packets == 5 && first.perProtocol["udp"]?.flows == 1)
        // At the end, each worker's last interval, merged, then the final stats with each worker's counters.
        merged.deliver(
            worker: 0, records: [Self.series(110, tcp: 1, udp: 0)], watermark: .infinity,
            snapshot: Self.snapshot(ts: 115, packets: 4, dropped: 1))
        merged.deliver(
            worker: 1, records: [Self.series(110, tcp: 0, udp: 1)], watermark: .infinity,
            snapshot: Self.snapshot(ts: 116, packets: 8, dropped: 2))
        merged.finish()
        let series = sink.records.compactMap { record -> SeriesRecord? in
            if case .series(let s) = record { return s }
            return nil
        }
        #expect(series.map(\.ts) == [100, 110])
        #expect(series.last?.packets == 2 && series.last?.perProtocol.keys.sorted() == ["tcp", "udp"])
        guard case .stats(let stats) = sink.records.last else {
            Issue.record("the last record is not stats: \(sink.records)")
            return
        }
        #expect(stats.final && stats.ts == 116)
        #expect(stats.packetsReceived == 12 && stats.packetsDroppedKernel == 3 && stats.weird == ["tcp.x": 2])
        #expect(stats.workers.map(\.packetsReceived) == [4, 8])
        #expect(stats.workers.map(\.packetsDroppedKernel) == [1, 2])
        let json = Record.stats(stats).jsonLine
        #expect(json.contains(#""workers":[{"worker":0,"packets_received":4,"kernel_received":4,"#), "\(json)")
    }
}

// MARK: - Command line

extension FanoutTests {
    static let badWorkers: [([String], String)] = [
        (["--interface", "lo", "--workers", "0"], "--workers: 0 is not a number of workers from 1 to 64"),
        (["--interface", "lo", "--workers", "abc"], "--workers: 'abc' is not a number of workers"),
        (["--interface", "lo", "--workers", "100000"], "--workers: 100000 is not a number of workers"),
        (
            ["--read", Harness.fixture("http.pcap"), "--workers", "2"],
            "--workers is for live capture (--interface); --read files are read by one worker"
        ),
    ]

    // Capture: http.pcap (refused before it is read).
    @Test("bad --workers values exit 2 with one line naming the option", arguments: badWorkers)
    func badWorkersRefused(_ arguments: [String], _ message: String) async throws {
        let run = try await Sensor.run(arguments + ["--emit", "none"])
        #expect(run.output.status == 2, "\(run.output.stderr)")
        #expect(run.output.stdout.isEmpty)
        #expect(run.output.stderrLines.count == 1, "\(run.output.stderrLines)")
        #expect(run.output.stderr.contains(message), "\(run.output.stderr)")
    }

    // Capture: http.pcap. The file's workers apply to live runs: with --read they are checked, then ignored.
    @Test("[sensor] workers: a number or \"auto\"; a bad value names the file, line and key")
    func workersConfigKey() async throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("sensor.conf")
        for (text, message) in [
            ("[sensor]\nworkers = 0\n", "sensor.conf:2: [sensor] workers: 0 is not a number of workers from 1 to 64"),
            ("[sensor]\nworkers = \"many\"\n", "sensor.conf:2: [sensor] workers: 'many' is not a number of workers"),
            ("[sensor]\n\nworkers = 1.5\n", "sensor.conf:3: [sensor] workers: expected a number of workers"),
        ] {
            try text.write(to: config, atomically: true, encoding: .utf8)
            let run = try await Sensor.run([
                "--config", config.path, "--read", Harness.fixture("http.pcap"), "--emit", "none",
            ])
            #expect(run.output.status == 2, "\(text)")
            #expect(run.output.stderr.contains(message), "\(run.output.stderr)")
            #expect(run.output.stderrLines.count == 1, "one line: \(run.output.stderr)")
        }
        for good in ["[sensor]\nworkers = 4\n", "[sensor]\nworkers = \"auto\"\n"] {
            try good.write(to: config, atomically: true, encoding: .utf8)
            let run = try await Sensor.run([
                "--config", config.path, "--read", Harness.fixture("http.pcap"), "--emit", "none",
            ])
            #expect(run.output.status == 0, "\(good): \(run.output.stderr)")
            #expect(run.output.stdout.contains("51 packets"), "\(run.output.stdout)")
        }
    }
}
