/// One spooled batch as the sender reads it back.
public struct SpoolEntry: Sendable, Hashable {
    /// Position in the (sensor, boot id) stream: 1, 2, 3… with gaps where batches were dropped.
    public var sequence: UInt64
    /// How many records the batch holds (for drop and stats accounting; the spool never parses the payload).
    public var recordCount: Int
    /// The encoded batch exactly as appended.
    public var payload: [UInt8]

    public init(sequence: UInt64, recordCount: Int, payload: [UInt8]) {
        self.sequence = sequence
        self.recordCount = recordCount
        self.payload = payload
    }
}

/// A consistent snapshot of the spool's counters (all read under one lock).
public struct SpoolStatistics: Sendable, Hashable {
    /// Batches appended and neither acknowledged nor dropped.
    public var pendingBatches = 0
    public var pendingRecords = 0
    /// Payload bytes of the pending batches.
    public var pendingBytes = 0
    /// Bytes counted against `maxBytes`: segment files on disk (headers and acknowledged entries not yet
    /// deleted included), or the entries (20-byte header + payload) of a memory-only spool.
    public var usedBytes = 0
    /// Batches lost without acknowledgement: the oldest ones pushed out by the bound, batches larger than the
    /// bound, and batches whose bytes failed their checksum when read back. Never silent.
    public var droppedBatches = 0
    public var droppedRecords = 0
    /// Of `droppedBatches`: entries that failed their checksum (or could not be read) when read back.
    public var corruptBatches = 0
    /// The last sequence number handed out (0 before the first).
    public var highestSequence: UInt64 = 0
    /// Everything at or below this has been acknowledged in this run.
    public var acknowledgedSequence: UInt64 = 0
    /// Everything at or below this was on stable storage at the end of the last `sync()` (0 when memory-only).
    public var syncedSequence: UInt64 = 0
    /// Segment files currently on disk.
    public var segments = 0

    public init() {}
}

/// What opening an existing spool directory found. Corruption is reported here, never thrown.
public struct SpoolRecovery: Sendable, Hashable {
    /// Complete, checksum-valid entries that became pending.
    public var recoveredBatches = 0
    public var recoveredRecords = 0
    /// Segment files kept.
    public var segments = 0
    /// Bytes cut from the end of the newest segment: an entry torn by a crash mid-write (or garbage after it).
    public var tornBytes = 0
    /// Older segments with a damaged header or entry (or another stream's boot id): their damaged part is
    /// skipped, and its batches are lost uncounted by number, so they are reported here in bytes.
    public var corruptSegments = 0
    public var corruptBytes = 0
    /// The highest sequence the stream had handed out before this run (0 for a fresh stream): the collector can
    /// legitimately have committed no more than this, plus what this run sends.
    public var highestSequence: UInt64 = 0

    public init() {}
}

/// What `Spool.restartStream(keepingAbove:)` did.
public struct StreamRestart: Sendable, Hashable {
    /// The boot id the stream had, and the one it continues under.
    public var previousBootID: [UInt8]
    public var bootID: [UInt8]
    /// Pending batches carried over, renumbered from `firstSequence` on.
    public var batches: Int
    public var records: Int
    public var firstSequence: UInt64

    public init(previousBootID: [UInt8], bootID: [UInt8], batches: Int, records: Int, firstSequence: UInt64) {
        self.previousBootID = previousBootID
        self.bootID = bootID
        self.batches = batches
        self.records = records
        self.firstSequence = firstSequence
    }
}
