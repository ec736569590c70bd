import Certs
import Flows
import Foundation
import NIOCore
import NIOPosix
import Store
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The two programs' command lines around the transport: bad input exits 2 with one line naming what is wrong,
/// and a live capture ships what it saw.
@Suite("transport command lines", .serialized)
struct TransportCommandLineTests {
    static func run(_ program: String, _ arguments: [String]) async throws -> ProcessOutput {
        try await ChildProcess.run(try Harness.binary(program), arguments, timeout: 60)
    }

    @Test("the collector refuses bad options and files with exit 2 and one line naming the culprit")
    func collectorBadInput() async throws {
        let pki = try PKI()
        let directory = try Harness.temporaryDirectory()
        let notSQLite = directory.appendingPathComponent("notes.txt").path
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: notSQLite))
        let good = [
            "--tls-ca", pki.layout.caCertificate, "--tls-cert", pki.layout.collectorCertificate,
            "--tls-key", pki.layout.collectorPrivateKey,
        ]
        let db = directory.appendingPathComponent("c.db").path
        let cases: [([String], String)] = [
            (["--listen", "127.0.0.1"] + good + ["--db", db], "--listen"),
            (["--listen", "127.0.0.1:0"] + good + ["--db", db, "--max-frame-bytes", "100"], "--max-frame-bytes"),
            (
                [
                    "--listen", "127.0.0.1:0", "--tls-ca", pki.layout.caCertificate, "--tls-cert",
                    directory.appendingPathComponent("missing.pem").path, "--tls-key", pki.layout.collectorPrivateKey,
                    "--db", db,
                ], "missing.pem: no such file"
            ),
            (
                [
                    "--listen", "127.0.0.1:0", "--tls-ca", pki.layout.caCertificate, "--tls-cert", notSQLite,
                    "--tls-key", pki.layout.collectorPrivateKey, "--db", db,
                ], "notes.txt: not a PEM certificate"
            ),
            (
                [
                    "--listen", "127.0.0.1:0", "--tls-ca", pki.layout.caCertificate, "--tls-cert",
                    pki.layout.collectorCertificate, "--tls-key", pki.layout.sensorPrivateKey("edge-1"), "--db", db,
                ], "does not fit the certificate"
            ),
            (["--listen", "127.0.0.1:0"] + good + ["--db", notSQLite], "notes.txt"),
            (["--listen", "127.0.0.1:0"] + good + ["--db", db, "--metrics", "nowhere"], "--metrics"),
            (["--listen", "127.0.0.1:0"] + good + ["--db", db, "--alerts", "loud"], "--alerts"),
            (good + ["--db", db], "give --listen HOST:PORT"),
        ]
        // The same through --config: the file, the line and the key are named.
        let config = directory.appendingPathComponent("collector.conf").path
        for (text, culprit) in [
            ("[collector]\nlisten = \"127.0.0.1:0\"\nwindw = 4\n", "collector.conf:3: [collector] windw: unknown key"),
            ("[collector]\nwindow = 0\n", "collector.conf:2: [collector] window: 0 is outside 1...1024"),
            ("[scan]\nthreshold = \"ten\"\n", "collector.conf:2: [scan] threshold: expected an integer"),
            ("[sensor]\ninterface = \"lo\"\n", "unknown section [sensor]"),
        ] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: config))
            let output = try await Self.run(
                "wirewatch-collector", ["--listen", "127.0.0.1:0"] + good + ["--db", db, "--config", config])
            #expect(output.status == 2, "\(text): \(output.stderr)")
            #expect(output.stderrLines.count == 1, "\(output.stderr)")
            #expect(output.stderr.contains(culprit), "\(culprit) not in: \(output.stderr)")
        }
        for (arguments, culprit) in cases {
            let output = try await Self.run("wirewatch-collector", arguments)
            #expect(output.status == 2, "\(arguments): \(output.stderr)")
            #expect(output.stderrLines.count == 1 || output.stderr.contains("Usage"), "\(output.stderr)")
            #expect(output.stderr.contains(culprit), "\(culprit) not in: \(output.stderr)")
        }
        // The file that is not a database is left as it was.
        #expect(try String(contentsOfFile: notSQLite, encoding: .utf8) == "not a database")
    }

    @Test("the sensor refuses a collector without credentials or with another sensor's name, exit 2")
    func sensorBadInput() async throws {
        let pki = try PKI()
        let credentials = [
            "--tls-ca", pki.layout.caCertificate, "--tls-cert", pki.layout.sensorCertificate("edge-1"),
            "--tls-key", pki.layout.sensorPrivateKey("edge-1"),
        ]
        let read = ["--read", Harness.fixture("dns.pcap")]
        let cases: [([String], String)] = [
            (read + ["--collector", "127.0.0.1:7400"], "--collector needs --tls-ca, --tls-cert and --tls-key"),
            (read + ["--collector", "127.0.0.1"] + credentials, "is not HOST:PORT"),
            (read + ["--collector", "127.0.0.1:7400", "--emit", "jsonl"] + credentials, "--emit"),
            (read + ["--collector", "127.0.0.1:7400", "--name", "edge-2"] + credentials, "not --name \"edge-2\""),
            (read + ["--spool", "/tmp/x"], "go with --collector"),
        ]
        for (arguments, culprit) in cases {
            let output = try await Self.run("wirewatch-sensor", arguments)
            #expect(output.status == 2, "\(arguments): \(output.stderr)")
            #expect(output.stderr.contains(culprit), "\(culprit) not in: \(output.stderr)")
        }
    }

    @Test("a live capture on lo ships its flows; SIGTERM flushes them and waits for the acknowledgement")
    func liveCapture() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        // A UDP exchange on 127.0.0.1 between two sockets this test owns, on ports the filter picks out.
        let group = MultiThreadedEventLoopGroup.singleton
        let receiver = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let sender = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        defer {
            receiver.close(promise: nil)
            sender.close(promise: nil)
        }
        let port = try #require(receiver.localAddress?.port)
        let sensor = try ChildProcess(
            try Harness.binary("wirewatch-sensor"),
            [
                "--interface", "lo", "--filter", "udp port \(port)", "--collector", "127.0.0.1:\(collector.port)",
                "--tls-ca", pki.layout.caCertificate, "--tls-cert", pki.layout.sensorCertificate("edge-3"),
                "--tls-key", pki.layout.sensorPrivateKey("edge-3"),
            ])
        try sensor.start()
        let connected = await sensor.waitForOutput(seconds: 30) { $0.stderr.contains("connected to collector") }
        #expect(connected, "\(sensor.output().stderr)")
        try await Task.sleep(nanoseconds: 300_000_000)  // the capture is open before the connection is made
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        for index in 0..<5 {
            var buffer = sender.allocator.buffer(capacity: 16)
            buffer.writeString("wirewatch \(index)")
            try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: buffer)).get()
        }
        try await Task.sleep(nanoseconds: 500_000_000)
        sensor.signal(SIGTERM)
        #expect(await sensor.waitForExit(seconds: 30))
        #expect(sensor.output().status == 0, "\(sensor.output().stderr)")
        let flows = try collector.store.records(RecordQuery(kinds: [.flow], sensor: "edge-3"))
        let udp = flows.compactMap { record -> (UInt64, UInt16)? in
            guard case Record.flow(let flow) = record, flow.id.respPort == UInt16(port) else { return nil }
            return (flow.origPackets, flow.id.respPort)
        }
        #expect(udp.count == 1, "\(flows)")
        #expect(udp.first?.0 == 5)
        let stats = try collector.store.records(RecordQuery(kinds: [.stats], sensor: "edge-3"))
        #expect(!stats.isEmpty, "the final stats record is shipped too")
    }
}
