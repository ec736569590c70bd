import Certs
import Flows
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Packets
import Store
import Synchronization
import TestSupport
import Testing
import Wire

@testable import Collector

#if canImport(Glibc)
    import Glibc
#endif

// Peers that try to hold the collector's resources: connections that never finish TLS, floods from one address,
// frames trickled a byte at a time, a second session of the same sensor, oversized Hello fields, absurd sequence
// numbers; and a store that commits slowly. Attackers connect from 127.0.0.2, so the per-address limit they hit is
// not the one of the sensors on 127.0.0.1.

private func hello(_ name: String, bootID: [UInt8], source: String = "", softwareVersion: String = "") throws
    -> [UInt8]
{
    var envelope = Wirewatch_V1_Envelope()
    envelope.hello.protocolVersion = WireProtocol.version
    envelope.hello.sensorName = name
    envelope.hello.bootID = Data(bootID)
    envelope.hello.source = source
    envelope.hello.softwareVersion = softwareVersion
    return try Frames.frame(envelope)
}

private func batch(_ sequence: UInt64) throws -> [UInt8] {
    var envelope = Wirewatch_V1_Envelope()
    envelope.batch.sequence = sequence
    return try Frames.frame(envelope)
}

private func refusedLines(_ collector: TestCollector) -> [String] {
    collector.logs.all.filter { $0.contains("refused") }
}

@Suite("hostile peers", .serialized)
struct HostilePeerTests {
    @Test("connections that never start TLS are closed at the handshake deadline, and summed up in the log")
    func silentConnectionsClosed() async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        options.handshakeTimeout = .seconds(1)
        options.maxConnectionsPerAddress = 1000
        options.refusalLogInterval = .milliseconds(500)
        let collector = try TestCollector(pki: pki, options: options)
        defer { collector.stop() }
        let attacker = RawConnections(port: collector.port)
        attacker.open(200)
        #expect(attacker.count == 200)
        let left = await attacker.waitUntilOpen(atMost: 0, seconds: 6)
        #expect(left == 0, "\(left) of 200 silent connections still open")
        #expect(collector.server.openConnections == 0)
        // One line for the first refusal, then at most one a half second: a handful of lines, never 200.
        #expect(await collector.logs.waitFor(["refused", "in the last", "handshake deadline: "]) != nil)
        let lines = refusedLines(collector)
        #expect(lines.count >= 2 && lines.count <= 6, "\(lines)")
        let counted = lines.compactMap { line -> Int? in
            guard line.contains("in the last") else { return line.contains("before authentication") ? 1 : nil }
            return line.split(separator: " ").dropFirst(2).first.flatMap { Int($0) }
        }.reduce(0, +)
        #expect(counted == 200, "\(lines)")
        #expect(collector.server.metrics.refusedConnections == 200)
    }

    @Test("half-finished TLS handshakes (a partial ClientHello) are closed at the deadline")
    func partialHandshakesClosed() async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        options.handshakeTimeout = .seconds(1)
        options.maxConnectionsPerAddress = 1000
        let collector = try TestCollector(pki: pki, options: options)
        defer { collector.stop() }
        let attacker = RawConnections(port: collector.port)
        attacker.open(100, sending: partialClientHello)
        let started = Date()
        let left = await attacker.waitUntilOpen(atMost: 0, seconds: 6)
        #expect(left == 0, "\(left) of 100 half-finished handshakes still open")
        #expect(Date().timeIntervalSince(started) >= 0.5)
        #expect(await collector.logs.waitFor(["refused", "no TLS handshake within 1 s"]) != nil)
    }

    @Test("the per-address and total connection limits close the excess at accept")
    func connectionLimits() async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        options.handshakeTimeout = .seconds(30)
        options.maxConnectionsPerAddress = 5
        options.maxConnections = 12
        let collector = try TestCollector(pki: pki, options: options)
        defer { collector.stop() }
        let first = RawConnections(port: collector.port, source: "127.0.0.2")
        first.open(20)
        // The 15 over the per-address limit are closed at once, long before any deadline.
        #expect(await first.waitUntilOpen(atMost: 5, seconds: 5) == 5)
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(first.reapClosed() == 0 && first.count == 5)
        // Two more addresses: 5 + 2 more fit under the total of 12 (5 + 5 + 2), the rest are closed.
        let second = RawConnections(port: collector.port, source: "127.0.0.3")
        second.open(5)
        // Accepted connections are admitted on their own event loops: wait for these before opening more.
        let deadline = Date().addingTimeInterval(5)
        while collector.server.openConnections < 10 && Date() < deadline {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        let third = RawConnections(port: collector.port, source: "127.0.0.4")
        third.open(5)
        #expect(await third.waitUntilOpen(atMost: 2, seconds: 5) == 2)
        #expect(await second.waitUntilOpen(atMost: 5, seconds: 1) == 5)
        #expect(collector.server.openConnections == 12)
        #expect(await collector.logs.waitFor(["refused", "max-connections-per-address"]) != nil)
        // Closed connections give their places back; a sensor from 127.0.0.1 then connects and delivers.
        second.closeAll()
        third.closeAll()
        let released = Date().addingTimeInterval(5)
        while collector.server.openConnections > 5 && Date() < released {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        #expect(collector.server.openConnections == 5)
        let expected = try expectedRecords(["dns.pcap"], sensor: "edge-1").map(normalizedJSON).sorted()
        _ = try await shipInProcess(["dns.pcap"], sensor: "edge-1", pki: pki, port: collector.port, timeout: 20)
        #expect(try collector.jsonLines(sensor: "edge-1") == expected)
    }

    @Test("a sensor delivers every record while 2,000 unauthenticated connections are attempted")
    func sensorDeliversDuringFlood() async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        options.handshakeTimeout = .seconds(1)
        options.refusalLogInterval = .seconds(1)
        let collector = try TestCollector(pki: pki, options: options)
        defer { collector.stop() }
        let attacker = RawConnections(port: collector.port)
        let attempts = Atomic<Int>(0)
        let peakOpen = Atomic<Int>(0)
        let started = Date()
        let flood = Thread {
            for round in 0..<40 {
                attacker.open(50, sending: round % 2 == 0 ? [] : partialClientHello)
                attempts.add(50, ordering: .relaxed)
                attacker.reapClosed()
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        flood.start()
        let sampler = Task {
            while attempts.load(ordering: .relaxed) < 2000 {
                _ = peakOpen.max(collector.server.openConnections, ordering: .relaxed)
                try? await Task.sleep(nanoseconds: 5_000_000)
            }
        }
        while attempts.load(ordering: .relaxed) < 500 { try await Task.sleep(nanoseconds: 5_000_000) }
        let expected = try expectedRecords(["dns.pcap", "http.pcap"], sensor: "edge-1").map(normalizedJSON).sorted()
        _ = try await shipInProcess(
            ["dns.pcap", "http.pcap"], sensor: "edge-1", pki: pki, port: collector.port, batchRecords: 4, timeout: 30)
        #expect(try collector.jsonLines(sensor: "edge-1") == expected)
        while attempts.load(ordering: .relaxed) < 2000 { try await Task.sleep(nanoseconds: 10_000_000) }
        await sampler.value
        // The attacker's address never holds more than its 64 places (plus the sensor's one).
        #expect(peakOpen.load(ordering: .relaxed) <= 65)
        #expect(await attacker.waitUntilOpen(atMost: 0, seconds: 5) == 0)
        let seconds = Date().timeIntervalSince(started)
        let lines = refusedLines(collector)
        #expect(lines.count <= Int(seconds) + 3, "\(lines.count) refusal lines in \(seconds) s")
        #expect(collector.server.metrics.refusedConnections >= 1900)
    }

    @Test("a frame trickled a byte at a time is refused once the frame deadline passes")
    func trickledFrame() async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        options.frameTimeout = .seconds(1)
        let collector = try TestCollector(pki: pki, options: options)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let started = Date()
        let result = try await trickle(
            port: collector.port, tls: tls, hello: try hello("edge-1", bootID: Array(repeating: 7, count: 16)),
            frame: [0, 0x10, 0, 0] + Array(repeating: 0x2A, count: 100), every: .milliseconds(50))
        let seconds = Date().timeIntervalSince(started)
        #expect(result.errorCode == .idleTimeout)
        #expect(seconds >= 1 && seconds < 8, "closed after \(seconds) s")
        #expect(await collector.logs.waitFor(["closed sensor edge-1", "frame incomplete", "of 1048580 bytes"]) != nil)
    }

    @Test("a second Hello for the same sensor replaces the first session, which sees its batches counted")
    func secondSessionReplacesFirst() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let bootID = [UInt8](repeating: 9, count: 16)
        let first = Task {
            try await rawExchange(
                port: collector.port, tls: tls, bytes: try hello("edge-1", bootID: bootID), followUp: try batch(5))
        }
        // The first session's batch 5 is committed; the second session of the same boot id must see it.
        let deadline = Date().addingTimeInterval(10)
        while collector.server.metrics.batches < 1 && Date() < deadline {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        let second = try await rawExchange(
            port: collector.port, tls: tls, bytes: try hello("edge-1", bootID: bootID),
            enough: { !$0.envelopes.isEmpty })
        guard case .helloAck(let ack) = second.envelopes.first?.body else {
            Issue.record("the second session got \(second.envelopes) instead of a HelloAck")
            return
        }
        #expect(ack.committedSequence == 5)
        let replaced = try await first.value
        #expect(replaced.errorCode == .notAllowed)
        #expect(replaced.envelopes.last?.error.message.contains("replaced by a newer connection") == true)
        #expect(await collector.logs.waitFor(["closed sensor edge-1", "replaced by a newer connection"]) != nil)
    }

    @Test("a Hello with a 1 MiB source or software version is refused with BAD_FRAME", arguments: [true, false])
    func oversizedHelloField(source: Bool) async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let big = String(repeating: "x", count: 1 << 20)
        let bytes = try hello(
            "edge-1", bootID: Array(repeating: 1, count: 16), source: source ? big : "eth0",
            softwareVersion: source ? "1.0" : big)
        let result = try await rawExchange(port: collector.port, tls: tls, bytes: bytes)
        #expect(result.errorCode == .badFrame)
        let field = source ? "source" : "software_version"
        #expect(
            await collector.logs.waitFor(["refused sensor edge-1", "Hello \(field) of 1048576 bytes exceeds 256"])
                != nil)
        #expect(try collector.store.sensors().isEmpty)
    }

    @Test(
        "a batch sequence too far ahead or near 2^64 is refused with BAD_FRAME",
        arguments: [UInt64.max, 1 << 63, (1 << 32) + 1] as [UInt64])
    func absurdSequence(sequence: UInt64) async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let bootID = [UInt8](repeating: 3, count: 16)
        let result = try await rawExchange(
            port: collector.port, tls: tls, bytes: try hello("edge-1", bootID: bootID), followUp: try batch(sequence))
        #expect(result.errorCode == .badFrame)
        #expect(await collector.logs.waitFor(["closed sensor edge-1", "batch \(sequence) is out of range"]) != nil)
        #expect(try collector.store.committedSequence(sensor: "edge-1", bootID: bootID) == 0)
    }

    @Test("the largest allowed jump (2^32 past the committed sequence) is accepted")
    func largestJumpAccepted() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let bootID = [UInt8](repeating: 4, count: 16)
        let result = try await rawExchange(
            port: collector.port, tls: tls, bytes: try hello("edge-1", bootID: bootID), followUp: try batch(1 << 32),
            enough: { $0.envelopes.count >= 2 })
        #expect(result.errorCode == nil)
        #expect(result.envelopes.last?.ack.sequence == 1 << 32)
    }

    @Test("a sensor waiting on slow commits is not closed for idleness")
    func slowStoreNoIdleTimeout() async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        // Commits take longer than the idle timeout; the timeout leaves the sensor 2 s to send its first batch
        // after HelloAck, which a loaded test machine needs.
        options.idleTimeout = .seconds(2)
        let collector = try SlowCollector(pki: pki, options: options, commitDelay: 3)
        defer { collector.stop() }
        let expected = try expectedRecords(["dns.pcap"], sensor: "edge-1").map(normalizedJSON).sorted()
        _ = try await shipInProcess(["dns.pcap"], sensor: "edge-1", pki: pki, port: collector.port, batchRecords: 1000)
        let logs = collector.logs.all
        #expect(!logs.contains { $0.contains("no frame for") }, "\(logs)")
        #expect(logs.filter { $0.contains("sensor edge-1 connected") }.count == 1, "\(logs)")
        #expect(try collector.sqlite.records(RecordQuery(sensor: "edge-1")).map(normalizedJSON).sorted() == expected)
    }

    /// Window 4: four batches decoded; a budget of three 8-byte frames: three. The rest wait as bytes.
    @Test(
        "frames beyond the window or the byte budget wait undecoded while the store holds its commits",
        arguments: [(4, 1 << 20, 4), (16, 24, 3)])
    func decodedWithinBudget(window: Int, budget: Int, decoded: Int) async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        options.window = UInt32(window)
        options.maxInFlightBytes = budget
        let collector = try SlowCollector(pki: pki, options: options, commitDelay: 0)
        defer { collector.stop() }
        collector.store.held.store(true, ordering: .relaxed)
        let tls = try MutualTLS.clientContext(pki.sensorFiles("edge-1"))
        let batches = try (1...40).flatMap { try batch(UInt64($0)) }
        #expect(batches.count == 40 * 8)
        let exchange = Task {
            try await rawExchange(
                port: collector.port, tls: tls, bytes: try hello("edge-1", bootID: Array(repeating: 5, count: 16)),
                followUp: batches, timeout: 20,
                enough: { $0.envelopes.contains { $0.ack.sequence == 40 } || $0.errorCode != nil })
        }
        let deadline = Date().addingTimeInterval(10)
        while collector.server.metrics.bytesReceived < decoded * 8 && Date() < deadline {
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        // Give the collector time to (wrongly) decode more of what it has read.
        try await Task.sleep(nanoseconds: 500_000_000)
        #expect(collector.server.metrics.bytesReceived == decoded * 8)
        collector.store.held.store(false, ordering: .relaxed)
        let result = try await exchange.value
        #expect(result.errorCode == nil)
        #expect(result.envelopes.contains { $0.ack.sequence == 40 })
        #expect(collector.server.metrics.bytesReceived == 40 * 8)
    }
}

/// A collector in front of a `SlowStore`.
private final class SlowCollector: Sendable {
    let server: CollectorServer
    let sqlite: SQLiteStore
    let store: SlowStore
    let logs = LogLines()
    let port: Int

    init(pki: PKI, options: CollectorOptions, commitDelay: Double) throws {
        let path = try Harness.temporaryDirectory().appendingPathComponent("slow.db").path
        sqlite = try SQLiteStore(path: path, synchronous: .normal)
        store = SlowStore(sqlite, commitDelay: commitDelay)
        var options = options
        options.host = "127.0.0.1"
        options.port = 0
        options.threads = 2
        let logs = logs
        server = CollectorServer(
            options: options, tls: try MutualTLS.serverContext(pki.serverFiles), store: store,
            logger: Logger(label: "slow") { _ in CapturingLogHandler(sink: logs) })
        port = try server.start().port ?? 0
    }

    func stop() {
        store.held.store(false, ordering: .relaxed)
        server.stop()
        sqlite.close()
    }
}

@Suite("hostile peers: the collector's options", .serialized)
struct HostilePeerOptionTests {
    @Test("the limits are options and [collector] keys: bad values exit 2 naming them; the file's values apply")
    func limitOptions() async throws {
        let pki = try PKI()
        let directory = try Harness.temporaryDirectory()
        let base = [
            "--listen", "127.0.0.1:0", "--tls-ca", pki.layout.caCertificate, "--tls-cert",
            pki.layout.collectorCertificate, "--tls-key", pki.layout.collectorPrivateKey, "--db",
            directory.appendingPathComponent("c.db").path, "--alerts", "none",
        ]
        let badConfig = directory.appendingPathComponent("bad.conf").path
        try "[collector]\nframe-timeout = 0\n".write(toFile: badConfig, atomically: true, encoding: .utf8)
        let cases: [([String], String)] = [
            (["--max-connections", "0"], "--max-connections must be between 1 and 1000000"),
            (["--max-connections-per-address", "0"], "--max-connections-per-address must be between 1"),
            (["--handshake-timeout", "0"], "--handshake-timeout must be between 1 and 600"),
            (["--max-inflight-bytes", "10"], "--max-inflight-bytes must be between 65536"),
            (["--config", badConfig], "frame-timeout: 0 is outside 1...3600"),
        ]
        let collector = try Harness.binary("wirewatch-collector")
        for (arguments, message) in cases {
            let output = try await ChildProcess.run(collector, base + arguments, timeout: 60)
            #expect(output.status == 2, "\(arguments)")
            #expect(output.stderrLines.count == 1 && output.stderr.contains(message), "\(arguments): \(output.stderr)")
        }
        // A file's limits apply: two connections from one address, the third closed at accept, the two kept
        // ones closed at the one-second handshake deadline.
        let config = directory.appendingPathComponent("limits.conf").path
        try "[collector]\nmax-connections-per-address = 2\nhandshake-timeout = 1\n".write(
            toFile: config, atomically: true, encoding: .utf8)
        let child = try ChildProcess(collector, base + ["--config", config])
        try child.start()
        defer { child.signal(SIGKILL) }
        #expect(await child.waitForOutput(seconds: 30) { $0.stdout.contains("listening on") })
        let port =
            child.output().stdout.split(separator: ":").last.flatMap {
                Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
            } ?? 0
        let attacker = RawConnections(port: port)
        attacker.open(3)
        #expect(await attacker.waitUntilOpen(atMost: 2, seconds: 0.9) == 2)
        #expect(await attacker.waitUntilOpen(atMost: 0, seconds: 5) == 0)
        child.signal(SIGTERM)
        #expect(await child.waitForExit(seconds: 30))
        let log = child.output().stderr
        #expect(log.contains("2 connections open from 127.0.0.2 (max-connections-per-address)"), "\(log)")
        #expect(log.contains("no TLS handshake within 1 s"), "\(log)")
    }
}

@Suite("hostile peers: parts")
struct HostilePeerPartTests {
    @Test("the refusal summary logs the first refusal at once and the rest as one line per interval")
    func refusalSummary() async throws {
        let logs = LogLines()
        let summary = RefusalSummary(
            logger: Logger(label: "summary") { _ in CapturingLogHandler(sink: logs) }, interval: .milliseconds(300),
            eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        for index in 0..<100 {
            summary.refused(index % 2 == 0 ? .handshakeDeadline : .tls, peer: "127.0.0.2:\(index)", reason: "test")
        }
        #expect(logs.all.count == 1)
        #expect(logs.all.first?.contains("refused 127.0.0.2:0 before authentication: test") == true)
        let line = await logs.waitFor(["refused 99 connections", "handshake deadline: 49", "TLS errors: 50"])
        #expect(line != nil, "\(logs.all)")
        #expect(line?.contains("last: 127.0.0.2:99: test") == true)
        #expect(logs.all.count == 2)
    }

    @Test("frame boundaries are followed across any split of the byte stream")
    func frameBoundaries() throws {
        let stream: [UInt8] = [0, 0, 0, 2, 0xA, 0xB] + [0, 0, 0, 0] + [0, 0, 0, 3, 1, 2, 3]
        for chunk in 1...stream.count {
            var boundaries = FrameBoundaries()
            var completed = 0
            var offset = 0
            while offset < stream.count {
                let end = min(stream.count, offset + chunk)
                let buffer = ByteBuffer(bytes: stream[offset..<end])
                completed += boundaries.advance(over: buffer.readableBytesView)
                offset = end
            }
            #expect(completed == 3, "chunk \(chunk)")
            #expect(!boundaries.inFrame)
        }
        var boundaries = FrameBoundaries()
        boundaries.advance(over: ByteBuffer(bytes: [0, 0]).readableBytesView)
        #expect(boundaries.inFrame && boundaries.expected == 4 && boundaries.received == 2)
        boundaries.advance(over: ByteBuffer(bytes: [1, 0, 9]).readableBytesView)
        #expect(boundaries.inFrame && boundaries.expected == 260 && boundaries.received == 5)
    }

    @Test("the connection limiter counts per address and overall, and gives places back")
    func limiter() {
        let limiter = ConnectionLimiter(maxTotal: 3, maxPerAddress: 2)
        #expect(limiter.admit("a") == nil)
        #expect(limiter.admit("a") == nil)
        #expect(limiter.admit("a") == .perAddress)
        #expect(limiter.admit("b") == nil)
        #expect(limiter.admit("c") == .total)
        limiter.release("a")
        #expect(limiter.admit("c") == nil)
        #expect(limiter.live == 3)
    }
}

/// A store whose commits take `commitDelay` seconds each (a slow disk), and wait while `held`; forwards the rest.
private final class SlowStore: RecordStore {
    let base: SQLiteStore
    let commitDelay: Double
    let held = Atomic<Bool>(false)

    private func delay() {
        Thread.sleep(forTimeInterval: commitDelay)
        while held.load(ordering: .relaxed) { Thread.sleep(forTimeInterval: 0.01) }
    }

    init(_ base: SQLiteStore, commitDelay: Double) {
        self.base = base
        self.commitDelay = commitDelay
    }

    func commit(_ batch: StoredBatch) throws(StoreError) -> CommitOutcome {
        delay()
        return try base.commit(batch)
    }

    func commit(_ batches: [StoredBatch]) throws(StoreError) -> [CommitOutcome] {
        delay()
        return try base.commit(batches)
    }

    func openSession(_ session: SensorSession) throws(StoreError) -> UInt64 { try base.openSession(session) }
    func committedSequence(sensor: String, bootID: [UInt8]) throws(StoreError) -> UInt64 {
        try base.committedSequence(sensor: sensor, bootID: bootID)
    }
    func records(_ query: RecordQuery) throws(StoreError) -> [Record] { try base.records(query) }
    func counts() throws(StoreError) -> [String: Int] { try base.counts() }
    func sensors() throws(StoreError) -> [SensorRow] { try base.sensors() }
    func upsertAlert(_ alert: AlertRecord) throws(StoreError) { try base.upsertAlert(alert) }
    func upsertAlerts(_ alerts: [AlertRecord]) throws(StoreError) { try base.upsertAlerts(alerts) }
    func alerts(_ query: AlertQuery) throws(StoreError) -> [AlertRecord] { try base.alerts(query) }
    func deleteOlderThan(_ cut: Double, batchRows: Int) throws(StoreError) -> Int {
        try base.deleteOlderThan(cut, batchRows: batchRows)
    }
    func topTalkers(_ query: ReportQuery) throws(StoreError) -> [TopTalker] { try base.topTalkers(query) }
    func ports(_ query: ReportQuery) throws(StoreError) -> [PortTotals] { try base.ports(query) }
    func protocols(_ query: ReportQuery) throws(StoreError) -> [ProtocolTotals] { try base.protocols(query) }
    func traffic(_ query: ReportQuery, bucket: Double) throws(StoreError) -> [TrafficBucket] {
        try base.traffic(query, bucket: bucket)
    }
    func dnsSummary(_ query: ReportQuery) throws(StoreError) -> DNSSummary { try base.dnsSummary(query) }
    func httpSummary(_ query: ReportQuery) throws(StoreError) -> HTTPSummary { try base.httpSummary(query) }
    func tlsSummary(_ query: ReportQuery) throws(StoreError) -> TLSSummary { try base.tlsSummary(query) }
    func tcpSummary(_ query: ReportQuery) throws(StoreError) -> TCPSummary { try base.tcpSummary(query) }
    func udpSummary(_ query: ReportQuery) throws(StoreError) -> UDPSummary { try base.udpSummary(query) }
    func sensorHealth() throws(StoreError) -> [SensorHealth] { try base.sensorHealth() }
    func setting(_ key: String) throws(StoreError) -> String? { try base.setting(key) }
    func setSetting(_ key: String, to value: String) throws(StoreError) { try base.setSetting(key, to: value) }
    func close() { base.close() }
}
