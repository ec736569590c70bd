import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

// Clients that attack the collector, shared by the hostile-peer tests and the load test. Attackers connect from
// 127.0.0.2, so the per-address limit they hit is not the one of the sensors on 127.0.0.1.

/// Plain TCP connections from another loopback address that never complete TLS (each sends `bytes`, maybe none).
final class RawConnections: Sendable {
    private let descriptors = Mutex<[Int32]>([])
    let port: Int
    let source: String

    init(port: Int, source: String = "127.0.0.2") {
        self.port = port
        self.source = source
    }

    deinit { descriptors.withLock { $0.forEach { _ = close($0) } } }

    /// Opens `count` connections (blocking connects: loopback completes them at once while the backlog has room).
    func open(_ count: Int, sending bytes: [UInt8] = []) {
        for _ in 0..<count {
            let descriptor = Self.connect(port: port, from: source)
            guard descriptor >= 0 else { continue }
            if !bytes.isEmpty {
                _ = bytes.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            descriptors.withLock { $0.append(descriptor) }
        }
    }

    var count: Int { descriptors.withLock { $0.count } }

    /// Closes every connection on this side.
    func closeAll() {
        descriptors.withLock { descriptors in
            descriptors.forEach { _ = close($0) }
            descriptors = []
        }
    }

    /// Closes (on this side) the connections the collector has closed; returns how many that was.
    @discardableResult
    func reapClosed() -> Int {
        descriptors.withLock { descriptors in
            let before = descriptors.count
            descriptors.removeAll { descriptor in
                let closed = Self.closedByPeer(descriptor)
                if closed { close(descriptor) }
                return closed
            }
            return before - descriptors.count
        }
    }

    /// Waits until at most `open` connections are left open by the collector (or `seconds` pass); returns what is.
    func waitUntilOpen(atMost open: Int, seconds: Double) async -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            reapClosed()
            if count <= open { return count }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        reapClosed()
        return count
    }

    /// True when the collector has closed this connection (or reset it); never blocks.
    static func closedByPeer(_ descriptor: Int32) -> Bool {
        var byte: UInt8 = 0
        let result = recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT))
        return result == 0 || (result < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    static func connect(port: Int, from source: String) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return -1 }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        remote.sin_addr.s_addr = inet_addr("127.0.0.1")
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let connected = withUnsafePointer(to: &local) { localPointer in
            withUnsafePointer(to: &remote) { remotePointer in
                localPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { localAddress in
                    remotePointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { remoteAddress in
                        Glibc.bind(descriptor, localAddress, size) == 0
                            && Glibc.connect(descriptor, remoteAddress, size) == 0
                    }
                }
            }
        }
        guard connected else {
            close(descriptor)
            return -1
        }
        return descriptor
    }
}

/// A TLS record header announcing a 512-byte handshake message and the first bytes of a ClientHello: a handshake
/// that starts and never finishes.
let partialClientHello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]

/// Connects with TLS, says Hello, then (once the HelloAck arrived) sends `frame` one byte per `every`; returns
/// what the collector sent until it closed the connection.
func trickle(
    port: Int, tls: NIOSSLContext, hello: [UInt8], frame: [UInt8], every: TimeAmount, timeout: Double = 15
) async throws -> RawResult {
    try await exchange(port: port, tls: tls, sending: hello, timeout: timeout) { done in
        TrickleClient(done: done, frame: frame, every: every)
    }
}

final class NextByte: Sendable {
    let index = Atomic<Int>(0)
}

final class TrickleClient: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var received: [UInt8] = []
    private let done: EventLoopPromise<RawResult>
    private let frame: [UInt8]
    private let every: TimeAmount
    private var task: RepeatedTask?

    init(done: EventLoopPromise<RawResult>, frame: [UInt8], every: TimeAmount) {
        self.done = done
        self.frame = frame
        self.every = every
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += Array(unwrapInboundIn(data).readableBytesView)
        guard task == nil, !RawResult(received: received, error: nil).envelopes.isEmpty else { return }
        let channel = context.channel
        let bytes = frame
        let next = NextByte()
        task = context.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { task in
            let index = next.index.add(1, ordering: .relaxed).oldValue
            guard index < bytes.count else {
                task.cancel()
                return
            }
            var buffer = channel.allocator.buffer(capacity: 1)
            buffer.writeInteger(bytes[index])
            channel.writeAndFlush(buffer, promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        task?.cancel()
        done.succeed(RawResult(received: received, error: nil))
    }
}
