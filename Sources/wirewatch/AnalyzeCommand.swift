import ArgumentParser
import Capture
import Config
import Detect
import Flows
import Foundation
import Report
import Sensor
import Store

/// `wirewatch analyze FILE.pcap [...]`: the whole pipeline offline — decode, flows, then the collector's detectors
/// on packet time — so a capture gives the alerts its traffic would have raised live.
struct AnalyzeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Run the sensor pipeline and the detectors over capture files and print the alerts.",
        discussion: """
            Files are read in order as one sensor's capture (--sensor), or with --sensor-per-file as captures of
            different sensors (each named after its file), merged on packet time as the collector would see them.
            Examples:
              wirewatch analyze trace.pcap
              wirewatch analyze --sensor-per-file edge-a.pcap edge-b.pcap --format json
              wirewatch analyze trace.pcapng --config detect.conf --db analysis.db
            Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input file.
            """)

    @Argument(help: "Capture files (pcap or pcapng).")
    var files: [String] = []

    @Option(name: .long, help: "Sensor name recorded for the files.")
    var sensor: String = "analyze"

    @Flag(name: .customLong("sensor-per-file"), help: "Each file is another sensor's capture, named after the file.")
    var sensorPerFile = false

    @Option(name: .long, help: "Only packets matching this BPF expression.")
    var filter: String?

    @Option(name: .long, help: "Configuration file: detector parameters and allow-lists (see docs/DETECTION.md).")
    var config: String?

    @Option(name: .customLong("scan-threshold"), help: "Distinct probes within the scan window that make a scan.")
    var scanThreshold: Int?

    @Option(name: .long, help: "table, json or csv.")
    var format: OutputFormat = .table

    @Option(name: .long, help: "Also store the records and alerts in this SQLite database (created if missing).")
    var db: String?

    @Option(name: .long, help: "Write the alerts to this file instead of standard output.")
    var output: String?

    @Option(name: .customLong("uid-seed"), help: "Seed of the flow uids (for reproducible output).")
    var uidSeed: UInt64?

    @Flag(name: .long, help: "Print each detector's state at the end (entries, estimated bytes, evictions).")
    var usage = false

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one capture file") }
        if let scanThreshold, scanThreshold < 2 || scanThreshold > 65535 {
            throw ValidationError("--scan-threshold must be between 2 and 65535")
        }
        if format == .html { throw ValidationError("--format html is for report; use table, json or csv") }
        if sensor.isEmpty { throw ValidationError("--sensor must not be empty") }
    }

    func run() throws {
        do {
            let setup = try DetectionSetup(configPath: config, scanThreshold: scanThreshold)
            let engine = try setup.makeEngine()
            let writer = try db.map { try AnalysisStore(path: $0) }
            let analysis = Analysis(engine: engine, store: writer, trackUsage: usage)
            var summary = RunSummary()
            if sensorPerFile {
                var records: [Record] = []
                for file in files {
                    let sink = CollectingSink()
                    summary.add(try runPipeline(files: [file], sensor: Self.sensorName(of: file), sink: sink))
                    records += sink.records
                }
                // The collector sees several sensors' records interleaved on packet time; so does the engine here.
                let ordered = records.enumerated().sorted { a, b in
                    let ta = DetectionEngine.eventTime(of: a.element)
                    let tb = DetectionEngine.eventTime(of: b.element)
                    return ta != tb ? ta < tb : a.offset < b.offset
                }
                for item in ordered { analysis.write(item.element) }
                try analysis.finish()
            } else {
                summary.add(try runPipeline(files: files, sensor: sensor, sink: analysis))
            }
            for warning in summary.warnings { writeToStandardError("wirewatch analyze: \(warning)") }
            if usage {
                for item in analysis.peakUsage {
                    writeToStandardError(
                        "wirewatch analyze: detector \(item.name): at most \(item.entries) entries, "
                            + "\(item.approximateBytes) bytes estimated at most, \(item.evicted) evicted")
                }
            }
            let alerts = analysis.alerts
            let terminal = Terminal.standardOutput(
                toFile: output != nil, environment: ProcessInfo.processInfo.environment)
            let text = try AlertListing.text(alerts, format: format, terminal: terminal)
            try emit(text)
            let kinds = Dictionary(grouping: alerts, by: \.kind).map { "\($0.key.rawValue) \($0.value.count)" }.sorted()
            writeToStandardError(
                "wirewatch analyze: \(summary.packets) packets, \(analysis.records) records, \(alerts.count) alerts"
                    + (kinds.isEmpty ? "" : " (\(kinds.joined(separator: ", ")))")
                    + (db.map { "; stored in \($0)" } ?? ""))
        } catch let error as ConfigError {
            throw CommandFailure.exitCode(for: QueryError.badInput("--config: \(error)"), command: "analyze")
        } catch let error as CaptureError {
            throw CommandFailure.exitCode(for: QueryError.badInput("\(error)"), command: "analyze")
        } catch {
            throw CommandFailure.exitCode(for: error, command: "analyze")
        }
    }

    private func runPipeline(files: [String], sensor: String, sink: any RecordSink) throws -> RunSummary {
        var options = CaptureOptions()
        options.files = files
        options.filter = filter
        var flow = FlowConfig(sensor: sensor)
        flow.uidSeed = uidSeed
        return try SensorPipeline(options: options, flow: flow, sink: sink).runFiles()
    }

    /// `edge-a` for `/captures/edge-a.pcap`.
    static func sensorName(of file: String) -> String {
        let base = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        return base.isEmpty ? file : base
    }

    private func emit(_ text: String) throws {
        guard let output else {
            FileHandle.standardOutput.write(Data(text.utf8))
            return
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: output))
        } catch {
            throw QueryError.badInput("--output: \(output): \(error.localizedDescription)")
        }
    }
}

/// The record sink of `analyze`: feeds the engine in batches (as the collector's ingest does) and keeps the newest
/// version of each alert; with a store, writes records and alerts there too.
final class Analysis: RecordSink {
    let engine: DetectionEngine
    let store: AnalysisStore?
    private var batch: [Record] = []
    private var latest: [String: AlertRecord] = [:]
    private(set) var records = 0
    /// With `--usage`: each detector's largest state over the run (entries and bytes at their peak, sampled every
    /// `usageEvery` batches because measuring walks the state; evictions in total).
    private(set) var peakUsage: [DetectorUsage] = []
    private let trackUsage: Bool
    private var batches = 0
    static let batchRecords = 4096
    static let usageEvery = 8

    init(engine: DetectionEngine, store: AnalysisStore?, trackUsage: Bool = false) {
        self.engine = engine
        self.store = store
        self.trackUsage = trackUsage
    }

    func write(_ record: Record) {
        batch.append(record)
        records += 1
        if batch.count >= Self.batchRecords { drain() }
    }

    func finish() throws {
        drain()
        if trackUsage { notePeakUsage() }
        absorb(engine.finish())
        try store?.finish(alerts: alerts)
    }

    /// Every episode's final version, in the order the episodes started.
    var alerts: [AlertRecord] {
        latest.values.sorted { ($0.firstTS, $0.id) < ($1.firstTS, $1.id) }
    }

    private func drain() {
        guard !batch.isEmpty else { return }
        store?.add(batch)
        absorb(engine.process(batch))
        batch.removeAll(keepingCapacity: true)
        batches += 1
        if trackUsage && batches % Self.usageEvery == 1 { notePeakUsage() }
    }

    private func notePeakUsage() {
        let now = engine.usage
        if peakUsage.count != now.count { peakUsage = now }
        for (index, item) in now.enumerated() {
            peakUsage[index].entries = max(peakUsage[index].entries, item.entries)
            peakUsage[index].approximateBytes = max(peakUsage[index].approximateBytes, item.approximateBytes)
            peakUsage[index].evicted = item.evicted
        }
    }

    private func absorb(_ raised: [AlertRecord]) {
        for alert in raised { latest[alert.id] = alert }
    }
}

/// `analyze --db`: the records, one stored batch per sensor and engine batch, and the alerts.
final class AnalysisStore {
    let store: SQLiteStore
    private var sequences: [String: UInt64] = [:]
    private let bootID = (0..<16).map { _ in UInt8.random(in: 0...255) }
    private var failure: StoreError?

    init(path: String) throws {
        do {
            store = try SQLiteStore(path: path)
        } catch {
            throw QueryError.badInput("--db: \(error)")
        }
    }

    func add(_ records: [Record]) {
        guard failure == nil else { return }
        var bySensor: [String: [Record]] = [:]
        for record in records { bySensor[record.sensor, default: []].append(record) }
        do {
            for sensor in bySensor.keys.sorted() {
                if sequences[sensor] == nil {
                    _ = try store.openSession(
                        SensorSession(name: sensor, bootID: bootID, source: "wirewatch analyze", softwareVersion: ""))
                }
                let sequence = (sequences[sensor] ?? 0) + 1
                sequences[sensor] = sequence
                _ = try store.commit(
                    StoredBatch(sensor: sensor, bootID: bootID, sequence: sequence, records: bySensor[sensor] ?? []))
            }
        } catch {
            failure = error
        }
    }

    func finish(alerts: [AlertRecord]) throws {
        if let failure { throw failure }
        try store.upsertAlerts(alerts)
        store.close()
    }
}

extension RunSummary {
    mutating func add(_ other: RunSummary) {
        packets += other.packets
        bytes += other.bytes
        decodeErrors += other.decodeErrors
        flowsCreated += other.flowsCreated
        warnings += other.warnings
        seconds += other.seconds
        for (key, value) in other.weird { weird[key, default: 0] += value }
    }
}
