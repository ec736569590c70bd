import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Shared plumbing of the end-to-end tests: where the package, the fixtures, the built `wirewatch-sensor` and
// `tshark` are; running a program with a deadline; turning the sensor's JSON lines and tshark's `-T fields`
// rows into plain Sendable values. Nothing here knows expected results: every test runs tshark itself, at test
// time, on the same capture the sensor reads.

/// The sensor binary and tshark, on top of TestSupport's paths.
extension Harness {
    static func sensorBinary() throws -> URL { try binary("wirewatch-sensor") }

    /// `tshark` from PATH; missing is a failure with the install hint.
    static func tshark() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent("tshark")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw HarnessError("tshark not found on PATH: install tshark (apt-get install -y tshark)")
    }
}

// MARK: - The sensor's JSON lines

/// One JSON object of the sensor's output, flattened into Sendable dictionaries by value kind.
struct JSONRecord: Sendable, CustomStringConvertible {
    var strings: [String: String] = [:]
    var numbers: [String: Double] = [:]
    var stringLists: [String: [String]] = [:]
    var objects: [String: [String: Double]] = [:]
    var line: String

    var type: String { strings["type"] ?? "" }
    func string(_ key: String) -> String? { strings[key] }
    func int(_ key: String) -> Int? { numbers[key].flatMap { Int(exactly: $0) } }
    /// JSON booleans come out of JSONSerialization as numbers 0/1.
    func bool(_ key: String) -> Bool? { numbers[key].map { $0 != 0 } }
    var description: String { line }

    /// Parses one line with JSONSerialization; nil when the line is not a JSON object.
    init?(line: String) {
        self.line = line
        guard let data = line.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data),
            let dictionary = object as? [String: Any]
        else { return nil }
        for (key, value) in dictionary {
            if let s = value as? String {
                strings[key] = s
            } else if let n = value as? NSNumber {
                numbers[key] = n.doubleValue
            } else if let list = value as? [Any] {
                stringLists[key] = list.map { ($0 as? String) ?? "\($0)" }
            } else if let inner = value as? [String: Any] {
                var flat: [String: Double] = [:]
                for (k, v) in inner { if let n = v as? NSNumber { flat[k] = n.doubleValue } }
                objects[key] = flat
            }
        }
    }
}

/// What one run of the sensor printed.
struct SensorRun: Sendable {
    var output: ProcessOutput
    var records: [JSONRecord]
    /// Lines of stdout that are not JSON objects (should be none).
    var unparsedLines: [String]

    func records(ofType type: String) -> [JSONRecord] { records.filter { $0.type == type } }

    /// The last record of each flow uid (interim records carry cumulative counters; the last one wins).
    var flows: [JSONRecord] {
        var last: [String: JSONRecord] = [:]
        var order: [String] = []
        for record in records(ofType: "flow") {
            let uid = record.string("uid") ?? ""
            if last[uid] == nil { order.append(uid) }
            last[uid] = record
        }
        return order.compactMap { last[$0] }
    }

    var finalStats: JSONRecord? { records(ofType: "stats").last { $0.bool("final") == true } }
}

/// Runs the built `wirewatch-sensor` and parses what it prints.
enum Sensor {
    /// Runs `wirewatch-sensor` with `arguments` (not including the binary).
    static func run(_ arguments: [String], timeout: Double = 60) async throws -> SensorRun {
        let output = try await ChildProcess.run(try Harness.sensorBinary(), arguments, timeout: timeout)
        return parse(output)
    }

    static func parse(_ output: ProcessOutput) -> SensorRun {
        var records: [JSONRecord] = []
        var unparsed: [String] = []
        for line in output.stdout.split(separator: "\n") {
            if let record = JSONRecord(line: String(line)) {
                records.append(record)
            } else {
                unparsed.append(String(line))
            }
        }
        return SensorRun(output: output, records: records, unparsedLines: unparsed)
    }

    /// `--read FIXTURE --emit jsonl --uid-seed 1`, once per fixture for the whole test run.
    static func jsonl(fixture name: String) async throws -> SensorRun {
        try await RunCache.shared.value(key: "sensor " + name) {
            try await run(["--read", Harness.fixture(name), "--emit", "jsonl", "--uid-seed", "1"])
        }
    }
}

// MARK: - tshark

/// One packet (or one DNS/HTTP/TLS message) as tshark's `-T fields` printed it: field name -> text.
struct TsharkRow: Sendable {
    var values: [String: String]
    subscript(_ field: String) -> String { values[field] ?? "" }
    /// All occurrences when run with `-E occurrence=a` (joined by `Tshark.aggregator`).
    func all(_ field: String) -> [String] {
        let value = self[field]
        return value.isEmpty
            ? [] : value.split(separator: Tshark.aggregator, omittingEmptySubsequences: false).map(String.init)
    }
    func int(_ field: String) -> Int? {
        let value = self[field]
        if value.hasPrefix("0x") { return Int(value.dropFirst(2), radix: 16) }
        return Int(value)
    }
    /// tshark 4.0 prints booleans as 1/0, later releases as True/False.
    func flag(_ field: String) -> Bool { ["1", "True", "true"].contains(self[field]) }
}

/// Runs `tshark -T fields` on a capture.
enum Tshark {
    /// Separates occurrences of a field (`-E aggregator`); a control character no fixture text contains.
    static let aggregator: Character = "\u{1F}"

    /// `tshark -r FILE [filter] -T fields -E separator=/t -E occurrence=(f|a) -e F...` as rows.
    /// Exit status 0 is required, or 2 with "cut short" (tshark reads the whole packets of a cut file).
    static func fields(
        _ file: String, _ fields: [String], filter: String? = nil, allOccurrences: Bool = false,
        extraOptions: [String] = []
    ) async throws -> [TsharkRow] {
        var arguments = ["-r", file] + extraOptions
        if let filter { arguments += ["-Y", filter] }
        arguments += ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=" + (allOccurrences ? "a" : "f")]
        if allOccurrences { arguments += ["-E", "aggregator=\(aggregator)"] }
        for field in fields { arguments += ["-e", field] }
        let output = try await ChildProcess.run(try Harness.tshark(), arguments, timeout: 60)
        let cutShort = output.status == 2 && output.stderr.contains("cut short")
        guard output.status == 0 || cutShort else {
            throw HarnessError(
                "tshark \(arguments.joined(separator: " ")) exited \(output.status): \(output.stderr)")
        }
        return output.stdout.split(separator: "\n").map { line in
            let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            var values: [String: String] = [:]
            for (index, field) in fields.enumerated() where index < columns.count { values[field] = columns[index] }
            return TsharkRow(values: values)
        }
    }
}

// MARK: - Cache

/// Memoizes the expensive runs (sensor, tshark) that several tests need for the same capture.
actor RunCache {
    static let shared = RunCache()
    private var sensorRuns: [String: Task<SensorRun, any Error>] = [:]
    private var packetTables: [String: Task<[TsharkPacket], any Error>] = [:]

    func value(key: String, _ make: @escaping @Sendable () async throws -> SensorRun) async throws -> SensorRun {
        if let task = sensorRuns[key] { return try await task.value }
        let task = Task { try await make() }
        sensorRuns[key] = task
        return try await task.value
    }

    func value(key: String, _ make: @escaping @Sendable () async throws -> [TsharkPacket]) async throws
        -> [TsharkPacket]
    {
        if let task = packetTables[key] { return try await task.value }
        let task = Task { try await make() }
        packetTables[key] = task
        return try await task.value
    }
}
