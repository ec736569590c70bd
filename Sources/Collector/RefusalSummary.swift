import Logging
import NIOCore
import Synchronization

/// Connections refused before authentication (TLS failures, the handshake deadline, the connection limits) are
/// logged as at most one line per interval: the first refusal after a quiet interval is logged at once with its
/// peer and reason, later ones are counted and summed up in one line when the interval ends. A flood of
/// thousands of connections therefore costs a few log lines, not one each.
final class RefusalSummary: Sendable {
    /// Why a connection was refused before it authenticated.
    enum Kind: Int, Sendable, CaseIterable {
        case handshakeDeadline
        case connectionLimit
        case tls
        case idle

        var label: String {
            switch self {
            case .handshakeDeadline: "handshake deadline"
            case .connectionLimit: "connection limit"
            case .tls: "TLS errors"
            case .idle: "idle"
            }
        }
    }

    private struct State: ~Copyable {
        /// End of the interval whose line has been logged; refusals before it are counted.
        var intervalEnd: NIODeadline = .uptimeNanoseconds(0)
        var counts = [Int](repeating: 0, count: Kind.allCases.count)
        var last = ""
        var flushScheduled = false
    }

    private let logger: Logger
    private let interval: TimeAmount
    private let eventLoop: any EventLoop
    private let state = Mutex(State())

    init(logger: Logger, interval: TimeAmount, eventLoop: any EventLoop) {
        self.logger = logger
        self.interval = interval
        self.eventLoop = eventLoop
    }

    /// Notes one refused connection.
    func refused(_ kind: Kind, peer: String, reason: String) {
        let now = NIODeadline.now()
        let (logNow, scheduleAt): (Bool, NIODeadline?) = state.withLock { state in
            if now >= state.intervalEnd && state.counts.allSatisfy({ $0 == 0 }) {
                state.intervalEnd = now + interval
                return (true, nil)
            }
            state.counts[kind.rawValue] += 1
            state.last = "\(peer): \(reason)"
            guard !state.flushScheduled else { return (false, nil) }
            state.flushScheduled = true
            return (false, state.intervalEnd)
        }
        if logNow {
            logger.warning("refused \(peer) before authentication: \(reason)", metadata: ["peer": "\(peer)"])
        }
        if let scheduleAt {
            eventLoop.scheduleTask(deadline: scheduleAt) { self.flush() }
        }
    }

    /// Logs the line summing up what was counted since the last line (nothing when nothing was).
    func flush() {
        let line: String? = state.withLock { state in
            state.flushScheduled = false
            let total = state.counts.reduce(0, +)
            guard total > 0 else { return nil }
            let seconds = SensorConnection.seconds(interval)
            let parts = Kind.allCases.map { "\($0.label): \(state.counts[$0.rawValue])" }.joined(separator: ", ")
            let text = """
                refused \(total) connections before authentication in the last \(seconds) s (\(parts)); \
                last: \(state.last)
                """
            state.counts = [Int](repeating: 0, count: Kind.allCases.count)
            state.intervalEnd = .now() + interval
            return text
        }
        if let line { logger.warning("\(line)") }
    }
}
