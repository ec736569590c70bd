import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Shipper
import Spool
import Synchronization
import TestSupport
import Testing
import Wire

/// The batch sequences a stand-in collector received, in order.
private final class ReceivedSequences: Sendable {
    let list = Mutex<[UInt64]>([])
}

/// A collector stand-in on 127.0.0.1 that answers Hello with `window` 1 and acknowledges batch 1 as 1,000 (and
/// every other batch as itself), and records the sequences it received.
private final class StrayAckCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer

    let received: ReceivedSequences

    init(received: ReceivedSequences) {
        self.received = received
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let envelope = try? EnvelopeCodec.decode(unwrapInboundIn(data)) else { return }
        var answer = Wirewatch_V1_Envelope()
        switch envelope.body {
        case .hello:
            answer.helloAck.window = 1
            answer.helloAck.maxFrameBytes = 1 << 20
            answer.helloAck.committedSequence = 0
        case .batch(let batch):
            received.list.withLock { $0.append(batch.sequence) }
            answer.ack.sequence = batch.sequence == 1 ? 1000 : batch.sequence
        default:
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        try? EnvelopeCodec.encode(answer, into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}

extension StrayAckCollector {
    typealias OutboundOut = ByteBuffer
}

@Suite("acks the sensor did not send a batch for")
struct StrayAckTests {
    @Test("an ack above the last batch sent deletes only what was sent; the rest is still sent and stored")
    func ackAboveSentDeletesNothingElse() async throws {
        let pki = try PKI()
        let tls = try MutualTLS.serverContext(pki.serverFiles)
        let received = ReceivedSequences()
        let group = MultiThreadedEventLoopGroup.singleton
        let server = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(NIOSSLServerHandler(context: tls))
                    try sync.addHandler(ByteToMessageHandler(FrameDecoder(maxFrameBytes: 1 << 20)))
                    try sync.addHandler(StrayAckCollector(received: received))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { server.close(promise: Optional<EventLoopPromise<Void>>.none) }
        let port = try #require(server.localAddress?.port)

        let spool = try Spool(directory: nil, maxBytes: 1 << 20)
        for sequence in 1...3 {
            try spool.append(recordCount: 1, payload: [])
            #expect(spool.highestSequence == UInt64(sequence))
        }
        var options = ShipperOptions(host: "127.0.0.1", port: port, sensorName: "edge-1")
        options.initialBackoff = 0.05
        options.maximumBackoff = 0.5
        let client = CollectorClient(
            options: options, spool: spool, tls: try MutualTLS.clientContext(pki.sensorFiles("edge-1")),
            report: { _ in }
        )
        defer { client.shutdown() }
        client.start()
        #expect((try? await client.drained(timeout: 30).get()) != nil, "\(client.lastError ?? "")")
        // With window 1, batch 1's ack (as 1,000) arrives while 2 and 3 are unsent: they must still go out.
        #expect(received.list.withLock { $0 } == [1, 2, 3])
    }
}
