import Synchronization

/// Frame bytes of batches handed to the store and not yet committed, summed over every connection, so that many
/// connections together cannot hold more decoded batches than `CollectorOptions.maxInFlightBytesTotal`.
final class InFlightBytes: Sendable {
    let limit: Int
    private let bytes = Atomic<Int>(0)

    init(limit: Int) { self.limit = limit }

    var current: Int { bytes.load(ordering: .relaxed) }

    /// Whether `count` more bytes fit under the limit.
    func fits(_ count: Int) -> Bool { current + count <= limit }

    func add(_ count: Int) { bytes.add(count, ordering: .relaxed) }

    func remove(_ count: Int) { bytes.subtract(count, ordering: .relaxed) }
}
