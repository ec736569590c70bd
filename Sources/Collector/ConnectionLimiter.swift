import Synchronization

/// Live connections counted overall and per source address. A connection over either limit is closed as soon as
/// it is accepted, before TLS, so that one host (or a flood of half-open handshakes) cannot take every descriptor
/// and lock real sensors out; each admitted connection gives its place back when it closes.
final class ConnectionLimiter: Sendable {
    /// Which limit refused a connection.
    enum Refusal: Sendable, Equatable {
        case total
        case perAddress
    }

    private struct Counts: ~Copyable {
        var total = 0
        var byAddress: [String: Int] = [:]
    }

    let maxTotal: Int
    let maxPerAddress: Int
    private let counts = Mutex(Counts())

    init(maxTotal: Int, maxPerAddress: Int) {
        self.maxTotal = maxTotal
        self.maxPerAddress = maxPerAddress
    }

    /// Takes a place for a connection from `address`; nil when admitted (call `release` when it closes), else the
    /// limit that refused it.
    func admit(_ address: String) -> Refusal? {
        counts.withLock { counts in
            guard counts.total < maxTotal else { return .total }
            let fromAddress = counts.byAddress[address, default: 0]
            guard fromAddress < maxPerAddress else { return .perAddress }
            counts.total += 1
            counts.byAddress[address] = fromAddress + 1
            return nil
        }
    }

    /// Gives back the place of an admitted connection that closed.
    func release(_ address: String) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.byAddress[address, default: 1] - 1
            counts.byAddress[address] = left > 0 ? left : nil
        }
    }

    /// Connections admitted and not yet closed.
    var live: Int { counts.withLock { $0.total } }
}
