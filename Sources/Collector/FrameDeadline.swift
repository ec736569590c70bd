import NIOCore
import Wire

/// Closes a connection whose frame, once its first byte has arrived, is not complete within the deadline: a peer
/// trickling a 16 MiB frame a byte at a time would otherwise keep that buffer forever. Sits between TLS and the
/// `FrameDecoder`, counts bytes without holding any, and reports `FrameError.incomplete` down the pipeline (the
/// `SensorConnection` refuses with it). Time the collector itself stops reading (backpressure) does not count.
final class FrameDeadline: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = NIOAny

    private let timeout: TimeAmount
    private var boundaries = FrameBoundaries()
    private var task: Scheduled<Void>?
    /// When the current frame's clock started (its first byte, or the collector's last resumption of reading).
    private var started = NIODeadline.now()

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let wasInFrame = boundaries.inFrame
        let completed = boundaries.advance(over: buffer.readableBytesView)
        if completed > 0 || !wasInFrame {
            task?.cancel()
            task = nil
            if boundaries.inFrame { arm(context: context) }
        }
        context.fireChannelRead(data)
    }

    /// Reading paused by the collector stops the frame's clock: a resumed read restarts it.
    func read(context: ChannelHandlerContext) {
        if boundaries.inFrame && task == nil { arm(context: context) }
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        task?.cancel()
        task = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        task?.cancel()
        task = nil
        context.fireChannelInactive()
    }

    private func arm(context: ChannelHandlerContext) {
        started = .now()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        task = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = bound.value
            handler.expired(context: context)
        }
    }

    private func expired(context: ChannelHandlerContext) {
        task = nil
        guard boundaries.inFrame, context.channel.isActive else { return }
        // While the collector is not reading, the frame cannot progress; `read` re-arms when reading resumes.
        if let autoRead = try? context.channel.syncOptions?.getOption(ChannelOptions.autoRead), !autoRead { return }
        let seconds = Double((NIODeadline.now() - started).nanoseconds / 1_000_000) / 1000
        context.fireErrorCaught(
            FrameError.incomplete(expected: boundaries.expected, received: boundaries.received, seconds: seconds))
    }
}
