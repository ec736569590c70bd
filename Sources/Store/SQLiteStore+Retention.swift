import Flows
import Foundation

/// Retention: deleting what is older than a cut in small transactions, each of which takes the write lock (and, for a
/// store shared with ingest, this store's own lock) only briefly, so commits interleave with a long deletion.
///
/// Records are found through `record_blocks`, oldest `min_ts` first: a block wholly before the cut and within the
/// budget goes with one range delete; otherwise at most the budget of its rows older than the cut go and the block's
/// range, count and times are recomputed from the rows left (a block left empty is deleted). The Bloom filter of a
/// shrunken block keeps its old keys, which only costs a false "maybe". Records and rollups are each cut by their own
/// time: a flow record by its `ts` (the flow's start), its rollup rows by the minute of its last packet.
extension SQLiteStore {
    public func deleteOlderThan(_ cut: Double, batchRows: Int) throws(StoreError) -> Int {
        guard batchRows > 0 else {
            throw StoreError(.invalidArgument, path: path, detail: "batchRows must be positive, got \(batchRows)")
        }
        guard !cut.isNaN else { throw StoreError(.invalidArgument, path: path, detail: "the cut time is NaN") }
        let budget = Int64(batchRows)
        // Pending rollups of records about to go would otherwise be written after their minutes were deleted.
        try flushRollups()
        var records = 0
        // Kinds in turn; each step is one transaction.
        for kind in RecordKind.allCases {
            while true {
                let deleted = try step { c throws(StoreError) in
                    try Self.deleteRecords(kind, before: cut, budget: budget, c)
                }
                records += Int(deleted)
                if deleted < budget { break }
            }
        }
        guard fileVersion >= 2 else { return records }
        let minute = Double(Rollups.minute(cut))
        let rollups: [(table: String, key: String)] = [
            ("rollup_hosts", "minute, sensor, host, proto"), ("rollup_ports", "minute, sensor, proto, port"),
            ("rollup_conn_states", "minute, sensor, proto, conn_state"), ("rollup_tcp_flags", "minute, sensor, flag"),
            ("rollup_packet_sizes", "minute, sensor, proto, bucket"),
            ("rollup_dns", "minute, sensor, query, qtype_name, rcode_name"),
            ("rollup_http", "minute, sensor, method, status_code, host, user_agent"),
            ("rollup_tls", "minute, sensor, version, server_name"),
        ]
        for (table, key) in rollups {
            try deleteInSteps(
                "DELETE FROM \(table) WHERE (\(key)) IN (SELECT \(key) FROM \(table) WHERE minute < ?1 LIMIT ?2)",
                before: minute, budget: budget)
        }
        try deleteInSteps(
            "DELETE FROM alerts WHERE alert_id IN (SELECT alert_id FROM alerts WHERE last_ts < ?1 LIMIT ?2)",
            before: cut, budget: budget)
        let progress = try deleteInSteps(
            """
            DELETE FROM flow_progress WHERE (sensor, uid) IN
                (SELECT sensor, uid FROM flow_progress WHERE end_ts < ?1 LIMIT ?2)
            """, before: cut, budget: budget)
        if progress > 0 {
            try withConnection { _ throws(StoreError) in self.progress.invalidate() }
        }
        return records
    }

    /// One write transaction under the store's lock.
    private func step(_ body: (SQLiteConnection) throws(StoreError) -> Int64) throws(StoreError) -> Int64 {
        let start = ContinuousClock.now
        let deleted = try withConnection { c throws(StoreError) in
            try transaction(c, immediate: true) { () throws(StoreError) in try body(c) }
        }
        let took = ContinuousClock.now - start
        retentionStepObserver?(deleted)
        // Neither the store's lock nor SQLite's busy handler (another process polls, sleeping 1 to 100 ms) is fair:
        // without a pause this thread takes the lock again before a waiting commit wakes (measured: commits of 500
        // records waited up to 240 ms behind steps of 12 ms; with the pause, 24 ms).
        let pause = max(took, .milliseconds(2))
        Thread.sleep(forTimeInterval: Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18)
        return deleted
    }

    /// Runs a delete of at most `budget` rows (`?1` the cut, `?2` the budget) until it deletes fewer; returns the rows.
    @discardableResult
    private func deleteInSteps(_ sql: String, before cut: Double, budget: Int64) throws(StoreError) -> Int64 {
        var total: Int64 = 0
        while true {
            let deleted = try step { c throws(StoreError) in
                let delete = try c.statement(sql)
                try delete.bind(1, cut)
                try delete.bind(2, budget)
                try delete.run()
                return c.changes
            }
            total += deleted
            if deleted < budget { return total }
        }
    }

    /// Deletes up to `budget` records of `kind` with `ts < cut`, oldest blocks first, keeping `record_blocks` exact.
    private static func deleteRecords(_ kind: RecordKind, before cut: Double, budget: Int64, _ c: SQLiteConnection)
        throws(StoreError) -> Int64
    {
        let table = Schema.table(kind)
        let next = try c.statement(
            """
            SELECT block_id, first_id, last_id, records, max_ts FROM record_blocks
            WHERE kind = ?1 AND min_ts < ?2 ORDER BY min_ts, block_id LIMIT 1
            """)
        let dropBlock = try c.statement("DELETE FROM record_blocks WHERE block_id = ?1")
        let dropRange = try c.statement("DELETE FROM \(table) WHERE record_id BETWEEN ?1 AND ?2")
        let dropSome = try c.statement(
            """
            DELETE FROM \(table) WHERE record_id IN
                (SELECT record_id FROM \(table) WHERE record_id BETWEEN ?1 AND ?2 AND ts < ?3 LIMIT ?4)
            """)
        let remaining = try c.statement(
            """
            SELECT count(*), min(record_id), max(record_id), min(ts), max(ts) FROM \(table)
            WHERE record_id BETWEEN ?1 AND ?2
            """)
        let shrink = try c.statement(
            """
            UPDATE record_blocks SET first_id = ?2, last_id = ?3, records = ?4, min_ts = ?5, max_ts = ?6
            WHERE block_id = ?1
            """)
        var deleted: Int64 = 0
        while deleted < budget {
            try next.bind(1, kind.rawValue)
            try next.bind(2, cut)
            guard try next.step() else {
                next.reset()
                break
            }
            let block = next.int64(0)
            let first = next.int64(1)
            let last = next.int64(2)
            let count = next.int64(3)
            let maxTS = next.double(4)
            next.reset()
            if maxTS < cut && count <= budget - deleted {
                try dropRange.bind(1, first)
                try dropRange.bind(2, last)
                try dropRange.run()
                deleted += c.changes
                try dropBlock.bind(1, block)
                try dropBlock.run()
                continue
            }
            try dropSome.bind(1, first)
            try dropSome.bind(2, last)
            try dropSome.bind(3, cut)
            try dropSome.bind(4, budget - deleted)
            try dropSome.run()
            let dropped = c.changes
            deleted += dropped
            try remaining.bind(1, first)
            try remaining.bind(2, last)
            guard try remaining.step() else {
                remaining.reset()
                throw StoreError(.sqlite, path: c.path, detail: "count(*) returned no row")
            }
            let left = remaining.int64(0)
            let values = (remaining.int64(1), remaining.int64(2), remaining.double(3), remaining.double(4))
            remaining.reset()
            if dropped == 0 && left > 0 && values.2 < cut {
                // Rows older than the cut that the delete did not find: the block or the table is damaged.
                throw StoreError(
                    .corrupt, path: c.path,
                    detail:
                        "record_blocks: \(kind.rawValue) block \(block) holds rows before the cut that cannot be "
                        + "deleted"
                )
            }
            if left == 0 {
                try dropBlock.bind(1, block)
                try dropBlock.run()
            } else {
                try shrink.bind(1, block)
                try shrink.bind(2, values.0)
                try shrink.bind(3, values.1)
                try shrink.bind(4, left)
                try shrink.bind(5, values.2)
                try shrink.bind(6, values.3)
                try shrink.run()
            }
        }
        return deleted
    }
}
