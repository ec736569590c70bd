import Dispatch
import Flows

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Deferred rollups.
///
/// Every upsert of a rollup row costs a B-tree seek and dirties a page, and a batch of flows between many hosts has a
/// host key for nearly every flow: writing the rollups in each batch's transaction cut commits of 5,000 such flows
/// from about 460,000 to 190,000 records a second (measured, `Benchmarks/StoreBench`). With a `rollupDelay`, a commit
/// adds its deltas to `pending` in memory and lists its blocks in `rollup_pending` (one small row per kind per batch);
/// the deltas of all commits since are written in one later commit's transaction, each key once, and
/// `rollup_pending` is emptied in that same transaction. So the rollups always equal the records minus the blocks
/// listed in `rollup_pending`, which a writer opening with a delay adds on open: exactly once across crashes, as the
/// records are. Readers in other processes see rollups at most about `rollupDelay` behind the records; this store's
/// own reports write the pending deltas first.
///
/// Only one writer may defer, or one would add (on open) the blocks another still holds in memory: a store asking for
/// a delay first takes an exclusive `flock` on `PATH-rollups.lock`, held until it closes (the kernel drops it when the
/// process dies). A store that cannot take it writes its rollups in every commit, as with no delay.
extension SQLiteStore {
    /// Pending deltas past this many keys are written at the next commit whatever their age.
    static let maxPendingKeys = 500_000

    /// Writes the rollups waiting in memory now, in a transaction of their own.
    public func flushRollups() throws(StoreError) {
        try withConnection { c throws(StoreError) in try writePendingRollups(c) }
    }

    /// One commit of a version-2 store: the records, and their rollup deltas either written in the same transaction
    /// (with every pending delta) or left pending.
    func commitWithRollups(_ batches: [StoredBatch], now: Double, _ c: SQLiteConnection) throws(StoreError)
        -> [CommitOutcome]
    {
        if needsRollupRecovery { try addUnwrittenRollups(c) }
        // The pending deltas are moved, not copied, into this transaction's: no copy of a large dictionary.
        let hadPending = pending != nil
        var rollups: Rollups? = pending ?? spareRollups ?? Rollups(progress: progress, names: names)
        pending = nil
        spareRollups = nil
        do throws(StoreError) {
            let (outcomes, blocks, written) = try transaction(c, immediate: true) { () throws(StoreError) in
                try progress.refresh(c, unwritten: rollups?.staged ?? [:])
                var blocks: [Int64] = []
                let outcomes = try store(batches, now: now, c, rollups: &rollups, blocks: &blocks)
                let written = try finishRollups(rollups, blocks: blocks, c)
                return (outcomes, blocks, written)
            }
            guard var rollups else { return outcomes }
            if written {
                pendingBlocks = []
                pendingSince = nil
                rollups.removeAll()
                spareRollups = rollups
            } else {
                pending = rollups
                pendingBlocks += blocks
                if pendingSince == nil { pendingSince = .now }
            }
            return outcomes
        } catch {
            // The progress cache and the pending deltas taken above now hold part of a transaction that rolled back:
            // reload the one, and rebuild the other from the committed records their blocks list, before anything
            // else is committed.
            progress.invalidate()
            pendingBlocks = []
            pendingSince = nil
            if hadPending {
                needsRollupRecovery = true
                try? addUnwrittenRollups(c)
            }
            throw error
        }
    }

    /// Within a commit's transaction: writes the deltas if they are due, else lists this commit's blocks as pending.
    /// True when written.
    private func finishRollups(_ rollups: Rollups?, blocks: [Int64], _ c: SQLiteConnection) throws(StoreError) -> Bool {
        guard let rollups else { return true }
        let due: Bool
        if !defersRollups || rollups.keyCount > Self.maxPendingKeys {
            due = true
        } else if let pendingSince {
            due = pendingSince + rollupDelay <= .now
        } else {
            due = false
        }
        if due {
            try rollups.write(c)
            try Self.forget(pendingBlocks, c)
            return true
        }
        let insert = try c.statement("INSERT INTO rollup_pending (block_id) VALUES (?1)")
        for block in blocks {
            try insert.bind(1, block)
            try insert.run()
        }
        return false
    }

    /// Writes the pending deltas in a transaction of their own; nothing when there are none.
    func writePendingRollups(_ c: SQLiteConnection) throws(StoreError) {
        guard let pending else { return }
        try transaction(c, immediate: true) { () throws(StoreError) in
            try pending.write(c)
            try Self.forget(pendingBlocks, c)
        }
        self.pending = nil
        pendingBlocks = []
        pendingSince = nil
    }

    private static func forget(_ blocks: [Int64], _ c: SQLiteConnection) throws(StoreError) {
        guard !blocks.isEmpty else { return }
        let delete = try c.statement("DELETE FROM rollup_pending WHERE block_id = ?1")
        for block in blocks {
            try delete.bind(1, block)
            try delete.run()
        }
    }

    /// Adds the records of every block in `rollup_pending` (a crashed writer's, or this one's after a failed commit)
    /// to the rollups and empties it, in one transaction, in `record_id` order as ingest did, starting from the
    /// progress in `flow_progress`.
    func addUnwrittenRollups(_ c: SQLiteConnection) throws(StoreError) {
        pending = nil
        pendingBlocks = []
        pendingSince = nil
        progress.invalidate()
        // The deltas change the progress cache as they are added; if the transaction fails it must be reloaded.
        defer { if needsRollupRecovery { progress.invalidate() } }
        needsRollupRecovery = true
        try transaction(c, immediate: true) { () throws(StoreError) in
            let select = try c.statement(
                """
                SELECT b.kind, b.first_id, b.last_id FROM rollup_pending AS p
                JOIN record_blocks AS b ON b.block_id = p.block_id ORDER BY b.first_id, b.block_id
                """)
            var blocks: [(kind: RecordKind, first: Int64, last: Int64)] = []
            while try select.step() {
                let name = select.text(0)
                guard let kind = RecordKind(rawValue: name) else {
                    select.reset()
                    throw StoreError(.corrupt, path: path, detail: "record_blocks: unknown kind \"\(name)\"")
                }
                blocks.append((kind, select.int64(1), select.int64(2)))
            }
            select.reset()
            try progress.refresh(c)
            var rollups = Rollups(progress: progress, names: names)
            for block in blocks {
                var after = block.first - 1
                while true {
                    let read = try rollups.add(
                        block.kind, after: after, through: block.last, limit: Rollups.rebuildChunk, c)
                    guard read.count == Rollups.rebuildChunk, let last = read.last else { break }
                    after = last
                }
            }
            try rollups.write(c)
            try c.statement("DELETE FROM rollup_pending").run()
        }
        needsRollupRecovery = false
    }

    /// Takes the rollup lock without waiting; false when another store holds it or the file cannot be made.
    func takeRollupLock() -> Bool {
        let fd = open(path + "-rollups.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return false }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            closeDescriptor(fd)
            return false
        }
        rollupLock = fd
        return true
    }

    func releaseRollupLock() {
        guard rollupLock >= 0 else { return }
        closeDescriptor(rollupLock)
        rollupLock = -1
        defersRollups = false
    }

    /// Checks every `rollupDelay` (at least every 100 ms) whether pending deltas are due.
    func startFlushTimer() {
        let period = max(rollupDelay, .milliseconds(100))
        let millis = Int(period.components.seconds * 1000 + period.components.attoseconds / 1_000_000_000_000_000)
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "wirewatch.store.rollups"))
        timer.schedule(deadline: .now() + .milliseconds(millis), repeating: .milliseconds(millis))
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            // A failure keeps the deltas pending; the next commit, tick or close tries again.
            try? self.withConnection { c throws(StoreError) in
                if let since = self.pendingSince, since + self.rollupDelay <= .now {
                    try self.writePendingRollups(c)
                }
            }
        }
        timer.resume()
        flushTimer = timer
    }
}

/// `close(2)`, which a method of the store would shadow.
private func closeDescriptor(_ fd: Int32) {
    #if canImport(Glibc)
        _ = Glibc.close(fd)
    #elseif canImport(Darwin)
        _ = Darwin.close(fd)
    #endif
}
