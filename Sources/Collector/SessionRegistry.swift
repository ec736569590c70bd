import NIOCore
import Synchronization

/// The one live session of each sensor name. A Hello for a name that already has a session **replaces** it: the
/// older connection is told so (`Error{NOT_ALLOWED}`, "replaced by …") and closed. Replacing rather than refusing
/// is what a sensor needs after a network cut, when it reconnects before its old TCP connection has timed out.
///
/// Exactly-once holds across the replacement: the older connection stops handing batches to the store before
/// the newer one asks the store for its committed sequence, and the store's single queue commits what the older
/// one handed over first, so the HelloAck of the newer session already counts those batches.
final class SessionRegistry: Sendable {
    /// A live session: `evict` stops it handing batches to the store and closes it with the reason given (on its
    /// own event loop); the future completes once it no longer submits anything.
    struct Holder: Sendable {
        let id: UInt64
        /// The serial number of the session's client certificate, for revocations made while it is open.
        let serial: [UInt8]
        let evict: @Sendable (_ reason: String) -> EventLoopFuture<Void>
    }

    private struct State: ~Copyable {
        var nextID: UInt64 = 1
        var live: [String: Holder] = [:]
    }

    private let state = Mutex(State())

    /// Makes the caller the live session of `name`; returns its id and the session it replaces, if any.
    func claim(
        _ name: String, serial: [UInt8], evict: @escaping @Sendable (_ reason: String) -> EventLoopFuture<Void>
    ) -> (id: UInt64, replaced: Holder?) {
        state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            let replaced = state.live[name]
            state.live[name] = Holder(id: id, serial: serial, evict: evict)
            return (id, replaced)
        }
    }

    /// Forgets the session `id` of `name` when it closes (unless a newer one has replaced it already).
    func release(_ name: String, id: UInt64) {
        state.withLock { state in
            if state.live[name]?.id == id { state.live[name] = nil }
        }
    }

    /// Closes every live session whose certificate `revoked` says is revoked; returns their names.
    @discardableResult
    func evict(where revoked: ([UInt8]) -> Bool, reason: String) -> [String] {
        let holders = state.withLock { state in state.live.filter { revoked($0.value.serial) } }
        for holder in holders.values { _ = holder.evict(reason) }
        return holders.keys.sorted()
    }

    /// Names with a live session.
    var names: Set<String> { state.withLock { Set($0.live.keys) } }
}
