import CSQLite3
import Dispatch
import Flows
import Foundation

/// A `RecordStore` in one SQLite file, on the C API: WAL journal (readers never block the writer), synchronous FULL by
/// default so a committed batch is on disk before the collector acks it, cached prepared statements and one
/// transaction per batch. Record tables are found through a sparse per-batch index (see `Schema`), and a writer moves
/// WAL checkpoints to a thread of their own (`Checkpointer`). Reports read per-minute rollups kept exactly once by the
/// commits (`Rollups`), written in each commit's transaction or, with a `rollupDelay`, in a later one
/// (`SQLiteStore+Rollups.swift`). Measured on 2 cores, batches of 5,000 flows between 65,536 hosts, FULL: about
/// 500,000 records a second without rollups (schema version 1), 190,000 with rollups in every commit, 350,000 with
/// them deferred by a second.
///
/// One connection, used under a lock: the collector commits from its ingest thread while reads may come from others.
/// Other processes (the query tool) open their own `SQLiteStore`, read-only or not.
public final class SQLiteStore: RecordStore, @unchecked Sendable {
    /// When SQLite syncs the WAL to disk.
    public enum Durability: Sendable, Hashable {
        /// Every commit is synced before `commit` returns: a stored batch survives power loss (`synchronous=FULL`).
        case full
        /// Syncs at checkpoints only: a crash of the process loses nothing, a power cut may lose the last commits
        /// (`synchronous=NORMAL`). Only a few percent faster here, as checkpoints run on their own thread.
        case normal
    }

    /// The schema version (`PRAGMA user_version`) this build creates and reads.
    public static var schemaVersion: Int { Int(Schema.version) }

    public let path: String
    /// The schema version of the open file: `schemaVersion`, unless a test stopped migrating earlier.
    let fileVersion: Int64
    private let lock = NSLock()
    private var connection: SQLiteConnection?
    private var checkpointer: Checkpointer?
    private let clock: @Sendable () -> Double
    /// The writer's copy of `flow_progress` (see `Rollups`), used under `lock`.
    let progress = FlowProgressCache()
    /// How long rollup deltas may wait in memory before they are written; zero writes them in every commit.
    public let rollupDelay: Duration
    /// True when this store defers rollups: it asked to, and holds the rollup lock (see `SQLiteStore+Rollups.swift`).
    public internal(set) var defersRollups = false
    /// The open, locked `PATH-rollups.lock` while `defersRollups`.
    var rollupLock: Int32 = -1
    /// Sensor names of the rollup keys, shared by the transactions' and the pending rollups.
    let names = SensorNames()
    /// Rollup deltas of committed transactions not yet written, the blocks they come from (listed in
    /// `rollup_pending`), and when the oldest of them was committed; used under `lock`.
    var pending: Rollups?
    var pendingBlocks: [Int64] = []
    var pendingSince: ContinuousClock.Instant?
    /// Emptied deltas kept for their storage (see `Rollups.removeAll`).
    var spareRollups: Rollups?
    /// A commit failed after pending deltas were taken into it: they must be rebuilt before the next commit.
    var needsRollupRecovery = false
    /// Told the rows each retention transaction deleted (tests).
    var retentionStepObserver: ((Int64) -> Void)?
    /// Writes pending rollups once they are due even when no commit comes.
    var flushTimer: (any DispatchSourceTimer)?

    /// Opens the database at `path`, creating it (and migrating it to `schemaVersion`) unless `readOnly`.
    ///
    /// Refuses, leaving the file untouched: a file that is not SQLite, an SQLite file of another program, and a schema
    /// newer than this build (`StoreError.Code.schemaTooNew`). A read-only store also refuses an older schema.
    /// - Parameters:
    ///   - busyTimeout: how long to wait for another connection's lock before failing with `busy`.
    ///   - clock: wall-clock epoch seconds for `first_seen`, `last_seen` and `updated_at`.
    ///   - rollupDelay: zero (the default) writes each commit's rollup deltas in that commit's transaction. More
    ///     lets the deltas of many commits wait in memory and be written together, in a later commit's transaction,
    ///     once the oldest has waited this long (or earlier, when they grow large, before a report, retention, or
    ///     `close`); see "Deferred rollups" in `SQLiteStore+Rollups.swift`. Meant for the ingest writer (the
    ///     collector): opening with a delay adds the rollups a crashed writer left unwritten, and only one store at a
    ///     time defers (`defersRollups`); another asking for a delay meanwhile writes them in every commit.
    public convenience init(
        path: String,
        synchronous: Durability = .full,
        readOnly: Bool = false,
        busyTimeout: Duration = .seconds(5),
        clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 },
        rollupDelay: Duration = .zero
    ) throws(StoreError) {
        try self.init(
            path: path, synchronous: synchronous, readOnly: readOnly, busyTimeout: busyTimeout, clock: clock,
            rollupDelay: rollupDelay, migratingTo: Schema.version)
    }

    /// Opens the database, migrating a writable file no further than `migratingTo` (tests make files of older
    /// versions with it). A store left below version 2 writes no rollups and has no alerts or reports.
    init(
        path: String,
        synchronous: Durability,
        readOnly: Bool,
        busyTimeout: Duration,
        clock: @escaping @Sendable () -> Double,
        rollupDelay: Duration = .zero,
        migratingTo target: Int64
    ) throws(StoreError) {
        self.path = path
        self.clock = clock
        self.rollupDelay = rollupDelay
        let flags =
            (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let c = try SQLiteConnection(path: path, flags: flags)
        var opened: Int64 = 0
        do throws(StoreError) {
            let millis =
                busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
            sqlite3_busy_timeout(c.handle, Int32(clamping: millis))
            let version = try Self.checkSchema(c, readOnly: readOnly)
            if !readOnly {
                // Only now, with the file known to be ours (or new), may anything be written to it.
                if try c.integer("PRAGMA page_count") == 0 {
                    // A new file: 16 KiB pages make appends about 10% cheaper than the default 4 KiB (measured).
                    try c.execute("PRAGMA page_size = 16384")
                }
                let mode = try c.text("PRAGMA journal_mode = WAL")
                guard mode.lowercased() == "wal" else {
                    throw StoreError(.sqlite, path: path, detail: "cannot switch to WAL journal mode (got \(mode))")
                }
                try Self.migrate(c, from: version, to: target)
            }
            opened = try c.integer("PRAGMA user_version")
            try c.execute(
                """
                PRAGMA synchronous = \(synchronous == .full ? "FULL" : "NORMAL");
                PRAGMA cache_size = -65536;
                PRAGMA temp_store = MEMORY;
                PRAGMA journal_size_limit = 67108864;
                """)
            if !readOnly {
                let background = try Checkpointer(path: path)
                background.attach(to: c)
                checkpointer = background
            }
        } catch {
            c.close()
            throw error
        }
        fileVersion = opened
        connection = c
        if !readOnly && rollupDelay > .zero && opened >= 2 && takeRollupLock() {
            defersRollups = true
            do throws(StoreError) {
                try withConnection { c throws(StoreError) in try addUnwrittenRollups(c) }
            } catch {
                shutDown(flush: false)
                throw error
            }
            startFlushTimer()
        }
    }

    deinit { shutDown() }

    public func close() {
        lock.lock()
        defer { lock.unlock() }
        shutDown()
    }

    /// Writes pending rollups (unless `flush` is false: a test's crash), stops the checkpoint thread, then closes the
    /// writer: the last connection to close copies the WAL back and deletes it.
    func shutDown(flush: Bool = true) {
        flushTimer?.cancel()
        flushTimer = nil
        if flush, let connection {
            // A failure leaves the blocks in `rollup_pending`, for the next writer with a delay to add.
            try? writePendingRollups(connection)
        }
        pending = nil
        pendingBlocks = []
        pendingSince = nil
        releaseRollupLock()
        if let checkpointer, let connection { checkpointer.detach(from: connection) }
        checkpointer?.stop()
        checkpointer = nil
        connection?.close()
        connection = nil
    }

    // MARK: schema

    /// Reads the header fields that say whose database this is and which version; throws unless this build may use it.
    private static func checkSchema(_ c: SQLiteConnection, readOnly: Bool) throws(StoreError) -> Int64 {
        let version = try c.integer("PRAGMA user_version")
        let application = try c.integer("PRAGMA application_id")
        if application != 0 && application != Schema.applicationID {
            throw StoreError(
                .foreignDatabase, path: c.path,
                detail: "not a Wirewatch database (application_id \(application)); refusing to modify it")
        }
        if version > Schema.version {
            throw StoreError(
                .schemaTooNew, path: c.path,
                detail:
                    "database schema version \(version) is newer than this build supports (\(Schema.version)); "
                    + "upgrade Wirewatch to use it; the file was not modified")
        }
        if version == 0 && application == 0 {
            let tables = try c.integer("SELECT count(*) FROM sqlite_schema")
            if tables > 0 {
                throw StoreError(
                    .foreignDatabase, path: c.path,
                    detail:
                        "an SQLite database with \(tables) schema objects but no Wirewatch schema; refusing to modify it"
                )
            }
        }
        if readOnly && version < Schema.version {
            throw StoreError(
                .schemaTooOld, path: c.path,
                detail:
                    "database schema version \(version) is older than this build's (\(Schema.version)); "
                    + "open it read-write (the collector) once to migrate it")
        }
        return version
    }

    /// Applies each migration above `version`, up to `target`, in its own transaction.
    private static func migrate(_ c: SQLiteConnection, from version: Int64, to target: Int64) throws(StoreError) {
        for migration in Schema.migrations where migration.version > version && migration.version <= target {
            try c.execute("BEGIN IMMEDIATE")
            do {
                // Another process may have migrated while this one waited for the write lock.
                if try c.integer("PRAGMA user_version") >= migration.version {
                    try c.execute("COMMIT")
                    continue
                }
                try c.execute(migration.sql)
                try migration.fill?(c)
                try c.execute(
                    """
                    PRAGMA application_id = \(Schema.applicationID);
                    PRAGMA user_version = \(migration.version);
                    COMMIT;
                    """)
            } catch {
                c.rollbackQuietly()
                throw StoreError(
                    error.code, path: c.path,
                    detail: "migration \(migration.version) (\(migration.name)) failed: \(error.detail)",
                    sqliteResult: error.sqliteResult)
            }
        }
    }

    // MARK: access

    /// Runs `body` with the connection under the lock.
    func withConnection<T>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let connection else { throw StoreError(.closed, path: path, detail: "the store is closed") }
        return try body(connection)
    }

    /// Runs `body` inside a transaction; commits when it returns, rolls back when it throws.
    func transaction<T>(
        _ c: SQLiteConnection, immediate: Bool, _ body: () throws(StoreError) -> T
    ) throws(StoreError) -> T {
        // IMMEDIATE takes the write lock up front, so a commit never fails half-way on a lock upgrade.
        try c.statement(immediate ? "BEGIN IMMEDIATE" : "BEGIN").run()
        do {
            let result = try body()
            try c.statement("COMMIT").run()
            return result
        } catch {
            c.rollbackQuietly()
            throw error
        }
    }

    private func checkBootID(_ bootID: [UInt8]) throws(StoreError) {
        guard bootID.count == 16 else {
            throw StoreError(.invalidArgument, path: path, detail: "boot id must be 16 bytes, got \(bootID.count)")
        }
    }

    // MARK: sensors and sequences

    public func openSession(_ session: SensorSession) throws(StoreError) -> UInt64 {
        try checkBootID(session.bootID)
        let now = clock()
        return try withConnection { c throws(StoreError) in
            try transaction(c, immediate: true) { () throws(StoreError) in
                let upsert = try c.statement(
                    """
                    INSERT INTO sensors (name, boot_id, source, software_version, first_seen, last_seen)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                    ON CONFLICT (name) DO UPDATE SET boot_id = excluded.boot_id, source = excluded.source,
                        software_version = excluded.software_version, last_seen = excluded.last_seen
                    """)
                try upsert.bind(1, session.name)
                try upsert.bind(2, blob: session.bootID)
                try upsert.bind(3, session.source)
                try upsert.bind(4, session.softwareVersion)
                try upsert.bind(5, now)
                try upsert.run()
                return try Self.readSequence(c, sensor: session.name, bootID: session.bootID)
            }
        }
    }

    public func committedSequence(sensor: String, bootID: [UInt8]) throws(StoreError) -> UInt64 {
        try checkBootID(bootID)
        return try withConnection { c throws(StoreError) in
            try Self.readSequence(c, sensor: sensor, bootID: bootID)
        }
    }

    private static func readSequence(_ c: SQLiteConnection, sensor: String, bootID: [UInt8]) throws(StoreError)
        -> UInt64
    {
        let select = try c.statement(
            "SELECT committed_seq FROM sensor_sequences WHERE sensor = ?1 AND boot_id = ?2")
        defer { select.reset() }
        try select.bind(1, sensor)
        try select.bind(2, blob: bootID)
        return try select.step() ? select.uint64(0) : 0
    }

    public func setting(_ key: String) throws(StoreError) -> String? {
        try withConnection { c throws(StoreError) in
            let select = try c.statement("SELECT value FROM settings WHERE key = ?1")
            defer { select.reset() }
            try select.bind(1, key)
            return try select.step() ? select.text(0) : nil
        }
    }

    public func setSetting(_ key: String, to value: String) throws(StoreError) {
        try withConnection { c throws(StoreError) in
            let upsert = try c.statement(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
            )
            try upsert.bind(1, key)
            try upsert.bind(2, value)
            try upsert.run()
        }
    }

    public func sensors() throws(StoreError) -> [SensorRow] {
        try withConnection { c throws(StoreError) in
            let select = try c.statement(
                """
                SELECT name, boot_id, source, software_version, first_seen, last_seen FROM sensors ORDER BY name
                """)
            defer { select.reset() }
            var rows: [SensorRow] = []
            while try select.step() {
                rows.append(
                    SensorRow(
                        name: select.text(0), bootID: select.blob(1), source: select.text(2),
                        softwareVersion: select.text(3), firstSeen: select.double(4), lastSeen: select.double(5)))
            }
            return rows
        }
    }

    // MARK: commit

    public func commit(_ batch: StoredBatch) throws(StoreError) -> CommitOutcome {
        let outcomes = try commit([batch])
        guard let outcome = outcomes.first else {
            throw StoreError(.sqlite, path: path, detail: "a commit of one batch returned no outcome (a bug in Store)")
        }
        return outcome
    }

    public func commit(_ batches: [StoredBatch]) throws(StoreError) -> [CommitOutcome] {
        for batch in batches { try checkBootID(batch.bootID) }
        let now = clock()
        return try withConnection { c throws(StoreError) in
            if fileVersion >= 2 { return try commitWithRollups(batches, now: now, c) }
            return try transaction(c, immediate: true) { () throws(StoreError) in
                var rollups: Rollups? = nil
                var blocks: [Int64] = []
                return try store(batches, now: now, c, rollups: &rollups, blocks: &blocks)
            }
        }
    }

    /// Every batch of one transaction, inside it.
    func store(
        _ batches: [StoredBatch], now: Double, _ c: SQLiteConnection, rollups: inout Rollups?, blocks: inout [Int64]
    ) throws(StoreError) -> [CommitOutcome] {
        var outcomes: [CommitOutcome] = []
        outcomes.reserveCapacity(batches.count)
        for batch in batches {
            outcomes.append(try apply(batch, c, now: now, rollups: &rollups, blocks: &blocks))
        }
        return outcomes
    }

    /// One batch inside the caller's transaction: its records, their rollup deltas and its stream's committed
    /// sequence, or nothing.
    private func apply(
        _ batch: StoredBatch, _ c: SQLiteConnection, now: Double, rollups: inout Rollups?, blocks: inout [Int64]
    ) throws(StoreError) -> CommitOutcome {
        let committed = try Self.readSequence(c, sensor: batch.sensor, bootID: batch.bootID)
        if batch.sequence <= committed { return .duplicate(committed: committed) }
        var inserts = try RecordInserts(c)
        var recordID = try c.integer(Self.maxRecordIDSQL) + 1
        for record in batch.records {
            try inserts.insert(record, recordID: recordID)
            try rollups?.add(record, recordID: recordID, c)
            recordID += 1
        }
        blocks += try inserts.writeBlocks(c)
        let upsert = try c.statement(
            """
            INSERT INTO sensor_sequences (sensor, boot_id, committed_seq, updated_at) VALUES (?1, ?2, ?3, ?4)
            ON CONFLICT (sensor, boot_id) DO UPDATE SET
                committed_seq = excluded.committed_seq, updated_at = excluded.updated_at
            """)
        try upsert.bind(1, batch.sensor)
        try upsert.bind(2, blob: batch.bootID)
        try upsert.bind(3, batch.sequence)
        try upsert.bind(4, now)
        try upsert.run()
        let seen = try c.statement("UPDATE sensors SET last_seen = ?2 WHERE name = ?1")
        try seen.bind(1, batch.sensor)
        try seen.bind(2, now)
        try seen.run()
        return .stored(records: batch.records.count)
    }

    /// The largest `record_id` of all record tables (0 when empty); each `max` is one B-tree seek.
    private static let maxRecordIDSQL =
        "SELECT coalesce(max(m), 0) FROM ("
        + RecordKind.allCases.map { "SELECT max(record_id) AS m FROM \(Schema.table($0))" }.joined(
            separator: " UNION ALL ") + ")"

    // MARK: reading

    public func records(_ query: RecordQuery) throws(StoreError) -> [Record] {
        if let limit = query.limit, limit <= 0 { return [] }
        return try withConnection { c throws(StoreError) in
            // One read transaction: every kind and block comes from the same snapshot.
            try transaction(c, immediate: false) { () throws(StoreError) in
                var reader = BlockReader(query: query)
                for kind in query.kinds.sorted() where reader.canMatch(kind) {
                    try reader.read(kind, c)
                }
                return reader.finish()
            }
        }
    }

    public func counts() throws(StoreError) -> [String: Int] {
        try withConnection { c throws(StoreError) in
            // The blocks count every committed record, and summing them reads one row per batch, not every row.
            let select = try c.statement("SELECT kind, sum(records) FROM record_blocks GROUP BY kind")
            defer { select.reset() }
            var counts = Dictionary(uniqueKeysWithValues: RecordKind.allCases.map { ($0.rawValue, 0) })
            while try select.step() { counts[select.text(0)] = Int(select.int64(1)) }
            return counts
        }
    }
}

extension SQLiteStore {
    /// Every row of a query, each column in SQLite's text form (nil for NULL, BLOBs as lowercase hex); for tests and
    /// debugging, not for record access.
    func rows(_ sql: String) throws(StoreError) -> [[String?]] {
        try withConnection { c throws(StoreError) in
            let select = try c.statement(sql)
            defer { select.clear() }
            var rows: [[String?]] = []
            while try select.step() {
                rows.append(
                    (0..<sqlite3_column_count(select.handle)).map { column in
                        switch sqlite3_column_type(select.handle, column) {
                        case SQLITE_NULL: return nil
                        case SQLITE_BLOB:
                            return select.blob(column).map { String(UInt16($0) + 0x100, radix: 16).dropFirst() }
                                .joined()
                        default: return select.text(column)
                        }
                    })
            }
            return rows
        }
    }
}

extension Record {
    /// The record's `ts`.
    var timestamp: Double {
        switch self {
        case .flow(let r): return r.ts
        case .dns(let r): return r.ts
        case .http(let r): return r.ts
        case .tls(let r): return r.ts
        case .series(let r): return r.ts
        case .stats(let r): return r.ts
        }
    }
}
