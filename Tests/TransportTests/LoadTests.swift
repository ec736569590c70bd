import Certs
import Flows
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Packets
import Shipper
import Spool
import Store
import Synchronization
import TestSupport
import Testing
import Wire

#if canImport(Glibc)
    import Glibc
#endif

/// Many sensors delivering at once while the collector is attacked: the real `wirewatch-collector` program, sensors
/// in this process (the shipper, spool and client a sensor runs, each with its own certificate), unauthenticated
/// connections from another loopback address, and one certified sensor that trickles a frame a byte at a time.
///
/// CI runs a bounded shape; `bench/hostile-load.sh` runs the full one (200 sensors, minutes) through the same test
/// with `WIREWATCH_LOAD_*` set, and reads the figures from `WIREWATCH_LOAD_REPORT`.
@Suite("load: many sensors beside hostile peers", .serialized)
struct LoadTests {
    @Test("every record stored once, bounded memory and descriptors, hostile connections closed")
    func manySensorsUnderAttack() async throws {
        let shape = LoadShape.fromEnvironment()
        let names = (1...shape.sensors).map { String(format: "load-%04d", $0) } + ["trickler"]
        let directory = try Harness.temporaryDirectory()
        let pkiDirectory = directory.appendingPathComponent("pki").path
        _ = try CertsInit(directory: pkiDirectory, sensors: names, hostName: nil).run()
        let layout = CertsLayout(directory: pkiDirectory)
        let database = directory.appendingPathComponent("load.db").path
        raiseDescriptorLimit()

        let collector = try ChildProcess(
            try Harness.binary("wirewatch-collector"),
            [
                "--listen", "127.0.0.1:0", "--tls-ca", layout.caCertificate, "--tls-cert", layout.collectorCertificate,
                "--tls-key", layout.collectorPrivateKey, "--db", database, "--alerts", "none",
                "--handshake-timeout", "\(shape.handshakeTimeout)", "--frame-timeout", "\(shape.frameTimeout)",
                "--max-connections", "\(shape.maxConnections)",
                // The sensors all come from 127.0.0.1 here; the attackers from 127.0.0.2 get the default cap.
                "--max-connections-per-address", "\(shape.sensors + 8)",
            ])
        try collector.start()
        guard await collector.waitForOutput(seconds: 30, { $0.stdout.contains("listening on") }),
            let port = collector.output().stdout.split(separator: "\n").first?.split(separator: ":").last
                .flatMap({ Int($0) })
        else {
            await collector.killAndReap()
            throw HarnessError("collector did not start: \(collector.output().stderr)")
        }
        let sampler = ResourceSampler(pid: collector.pid)
        sampler.start()

        // Sensors connect first: a sensor must not need to win a race against the attack to get in.
        let sensors = try names.dropLast().map { name in
            try LoadSensor(
                name: name, port: port,
                files: TLSFiles(
                    caPath: layout.caCertificate, certificatePath: layout.sensorCertificate(name),
                    keyPath: layout.sensorPrivateKey(name)))
        }
        defer { for sensor in sensors { sensor.stop() } }
        let attack = Attack(port: port, attempts: shape.attacks, over: shape.seconds * 0.7)
        attack.start()
        // A certified sensor that says Hello, then sends a frame announcing 1 MiB one byte every 200 ms: the
        // collector must close it once the frame deadline passes.
        let trickleStarted = Date()
        let trickled = try? await trickle(
            port: port,
            tls: try MutualTLS.clientContext(
                TLSFiles(
                    caPath: layout.caCertificate, certificatePath: layout.sensorCertificate("trickler"),
                    keyPath: layout.sensorPrivateKey("trickler"))),
            hello: try Frames.hello("trickler"), frame: [0x00, 0x10, 0x00, 0x00] + Array(repeating: 0x1A, count: 4096),
            every: .milliseconds(200), timeout: Double(shape.frameTimeout) + 10)
        let trickleSeconds = Date().timeIntervalSince(trickleStarted)

        // Every sensor writes `rate` records a second, flushed in one batch each tick, for the whole run.
        let latency = AckLatency(sensors: sensors)
        latency.start()
        let started = Date()
        var tick = 0
        while Date().timeIntervalSince(started) < shape.seconds {
            for sensor in sensors { sensor.write(count: max(1, shape.rate / 4)) }
            tick += 1
            let next = started.addingTimeInterval(Double(tick) * 0.25)
            try await Task.sleep(nanoseconds: UInt64(max(0, next.timeIntervalSinceNow) * 1e9))
        }
        for sensor in sensors {
            #expect(sensor.drained(timeout: 120), "\(sensor.name): \(sensor.pending) batches not acknowledged")
        }
        latency.stop()
        attack.finish(grace: Double(shape.handshakeTimeout) + 3)
        sampler.stop()
        let closedAfter = Double(shape.handshakeTimeout) + 3
        for sensor in sensors { sensor.stop() }
        collector.signal(SIGTERM)
        #expect(await collector.waitForExit(seconds: 60), "the collector did not stop on SIGTERM")
        let log = collector.output().stderr

        // Exactly once: every sensor's records, each uid once.
        let store = try SQLiteStore(path: database, synchronous: .normal)
        defer { store.close() }
        var stored = 0
        for sensor in sensors {
            let uids = try store.records(RecordQuery(sensor: sensor.name)).compactMap { record -> String? in
                if case .flow(let flow) = record { return flow.uid }
                return nil
            }
            #expect(uids.count == sensor.written, "\(sensor.name): \(uids.count) stored of \(sensor.written)")
            #expect(Set(uids).count == uids.count, "\(sensor.name): duplicates")
            stored += uids.count
        }

        let attackReport = attack.report
        #expect(attackReport.attempted == shape.attacks)
        #expect(attackReport.stillOpen == 0, "\(attackReport.stillOpen) hostile connections still open")
        let openTimes =
            "p50 \(attackReport.percentile(0.5)) s, p99 \(attackReport.percentile(0.99)) s, "
            + "\(attackReport.openTimes.filter { $0 > closedAfter }.count) over \(closedAfter) s"
        #expect(
            attackReport.longestOpen <= closedAfter,
            "a hostile connection stayed open \(attackReport.longestOpen) s; \(openTimes)")
        #expect(trickled?.errorCode == .idleTimeout, "the trickling sensor was not closed for its frame deadline")
        #expect(trickleSeconds <= Double(shape.frameTimeout) + 5, "trickler closed after \(trickleSeconds) s")
        let peak = sampler.peak
        #expect(peak.descriptors <= shape.maxConnections + 64, "collector had \(peak.descriptors) descriptors open")
        #expect(peak.rssMiB <= shape.rssLimitMiB, "collector RSS reached \(peak.rssMiB) MiB")
        #expect(latency.worst <= shape.ackLatencyLimit, "worst acknowledgement wait \(latency.worst) s")
        // Refusals before authentication are summarised: a few lines, not one per connection.
        let refusalLines = log.split(separator: "\n").filter { $0.contains("refused") }
        #expect(
            refusalLines.count <= Int(shape.seconds / 10) + 6,
            "\(refusalLines.count) refusal lines for \(attackReport.attempted) attempts")

        let figures: [String: Double] = [
            "sensors": Double(shape.sensors), "seconds": shape.seconds, "records_stored": Double(stored),
            "records_per_second": Double(stored) / shape.seconds, "attacks_attempted": Double(attackReport.attempted),
            "attacks_longest_open_s": attackReport.longestOpen,
            "attacks_open_p50_s": attackReport.percentile(0.5), "attacks_open_p99_s": attackReport.percentile(0.99),
            "trickler_closed_after_s": trickleSeconds,
            "collector_peak_rss_mib": Double(peak.rssMiB), "collector_peak_descriptors": Double(peak.descriptors),
            "ack_latency_worst_s": latency.worst, "ack_latency_p99_s": latency.percentile(0.99),
            "refusal_log_lines": Double(refusalLines.count),
        ]
        if let path = ProcessInfo.processInfo.environment["WIREWATCH_LOAD_REPORT"] {
            let text = figures.keys.sorted().map { "\($0) \(figures[$0] ?? 0)" }.joined(separator: "\n") + "\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
    }
}

/// The shape of a run, from `WIREWATCH_LOAD_*` (CI's defaults are bounded for two cores and a debug build).
struct LoadShape {
    var sensors = 40
    var seconds = 12.0
    var rate = 40
    var attacks = 2000
    var handshakeTimeout = 2
    var frameTimeout = 4
    var maxConnections = 1024
    var rssLimitMiB = 1024
    var ackLatencyLimit = 10.0

    static func fromEnvironment() -> LoadShape {
        let environment = ProcessInfo.processInfo.environment
        var shape = LoadShape()
        func number(_ key: String) -> Double? { environment["WIREWATCH_LOAD_\(key)"].flatMap(Double.init) }
        shape.sensors = number("SENSORS").map { Int($0) } ?? shape.sensors
        shape.seconds = number("SECONDS") ?? shape.seconds
        shape.rate = number("RATE").map { Int($0) } ?? shape.rate
        shape.attacks = number("ATTACKS").map { Int($0) } ?? shape.attacks
        shape.rssLimitMiB = number("RSS_LIMIT_MIB").map { Int($0) } ?? shape.rssLimitMiB
        return shape
    }
}

/// One certified sensor: spool, batcher and client, writing synthetic flow records on demand. Unchecked: the sink
/// (a batcher that is not thread-safe) is written only by the test's one driving loop, as a sensor's capture
/// thread alone writes it; everything else here is thread-safe.
final class LoadSensor: @unchecked Sendable {
    let name: String
    private let spool: Spool
    private let sink: ShippingSink
    private let client: CollectorClient
    private let counter = Mutex(0)
    private let stopped = Mutex(false)

    init(name: String, port: Int, files: TLSFiles) throws {
        self.name = name
        spool = try Spool(directory: nil, maxBytes: 64 << 20)
        var options = ShipperOptions(host: "127.0.0.1", port: port, sensorName: name)
        options.initialBackoff = 0.05
        options.maximumBackoff = 1
        let client = CollectorClient(options: options, spool: spool, tls: try MutualTLS.clientContext(files)) { _ in }
        self.client = client
        // Each `write` seals its records into one batch at once (a sensor seals at least once a second).
        var batching = BatchingOptions()
        batching.maxDelay = 0
        sink = ShippingSink(spool: spool, options: batching) { client.batchesAppended() }
        client.start()
    }

    var written: Int { counter.withLock { $0 } }
    var pending: Int { spool.pendingBatches }

    /// Writes `count` flow records and seals them into one batch.
    func write(count: Int) {
        let first = counter.withLock { value in
            defer { value += count }
            return value
        }
        let now = Date().timeIntervalSince1970
        for index in first..<first + count {
            let id = ConnID(
                origHost: .v4(0x0A00_0000 | UInt32(truncatingIfNeeded: index)),
                origPort: UInt16(truncatingIfNeeded: index),
                respHost: .v4(0xC0A8_0001), respPort: 443)
            sink.write(
                .flow(
                    FlowRecord(
                        ts: now, uid: "\(name)-\(index)", sensor: name, id: id, proto: 6, service: "ssl", duration: 1.5,
                        origBytes: 1200, respBytes: 48_000, origPackets: 12, respPackets: 40, origIPBytes: 1_800,
                        respIPBytes: 50_000, connState: "SF", history: "ShADadFf", tcpFlagsOrig: nil, tcpFlagsResp: nil,
                        retransPackets: 0, icmpType: nil, icmpCode: nil, vlan: nil, innerVlan: nil,
                        communityID: "1:load", final: true, reason: "fin", truncated: false)))
        }
        sink.flush()
    }

    func drained(timeout: Double) -> Bool { client.waitUntilDrained(timeout: timeout) }

    func stop() {
        guard !stopped.withLock({ $0 }) else { return }
        stopped.withLock { $0 = true }
        client.shutdown()
    }
}

/// How long sensors wait for acknowledgements: each sensor's oldest unacknowledged batch, sampled every 100 ms.
final class AckLatency: Sendable {
    private let sensors: [LoadSensor]
    private let state = Mutex<(since: [Date?], samples: [Double], running: Bool)>(([], [], false))

    init(sensors: [LoadSensor]) { self.sensors = sensors }

    func start() {
        state.withLock { $0 = (Array(repeating: nil, count: sensors.count), [], true) }
        let thread = Thread { [self] in
            while state.withLock({ $0.running }) {
                let now = Date()
                let pending = sensors.map { $0.pending > 0 }
                state.withLock { state in
                    for (index, waiting) in pending.enumerated() {
                        if waiting, state.since[index] == nil { state.since[index] = now }
                        if !waiting, let since = state.since[index] {
                            state.samples.append(now.timeIntervalSince(since))
                            state.since[index] = nil
                        }
                    }
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        thread.start()
    }

    func stop() { state.withLock { $0.running = false } }

    var worst: Double { state.withLock { $0.samples.max() ?? 0 } }

    func percentile(_ fraction: Double) -> Double {
        let sorted = state.withLock { $0.samples.sorted() }
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }
}

/// Unauthenticated connections from 127.0.0.2: half never speak, half send the start of a ClientHello and stall.
/// Each is held open by this side until the collector closes it; the longest any stayed open is measured.
final class Attack: Sendable {
    struct Report {
        var attempted = 0
        var stillOpen = 0
        /// How long each connection stayed open, from connect() returning to the collector's close being seen.
        var openTimes: [Double] = []
        var longestOpen: Double { openTimes.max() ?? 0 }

        func percentile(_ fraction: Double) -> Double {
            let sorted = openTimes.sorted()
            guard !sorted.isEmpty else { return 0 }
            return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
        }
    }

    private let port: Int
    private let attempts: Int
    private let seconds: Double
    private let state = Mutex<(open: [Int32: Date], report: Report, done: Bool)>(([:], Report(), false))

    init(port: Int, attempts: Int, over seconds: Double) {
        self.port = port
        self.attempts = attempts
        self.seconds = seconds
    }

    var report: Report { state.withLock { $0.report } }

    func start() {
        let thread = Thread { [self] in
            let started = Date()
            for attempt in 0..<attempts {
                let due = started.addingTimeInterval(seconds * Double(attempt) / Double(max(1, attempts)))
                if due.timeIntervalSinceNow > 0 { Thread.sleep(until: due) }
                let descriptor = connect(stalling: attempt % 2 == 1)
                state.withLock { state in
                    state.report.attempted += 1
                    if descriptor >= 0 { state.open[descriptor] = Date() }
                }
                reap()
            }
            // Closes are seen as they happen until `finish`, so an open time is never stretched by waiting.
            while !state.withLock({ $0.done }) {
                reap()
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        thread.start()
    }

    /// Waits for the collector to close what is still open (up to `grace` seconds after the last attempt).
    func finish(grace: Double) {
        while state.withLock({ $0.report.attempted }) < attempts { Thread.sleep(forTimeInterval: 0.05) }
        let deadline = Date().addingTimeInterval(grace)
        while Date() < deadline, state.withLock({ !$0.open.isEmpty }) {
            reap()
            Thread.sleep(forTimeInterval: 0.05)
        }
        state.withLock { state in
            state.done = true
            state.report.stillOpen = state.open.count
            for (descriptor, opened) in state.open {
                state.report.openTimes.append(Date().timeIntervalSince(opened))
                close(descriptor)
            }
            state.open = [:]
        }
    }

    /// Closes (on this side) every connection the collector has closed, recording how long it was open.
    private func reap() {
        let now = Date()
        state.withLock { state in
            for (descriptor, opened) in state.open {
                if RawConnections.closedByPeer(descriptor) {
                    state.report.openTimes.append(now.timeIntervalSince(opened))
                    close(descriptor)
                    state.open[descriptor] = nil
                }
            }
        }
    }

    private func connect(stalling: Bool) -> Int32 {
        let descriptor = RawConnections.connect(port: port, from: "127.0.0.2")
        if stalling, descriptor >= 0 {
            _ = partialClientHello.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        return descriptor
    }
}

/// The collector's resident memory and open descriptors, sampled every 250 ms from /proc.
final class ResourceSampler: Sendable {
    struct Peak: Sendable {
        var rssMiB = 0
        var descriptors = 0
    }

    private let pid: Int32
    private let state = Mutex<(peak: Peak, running: Bool)>((Peak(), false))

    init(pid: Int32) { self.pid = pid }

    var peak: Peak { state.withLock { $0.peak } }

    func start() {
        state.withLock { $0.running = true }
        let thread = Thread { [self] in
            while state.withLock({ $0.running }) {
                let rss = Self.rssMiB(pid: pid)
                let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? 0
                state.withLock { state in
                    state.peak.rssMiB = max(state.peak.rssMiB, rss)
                    state.peak.descriptors = max(state.peak.descriptors, descriptors)
                }
                Thread.sleep(forTimeInterval: 0.25)
            }
        }
        thread.start()
    }

    func stop() { state.withLock { $0.running = false } }

    static func rssMiB(pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kib = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kib / 1024
        }
        return 0
    }
}

/// Room for thousands of sockets in this process (the attack holds them open).
func raiseDescriptorLimit() {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
    limit.rlim_cur = limit.rlim_max
    _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
}
