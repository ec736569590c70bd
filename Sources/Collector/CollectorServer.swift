import Certs
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

#if canImport(Glibc)
    import Glibc
#endif

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

    /// A connection that has not completed its TLS handshake this long after accept is closed outright.
    public var handshakeTimeout = TimeAmount.seconds(5)
    /// Connections open at once, authenticated or not; more are closed at accept.
    public var maxConnections = 1024
    /// Connections open at once from one source address; more are closed at accept.
    public var maxConnectionsPerAddress = 64
    /// Once the first byte of a frame has arrived, the whole frame must arrive within this (time the collector
    /// itself paused reading does not count), else `Error{IDLE_TIMEOUT}` and close.
    public var frameTimeout = TimeAmount.seconds(30)
    /// Bytes of decoded batches (estimated: 400 bytes a record, at least the frame) one connection may have handed
    /// to the store and not yet committed; its next frame is not decoded (reading pauses) until commits bring it
    /// under. A connection with nothing in flight may always take one frame, so this may be below `maxFrameBytes`.
    public var maxInFlightBytes = 32 << 20
    /// The same over all connections together.
    public var maxInFlightBytesTotal = 256 << 20
    /// Refusals before authentication are logged as at most one line per this interval (with counts).
    public var refusalLogInterval = TimeAmount.seconds(10)
    /// TCP keepalive on sensor connections: first probe after this much silence, then every `keepaliveInterval`,
    /// and the connection is dropped after `keepaliveProbes` unanswered probes (Linux; elsewhere the system's).
    public var keepaliveIdle = 60
    public var keepaliveInterval = 10
    public var keepaliveProbes = 3

    /// How far past the highest sequence seen so far a batch may jump (gaps are batches a full spool dropped).
    public static let maxSequenceJump: UInt64 = 1 << 32
    /// Sequences stay below this.
    public static let maxSequence: UInt64 = 1 << 63

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
    private let limiter: ConnectionLimiter
    private let refusals: RefusalSummary
    private let sessions = SessionRegistry()
    private let inFlight: InFlightBytes
    /// The revocation list checked at every handshake (`--revoked`); nil: none.
    private let revocation: RevocationWatcher?

    /// `detection`, when given, sees every newly stored record; its alerts are stored and passed to `onAlerts`
    /// (the collector prints them).
    public init(
        options: CollectorOptions, tls: NIOSSLContext, store: any RecordStore, logger: Logger,
        detection engine: sending DetectionEngine? = nil,
        revocation: RevocationWatcher? = nil,
        onAlerts: @escaping @Sendable ([PublishedAlert]) -> Void = { _ in }
    ) {
        self.revocation = revocation
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
        self.limiter = ConnectionLimiter(
            maxTotal: options.maxConnections, maxPerAddress: options.maxConnectionsPerAddress)
        self.refusals = RefusalSummary(logger: logger, interval: options.refusalLogInterval, eventLoop: group.next())
        self.inFlight = InFlightBytes(limit: options.maxInFlightBytesTotal)
    }

    /// Connections open now (admitted by the connection limits and not yet closed).
    public var openConnections: Int { limiter.live }

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
        let limiter = limiter
        let refusals = refusals
        let sessions = sessions
        let inFlight = inFlight
        let revocation = revocation
        // A revocation also ends the sessions already open with that certificate, not only later handshakes.
        revocation?.onReload { [sessions, logger] list in
            let closed = sessions.evict(where: { list.contains(serial: $0) }, reason: "certificate revoked")
            if !closed.isEmpty {
                logger.warning("closed the sessions of \(closed.joined(separator: ", ")): certificate revoked")
            }
        }
        revocation?.start()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // Keepalive finds sensors whose host vanished without a FIN; the idle timeout would too, but only
            // for connections the collector is not itself waiting on.
            .childChannelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
        for (option, value) in Self.keepaliveOptions(options) {
            _ = bootstrap.childChannelOption(ChannelOptions.tcpOption(option), value: value)
        }
        let admitted = bootstrap.childChannelInitializer { channel in
            // Connection limits first, before TLS costs anything: the excess is closed at accept.
            let address = channel.remoteAddress?.ipAddress ?? "unknown"
            if let refusal = limiter.admit(address) {
                let peer = channel.remoteAddress.map(SensorConnection.describe) ?? "unknown peer"
                let reason =
                    switch refusal {
                    case .total: "\(options.maxConnections) connections open (max-connections)"
                    case .perAddress:
                        "\(options.maxConnectionsPerAddress) connections open from \(address) "
                            + "(max-connections-per-address)"
                    }
                metrics.refused()
                refusals.refused(.connectionLimit, peer: peer, reason: reason)
                return channel.eventLoop.makeFailedFuture(ConnectionLimitError())
            }
            channel.closeFuture.whenComplete { _ in limiter.release(address) }
            return channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                // TLS; with a revocation list, BoringSSL's chain verification followed by the list.
                try sync.addHandler(
                    try revocation?.serverHandler(context: tls) ?? NIOSSLServerHandler(context: tls))
                try sync.addHandler(FrameDeadline(timeout: options.frameTimeout))
                try sync.addHandler(
                    ByteToMessageHandler(FrameDecoder(maxFrameBytes: options.maxFrameBytes)))
                // After the decoder, so that only whole frames count as activity (a byte a time does not).
                try sync.addHandler(IdleStateHandler(readTimeout: options.idleTimeout))
                try sync.addHandler(
                    SensorConnection(
                        options: options, ingest: ingest, logger: logger, metrics: metrics,
                        presence: presence, sessions: sessions, refusals: refusals, inFlightTotal: inFlight))
            }
        }
        let channel = try admitted.bind(host: options.host, port: options.port).wait()
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
        refusals.flush()
        let metricsChannel = metricsListener.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? metricsChannel?.close().wait()
        retentionTimer.withLock { timer in
            timer?.cancel()
            timer = nil
        }
        revocation?.stop()
        // Batches already received are committed and acknowledged while the connections are still up; whatever
        // arrives after that is committed before the store closes, and the sensor replays it if the ack is lost.
        ingest.waitUntilIdle()
        try? group.syncShutdownGracefully()
        ingest.waitUntilIdle()
        // The detectors see the last batches, and their alerts are stored, before the store closes.
        detection?.stop()
        ingest.waitUntilIdle()
    }

    /// TCP keepalive timing (Linux socket options; other systems keep their defaults).
    private static func keepaliveOptions(_ options: CollectorOptions) -> [(NIOBSDSocket.Option, SocketOptionValue)] {
        #if os(Linux)
            return [
                (TCP_KEEPIDLE, options.keepaliveIdle), (TCP_KEEPINTVL, options.keepaliveInterval),
                (TCP_KEEPCNT, options.keepaliveProbes),
            ].map { (NIOBSDSocket.Option(rawValue: CInt($0.0)), SocketOptionValue(clamping: $0.1)) }
        #else
            return []
        #endif
    }
}

/// A connection over `maxConnections` or `maxConnectionsPerAddress`, closed at accept.
struct ConnectionLimitError: Error {}
