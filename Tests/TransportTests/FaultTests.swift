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

/// The built programs, killed and restarted: whatever happens, the database ends up holding exactly the records
/// `wirewatch-sensor --emit jsonl` prints for the same captures, each once.
@Suite("faults: kill -9, restart, collector down", .serialized)
struct FaultTests {
    /// A TCP port on 127.0.0.1 that was free a moment ago.
    static func freePort() throws -> Int {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let channel = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? channel.close().wait() }
        guard let port = channel.localAddress?.port else { throw HarnessError("no port") }
        return port
    }

    struct Lab {
        let pki: PKI
        let port: Int
        let database: String
        let directory: URL

        init() throws {
            pki = try PKI()
            port = try FaultTests.freePort()
            directory = try Harness.temporaryDirectory()
            database = directory.appendingPathComponent("collector.db").path
        }

        func startCollector() async throws -> ChildProcess {
            let collector = try ChildProcess(
                try Harness.binary("wirewatch-collector"),
                [
                    "--listen", "127.0.0.1:\(port)", "--tls-ca", pki.layout.caCertificate,
                    "--tls-cert", pki.layout.collectorCertificate, "--tls-key", pki.layout.collectorPrivateKey,
                    "--db", database,
                ])
            try collector.start()
            let ready = await collector.waitForOutput(seconds: 30) { $0.stdout.contains("listening on") }
            guard ready else {
                await collector.killAndReap()
                throw HarnessError("collector did not start: \(collector.output().stderr)")
            }
            return collector
        }

        func sensor(_ fixture: String, seed: Int, spool: String?, batchRecords: Int = 16) throws -> ChildProcess {
            var arguments = [
                "--read", capturePath(fixture), "--collector", "127.0.0.1:\(port)",
                "--tls-ca", pki.layout.caCertificate, "--tls-cert", pki.layout.sensorCertificate("edge-1"),
                "--tls-key", pki.layout.sensorPrivateKey("edge-1"), "--uid-seed", String(seed),
                "--batch-records", String(batchRecords),
            ]
            if let spool { arguments += ["--spool", spool] }
            return try ChildProcess(try Harness.binary("wirewatch-sensor"), arguments)
        }

        /// What `--emit jsonl` prints for the fixture, named as the certificate names the sensor.
        func expected(_ fixture: String, seed: Int) async throws -> [String] {
            let output = try await ChildProcess.run(
                try Harness.binary("wirewatch-sensor"),
                ["--read", capturePath(fixture), "--emit", "jsonl", "--uid-seed", String(seed), "--name", "edge-1"])
            #expect(output.status == 0)
            return output.stdout.split(separator: "\n").map(String.init)
        }

        /// The stored records as JSON lines (stats' spool_bytes set to 0, as --emit jsonl prints it).
        func stored() throws -> [String] {
            let store = try SQLiteStore(path: database, synchronous: .normal)
            defer { store.close() }
            return try store.records(RecordQuery()).map(normalizedJSON).sorted()
        }

        func storedCount() -> Int {
            guard let store = try? SQLiteStore(path: database, synchronous: .normal) else { return 0 }
            defer { store.close() }
            return (try? store.counts().values.reduce(0, +)) ?? 0
        }
    }

    @Test("the collector is killed with SIGKILL mid-delivery and restarted: every record stored once")
    func collectorKilled() async throws {
        let lab = try Lab()
        // 3,000 one-packet flows shipped one record per batch: thousands of fsync'ed commits, so the kill lands
        // in the middle of the delivery.
        let capture = lab.directory.appendingPathComponent("load.pcap").path
        try PcapWriter.udpFlows(path: capture, count: 3000)
        let expected = try await lab.expected(capture, seed: 1)
        #expect(expected.count > 3000)
        var collector = try await lab.startCollector()
        let sensor = try lab.sensor(
            capture, seed: 1, spool: lab.directory.appendingPathComponent("spool").path, batchRecords: 1)
        try sensor.start()
        let deadline = Date().addingTimeInterval(60)
        while lab.storedCount() < 100 && Date() < deadline { try await Task.sleep(nanoseconds: 5_000_000) }
        collector.signal(SIGKILL)
        #expect(await collector.waitForExit(seconds: 10))
        let atKill = lab.storedCount()
        #expect(atKill >= 100)
        #expect(atKill < expected.count, "the delivery had already finished when the collector was killed")
        #expect(sensor.isRunning)
        try await Task.sleep(nanoseconds: 500_000_000)
        collector = try await lab.startCollector()
        #expect(await sensor.waitForExit(seconds: 120))
        #expect(sensor.output().status == 0, "\(sensor.output().stderr)")
        collector.signal(SIGTERM)
        #expect(await collector.waitForExit(seconds: 30))
        #expect(collector.output().status == 0)
        #expect(try lab.stored() == expected.sorted())
    }

    @Test("the sensor is killed with SIGKILL while its spool holds everything, and restarted on the same spool")
    func sensorKilled() async throws {
        let lab = try Lab()
        let spool = lab.directory.appendingPathComponent("spool").path
        // No collector yet: the first run spools its batches and waits for acknowledgements.
        let first = try lab.sensor("dns.pcap", seed: 1, spool: spool)
        try first.start()
        let waiting = await first.waitForOutput(seconds: 30) { $0.stderr.contains("waiting for the collector") }
        #expect(waiting, "\(first.output().stderr)")
        await first.killAndReap()
        let collector = try await lab.startCollector()
        // The second run reads another capture; the first run's batches are replayed from the spool.
        let second = try lab.sensor("http.pcap", seed: 2, spool: spool)
        try second.start()
        #expect(await second.waitForExit(seconds: 60))
        #expect(second.output().status == 0, "\(second.output().stderr)")
        collector.signal(SIGTERM)
        #expect(await collector.waitForExit(seconds: 30))
        let expected = try await lab.expected("dns.pcap", seed: 1) + lab.expected("http.pcap", seed: 2)
        #expect(try lab.stored() == expected.sorted())
        // Acknowledged batches are gone from the spool.
        let left = try FileManager.default.contentsOfDirectory(atPath: spool).filter { $0.hasSuffix(".seg") }
        #expect(left.count <= 1)
    }

    @Test("the collector is unreachable for a while, then comes up: the sensor retries and delivers")
    func collectorLate() async throws {
        let lab = try Lab()
        let sensor = try lab.sensor("tls.pcap", seed: 3, spool: nil)
        try sensor.start()
        let retried = await sensor.waitForOutput(seconds: 30) { $0.stderr.contains("retrying in") }
        #expect(retried, "\(sensor.output().stderr)")
        try await Task.sleep(nanoseconds: 1_000_000_000)
        #expect(sensor.isRunning)
        let collector = try await lab.startCollector()
        #expect(await sensor.waitForExit(seconds: 60))
        #expect(sensor.output().status == 0, "\(sensor.output().stderr)")
        collector.signal(SIGTERM)
        #expect(await collector.waitForExit(seconds: 30))
        #expect(try lab.stored() == (try await lab.expected("tls.pcap", seed: 3)).sorted())
    }
}
