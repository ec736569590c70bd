import Collector
import Foundation
import NIOCore
import NIOPosix
import Spool
import Synchronization
import TestSupport
import Testing

/// A TCP relay on 127.0.0.1 between the sensor and the collector that a test can cut: every relayed connection
/// is closed at once and new ones are refused until it is restored.
final class CuttableRelay: Sendable {
    private final class State: Sendable {
        let connections = Mutex<[any Channel]>([])
        let isCut = Atomic<Bool>(false)
    }
    private let listener: any Channel
    private let state = State()
    let port: Int

    init(to targetPort: Int) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let state = state
        listener = try await ServerBootstrap(group: group)
            .childChannelOption(ChannelOptions.autoRead, value: false)
            .childChannelInitializer { inbound in
                if state.isCut.load(ordering: .relaxed) { return inbound.close() }
                return ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        // Both ends live on the inbound channel's event loop, so the relay never hops threads.
                        state.connections.withLock { $0 += [inbound, outbound] }
                        do {
                            let (a, b) = RelayHandler.pair()
                            try inbound.pipeline.syncOperations.addHandler(a)
                            try outbound.pipeline.syncOperations.addHandler(b)
                        } catch {
                            return inbound.eventLoop.makeFailedFuture(error)
                        }
                        return inbound.setOption(ChannelOptions.autoRead, value: true)
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = listener.localAddress?.port ?? 0
    }

    /// Drops every relayed connection and refuses new ones.
    func cut() {
        state.isCut.store(true, ordering: .relaxed)
        let open = state.connections.withLock { open in
            defer { open = [] }
            return open
        }
        for channel in open { channel.close(promise: nil) }
    }

    func restore() { state.isCut.store(false, ordering: .relaxed) }

    func close() { listener.close(promise: nil) }
}

/// Forwards what one side reads to the other side; closing one closes both.
private final class RelayHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?

    static func pair() -> (RelayHandler, RelayHandler) {
        let a = RelayHandler()
        let b = RelayHandler()
        a.partner = b
        b.partner = a
        return (a, b)
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.forward(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func forward(_ data: NIOAny) {
        context?.writeAndFlush(data, promise: nil)
    }
}

@Suite("network cut")
struct NetworkCutTests {
    @Test("the network is cut mid-delivery and restored: every record stored once")
    func cutAndRestore() async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let relay = try await CuttableRelay(to: collector.port)
        defer { relay.close() }
        let capture = try Harness.temporaryDirectory().appendingPathComponent("load.pcap").path
        try PcapWriter.udpFlows(path: capture, count: 3000)
        let expected = try expectedRecords([capture], sensor: "edge-1").map(normalizedJSON).sorted()
        async let shipped = shipInProcess([capture], sensor: "edge-1", pki: pki, port: relay.port, batchRecords: 4)
        // Cut once some batches are in, keep it cut for a while (the sensor keeps retrying), restore.
        let deadline = Date().addingTimeInterval(30)
        while collector.server.metrics.batches < 20 && Date() < deadline {
            try await Task.sleep(nanoseconds: 2_000_000)
        }
        relay.cut()
        let atCut = collector.server.metrics.records
        try await Task.sleep(nanoseconds: 700_000_000)
        #expect(collector.server.metrics.records < expected.count, "the delivery finished before the cut")
        relay.restore()
        let spool = try await shipped
        #expect(spool.pendingBatches == 0)
        #expect(atCut > 0)
        #expect(try collector.jsonLines(sensor: "edge-1") == expected)
    }
}
