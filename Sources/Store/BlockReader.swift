import Flows
import Packets

/// Answers a `RecordQuery` from the sparse index: for each kind, the `record_blocks` rows whose time range and sensor
/// may match and whose `BlockFilter` may hold the looked-up host, port and uid; then those blocks' `record_id` ranges,
/// filtered exactly in SQL. Rows of all kinds are merged by (`ts`, `record_id`).
struct BlockReader {
    let query: RecordQuery
    private var rows: [(ts: Double, recordID: Int64, record: Record)] = []
    private let keys: [UInt64]

    init(query: RecordQuery) {
        self.query = query
        var keys: [UInt64] = []
        if let host = query.host { keys.append(BlockFilter.hash(.host, host.description)) }
        if let port = query.port { keys.append(BlockFilter.hash(port: port)) }
        if let uid = query.uid { keys.append(BlockFilter.hash(.uid, uid)) }
        self.keys = keys
    }

    /// Series and stats records have no endpoints or uid, so a query naming one matches none of them.
    func canMatch(_ kind: RecordKind) -> Bool {
        switch kind {
        case .flow, .dns, .http, .tls: return true
        case .series, .stats: return query.host == nil && query.port == nil && query.uid == nil
        }
    }

    mutating func read(_ kind: RecordKind, _ c: SQLiteConnection) throws(StoreError) {
        let blocks = try candidateBlocks(kind, c)
        var conditions = ["record_id BETWEEN ? AND ?"]
        if query.from != nil { conditions.append("ts >= ?") }
        if query.to != nil { conditions.append("ts < ?") }
        if query.sensor != nil { conditions.append("sensor = ?") }
        if query.host != nil { conditions.append("(orig_h = ? OR resp_h = ?)") }
        if query.port != nil { conditions.append("resp_p = ?") }
        if query.uid != nil { conditions.append("uid = ?") }
        let select = try c.statement(
            "SELECT \(RecordColumns.selectList(kind)) FROM \(Schema.table(kind)) WHERE "
                + conditions.joined(separator: " AND "))
        defer { select.clear() }
        let limit = query.limit ?? Int.max
        for block in blocks {
            // Blocks come in `min_ts` order: once `limit` rows are held and this block starts after the last of them,
            // no later block can hold an earlier row.
            if rows.count >= limit {
                trim(to: limit)
                if let last = rows.last, block.minTS > last.ts { break }
            }
            select.reset()
            try select.bind(1, block.firstID)
            try select.bind(2, block.lastID)
            var parameter: Int32 = 3
            func next() -> Int32 {
                defer { parameter += 1 }
                return parameter
            }
            if let from = query.from { try select.bind(next(), from) }
            if let to = query.to { try select.bind(next(), to) }
            if let sensor = query.sensor { try select.bind(next(), sensor) }
            if let host = query.host {
                try select.bind(next(), host.description)
                try select.bind(next(), host.description)
            }
            if let port = query.port { try select.bind(next(), Int64(port)) }
            if let uid = query.uid { try select.bind(next(), uid) }
            while try select.step() {
                var row = RecordReader(statement: select)
                let recordID = row.int64()
                let record = try row.record(kind)
                rows.append((record.timestamp, recordID, record))
            }
        }
    }

    /// The blocks of `kind` that may hold a match, by `min_ts`.
    private func candidateBlocks(_ kind: RecordKind, _ c: SQLiteConnection) throws(StoreError) -> [Block] {
        var conditions = ["kind = ?"]
        if query.from != nil { conditions.append("max_ts >= ?") }
        if query.to != nil { conditions.append("min_ts < ?") }
        if query.sensor != nil { conditions.append("(sensor IS NULL OR sensor = ?)") }
        let select = try c.statement(
            "SELECT first_id, last_id, min_ts, keys FROM record_blocks WHERE "
                + conditions.joined(separator: " AND ") + " ORDER BY min_ts, first_id")
        defer { select.clear() }
        try select.bind(1, kind.rawValue)
        var parameter: Int32 = 2
        if let from = query.from {
            try select.bind(parameter, from)
            parameter += 1
        }
        if let to = query.to {
            try select.bind(parameter, to)
            parameter += 1
        }
        if let sensor = query.sensor { try select.bind(parameter, sensor) }
        var blocks: [Block] = []
        while try select.step() {
            if !keys.isEmpty {
                // A block without a filter (none stored) may hold anything.
                if !select.isNull(3) {
                    guard let filter = BlockFilter(bytes: select.blob(3)) else {
                        throw StoreError(
                            .corrupt, path: c.path,
                            detail: "record_blocks: the key filter of \(kind.rawValue) records "
                                + "\(select.int64(0))...\(select.int64(1)) is damaged")
                    }
                    if !keys.allSatisfy(filter.mayContain) { continue }
                }
            }
            blocks.append(Block(firstID: select.int64(0), lastID: select.int64(1), minTS: select.double(2)))
        }
        return blocks
    }

    private mutating func trim(to limit: Int) {
        rows.sort { $0.ts < $1.ts || ($0.ts == $1.ts && $0.recordID < $1.recordID) }
        if rows.count > limit { rows.removeSubrange(limit...) }
    }

    /// Every matching record, ordered by `ts` then insertion, at most `limit`.
    mutating func finish() -> [Record] {
        trim(to: query.limit ?? Int.max)
        return rows.map(\.record)
    }

    private struct Block {
        var firstID: Int64
        var lastID: Int64
        var minTS: Double
    }
}
