import Foundation
import TestSupport
import Testing

/// A command line the sensor must refuse: exit 2, nothing on stdout, one line on stderr naming `culprit`.
struct BadInvocation: Sendable, CustomTestStringConvertible {
    var name: String
    var arguments: [String]
    var culprit: String
    var testDescription: String { name }
}

/// Every capture-looking file in Tests/Fixtures and the test that covers it; a new fixture must be added to
/// one of these lists (or `badCaptureFiles`) to be tested at all.
let badCaptureFiles = ["not-a-capture.bin", "empty.pcap", "bad-magic.pcap"]
let robustnessOnlyCaptures = ["malformed.pcap"]

/// Exit codes and stderr for bad input, cut and malformed captures, several files, `--emit none`.
@Suite("Command line, bad input, robustness")
struct CommandLineTests {
    static let missingDirectory = "/nonexistent-wirewatch-\(UUID().uuidString)"

    static let badInvocations: [BadInvocation] =
        badCaptureFiles.map { file in
            // Captures: not-a-capture.bin (random bytes), empty.pcap (0 bytes), bad-magic.pcap (0xDEADBEEF).
            BadInvocation(name: file, arguments: ["--read", Harness.fixture(file), "--emit", "jsonl"], culprit: file)
        } + [
            BadInvocation(
                name: "missing path", arguments: ["--read", missingDirectory + "/x.pcap", "--emit", "jsonl"],
                culprit: missingDirectory + "/x.pcap"),
            BadInvocation(
                name: "directory", arguments: ["--read", Harness.fixtures.path, "--emit", "jsonl"],
                culprit: Harness.fixtures.path),
            // Capture: http.pcap (the filter is refused before it is read).
            BadInvocation(
                name: "invalid BPF",
                arguments: ["--read", Harness.fixture("http.pcap"), "--filter", "tcp port", "--emit", "jsonl"],
                culprit: "tcp port"),
            BadInvocation(
                name: "unknown interface", arguments: ["--interface", "nosuch0", "--emit", "jsonl"], culprit: "nosuch0"),
            BadInvocation(name: "--read without value", arguments: ["--read"], culprit: "--read"),
            BadInvocation(
                name: "unknown --emit", arguments: ["--read", Harness.fixture("http.pcap"), "--emit", "yaml"],
                culprit: "yaml"),
            // Capture: http.pcap, then a missing file: the whole run is refused.
            BadInvocation(
                name: "good file then missing file",
                arguments: [
                    "--read", Harness.fixture("http.pcap"), "--read", missingDirectory + "/y.pcap", "--emit",
                    "jsonl",
                ],
                culprit: missingDirectory + "/y.pcap"),
        ]

    // Captures: not-a-capture.bin, empty.pcap, bad-magic.pcap, http.pcap (see `badInvocations`).
    @Test("bad input exits 2 with one line on stderr naming it and nothing on stdout", arguments: badInvocations)
    func badInputIsRefused(_ bad: BadInvocation) async throws {
        let run = try await Sensor.run(bad.arguments)
        #expect(run.output.status == 2, "exit status; stderr: \(run.output.stderr)")
        #expect(run.output.stdout.isEmpty, "stdout: \(run.output.stdout.prefix(300))")
        #expect(run.output.stderrLines.count == 1, "stderr lines: \(run.output.stderrLines)")
        #expect(run.output.stderr.contains(bad.culprit), "stderr names \(bad.culprit): \(run.output.stderr)")
    }

    // No capture file: a live capture on lo by an unprivileged user (as root, the test drops to nobody with setpriv).
    @Test("a live capture without the capture capability exits 2 and says which capabilities it needs")
    func missingCapturePrivileges() async throws {
        let sensor = try Harness.sensorBinary()
        let arguments = ["--interface", "lo", "--emit", "none"]
        let output: ProcessOutput
        if geteuid() == 0 {
            output = try await ChildProcess.run(
                URL(fileURLWithPath: "/usr/bin/setpriv"),
                ["--reuid=65534", "--regid=65534", "--clear-groups", sensor.path] + arguments)
        } else {
            output = try await ChildProcess.run(sensor, arguments)
        }
        #expect(output.status == 2, "exit status; stderr: \(output.stderr)")
        #expect(output.stdout.isEmpty, "stdout: \(output.stdout)")
        #expect(output.stderrLines.count == 1, "stderr lines: \(output.stderrLines)")
        #expect(output.stderr.contains("interface lo: permission denied"), "\(output.stderr)")
        #expect(output.stderr.contains("CAP_NET_RAW"), "says what to grant: \(output.stderr)")
    }

    // Capture: http-cut.pcap (http.pcap cut half-way into its last packet record).
    @Test("a capture cut mid-packet exits 0 with one warning and the records of every whole packet")
    func cutCaptureKeepsWholePackets() async throws {
        let run = try await Sensor.jsonl(fixture: "http-cut.pcap")
        #expect(run.output.status == 0, "stderr: \(run.output.stderr)")
        #expect(run.output.stderrLines.count == 1, "stderr: \(run.output.stderrLines)")
        #expect(run.output.stderr.contains("http-cut.pcap"), "warning names the file: \(run.output.stderr)")
        // tshark also reads the whole packets of a cut file (and exits 2).
        let packets = try await TsharkPacket.table(Harness.fixture("http-cut.pcap"))
        let transport = packets.filter { $0.proto == "tcp" || $0.proto == "udp" }
        try #require(!transport.isEmpty)
        let flowPackets = run.flows.reduce(0) { $0 + ($1.int("orig_pkts") ?? 0) + ($1.int("resp_pkts") ?? 0) }
        let flowBytes = run.flows.reduce(0) { $0 + ($1.int("orig_ip_bytes") ?? 0) + ($1.int("resp_ip_bytes") ?? 0) }
        #expect(flowPackets == transport.count, "packets in flows vs tshark's whole TCP/UDP frames")
        #expect(flowBytes == transport.reduce(0) { $0 + $1.ipBytes }, "IP bytes in flows vs tshark's")
        #expect(run.finalStats?.int("packets_received") == packets.count)
        #expect(!run.records(ofType: "http").isEmpty, "HTTP records of the whole packets")
    }

    // Capture: malformed.pcap (33 hand-crafted packets, one defect each).
    @Test("malformed packets are counted as decode errors and weird, never trap")
    func malformedCaptureIsSurvived() async throws {
        let run = try await Sensor.jsonl(fixture: "malformed.pcap")
        #expect(run.output.status == 0, "stderr: \(run.output.stderr)")
        #expect(run.unparsedLines.isEmpty, "\(run.unparsedLines.prefix(3))")
        let stats = try #require(run.finalStats, "no final stats record")
        #expect((stats.int("decode_errors") ?? 0) > 0, "decode_errors: \(stats)")
        let weird = stats.objects["weird"] ?? [:]
        #expect(weird.values.reduce(0, +) > 0, "weird counters: \(stats)")
        for name in ["ipv4.bad_header_length", "tcp.bad_data_offset"] {
            #expect((weird[name] ?? 0) > 0, "weird \(name) counted: \(weird)")
        }
        // tshark reads all 33 frames; so must the sensor.
        let packets = try await TsharkPacket.table(Harness.fixture("malformed.pcap"))
        #expect(stats.int("packets_received") == packets.count)
        // Whatever flows the sensor builds are conversations tshark sees too (it may refuse some that tshark
        // accepts, as Zeek does for a TCP header shorter than 20 bytes).
        let expected = TsharkConversations(packets)
        let actual = SensorConversations(run.flows)
        let invented = Set(actual.counts.keys).subtracting(expected.counts.keys)
        #expect(invented.isEmpty, "flows tshark does not see: \(invented.sorted())")
        #expect(!actual.counts.isEmpty, "the well-formed transport headers still make flows")
    }

    // Captures: http.pcap, dns.pcap, icmp.pcap, tls.pcap, read in one run.
    @Test("several --read files in one run give the union of their flows")
    func severalFilesGiveUnionOfFlows() async throws {
        let files = ["http.pcap", "dns.pcap", "icmp.pcap", "tls.pcap"]
        var arguments: [String] = []
        for file in files { arguments += ["--read", Harness.fixture(file)] }
        let combined = try await Sensor.run(arguments + ["--emit", "jsonl", "--uid-seed", "1"])
        #expect(combined.output.status == 0, "stderr: \(combined.output.stderr)")

        func summary(_ flow: JSONRecord) -> String {
            [
                "proto", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "orig_pkts", "resp_pkts", "orig_ip_bytes",
                "resp_ip_bytes", "community_id",
            ].map { key in
                flow.string(key) ?? flow.int(key).map(String.init) ?? "-"
            }.joined(separator: " ")
        }
        var separate: [String] = []
        var packets = 0
        for file in files {
            let run = try await Sensor.jsonl(fixture: file)
            separate += run.flows.map(summary)
            packets += run.finalStats?.int("packets_received") ?? 0
        }
        #expect(combined.flows.map(summary).sorted() == separate.sorted())
        #expect(combined.finalStats?.int("packets_received") == packets, "packets of all files")
        let kinds = Set(combined.records.map(\.type))
        #expect(kinds.isSuperset(of: ["flow", "dns", "http", "tls", "stats"]), "record types: \(kinds.sorted())")
    }

    // Capture: http.pcap.
    @Test("--emit none prints a four-line summary and no records")
    func emitNonePrintsSummary() async throws {
        let run = try await Sensor.run(["--read", Harness.fixture("http.pcap"), "--emit", "none"])
        #expect(run.output.status == 0)
        let lines = run.output.stdout.split(separator: "\n")
        #expect(lines.count == 4, "\(lines)")
        #expect(run.records.isEmpty)
        let frames = try await TsharkPacket.table(Harness.fixture("http.pcap")).count
        #expect(lines.first?.contains("\(frames) packets") == true, "first line counts tshark's \(frames) frames")
    }

    // Captures: every file in Tests/Fixtures.
    @Test("every fixture capture is covered by a test list")
    func everyFixtureIsCovered() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Harness.fixtures.path)
        let captures = names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") || $0.hasSuffix(".bin") }
        let covered = Set(flowCaptures + badCaptureFiles + robustnessOnlyCaptures)
        let uncovered = captures.filter { !covered.contains($0) }.sorted()
        #expect(uncovered.isEmpty, "fixtures no sensor test reads; add them to a list in SensorTests: \(uncovered)")
        let gone = covered.subtracting(captures).sorted()
        #expect(gone.isEmpty, "listed fixtures that do not exist: \(gone)")
    }
}
