import CSQLite3
import Foundation

/// Copies the WAL back into the database on its own thread and connection, so commits do not pay for checkpoints.
///
/// SQLite's automatic checkpoint runs inside the committing call once the WAL passes 1,000 pages; measured here it
/// took a third of the time of a stream of 5,000-flow commits. The writer's `sqlite3_wal_hook` (which replaces the
/// automatic checkpoint) wakes this thread instead once the WAL holds `threshold` frames, and a PASSIVE checkpoint
/// copies what no reader still needs without blocking the writer or readers.
///
/// The WAL restarts from its beginning only when a transaction begins with every frame already copied, which a thread
/// racing a writer that commits back to back never sees: so once the WAL reaches `limit` frames the writer copies the
/// few remaining frames itself, in the hook, between two of its own transactions, as SQLite's automatic checkpoint
/// would (measured: 2-12 ms once every 64 MiB of WAL, against 100 ms and more for a whole checkpoint).
/// `journal_size_limit` then trims the file.
final class Checkpointer: @unchecked Sendable {
    /// WAL frames (pages) that wake the thread; SQLite's own default is 1,000.
    let threshold: Int32
    /// WAL frames past which the writer finishes the checkpoint itself.
    let limit: Int32
    private let connection: SQLiteConnection
    private let condition = NSCondition()
    private var pending = false
    private var stopping = false
    private var running = true
    /// The last failure, kept for `close` to report; a checkpoint that fails is retried at the next wake-up.
    private(set) var lastError: StoreError?

    init(path: String, threshold: Int32 = 1000, limit: Int32 = 4000) throws(StoreError) {
        self.threshold = threshold
        self.limit = limit
        connection = try SQLiteConnection(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX)
        sqlite3_busy_timeout(connection.handle, 5000)
        // A connection that has not read the file does not know it is in WAL mode, and its checkpoints do nothing.
        let mode = try connection.text("PRAGMA journal_mode")
        guard mode == "wal" else {
            connection.close()
            throw StoreError(.sqlite, path: path, detail: "checkpoint connection found journal mode \(mode), not wal")
        }
        let thread = Thread { [self] in run() }
        thread.name = "wirewatch-checkpoint"
        thread.start()
    }

    /// Installs the hook on the writer's connection; `self` must outlive it (`detach` removes it).
    func attach(to writer: SQLiteConnection) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(
            writer.handle,
            { context, writer, _, frames in
                if let context {
                    Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue().walHas(frames: frames, writer)
                }
                return SQLITE_OK
            }, context)
    }

    func detach(from writer: SQLiteConnection) {
        sqlite3_wal_hook(writer.handle, nil, nil)
    }

    /// Called by the writer after each commit with the frames now in the WAL.
    private func walHas(frames: Int32, _ writer: OpaquePointer?) {
        guard frames >= threshold else { return }
        if frames >= limit {
            // SQLITE_BUSY while the thread is still copying: nothing is lost, the next commit tries again.
            sqlite3_wal_checkpoint_v2(writer, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            return
        }
        condition.lock()
        pending = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        var lastCopied: Int32 = -1
        while true {
            condition.lock()
            while !pending && !stopping { condition.wait() }
            let stop = stopping
            pending = false
            condition.unlock()
            if stop { break }
            var frames: Int32 = 0
            var copied: Int32 = 0
            let rc = sqlite3_wal_checkpoint_v2(connection.handle, nil, SQLITE_CHECKPOINT_PASSIVE, &frames, &copied)
            if rc != SQLITE_OK && rc != SQLITE_BUSY {
                let error = connection.error(rc, "checkpointing the WAL")
                condition.lock()
                lastError = error
                condition.unlock()
            } else if rc == SQLITE_OK && copied < frames && copied != lastCopied {
                // The writer appended while this pass copied: chase it, so that the WAL is fully copied at some
                // moment between two commits and the next one restarts it. No progress (a reader still needs the
                // frames) waits for the next commit instead of spinning.
                condition.lock()
                pending = true
                condition.unlock()
            }
            lastCopied = copied
        }
        condition.lock()
        running = false
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the thread, waits for it, and closes its connection; call after `detach`.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        condition.unlock()
        connection.close()
    }
}
