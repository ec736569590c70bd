import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Spool
import Wire

/// Where and as whom the sensor connects.
public struct ShipperOptions: Sendable {
    public var host: String
    public var port: Int
    /// Must be the name in the sensor's certificate (the collector checks).
    public var sensorName: String
    /// Interface or files, shown in the collector's sensors table.
    public var source = ""
    public var softwareVersion = "wirewatch 0.1"
    /// A heartbeat goes out after this long without sending anything; the collector answers it.
    public var heartbeatInterval = TimeAmount.seconds(10)
    /// Nothing heard from the collector for this long (while a heartbeat is due every `heartbeatInterval`): the
    /// connection is presumed dead and replaced.
    public var silenceTimeout = TimeAmount.seconds(35)
    public var connectTimeout = TimeAmount.seconds(10)
    /// Reconnect delays grow from `initialBackoff` to `maximumBackoff`, each drawn uniformly from [d/2, d].
    public var initialBackoff = 0.25
    public var maximumBackoff = 30.0

    public init(host: String, port: Int, sensorName: String) {
        self.host = host
        self.port = port
        self.sensorName = sensorName
    }
}

/// The sensor's side of the wire: one TLS connection to the collector that sends the spool's batches in order,
/// at most `window` unacknowledged, deletes them from the spool when acknowledged, and reconnects with jittered
/// exponential backoff whenever the connection fails. All of its state lives on one event loop; the capture thread
/// only calls `batchesAppended()`.
public final class CollectorClient: @unchecked Sendable {
    private enum Phase {
        case idle, connecting, awaitingHelloAck, streaming, stopped
    }

    public let options: ShipperOptions
    private let spool: Spool
    private let tls: NIOSSLContext
    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    private let report: @Sendable (String) -> Void

    // Event-loop confined.
    private var phase = Phase.idle
    private var channel: (any Channel)?
    private var lastSent: UInt64 = 0
    /// The highest sequence of the current boot id the collector can legitimately have committed: what the spool
    /// had numbered before this run, and everything sent since. A HelloAck above it means the spool went back in
    /// time (see `Spool.restartStream`).
    private var streamHigh: UInt64
    private var inFlight: [UInt64] = []
    private var window = 1
    private var maxFrameBytes = WireProtocol.defaultMaxFrameBytes
    private var failures = 0
    private var lastProblem: String?
    private var drainWaiters: [EventLoopPromise<Void>] = []
    private var reconnect: Scheduled<Void>?

    /// `report` receives one line for each change of connection state (connected, lost, refused).
    public init(
        options: ShipperOptions, spool: Spool, tls: NIOSSLContext, report: @escaping @Sendable (String) -> Void
    ) {
        self.options = options
        self.spool = spool
        self.tls = tls
        self.report = report
        self.streamHigh = spool.recovery.highestSequence
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.loop = group.next()
    }

    /// Starts connecting (and keeps reconnecting until `shutdown()`).
    public func start() {
        loop.execute { self.connect() }
    }

    /// New batches are in the spool (any thread).
    public func batchesAppended() {
        loop.execute { self.pump() }
    }

    /// Succeeds once the spool holds nothing unacknowledged; fails when the timeout (seconds; nil waits for ever)
    /// passes first.
    public func drained(timeout: Double?) -> EventLoopFuture<Void> {
        let promise = loop.makePromise(of: Void.self)
        loop.execute {
            if self.spool.pendingBatches == 0 {
                promise.succeed(())
            } else {
                self.drainWaiters.append(promise)
            }
        }
        if let timeout {
            loop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) {
                promise.fail(DrainTimeout())
            }
        }
        return promise.futureResult
    }

    /// Blocks until everything is acknowledged or the timeout passes; returns whether everything was.
    public func waitUntilDrained(timeout: Double?) -> Bool {
        (try? drained(timeout: timeout).wait()) != nil
    }

    /// The last connection problem, for the message printed when the sensor gives up waiting.
    public var lastError: String? {
        (try? loop.submit { self.lastProblem }.wait()) ?? nil
    }

    /// Closes the connection and stops reconnecting; batches not acknowledged stay in the spool.
    public func shutdown() {
        try? loop.submit {
            self.phase = .stopped
            self.reconnect?.cancel()
            self.channel?.close(promise: nil)
            for waiter in self.drainWaiters { waiter.fail(ChannelError.ioOnClosedChannel) }
            self.drainWaiters = []
        }.wait()
        try? group.syncShutdownGracefully()
    }

    // MARK: connection life cycle (event loop)

    private func connect() {
        guard phase == .idle else { return }
        phase = .connecting
        let tls = tls
        let hostname = MutualTLS.serverHostname(for: options.host)
        let options = options
        ClientBootstrap(group: loop)
            .connectTimeout(options.connectTimeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLClientHandler(context: tls, serverHostname: hostname))
                    try sync.addHandler(
                        IdleStateHandler(
                            readTimeout: options.silenceTimeout, writeTimeout: options.heartbeatInterval))
                    try sync.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1 << 20)))
                    try sync.addHandler(ClientHandler(client: self, channel: channel))
                }
            }
            .connect(host: options.host, port: options.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard self.phase == .connecting else {
                        channel.close(promise: nil)
                        return
                    }
                    self.channel = channel
                    self.phase = .awaitingHelloAck
                    self.sendHello(on: channel)
                case .failure(let error):
                    self.connectionLost(reason: "cannot connect to \(self.address): \(error)")
                }
            }
    }

    private var address: String {
        options.host.contains(":") ? "[\(options.host)]:\(options.port)" : "\(options.host):\(options.port)"
    }

    private func sendHello(on channel: any Channel) {
        var envelope = Wirewatch_V1_Envelope()
        envelope.hello.protocolVersion = WireProtocol.version
        envelope.hello.sensorName = options.sensorName
        envelope.hello.bootID = Data(spool.bootID)
        envelope.hello.softwareVersion = options.softwareVersion
        envelope.hello.source = options.source
        send(envelope, on: channel)
    }

    fileprivate func received(_ envelope: Wirewatch_V1_Envelope, on channel: any Channel) {
        guard channel === self.channel else { return }
        switch (phase, envelope.body) {
        case (.awaitingHelloAck, .helloAck(let ack)) where ack.committedSequence > streamHigh:
            restartStream(committed: ack.committedSequence, on: channel)
        case (.awaitingHelloAck, .helloAck(let ack)):
            phase = .streaming
            window = max(1, Int(ack.window))
            maxFrameBytes = Int(ack.maxFrameBytes)
            spool.acknowledge(through: ack.committedSequence)
            lastSent = ack.committedSequence
            inFlight = []
            failures = 0
            lastProblem = nil
            report(
                "connected to collector \(address) as \(options.sensorName); collector has batches up to "
                    + "\(ack.committedSequence), \(spool.pendingBatches) to send")
            pump()
            checkDrained()
        case (.streaming, .ack(let ack)):
            // An ack can only be for a batch sent on this connection; anything above that is not ours to delete.
            spool.acknowledge(through: min(ack.sequence, lastSent))
            inFlight.removeAll { $0 <= ack.sequence }
            pump()
            checkDrained()
        case (.streaming, .heartbeat):
            break
        case (_, .error(let error)):
            connectionLost(reason: "collector \(address) refused: \(error.code): \(error.message)")
        default:
            var refusal = Wirewatch_V1_Envelope()
            refusal.error.code = .unexpectedMessage
            refusal.error.message = "unexpected message from the collector: \(envelope.body.map { "\($0)" } ?? "empty")"
            send(refusal, on: channel)
            connectionLost(reason: "collector \(address) sent an unexpected message")
        }
    }

    /// The collector has committed more of this boot id than the spool ever numbered: its new batches would be
    /// acknowledged as replays and deleted unstored. Warns once, continues the stream under a new boot id (the
    /// spool renumbers what is pending) and reconnects, after the first backoff step, with a Hello that carries it.
    private func restartStream(committed: UInt64, on channel: any Channel) {
        let oldID = Self.hex(spool.bootID)
        let restart: StreamRestart
        do {
            restart = try spool.restartStream(keepingAbove: streamHigh)
        } catch {
            connectionLost(
                reason: "collector \(address) has batches up to \(committed) of boot id \(oldID), above this spool's "
                    + "\(streamHigh), and the spool cannot start a new boot id: \(error)")
            return
        }
        report(
            "warning: sensor \(options.sensorName): collector \(address) has committed batches up to \(committed) of "
                + "boot id \(oldID), but this spool numbered only up to \(streamHigh) (restored from an older copy, "
                + "or power lost before a sync); continuing as boot id \(Self.hex(restart.bootID)), "
                + "\(restart.batches) pending batches (\(restart.records) records) renumbered from "
                + "\(restart.firstSequence)")
        streamHigh = 0
        lastSent = 0
        inFlight = []
        self.channel = nil
        channel.close(promise: nil)
        phase = .idle
        // Counted as a failure so that a collector claiming batches of every new boot id cannot make this spin.
        failures += 1
        reconnect = loop.scheduleTask(in: .nanoseconds(Int64(backoff(failures: failures) * 1e9))) { self.connect() }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Sends spooled batches after `lastSent` while the window and the socket allow.
    private func pump() {
        guard phase == .streaming, let channel else { return }
        var wrote = false
        while inFlight.count < window && channel.isWritable {
            let entries = spool.pending(after: lastSent, limit: window - inFlight.count, maxBytes: 8 << 20)
            guard !entries.isEmpty else { break }
            for entry in entries {
                let size = EnvelopeCodec.batchFrameSize(sequence: entry.sequence, bodyCount: entry.payload.count)
                if size - WireProtocol.lengthPrefixBytes > maxFrameBytes {
                    report(
                        "batch \(entry.sequence) (\(size) bytes) exceeds the collector's maximum frame of "
                            + "\(maxFrameBytes) bytes; raise --max-frame-bytes on the collector")
                    if wrote { channel.flush() }
                    return
                }
                var buffer = channel.allocator.buffer(capacity: size)
                EnvelopeCodec.encodeBatch(sequence: entry.sequence, batchBody: entry.payload, into: &buffer)
                channel.write(buffer, promise: nil)
                lastSent = entry.sequence
                streamHigh = max(streamHigh, entry.sequence)
                inFlight.append(entry.sequence)
                wrote = true
            }
        }
        if wrote { channel.flush() }
    }

    fileprivate func writabilityChanged(on channel: any Channel) {
        if channel === self.channel { pump() }
    }

    fileprivate func idle(_ event: IdleStateHandler.IdleStateEvent, on channel: any Channel) {
        guard channel === self.channel else { return }
        switch event {
        case .write:
            var envelope = Wirewatch_V1_Envelope()
            envelope.heartbeat.sentAtMicros = Int64(Date().timeIntervalSince1970 * 1_000_000)
            send(envelope, on: channel)
        case .read:
            connectionLost(
                reason: "collector \(address) silent for \(options.silenceTimeout.nanoseconds / 1_000_000_000) s")
        case .all:
            break
        }
    }

    fileprivate func failed(_ error: any Error, on channel: any Channel) {
        guard channel === self.channel else { return }
        connectionLost(reason: "connection to collector \(address) failed: \(error)")
    }

    fileprivate func closed(_ channel: any Channel) {
        guard channel === self.channel else { return }
        connectionLost(reason: "collector \(address) closed the connection")
    }

    /// Drops the connection (its in-flight batches stay in the spool) and schedules the next attempt.
    private func connectionLost(reason: String) {
        guard phase != .stopped else { return }
        let old = channel
        channel = nil
        inFlight = []
        old?.close(promise: nil)
        failures += 1
        let delay = backoff(failures: failures)
        if reason != lastProblem {
            report("\(reason); retrying in \(String(format: "%.1f", delay)) s")
        }
        lastProblem = reason
        phase = .idle
        reconnect = loop.scheduleTask(in: .nanoseconds(Int64(delay * 1e9))) { self.connect() }
    }

    /// Exponential backoff with jitter: the n-th consecutive failure waits U[d/2, d], d = initial * 2^(n-1) capped.
    func backoff(failures: Int) -> Double {
        let ceiling = min(options.maximumBackoff, options.initialBackoff * pow(2, Double(min(failures, 30) - 1)))
        return Double.random(in: (ceiling / 2)...ceiling)
    }

    private func checkDrained() {
        guard spool.pendingBatches == 0, !drainWaiters.isEmpty else { return }
        for waiter in drainWaiters { waiter.succeed(()) }
        drainWaiters = []
    }

    private func send(_ envelope: Wirewatch_V1_Envelope, on channel: any Channel) {
        var buffer = channel.allocator.buffer(capacity: 64)
        guard (try? EnvelopeCodec.encode(envelope, into: &buffer)) != nil else { return }
        channel.writeAndFlush(buffer, promise: nil)
    }
}

struct DrainTimeout: Error {}

/// Forwards a connection's events to its client (on the client's event loop).
private final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let client: CollectorClient
    private let channel: any Channel

    init(client: CollectorClient, channel: any Channel) {
        self.client = client
        self.channel = channel
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            client.received(try EnvelopeCodec.decode(unwrapInboundIn(data)), on: channel)
        } catch {
            client.failed(error, on: channel)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        client.writabilityChanged(on: channel)
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent { client.idle(idle, on: channel) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        client.failed(error, on: channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.closed(channel)
        context.fireChannelInactive()
    }
}
