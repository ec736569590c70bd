import Detect
import Dispatch
import Flows
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Store
import Synchronization
import Wire

/// What the collector's listener enforces.
public struct CollectorOptions: Sendable {
    public var host = "0.0.0.0"
    public var port = 7400
    /// The largest Envelope accepted; a longer length prefix closes the connection before anything is buffered.
    public var maxFrameBytes = WireProtocol.defaultMaxFrameBytes
    /// Unacknowledged batches a sensor may have in flight (announced in HelloAck).
    public var window: UInt32 = 16
    /// A connection with no frame for this long is closed (sensors send a heartbeat every 10 s when idle).
    public var idleTimeout = TimeAmount.seconds(60)
    /// Sensor names allowed to connect; nil allows every name the CA certified.
    public var allowList: Set<String>?
    /// Event-loop threads (TLS and protobuf decoding); the store has its own writer thread.
    public var threads = System.coreCount
    /// Records, rollups and alerts older than this many seconds (packet time against the wall clock) are deleted
    /// once a minute, in small transactions between the commits; nil keeps everything.
    public var retention: Double?

    /// HOST and PORT of the HTTP endpoint with `/metrics` (Prometheus) and `/health`; nil: none.
    public var metricsAddress: (host: String, port: Int)?

    /// The smallest maximum frame the collector accepts: sensors seal batches below 1 MiB.
    public static let minimumFrameBytes = 1 << 20

    public init() {}
}

/// The collector's TLS listener: accepts sensors with a certificate from the CA, and stores their batches.
public final class CollectorServer: Sendable {
    public let options: CollectorOptions
    public let metrics = CollectorMetrics()
    private let ingest: Ingest
    private let detection: DetectionStage?
    private let tls: NIOSSLContext
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    private let listener = Mutex<(any Channel)?>(nil)
    private let metricsListener = Mutex<(any Channel)?>(nil)
    private let store: any RecordStore
    private let retentionTimer = Mutex<(any DispatchSourceTimer)?>(nil)

    /// `detection`, when given, sees every newly stored record; its alerts are stored and passed to `onAlerts`
    /// (the collector prints them).
    public init(
        options: CollectorOptions, tls: NIOSSLContext, store: any RecordStore, logger: Logger,
        detection engine: sending DetectionEngine? = nil,
        onAlerts: @escaping @Sendable ([PublishedAlert]) -> Void = { _ in }
    ) {
        self.options = options
        self.tls = tls
        self.store = store
        let ingestBox = Mutex<Ingest?>(nil)
        let metrics = metrics
        var stage: DetectionStage?
        if let engine {
            stage = DetectionStage(engine: engine) { published in
                metrics.alerted(published)
                ingestBox.withLock { $0 }?.store(alerts: published.map(\.alert))
                onAlerts(published)
            }
        }
        self.detection = stage
        let detection = stage
        let onStored: @Sendable ([Record]) -> Void = { records in
            metrics.storedEvents(records)
            detection?.submit(records)
        }
        let ingest = Ingest(store: store, logger: logger, onStored: onStored)
        ingestBox.withLock { $0 = ingest }
        self.ingest = ingest
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, options.threads))
    }

    /// Binds the listener and returns the address it is bound to (port 0 picks a free port).
    public func start() throws -> SocketAddress {
        let options = options
        let tls = tls
        let ingest = ingest
        var sensorPresence: (@Sendable (String, Bool) -> Void)?
        if let stage = detection { sensorPresence = { stage.sensor($0, disconnected: $1) } }
        let presence = sensorPresence
        let logger = logger
        let metrics = metrics
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: tls))
                    try sync.addHandler(IdleStateHandler(readTimeout: options.idleTimeout))
                    try sync.addHandler(
                        ByteToMessageHandler(FrameDecoder(maxFrameBytes: options.maxFrameBytes)))
                    try sync.addHandler(
                        SensorConnection(
                            options: options, ingest: ingest, logger: logger, metrics: metrics,
                            presence: presence))
                }
            }
        let channel = try bootstrap.bind(host: options.host, port: options.port).wait()
        listener.withLock { $0 = channel }
        guard let address = channel.localAddress else { throw ChannelError.unknownLocalAddress }
        if let retention = options.retention { startRetention(keeping: retention) }
        detection?.start()
        return address
    }

    /// Binds the HTTP endpoint (`options.metricsAddress`); returns its address, nil when none is configured.
    public func startMetrics() throws -> SocketAddress? {
        guard let (host, port) = options.metricsAddress else { return nil }
        let metrics = metrics
        let detection = detection
        let databasePath = (store as? SQLiteStore)?.path
        let endpoint = MetricsEndpoint(metrics: metrics) {
            metrics.refreshGauges(
                databasePath: databasePath, detectors: detection?.usage ?? [], now: Date().timeIntervalSince1970)
        }
        let channel = try endpoint.bind(host: host, port: port, group: group)
        metricsListener.withLock { $0 = channel }
        return channel.localAddress
    }

    /// Once a minute (and once at start): deletes what is older than `seconds`. The store deletes in small
    /// transactions and pauses between them, so commits keep going; this runs off the ingest thread.
    private func startRetention(keeping seconds: Double) {
        let store = ingest.store
        let logger = logger
        retentionTimer.withLock { slot in
            let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "wirewatch.collector.retention"))
            timer.schedule(deadline: .now(), repeating: .seconds(60))
            timer.setEventHandler {
                let cut = Date().timeIntervalSince1970 - seconds
                do {
                    let deleted = try store.deleteOlderThan(cut, batchRows: 5000)
                    if deleted > 0 { logger.info("retention: deleted \(deleted) records older than \(Int(seconds)) s") }
                } catch {
                    logger.error("retention failed: \(error)")
                }
            }
            timer.resume()
            slot = timer
        }
    }

    /// Stops accepting, closes every connection, waits for the batches already received to be committed.
    public func stop() {
        let channel = listener.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? channel?.close().wait()
        let metricsChannel = metricsListener.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? metricsChannel?.close().wait()
        retentionTimer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
        // Batches already received are committed and acknowledged while the connections are still up; whatever
        // arrives after that is committed before the store closes, and the sensor replays it if the ack is lost.
        ingest.waitUntilIdle()
        try? group.syncShutdownGracefully()
        ingest.waitUntilIdle()
        // The detectors see the last batches, and their alerts are stored, before the store closes.
        detection?.stop()
        ingest.waitUntilIdle()
    }

}
