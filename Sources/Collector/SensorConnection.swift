import Certs
import Flows
import Foundation
import Logging
import NIOCore
import NIOSSL
import NIOTLS
import Store
import Wire

/// One sensor's connection, after TLS: Hello -> HelloAck, then batches -> acks after commit (proto/README.md).
/// Every refusal sends an Error frame when the TLS session allows it, closes this connection only, and logs one
/// line naming the peer and the reason; refusals before the TLS handshake completes (no session to carry an
/// Error) close at once and are summed up by `RefusalSummary` instead of one line each.
///
/// Memory: a frame is decoded only when it fits the connection's budget (`window` batches and
/// `maxInFlightBytes` of decoded batches handed to the store and not committed, and the collector-wide
/// `maxInFlightBytesTotal`); frames that do not fit wait as raw bytes and reading pauses, so what one connection
/// holds is bounded by the budget, one decoded frame, and what was read before the pause.
final class SensorConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// TLS handshake in progress (or done, Hello not yet received).
        case awaitingHello
        /// Hello accepted; the store is looking up the committed sequence.
        case openingSession(name: String)
        case streaming(name: String)
        case closed
    }

    private let options: CollectorOptions
    private let ingest: Ingest
    private let logger: Logger
    private let metrics: CollectorMetrics
    private var state = State.awaitingHello
    private var peer = "unknown peer"
    private var certificateName: String?
    private var certificateSerial: [UInt8] = []
    /// The sensor's name from HelloAck until the connection is gone (the connected-sensors gauge counts it).
    private var connectedName: String?
    private var bootID: [UInt8] = []
    private let stream = StreamState()
    /// Batches handed to the store and not yet answered.
    private var uncommitted = 0
    /// What those batches cost in memory (`cost(frameBytes:records:)`).
    private var inFlightBytes = 0
    /// Frames read while over budget, not yet decoded; reading is paused while any wait.
    private var waiting = CircularBuffer<ByteBuffer>()
    private var readPaused = false
    private var loggedFailure = false
    /// Impossible records dropped since the last log line about them, and when that line was written.
    private var droppedSinceLog = 0
    private var lastDropLog: NIODeadline?
    /// The highest sequence committed or handed to the store on this connection (the jump limit counts from it).
    private var highestSequence: UInt64 = 0
    private var handshakeDone: Bool
    private var handshakeTask: Scheduled<Void>?
    /// This connection's place in `sessions` once its Hello was accepted.
    private var sessionID: UInt64?

    private let sessions: SessionRegistry
    private let refusals: RefusalSummary?
    private let inFlightTotal: InFlightBytes?

    /// Told when a streaming sensor sends a heartbeat (`disconnected` false) or its connection closes (true).
    private let presence: (@Sendable (_ sensor: String, _ disconnected: Bool) -> Void)?

    /// `certificateName` is known in advance only in unit tests without TLS; normally it comes from the handshake.
    init(
        options: CollectorOptions, ingest: Ingest, logger: Logger, metrics: CollectorMetrics,
        certificateName: String? = nil, presence: (@Sendable (_ sensor: String, _ disconnected: Bool) -> Void)? = nil,
        sessions: SessionRegistry = SessionRegistry(), refusals: RefusalSummary? = nil,
        inFlightTotal: InFlightBytes? = nil
    ) {
        self.presence = presence
        self.sessions = sessions
        self.refusals = refusals
        self.inFlightTotal = inFlightTotal
        self.handshakeDone = certificateName != nil
        self.options = options
        self.ingest = ingest
        self.logger = logger
        self.metrics = metrics
        self.certificateName = certificateName
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { started(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        started(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        handshakeTask?.cancel()
    }

    /// Starts the handshake deadline: a peer that has not completed TLS by then is closed outright (nothing can
    /// be sent to it), whatever it is still sending.
    private func started(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress.map(Self.describe) ?? "unknown peer"
        guard !handshakeDone, handshakeTask == nil else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let seconds = Self.seconds(options.handshakeTimeout)
        handshakeTask = context.eventLoop.scheduleTask(in: options.handshakeTimeout) {
            let (handler, context) = bound.value
            guard !handler.handshakeDone else { return }
            handler.refuseUnauthenticated(
                .handshakeDeadline, reason: "no TLS handshake within \(seconds) s", context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            handshakeDone = true
            handshakeTask?.cancel()
            handshakeTask = nil
            readCertificateName(context: context)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            idleTimedOut(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Silence is the sensor's fault only while the collector owes it nothing: a sensor waiting for acks of
    /// batches the store has not committed yet, or whose frames wait for the collector to read them, is not idle.
    private func idleTimedOut(context: ChannelHandlerContext) {
        guard uncommitted == 0, waiting.isEmpty, !readPaused else { return }
        let reason = "no frame for \(Self.seconds(options.idleTimeout)) s"
        if handshakeDone {
            refuse(context: context, code: .idleTimeout, reason: reason)
        } else {
            refuseUnauthenticated(.idle, reason: reason, context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .closed = state { return }
        guard waiting.isEmpty, fits(frame) else {
            waiting.append(frame)
            pauseReading(context: context)
            return
        }
        process(frame, context: context)
    }

    /// Whether a frame may be decoded now. A connection with nothing in flight always may (so it can never wait
    /// on other connections' commits forever); otherwise the frame must fit the window and both byte budgets.
    private func fits(_ frame: ByteBuffer) -> Bool {
        guard case .streaming = state, uncommitted > 0 else { return true }
        let size = WireProtocol.lengthPrefixBytes + frame.readableBytes
        guard uncommitted < Int(options.window), inFlightBytes + size <= options.maxInFlightBytes else { return false }
        return inFlightTotal?.fits(size) ?? true
    }

    private func pauseReading(context: ChannelHandlerContext) {
        guard !readPaused else { return }
        readPaused = true
        _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
    }

    /// Decodes the frames that waited while they fit, then resumes reading once the connection is well under
    /// its budget (half the window and half the bytes, so reading does not flap on every commit).
    private func resumeIfRoom(context: ChannelHandlerContext) {
        while let frame = waiting.first, fits(frame) {
            waiting.removeFirst()
            process(frame, context: context)
            if case .closed = state { return }
        }
        guard readPaused, waiting.isEmpty, uncommitted <= Int(options.window) / 2,
            inFlightBytes <= options.maxInFlightBytes / 2
        else { return }
        readPaused = false
        _ = context.channel.setOption(ChannelOptions.autoRead, value: true)
    }

    private func process(_ frame: ByteBuffer, context: ChannelHandlerContext) {
        if case .closed = state { return }
        // Batches, nearly every frame, straight from the bytes to records; the rest (and whatever that reader leaves
        // to swift-protobuf) below.
        if case .streaming(let name) = state, let batch = BatchFrame.decode(frame, sensor: name) {
            let frameBytes = WireProtocol.lengthPrefixBytes + frame.readableBytes
            metrics.received(frameBytes: frameBytes)
            store(batch, frameBytes: frameBytes, from: name, context: context)
            return
        }
        let envelope: Wirewatch_V1_Envelope
        do {
            envelope = try EnvelopeCodec.decode(frame)
        } catch {
            refuse(context: context, code: error.code, reason: error.description)
            return
        }
        switch (state, envelope.body) {
        case (.awaitingHello, .hello(let hello)):
            accept(hello, context: context)
        case (.streaming(let name), .batch(let batch)):
            let frameBytes = WireProtocol.lengthPrefixBytes + frame.readableBytes
            metrics.received(frameBytes: frameBytes)
            let (records, refused) = batch.recordsAndRefusals(sensor: name)
            store(
                BatchFrame.Decoded(sequence: batch.sequence, records: records, refused: refused),
                frameBytes: frameBytes, from: name, context: context)
        case (.streaming(let name), .heartbeat):
            presence?(name, false)
            var answer = Wirewatch_V1_Envelope()
            answer.heartbeat.sentAtMicros = Int64(Date().timeIntervalSince1970 * 1_000_000)
            send(answer, context: context)
        case (_, .error(let error)):
            logOnce("\(peer): sensor sent error \(error.code): \(HelloCheck.shown(error.message))", level: .warning)
            close(context: context)
        case (.openingSession, _):
            // Nothing may follow Hello before HelloAck.
            refuse(context: context, code: .unexpectedMessage, reason: "\(Self.name(of: envelope)) before HelloAck")
        default:
            let expected = if case .awaitingHello = state { "Hello" } else { "RecordBatch or Heartbeat" }
            refuse(
                context: context, code: .unexpectedMessage,
                reason: "\(Self.name(of: envelope)) where \(expected) was expected")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .closed = state { return }
        if let frame = error as? FrameError {
            refuse(context: context, code: frame.code, reason: frame.description)
        } else if error is NIOSSLError || error is BoringSSLError {
            let reason = "TLS: \(error)"
            if case .streaming = state {
                logOnce("\(peer): connection ended: \(reason)", level: .info)
            } else if !handshakeDone {
                refuseUnauthenticated(.tls, reason: reason, context: context)
                return
            } else {
                metrics.refused()
                logOnce("refused \(peer): \(reason)", level: .warning)
            }
            close(context: context)
        } else {
            logOnce("\(peer): connection failed: \(error)", level: .info)
            close(context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeTask?.cancel()
        waiting.removeAll()
        if let sessionID, let certificateName { sessions.release(certificateName, id: sessionID) }
        // Counted by whether the session was ever announced as connected, not by the state it ends in: a refused
        // or replaced session is already `.closed` here and must still be counted out.
        if let name = connectedName {
            connectedName = nil
            metrics.disconnected()
            presence?(name, true)
            logger.info("sensor \(name) disconnected (\(peer))", metadata: logMetadata)
        }
        state = .closed
        context.fireChannelInactive()
    }

    // MARK: protocol steps

    private func readCertificateName(context: ChannelHandlerContext) {
        guard certificateName == nil else { return }
        do {
            let handler = try context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self)
            guard let certificate = handler.peerCertificate else {
                refuse(context: context, code: .notAllowed, reason: "no client certificate")
                return
            }
            certificateName = try CertificateIdentity.name(fromDER: try certificate.toDERBytes())
            certificateSerial = certificate.serialNumber
        } catch {
            refuse(context: context, code: .notAllowed, reason: "client certificate has no usable name: \(error)")
        }
    }

    private func accept(_ hello: Wirewatch_V1_Hello, context: ChannelHandlerContext) {
        if certificateName == nil { readCertificateName(context: context) }
        guard let certified = certificateName else { return }
        let version: UInt32
        switch HelloCheck.negotiate(hello, certifiedName: certified) {
        case .success(let agreed): version = agreed
        case .failure(let refusal):
            refuse(context: context, code: refusal.code, reason: refusal.reason)
            return
        }
        if let allowed = options.allowList, !allowed.contains(certified) {
            refuse(context: context, code: .notAllowed, reason: "sensor \"\(certified)\" is not on the allow-list")
            return
        }
        bootID = [UInt8](hello.bootID)
        state = .openingSession(name: certified)
        let session = SensorSession(
            name: certified, bootID: bootID, source: hello.source, softwareVersion: hello.softwareVersion)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        let claim = sessions.claim(certified, serial: certificateSerial) { reason in
            loop.submit {
                let (handler, context) = bound.value
                handler.evicted(reason, context: context)
            }
        }
        sessionID = claim.id
        // The replaced connection stops handing batches to the store before this one asks for its committed
        // sequence; the store's queue commits what it handed over first (exactly-once across the replacement).
        let previous =
            claim.replaced?.evict("replaced by a newer connection from \(peer)").hop(to: loop)
            ?? loop.makeSucceededVoidFuture()
        previous.whenComplete { _ in
            let (handler, _) = bound.value
            guard case .openingSession = handler.state else { return }
            handler.ingest.open(session, on: loop).whenComplete { result in
                let (handler, context) = bound.value
                handler.sessionOpened(result, name: certified, version: version, context: context)
            }
        }
    }

    /// A newer connection of the same sensor took over, or its certificate was revoked (see `SessionRegistry`).
    private func evicted(_ reason: String, context: ChannelHandlerContext) {
        if case .closed = state { return }
        refuse(context: context, code: .notAllowed, reason: reason)
    }

    private func sessionOpened(
        _ result: Result<UInt64, any Error>, name certified: String, version: UInt32, context: ChannelHandlerContext
    ) {
        guard case .openingSession = self.state else { return }
        switch result {
        case .success(let committed):
            self.state = .streaming(name: certified)
            self.highestSequence = committed
            self.metrics.connected()
            self.connectedName = certified
            var answer = Wirewatch_V1_Envelope()
            answer.helloAck.protocolVersion = version
            answer.helloAck.committedSequence = committed
            answer.helloAck.maxFrameBytes = UInt32(clamping: self.options.maxFrameBytes)
            answer.helloAck.window = self.options.window
            self.send(answer, context: context)
            self.logger.info(
                "sensor \(certified) connected from \(self.peer), committed sequence \(committed)",
                metadata: self.logMetadata.merging(["committed": "\(committed)"]) { $1 })
        case .failure(let error):
            self.refuse(context: context, code: .storageFailure, reason: "store: \(error)")
        }
    }

    private func store(
        _ batch: BatchFrame.Decoded, frameBytes: Int, from name: String, context: ChannelHandlerContext
    ) {
        guard batch.sequence > 0 else {
            refuse(context: context, code: .badFrame, reason: "batch without a sequence number")
            return
        }
        // Sequences may skip ahead (a full spool drops its oldest batches) but not without bound: a sensor that
        // jumped near 2^64 would have no numbers left, every later batch of its stream a "replay" dropped forever.
        // A jump of 2^32 is more than a spool can drop; 2^63 leaves room for any stream that gets there honestly.
        guard batch.sequence < CollectorOptions.maxSequence,
            batch.sequence - min(batch.sequence, highestSequence) <= CollectorOptions.maxSequenceJump
        else {
            refuse(
                context: context, code: .badFrame,
                reason: "batch \(batch.sequence) is out of range: sequences go at most "
                    + "\(CollectorOptions.maxSequenceJump) past the highest so far (\(highestSequence)) and stay below 2^63"
            )
            return
        }
        let (records, impossible) = (batch.records, batch.refused)
        if !impossible.isEmpty { dropped(impossible, batch: batch.sequence, sensor: name) }
        let sequence = batch.sequence
        highestSequence = max(highestSequence, sequence)
        uncommitted += 1
        let cost = Self.cost(frameBytes: frameBytes, records: records.count)
        inFlightBytes += cost
        inFlightTotal?.add(cost)
        // Pausing as soon as the budget is used up keeps NIO from reading further frames into memory.
        if uncommitted >= Int(options.window) || inFlightBytes >= options.maxInFlightBytes {
            pauseReading(context: context)
        }
        let stored = StoredBatch(sensor: name, bootID: bootID, sequence: sequence, records: records)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ingest.commit(stored, stream: stream, on: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            handler.committed(result, sequence: sequence, cost: cost, context: context)
        }
    }

    private func committed(
        _ result: Result<CommitOutcome, any Error>, sequence: UInt64, cost: Int, context: ChannelHandlerContext
    ) {
        self.uncommitted -= 1
        self.inFlightBytes -= cost
        self.inFlightTotal?.remove(cost)
        defer { if case .streaming = self.state { self.resumeIfRoom(context: context) } }
        switch result {
        case .success(let outcome):
            if case .stored(let count) = outcome { self.metrics.stored(records: count) }
            guard case .streaming = self.state else { return }
            var ack = Wirewatch_V1_Envelope()
            ack.ack.sequence = sequence
            self.send(ack, context: context)
        case .failure(IngestError.earlierBatchFailed):
            break
        case .failure(let error):
            self.refuse(
                context: context, code: .storageFailure, reason: "batch \(sequence) not stored: \(error)")
        }
    }

    /// Counts records dropped as impossible and logs them: the first batch's at once, then at most one line per
    /// `impossibleLogInterval` with the count since, so a sensor cannot flood the log one batch at a time.
    private func dropped(_ impossible: [WireRecordError], batch sequence: UInt64, sensor: String) {
        metrics.refused(records: impossible.count)
        droppedSinceLog += impossible.count
        let now = NIODeadline.now()
        if let last = lastDropLog, now - last < Self.impossibleLogInterval { return }
        let (count, since) = (droppedSinceLog, lastDropLog == nil ? "" : " since the last report")
        droppedSinceLog = 0
        lastDropLog = now
        logger.warning(
            "sensor \(sensor): dropped \(count) records no sensor can produce\(since) (batch \(sequence): \(impossible[0]))",
            metadata: logMetadata.merging(["dropped": "\(count)"]) { $1 })
    }

    private static let impossibleLogInterval = TimeAmount.seconds(10)

    // MARK: output

    private func send(_ envelope: Wirewatch_V1_Envelope, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        do {
            try EnvelopeCodec.encode(envelope, into: &buffer)
        } catch {
            logOnce("\(peer): cannot encode \(Self.name(of: envelope)): \(error)", level: .error)
            return
        }
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// Closes a connection that has not completed its TLS handshake: no Error can be sent, and the refusal is
    /// counted in the summary line rather than logged on its own.
    private func refuseUnauthenticated(_ kind: RefusalSummary.Kind, reason: String, context: ChannelHandlerContext) {
        if case .closed = state { return }
        metrics.refused()
        if let refusals {
            loggedFailure = true
            refusals.refused(kind, peer: peer, reason: reason)
        } else {
            logOnce("refused \(peer) before authentication: \(reason)", level: .warning)
        }
        close(context: context)
    }

    /// Sends Error (if the connection can still carry one), logs one line and closes this connection.
    private func refuse(context: ChannelHandlerContext, code: Wirewatch_V1_Error.Code, reason: String) {
        if case .closed = state { return }
        waiting.removeAll()
        let wasStreaming = if case .streaming = state { true } else { false }
        let who = certificateName.map { "sensor \($0) (\(peer))" } ?? peer
        if wasStreaming {
            logOnce("closed \(who): \(reason)", level: .warning, code: code)
        } else {
            metrics.refused()
            logOnce("refused \(who): \(reason)", level: .warning, code: code)
        }
        var envelope = Wirewatch_V1_Envelope()
        envelope.error.code = code
        envelope.error.message = reason
        var buffer = context.channel.allocator.buffer(capacity: 64 + reason.utf8.count)
        state = .closed
        guard handshakeDone, (try? EnvelopeCodec.encode(envelope, into: &buffer)) != nil, context.channel.isActive
        else {
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
        // A peer that reads nothing would hold the Error (and the socket) forever; it gets a moment, not more.
        channel.eventLoop.scheduleTask(in: Self.errorGrace) { channel.close(promise: nil) }
    }

    /// What a decoded batch holds in memory until it is committed: its records, estimated at
    /// `decodedRecordBytes` each, and at least its frame (whose bytes the decoded strings may share).
    static func cost(frameBytes: Int, records: Int) -> Int {
        max(frameBytes, records.multipliedReportingOverflow(by: decodedRecordBytes).partialValue)
    }

    /// A decoded `Record` with its strings and arrays, measured at about 0.4 KB (a small wire record decodes to
    /// several times its size, which is why the budget counts decoded bytes, not frame bytes).
    static let decodedRecordBytes = 400

    /// How long a refused peer has to take its Error frame before the socket is closed regardless.
    static let errorGrace = TimeAmount.seconds(2)

    static func seconds(_ amount: TimeAmount) -> String {
        let value = Double(amount.nanoseconds) / 1e9
        return value == value.rounded() ? "\(Int(value))" : "\(value)"
    }

    private func close(context: ChannelHandlerContext) {
        state = .closed
        context.close(promise: nil)
    }

    private func logOnce(_ message: String, level: Logger.Level, code: Wirewatch_V1_Error.Code? = nil) {
        guard !loggedFailure else { return }
        loggedFailure = true
        var metadata = logMetadata
        if let code { metadata["error.code"] = "\(code)" }
        logger.log(level: level, "\(message)", metadata: metadata)
    }

    /// The connection's fields for structured logs (swift-log metadata): the peer and, once known, the sensor.
    private var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = ["peer": "\(peer)"]
        if let certificateName { metadata["sensor"] = "\(certificateName)" }
        return metadata
    }

    static func describe(_ address: SocketAddress) -> String {
        switch address {
        case .v4, .v6:
            if let ip = address.ipAddress, let port = address.port {
                return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
            }
            return "\(address)"
        case .unixDomainSocket:
            return "\(address)"
        }
    }

    static func name(of envelope: Wirewatch_V1_Envelope) -> String {
        switch envelope.body {
        case .hello: return "Hello"
        case .helloAck: return "HelloAck"
        case .batch: return "RecordBatch"
        case .ack: return "Ack"
        case .heartbeat: return "Heartbeat"
        case .error: return "Error"
        case nil: return "empty Envelope"
        }
    }
}
