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
/// line naming the peer and the reason.
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
    private var bootID: [UInt8] = []
    private let stream = StreamState()
    /// Batches handed to the store and not yet answered; reading pauses above the window.
    private var uncommitted = 0
    private var readPaused = false
    private var loggedFailure = false

    /// Told when a streaming sensor sends a heartbeat (`disconnected` false) or its connection closes (true).
    private let presence: (@Sendable (_ sensor: String, _ disconnected: Bool) -> Void)?

    /// `certificateName` is known in advance only in unit tests without TLS; normally it comes from the handshake.
    init(
        options: CollectorOptions, ingest: Ingest, logger: Logger, metrics: CollectorMetrics,
        certificateName: String? = nil, presence: (@Sendable (_ sensor: String, _ disconnected: Bool) -> Void)? = nil
    ) {
        self.presence = presence
        self.options = options
        self.ingest = ingest
        self.logger = logger
        self.metrics = metrics
        self.certificateName = certificateName
    }

    func channelActive(context: ChannelHandlerContext) {
        peer = context.channel.remoteAddress.map(Self.describe) ?? "unknown peer"
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted = tls {
            readCertificateName(context: context)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            refuse(
                context: context, code: .idleTimeout,
                reason: "no frame for \(Double(options.idleTimeout.nanoseconds) / 1e9) s")
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if case .closed = state { return }
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
            metrics.received(frameBytes: WireProtocol.lengthPrefixBytes + frame.readableBytes)
            store(batch, from: name, context: context)
        case (.streaming(let name), .heartbeat):
            presence?(name, false)
            var answer = Wirewatch_V1_Envelope()
            answer.heartbeat.sentAtMicros = Int64(Date().timeIntervalSince1970 * 1_000_000)
            send(answer, context: context)
        case (_, .error(let error)):
            logOnce("\(peer): sensor sent error \(error.code): \(error.message)", level: .warning)
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
        if case .streaming(let name) = state {
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
        } catch {
            refuse(context: context, code: .notAllowed, reason: "client certificate has no usable name: \(error)")
        }
    }

    private func accept(_ hello: Wirewatch_V1_Hello, context: ChannelHandlerContext) {
        if certificateName == nil { readCertificateName(context: context) }
        guard let certified = certificateName else { return }
        let version = min(WireProtocol.version, hello.protocolVersion)
        guard version >= 1 else {
            refuse(
                context: context, code: .unsupportedVersion,
                reason:
                    "sensor speaks version \(hello.protocolVersion); this collector speaks 1...\(WireProtocol.version)")
            return
        }
        guard hello.sensorName == certified else {
            refuse(
                context: context, code: .nameMismatch,
                reason: "Hello names sensor \"\(hello.sensorName)\" but the certificate is for \"\(certified)\"")
            return
        }
        if let allowed = options.allowList, !allowed.contains(certified) {
            refuse(context: context, code: .notAllowed, reason: "sensor \"\(certified)\" is not on the allow-list")
            return
        }
        guard hello.bootID.count == 16 else {
            refuse(context: context, code: .badFrame, reason: "boot id of \(hello.bootID.count) bytes, not 16")
            return
        }
        bootID = [UInt8](hello.bootID)
        state = .openingSession(name: certified)
        let session = SensorSession(
            name: certified, bootID: bootID, source: hello.source, softwareVersion: hello.softwareVersion)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ingest.open(session, on: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            handler.sessionOpened(result, name: certified, version: version, context: context)
        }
    }

    private func sessionOpened(
        _ result: Result<UInt64, any Error>, name certified: String, version: UInt32, context: ChannelHandlerContext
    ) {
        guard case .openingSession = self.state else { return }
        switch result {
        case .success(let committed):
            self.state = .streaming(name: certified)
            self.metrics.connected()
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

    private func store(_ batch: Wirewatch_V1_RecordBatch, from name: String, context: ChannelHandlerContext) {
        let records: [Record]
        do {
            records = try batch.records(sensor: name)
        } catch {
            refuse(context: context, code: .badFrame, reason: "batch \(batch.sequence): \(error)")
            return
        }
        guard batch.sequence > 0 else {
            refuse(context: context, code: .badFrame, reason: "batch without a sequence number")
            return
        }
        let sequence = batch.sequence
        uncommitted += 1
        if uncommitted > Int(options.window) && !readPaused {
            readPaused = true
            _ = context.channel.setOption(ChannelOptions.autoRead, value: false)
        }
        let stored = StoredBatch(sensor: name, bootID: bootID, sequence: sequence, records: records)
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        ingest.commit(stored, stream: stream, on: context.eventLoop).whenComplete { result in
            let (handler, context) = bound.value
            handler.committed(result, sequence: sequence, context: context)
        }
    }

    private func committed(_ result: Result<CommitOutcome, any Error>, sequence: UInt64, context: ChannelHandlerContext)
    {
        self.uncommitted -= 1
        if self.readPaused && self.uncommitted <= Int(self.options.window) / 2 {
            self.readPaused = false
            _ = context.channel.setOption(ChannelOptions.autoRead, value: true)
        }
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

    /// Sends Error (if the connection can still carry one), logs one line and closes this connection.
    private func refuse(context: ChannelHandlerContext, code: Wirewatch_V1_Error.Code, reason: String) {
        if case .closed = state { return }
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
        guard (try? EnvelopeCodec.encode(envelope, into: &buffer)) != nil, context.channel.isActive else {
            context.close(promise: nil)
            return
        }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in channel.close(promise: nil) }
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
