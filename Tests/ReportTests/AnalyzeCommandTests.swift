import Flows
import Foundation
import TestSupport
import Testing

/// `wirewatch analyze`: the sensor pipeline and the detectors offline, as a user runs it.
@Suite("wirewatch analyze")
struct AnalyzeCommandTests {
    static func run(_ arguments: [String]) async throws -> ProcessOutput {
        try await QueryCommandTests.wirewatch(["analyze"] + arguments)
    }

    // Capture: scan-sS.pcap (nmap -sS -p 1-100 on loopback). The ports are counted from the capture with the
    // sensor's own records: every responder port a SYN probed.
    @Test("a SYN scan gives one port-scan alert in JSON, the same with --db, and --db is queryable")
    func synScanToJSONAndDatabase() async throws {
        let directory = try Harness.temporaryDirectory()
        let db = directory.appendingPathComponent("a.db").path
        let output = try await Self.run([Harness.fixture("scan-sS.pcap"), "--format", "json", "--db", db])
        #expect(output.status == 0, "\(output.stderr)")
        let alerts = try QueryCommandTests.objects(output.stdout)
        let scans = alerts.filter { $0["kind"] as? String == "port-scan" }
        try #require(scans.count == 1, "\(output.stdout)")
        #expect(scans[0]["subtype"] as? String == "tcp-syn")
        #expect(scans[0]["scope"] as? String == "vertical")
        #expect(scans[0]["sensors"] as? [String] == ["analyze"])
        let probed = try pipelineRecords(files: [Harness.fixture("scan-sS.pcap")], sensor: "x", uidSeed: 1)
            .compactMap { record -> Int? in
                guard case .flow(let flow) = record, flow.proto == 6, flow.history.hasPrefix("S") else { return nil }
                return Int(flow.id.respPort)
            }
        #expect((scans[0]["ports"] as? [Int]).map(Set.init) == Set(probed))
        #expect(output.stderr.contains("1 alerts (port-scan 1); stored in \(db)"))
        // The stored alert is the printed one.
        let stored = try await QueryCommandTests.wirewatch(["--db", db, "alerts", "--format", "json"])
        #expect(try QueryCommandTests.objects(stored.stdout).map { $0["id"] as? String } == [scans[0]["id"] as? String])
    }

    // Captures: scan-split-a.pcap and scan-split-b.pcap (one SYN scan captured in two halves).
    @Test("--sensor-per-file merges two sensors' halves of a scan into one alert naming both")
    func splitScanPerFile() async throws {
        let alone = try await Self.run([Harness.fixture("scan-split-a.pcap"), "--format", "json"])
        #expect(try QueryCommandTests.objects(alone.stdout).isEmpty, "\(alone.stdout)")
        let both = try await Self.run([
            "--sensor-per-file", Harness.fixture("scan-split-a.pcap"), Harness.fixture("scan-split-b.pcap"),
            "--format", "json",
        ])
        let scans = try QueryCommandTests.objects(both.stdout).filter { $0["kind"] as? String == "port-scan" }
        #expect(scans.count == 1)
        #expect(scans.first?["sensors"] as? [String] == ["scan-split-a", "scan-split-b"])
    }

    @Test("bad input exits 2 and names the file, key or option at fault")
    func badInput() async throws {
        let directory = try Harness.temporaryDirectory()
        let config = directory.appendingPathComponent("d.conf")
        try "[scan]\nthreshhold = 5\n".write(to: config, atomically: true, encoding: .utf8)
        for (arguments, culprit) in [
            ([Harness.fixture("scan-sS.pcap"), "--config", config.path], "d.conf:2: [scan] threshhold: unknown key"),
            ([directory.appendingPathComponent("missing.pcap").path], "missing.pcap: no such file"),
            ([Harness.fixture("not-a-capture.bin")], "not-a-capture.bin"),
            ([Harness.fixture("scan-sS.pcap"), "--scan-threshold", "1"], "--scan-threshold"),
            ([], "give at least one capture file"),
        ] {
            let output = try await Self.run(arguments)
            #expect(output.status == 2, "\(arguments): \(output.stderr)")
            #expect(output.stderr.contains(culprit), "\(culprit) not in \(output.stderr)")
        }
    }
}
