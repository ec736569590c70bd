import Certs
import Collector
import Detect
import Flows
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Sensor
import Shipper
import Spool
import Store
import SwiftProtobuf
import Synchronization
import TestSupport
import Testing
import Wire

// Real pieces on loopback: certificates from `CertsInit` in a temp dir, a `CollectorServer` with a SQLite file,
// and the sensor's own pipeline, spool and client. What a test expects is always computed independently: the
// same capture run through the pipeline into a `CollectingSink` (the records `--emit jsonl` prints).

/// A CA with the collector's certificate and sensor certificates, in a fresh directory.
struct PKI: Sendable {
    static let sensors = ["edge-1", "edge-2", "edge-3", "edge-4"]
    let layout: CertsLayout

    init() throws {
        let directory = try Harness.temporaryDirectory().appendingPathComponent("pki").path
        _ = try CertsInit(directory: directory, sensors: Self.sensors, hostName: nil).run()
        layout = CertsLayout(directory: directory)
    }

    var serverFiles: TLSFiles {
        TLSFiles(
            caPath: layout.caCertificate, certificatePath: layout.collectorCertificate,
            keyPath: layout.collectorPrivateKey)
    }

    func sensorFiles(_ name: String) -> TLSFiles {
        TLSFiles(
            caPath: layout.caCertificate, certificatePath: layout.sensorCertificate(name),
            keyPath: layout.sensorPrivateKey(name))
    }
}

/// Log lines, kept for assertions.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// Waits (polling) until a line contains every one of `parts`.
    func waitFor(_ parts: [String], seconds: Double = 10) async -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let line = all.first(where: { line in parts.allSatisfy { line.contains($0) } }) { return line }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return nil
    }
}

struct CapturingLogHandler: LogHandler {
    let sink: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        sink.append("\(event.level) \(event.message)")
    }
}

/// A collector on 127.0.0.1 with a real SQLite file.
final class TestCollector: Sendable {
    let server: CollectorServer
    let store: SQLiteStore
    let logs = LogLines()
    let port: Int
    let databasePath: String
    /// The revocation list in force (`revokedPath`), if any.
    let revocation: RevocationWatcher?

    /// Alerts the collector published (stored and printed), in order.
    let published = PublishedAlerts()

    init(
        pki: PKI, options: CollectorOptions = CollectorOptions(), databasePath: String? = nil,
        detection: DetectionSetup? = nil, revokedPath: String? = nil
    ) throws {
        self.databasePath = try databasePath ?? Harness.temporaryDirectory().appendingPathComponent("wirewatch.db").path
        store = try SQLiteStore(path: self.databasePath, synchronous: .normal)
        var options = options
        options.host = "127.0.0.1"
        options.port = 0
        options.threads = 2
        let logs = logs
        let logger = Logger(label: "test-collector") { _ in CapturingLogHandler(sink: logs) }
        let published = published
        let revocation = try revokedPath.map {
            try RevocationWatcher(path: $0, logger: logger, interval: .milliseconds(100))
        }
        self.revocation = revocation
        server = CollectorServer(
            options: options, tls: try MutualTLS.serverContext(pki.serverFiles), store: store, logger: logger,
            detection: try detection?.makeEngine(), revocation: revocation, onAlerts: { published.append($0) })
        port = try server.start().port ?? 0
    }

    func stop() {
        server.stop()
        store.close()
    }

    /// The stored records of one sensor, as the JSON lines `--emit jsonl` would print for them.
    func jsonLines(sensor: String) throws -> [String] {
        try store.records(RecordQuery(sensor: sensor)).map(normalizedJSON).sorted()
    }
}

/// What a collector published, for the detection tests.
final class PublishedAlerts: Sendable {
    private let items = Mutex<[PublishedAlert]>([])
    func append(_ alerts: [PublishedAlert]) { items.withLock { $0 += alerts } }
    var all: [PublishedAlert] { items.withLock { $0 } }
}

/// A fixture name, or a capture the test wrote (absolute path).
func capturePath(_ capture: String) -> String {
    capture.hasPrefix("/") ? capture : Harness.fixture(capture)
}

/// The records the sensor pipeline produces for a fixture (uids seeded), attributed to `sensor`.
func expectedRecords(_ fixtures: [String], sensor: String) throws -> [Record] {
    try pipelineRecords(files: fixtures.map(capturePath), sensor: sensor, uidSeed: 1)
}

/// A record's JSON line, with the one field that legitimately differs when shipping set to 0: `stats.spool_bytes`
/// (the spool's size when the stats record was made; 0 when printing locally).
func normalizedJSON(_ record: Record) -> String {
    guard case .stats(var stats) = record else { return record.jsonLine }
    stats.spoolBytes = 0
    return Record.stats(stats).jsonLine
}

/// Runs the sensor's pipeline, spool and client in this process: reads the fixtures and ships every record.
/// Returns once the collector acknowledged everything (or throws after `timeout`).
func shipInProcess(
    _ fixtures: [String], sensor: String, pki: PKI, port: Int, spoolDirectory: String? = nil,
    batchRecords: Int = 64, timeout: Double = 60
) async throws -> Spool {
    let spool = try Spool(directory: spoolDirectory, maxBytes: 64 << 20)
    let tls = try MutualTLS.clientContext(pki.sensorFiles(sensor))
    var options = ShipperOptions(host: "127.0.0.1", port: port, sensorName: sensor)
    options.source = fixtures.joined(separator: ",")
    options.initialBackoff = 0.05
    options.maximumBackoff = 0.5
    let client = CollectorClient(options: options, spool: spool, tls: tls) { _ in }
    var batching = BatchingOptions()
    batching.maxRecords = batchRecords
    let sink = ShippingSink(spool: spool, options: batching) { client.batchesAppended() }
    var capture = CaptureOptions()
    capture.files = fixtures.map(capturePath)
    var config = FlowConfig(sensor: sensor)
    config.uidSeed = 1
    let pipeline = SensorPipeline(options: capture, flow: config, sink: sink)
    client.start()
    defer { client.shutdown() }
    _ = try pipeline.runFiles()
    let drained = (try? await client.drained(timeout: timeout).get()) != nil
    guard drained else {
        throw HarnessError("\(sensor): \(spool.pendingBatches) batches not acknowledged: \(client.lastError ?? "?")")
    }
    return spool
}

/// A bare client for the refusal tests: connects (with TLS if given), sends `bytes`, and returns what the
/// collector sent back until it closed the connection (or until `enough` holds for what arrived). `followUp` is
/// sent once the first frame from the collector (HelloAck) has arrived.
func rawExchange(
    port: Int, tls: NIOSSLContext?, bytes: [UInt8], followUp: [UInt8]? = nil, timeout: Double = 10,
    enough: (@Sendable (RawResult) -> Bool)? = nil
) async throws -> RawResult {
    try await exchange(port: port, tls: tls, sending: bytes, timeout: timeout) { done in
        Recorder(done: done, followUp: followUp, enough: enough)
    }
}

/// Connects to 127.0.0.1:`port` (with TLS if given) with the handler `makeHandler` builds last in the pipeline,
/// sends `bytes`, and returns what that handler completes its promise with; fails after `timeout` seconds.
func exchange(
    port: Int, tls: NIOSSLContext?, sending bytes: [UInt8], timeout: Double,
    makeHandler: @escaping @Sendable (EventLoopPromise<RawResult>) -> any ChannelHandler
) async throws -> RawResult {
    let group = MultiThreadedEventLoopGroup.singleton
    let done = group.next().makePromise(of: RawResult.self)
    let channel = try await ClientBootstrap(group: group)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if let tls {
                    try channel.pipeline.syncOperations.addHandler(
                        NIOSSLClientHandler(context: tls, serverHostname: "localhost"))
                }
                try channel.pipeline.syncOperations.addHandler(makeHandler(done))
            }
        }
        .connect(host: "127.0.0.1", port: port).get()
    var buffer = channel.allocator.buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    channel.writeAndFlush(buffer, promise: nil)
    channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) {
        done.fail(HarnessError("the collector did not close the connection within \(timeout) s"))
        channel.close(promise: nil)
    }
    return try await done.futureResult.get()
}

struct RawResult: Sendable {
    var received: [UInt8]
    var error: String?

    /// The Envelopes in what was received (complete frames only).
    var envelopes: [Wirewatch_V1_Envelope] {
        var out: [Wirewatch_V1_Envelope] = []
        var offset = 0
        while received.count - offset >= 4 {
            let length = received[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            guard received.count - offset - 4 >= length else { break }
            if let envelope = try? Wirewatch_V1_Envelope(
                serializedBytes: Array(received[offset + 4..<offset + 4 + length]))
            {
                out.append(envelope)
            }
            offset += 4 + length
        }
        return out
    }

    var errorCode: Wirewatch_V1_Error.Code? {
        envelopes.compactMap { envelope -> Wirewatch_V1_Error.Code? in
            if case .error(let error) = envelope.body { return error.code }
            return nil
        }.first
    }
}

private final class Recorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var received: [UInt8] = []
    private var error: String?
    private let done: EventLoopPromise<RawResult>
    private let enough: (@Sendable (RawResult) -> Bool)?
    private var followUp: [UInt8]?

    init(done: EventLoopPromise<RawResult>, followUp: [UInt8]?, enough: (@Sendable (RawResult) -> Bool)?) {
        self.done = done
        self.followUp = followUp
        self.enough = enough
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += Array(unwrapInboundIn(data).readableBytesView)
        if let bytes = followUp, !RawResult(received: received, error: nil).envelopes.isEmpty {
            followUp = nil
            var buffer = context.channel.allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            context.writeAndFlush(NIOAny(buffer), promise: nil)
        }
        if let enough, enough(RawResult(received: received, error: nil)) { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if self.error == nil { self.error = "\(error)" }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(RawResult(received: received, error: error))
    }
}

/// Frames for the raw client.
enum Frames {
    static func frame(_ envelope: Wirewatch_V1_Envelope) throws -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        try EnvelopeCodec.encode(envelope, into: &buffer)
        return Array(buffer.readableBytesView)
    }

    static func hello(_ name: String, version: UInt32 = WireProtocol.version) throws -> [UInt8] {
        var envelope = Wirewatch_V1_Envelope()
        envelope.hello.protocolVersion = version
        envelope.hello.sensorName = name
        envelope.hello.bootID = Data((0..<16).map { _ in UInt8.random(in: 0...255) })
        return try frame(envelope)
    }
}
