import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A bounded, crash-safe queue of encoded record batches awaiting the collector's acknowledgement.
///
/// The capture thread appends; the network thread reads pending entries in sequence order and acknowledges
/// them (cumulatively). Every call is internally synchronized, so the two threads share one instance.
///
/// Batches are numbered 1, 2, 3… in a stream named by a 16-byte boot id. Opened on a directory that still
/// holds batches, the spool keeps their boot id and numbers on after the highest of them, so replays of old
/// batches dedupe at the collector; opened on an empty (or fully acknowledged) directory it draws a fresh boot id
/// and starts at 1. A memory-only spool (no directory) behaves the same within one run and keeps nothing.
///
/// Crash model: `append` returns once the entry is in the kernel's page cache, so a killed process loses
/// nothing `append` returned for (at worst the entry being written when it died is torn, and recovery cuts it
/// away). Power loss or a kernel crash can lose what was not yet synced: entries after `syncedSequence`.
/// Opening a directory after power loss (or a restored copy of it) may then resume numbering below a sequence the
/// collector has already committed, and those new batches would be taken for replays: the sender detects that
/// from the collector's committed sequence being above `recovery.highestSequence` (plus what it sent since) and
/// calls `restartStream(keepingAbove:)`, which continues under a new boot id.
///
/// On disk: segment files named by their first sequence (`SegmentFormat` documents the layout), a `lock` file
/// held with `flock` for the spool's lifetime, `restart.tmp` while `restartStream` writes, and nothing else.
/// Unknown files are left alone. The lock and segments are opened with `O_NOFOLLOW` (new segments `O_EXCL`) and
/// must be regular files: the directory is writable by the user the sensor drops to, who could plant links
/// where root opens them. The directory itself may be a link (an administrator's choice of disk) if root or the
/// process's own user owns it.
public final class Spool: Sendable {
    /// When data is flushed to stable storage besides the owner's calls to `sync()`.
    public enum SyncPolicy: Sendable, Hashable {
        /// Only `sync()` flushes (finished segments stay open until it does).
        case manual
        /// A segment is also flushed when the next one starts, by the `append` that starts it.
        case onSegmentRoll
        /// Every `append` flushes before returning: each returned batch survives power loss, at the cost of a
        /// disk flush per batch.
        case everyAppend
    }

    /// The spool directory, nil for a memory-only spool.
    public let directory: String?
    /// The bound on `statistics.usedBytes`.
    public let maxBytes: Int
    /// The segment size in use: the one asked for, capped at a quarter of `maxBytes` so that making room never
    /// drops more than a quarter of the spool at once.
    public let segmentBytes: Int
    public let syncPolicy: SyncPolicy
    /// The stream's 16-byte boot id (a new one after `restartStream`).
    public var bootID: [UInt8] { state.withLock { $0.bootID } }
    /// What opening the directory found (all zero for a new or memory-only spool).
    public let recovery: SpoolRecovery

    private let state: Mutex<SpoolState>
    /// Serializes `sync()` so that `syncedSequence` only moves once everything below it is flushed.
    private let syncLock = Mutex(())

    /// Payload bytes of recent appends kept in memory so the sender rarely reads them back from disk.
    public static let defaultCacheBytes = 32 << 20

    /// Opens the spool in `directory` (created with mode 0700 if missing), or a memory-only spool when nil.
    /// Opening reads every segment once to check its entries; what they hold becomes pending.
    ///
    /// - Parameters:
    ///   - maxBytes: bound on the bytes the spool holds (segment files on disk, or entries in memory); appends
    ///     beyond it drop the oldest batches, counted in `droppedBatches` / `droppedRecords`.
    ///   - segmentBytes: size at which a new segment file is started; whole segments are the unit of deletion.
    ///   - cacheBytes: payload bytes of recent appends kept in memory for `pending`.
    /// - Throws: `SpoolError` if the directory cannot be created, read or locked (another sensor holds it:
    ///   `.locked`), or if a segment cannot be opened or truncated. Damaged segment content is not an error: it
    ///   is cut away or skipped and reported in `recovery`.
    public init(
        directory: String?,
        maxBytes: Int,
        segmentBytes: Int = 8 << 20,
        syncPolicy: SyncPolicy = .onSegmentRoll,
        cacheBytes: Int = Spool.defaultCacheBytes
    ) throws(SpoolError) {
        let label = directory ?? "memory"
        let smallest = SegmentFormat.headerSize + SegmentFormat.entryHeaderSize
        guard maxBytes >= smallest else {
            throw SpoolError(.invalidConfiguration, path: label, detail: "maxBytes \(maxBytes) < \(smallest)")
        }
        guard segmentBytes > 0, cacheBytes >= 0 else {
            throw SpoolError(
                .invalidConfiguration,
                path: label,
                detail: "segmentBytes \(segmentBytes), cacheBytes \(cacheBytes)"
            )
        }
        self.directory = directory
        self.maxBytes = maxBytes
        self.segmentBytes = min(segmentBytes, max(maxBytes / 4, smallest))
        self.syncPolicy = syncPolicy
        let initial: SpoolState
        if let directory {
            initial = try SpoolState(
                directory: directory,
                maxBytes: maxBytes,
                segmentBytes: self.segmentBytes,
                cacheBytes: cacheBytes,
                syncPolicy: syncPolicy
            )
        } else {
            initial = SpoolState(maxBytes: maxBytes)
        }
        recovery = initial.recovery
        state = Mutex(initial)
    }

    deinit {
        state.withLock { $0.close() }
    }

    /// Spools a batch and returns its sequence number.
    ///
    /// The entry goes to disk in one write (no flush unless the sync policy says so). If the spool would exceed
    /// `maxBytes`, the oldest batches are dropped first (whole segments on disk) and counted. A batch larger than
    /// `maxBytes` on its own is dropped and counted instead, and its number skipped.
    /// - Throws: `SpoolError` if the write fails (the batch is then not spooled and its number not used) or the
    ///   spool is closed.
    @discardableResult
    public func append(recordCount: Int, payload: [UInt8]) throws(SpoolError) -> UInt64 {
        guard let count = UInt32(exactly: recordCount), UInt32(exactly: payload.count) != nil else {
            throw SpoolError(
                .invalidBatch,
                path: directory ?? "memory",
                detail: "\(recordCount) records, \(payload.count) bytes"
            )
        }
        // The payload's checksum needs no sequence number, so it is computed before taking the lock.
        let payloadChecksum = directory == nil ? 0 : CRC32C.checksum(payload)
        let outcome = try state.withLock { (state) throws(SpoolError) -> AppendOutcome in
            try state.append(recordCount: count, payload: payload, payloadChecksum: payloadChecksum)
        }
        let flush =
            switch syncPolicy {
            case .manual: false
            case .onSegmentRoll: outcome.rolled
            case .everyAppend: outcome.written
            }
        if flush, directory != nil {
            // The batch is spooled whatever happens here; a failed flush is thrown by the next `sync()`.
            do throws(SpoolError) {
                try sync()
            } catch {
                state.withLock { state in
                    if state.deferredError == nil { state.deferredError = error }
                }
            }
        }
        return outcome.sequence
    }

    /// The pending entries with a sequence above `sequence`, in order: at most `limit` of them and, after the
    /// first, at most `maxBytes` of payload in all. Acknowledged and dropped entries never come back.
    ///
    /// Payloads of recent appends come from memory; older ones are read back from disk and checked against their
    /// checksum; one that fails is dropped and counted (`corruptBatches`) rather than returned.
    public func pending(after sequence: UInt64, limit: Int, maxBytes: Int) -> [SpoolEntry] {
        state.withLock { $0.pending(after: sequence, limit: limit, maxBytes: maxBytes) }
    }

    /// Marks every batch at or below `sequence` delivered (the collector's acks are cumulative) and deletes the
    /// segment files holding only such batches, including the one being written once all of it is acknowledged.
    /// Nothing else is persisted: after a restart, acknowledged batches in a partly acknowledged segment are
    /// replayed and the collector dedupes them. A segment that cannot be deleted is retried on the next
    /// acknowledgement and its error thrown by the next `sync()`.
    public func acknowledge(through sequence: UInt64) {
        state.withLock { $0.acknowledge(through: sequence) }
    }

    /// Continues the stream under a fresh boot id, for when the collector has committed more of it than the spool
    /// ever numbered: the spool went back in time (restored from an older copy, a VM snapshot, power lost before
    /// a sync), and the numbers above its highest were used for batches it no longer has. New batches under the
    /// old id would be taken for replays and dropped unstored.
    ///
    /// Pending batches at or below `floor` (what the spool had numbered before, all of which the collector has)
    /// are let go as delivered; the others are renumbered after the highest sequence handed out, under the new
    /// boot id, and are pending again from the start. On disk they are written to one new segment under a
    /// temporary name, flushed and renamed into place before the old segments are deleted: a crash in between
    /// leaves either the old stream or the new one (recovery keeps the newest segment's boot id; old segments
    /// left behind are reported in `recovery.corruptSegments`), never a hole. The copy briefly takes up to the
    /// pending bytes again beyond `maxBytes`.
    /// - Throws: `SpoolError` if the new segment cannot be written (nothing changed then) or the spool is closed.
    public func restartStream(keepingAbove floor: UInt64) throws(SpoolError) -> StreamRestart {
        try state.withLock { (state) throws(SpoolError) -> StreamRestart in
            try state.restartStream(keepingAbove: floor)
        }
    }

    /// Flushes finished segments, the segment being written and the directory to stable storage, outside the
    /// lock (appends continue meanwhile). Afterwards `syncedSequence` covers every batch appended before the call.
    /// Also throws a failure deferred from an earlier `append` (its flush) or `acknowledge` (a deletion).
    public func sync() throws(SpoolError) {
        try syncLock.withLock { _ throws(SpoolError) in
            let job = state.withLock { $0.takeSyncJob() }
            var failure = job.error
            for file in job.files {
                if !FileIO.dataSync(file.fd), failure == nil { failure = SpoolError.lastOS(.sync, path: file.path) }
                FileIO.close(file.fd)
            }
            if let fd = job.directoryFD {
                if fsync(fd) != 0, failure == nil { failure = SpoolError.lastOS(.sync, path: directory ?? "memory") }
                FileIO.close(fd)
            }
            state.withLock { $0.finishSync(job, succeeded: failure == nil) }
            if let failure { throw failure }
        }
    }

    /// Releases the directory lock and every file; later appends throw `.closed`. Writes and flushes nothing (call
    /// `sync()` first at shutdown), so closing is exactly what a killed process leaves behind.
    public func close() {
        state.withLock { $0.close() }
    }

    /// All counters, read together.
    public var statistics: SpoolStatistics { state.withLock { $0.snapshot } }

    public var pendingBatches: Int { statistics.pendingBatches }
    public var pendingRecords: Int { statistics.pendingRecords }
    public var pendingBytes: Int { statistics.pendingBytes }
    public var droppedBatches: Int { statistics.droppedBatches }
    public var droppedRecords: Int { statistics.droppedRecords }
    public var highestSequence: UInt64 { statistics.highestSequence }
    public var acknowledgedSequence: UInt64 { statistics.acknowledgedSequence }
}
