import Dispatch
import Flows
import Logging
import NIOCore
import Store
import Synchronization

/// The one writer in front of the store. Every connection's sessions and batches go through one serial queue,
/// so the event loops never wait on the disk and batches of one connection are committed in the order they
/// arrived. Batches waiting while a commit runs are committed together in the next transaction (group commit):
/// one sync to disk for all of them, which is what lets durable commits keep up with several sensors.
final class Ingest: Sendable {
    let store: any RecordStore
    private let queue = DispatchQueue(label: "wirewatch.collector.ingest")
    private let waiting = Mutex<Waiting>(Waiting())
    /// A group stops growing at this many records (one transaction of about 50 ms).
    static let groupRecords = 50_000

    private struct Waiting: ~Copyable {
        var batches: [Submitted] = []
        var drainScheduled = false
    }

    private struct Submitted: Sendable {
        var batch: StoredBatch
        var stream: StreamState
        var promise: EventLoopPromise<CommitOutcome>
    }

    /// Receives the records of each newly stored batch, on the ingest queue, after its commit (replays, which
    /// store nothing, are not passed on): the detectors' input.
    private let onStored: (@Sendable ([Record]) -> Void)?
    private let logger: Logger

    init(store: any RecordStore, logger: Logger, onStored: (@Sendable ([Record]) -> Void)? = nil) {
        self.store = store
        self.logger = logger
        self.onStored = onStored
    }

    /// Stores alerts (new episodes and grown ones) between the commits of batches.
    func store(alerts: [AlertRecord]) {
        queue.async {
            do {
                try self.store.upsertAlerts(alerts)
            } catch {
                self.logger.error("storing \(alerts.count) alerts failed: \(error)")
            }
        }
    }

    private func stored(_ batch: StoredBatch, _ outcome: CommitOutcome) {
        if case .stored = outcome, let onStored { onStored(batch.records) }
    }

    /// Registers a (re)connecting sensor; the future holds the highest sequence committed for its boot id.
    func open(_ session: SensorSession, on eventLoop: any EventLoop) -> EventLoopFuture<UInt64> {
        let promise = eventLoop.makePromise(of: UInt64.self)
        queue.async {
            do {
                promise.succeed(try self.store.openSession(session))
            } catch {
                promise.fail(error)
            }
        }
        return promise.futureResult
    }

    /// Commits one batch unless an earlier batch of the same connection failed: committing a later one would move
    /// the committed sequence past the failed batch and lose it.
    func commit(_ batch: StoredBatch, stream: StreamState, on eventLoop: any EventLoop) -> EventLoopFuture<
        CommitOutcome
    > {
        let promise = eventLoop.makePromise(of: CommitOutcome.self)
        let schedule = waiting.withLock { waiting in
            waiting.batches.append(Submitted(batch: batch, stream: stream, promise: promise))
            defer { waiting.drainScheduled = true }
            return !waiting.drainScheduled
        }
        if schedule { queue.async { self.commitWaiting() } }
        return promise.futureResult
    }

    /// On the queue: commits what is waiting, group by group, until nothing is.
    private func commitWaiting() {
        while true {
            let group: [Submitted] = waiting.withLock { waiting in
                var records = 0
                var count = 0
                while count < waiting.batches.count && (count == 0 || records < Self.groupRecords) {
                    records += waiting.batches[count].batch.records.count
                    count += 1
                }
                let group = Array(waiting.batches.prefix(count))
                waiting.batches.removeFirst(count)
                if group.isEmpty { waiting.drainScheduled = false }
                return group
            }
            if group.isEmpty { return }
            commitGroup(group)
        }
    }

    private func commitGroup(_ group: [Submitted]) {
        var live: [Submitted] = []
        for submitted in group {
            if submitted.stream.failed.withLock({ $0 }) {
                submitted.promise.fail(IngestError.earlierBatchFailed)
            } else {
                live.append(submitted)
            }
        }
        guard !live.isEmpty else { return }
        do {
            let outcomes = try store.commit(live.map(\.batch))
            for (submitted, outcome) in zip(live, outcomes) {
                submitted.promise.succeed(outcome)
                stored(submitted.batch, outcome)
            }
        } catch {
            // Something in the group could not be stored: commit one by one, so only the batch at fault (and the
            // later batches of its connection) fail and everyone else's are stored.
            for submitted in live {
                if submitted.stream.failed.withLock({ $0 }) {
                    submitted.promise.fail(IngestError.earlierBatchFailed)
                    continue
                }
                do {
                    let outcome = try store.commit(submitted.batch)
                    submitted.promise.succeed(outcome)
                    stored(submitted.batch, outcome)
                } catch {
                    submitted.stream.failed.withLock { $0 = true }
                    submitted.promise.fail(error)
                }
            }
        }
    }

    /// Blocks until everything submitted so far is committed (shutdown).
    func waitUntilIdle() {
        while true {
            queue.sync {}
            if waiting.withLock({ $0.batches.isEmpty && !$0.drainScheduled }) { return }
        }
    }
}

/// Per-connection state the ingest queue reads.
final class StreamState: Sendable {
    let failed = Mutex(false)
}

enum IngestError: Error, CustomStringConvertible {
    case earlierBatchFailed
    var description: String { "an earlier batch on this connection could not be stored" }
}
