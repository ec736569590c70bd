import Flows
import Packets

/// The columns of each record table, in the order `RecordWriter` binds and `RecordReader` reads them (after
/// `record_id`). Keep the three in step with `Schema`; the round-trip tests check every field.
enum RecordColumns {
    static let endpoints = ["orig_h", "orig_p", "resp_h", "resp_p"]

    static func columns(_ kind: RecordKind) -> [String] {
        switch kind {
        case .flow:
            return ["ts", "uid", "sensor"] + endpoints + [
                "proto", "service", "duration", "orig_bytes", "resp_bytes", "orig_pkts", "resp_pkts",
                "orig_ip_bytes", "resp_ip_bytes", "conn_state", "history", "tcp_flags_orig", "tcp_flags_resp",
                "retrans_pkts", "icmp_type", "icmp_code", "vlan", "inner_vlan", "community_id", "final", "end_reason",
                "truncated",
            ]
        case .dns:
            return ["ts", "uid", "sensor"] + endpoints + [
                "proto", "trans_id", "query", "qtype", "qtype_name", "rcode", "rcode_name", "answers", "ttls", "rtt",
                "rejected",
            ]
        case .http:
            return ["ts", "uid", "sensor"] + endpoints + [
                "trans_depth", "method", "uri", "version", "host", "user_agent", "referrer", "status_code",
                "status_msg", "info_code", "info_msg", "request_body_len", "response_body_len",
                "request_content_type", "response_content_type",
            ]
        case .tls:
            return ["ts", "uid", "sensor"] + endpoints + [
                "version", "cipher_code", "server_name", "alpn", "ja3", "ja4",
            ]
        case .series:
            return ["ts", "interval", "sensor", "packets", "bytes", "flows", "per_protocol"]
        case .stats:
            return [
                "ts", "sensor", "source", "packets_received", "packets_dropped_kernel", "packets_dropped_interface",
                "bytes_received", "non_ip_packets", "truncated_packets", "decode_errors", "fragments",
                "fragments_reassembled", "fragments_expired", "flow_table_size", "flows_created", "flows_evicted",
                "records_dropped", "spool_bytes", "weird", "final",
            ]
        }
    }

    static func insertSQL(_ kind: RecordKind) -> String {
        let names = ["record_id"] + columns(kind)
        let values = (1...names.count).map { "?\($0)" }
        return "INSERT INTO \(Schema.table(kind)) (\(names.joined(separator: ", "))) VALUES ("
            + values.joined(separator: ", ") + ")"
    }

    static func selectList(_ kind: RecordKind) -> String {
        (["record_id"] + columns(kind)).joined(separator: ", ")
    }
}

/// The six insert statements of one commit, looked up once per batch rather than once per record, and the sparse-index
/// block of each kind the batch holds.
struct RecordInserts {
    private let flow: Statement
    private let dns: Statement
    private let http: Statement
    private let tls: Statement
    private let series: Statement
    private let stats: Statement
    private var w: RowBinder
    /// Indexed by `RecordKind.allCases` order.
    private var blocks = [BlockBuilder](repeating: BlockBuilder(), count: RecordKind.allCases.count)

    init(_ c: SQLiteConnection) throws(StoreError) {
        flow = try c.statement(RecordColumns.insertSQL(.flow))
        dns = try c.statement(RecordColumns.insertSQL(.dns))
        http = try c.statement(RecordColumns.insertSQL(.http))
        tls = try c.statement(RecordColumns.insertSQL(.tls))
        series = try c.statement(RecordColumns.insertSQL(.series))
        stats = try c.statement(RecordColumns.insertSQL(.stats))
        w = RowBinder(path: c.path)
    }

    mutating func insert(_ record: Record, recordID: Int64) throws(StoreError) {
        switch record {
        case .flow(let r):
            try w.begin(flow, recordID: recordID)
            try w.put(r.ts)
            w.put(r.uid, key: .uid)
            try w.put(r.sensor)
            try w.put(r.id)
            try w.put(Int64(r.proto))
            try w.put(r.service)
            try w.put(r.duration)
            try w.put(r.origBytes)
            try w.put(r.respBytes)
            try w.put(r.origPackets)
            try w.put(r.respPackets)
            try w.put(r.origIPBytes)
            try w.put(r.respIPBytes)
            try w.put(r.connState)
            try w.put(r.history)
            try w.put(r.tcpFlagsOrig?.rawValue)
            try w.put(r.tcpFlagsResp?.rawValue)
            try w.put(r.retransPackets)
            try w.put(r.icmpType)
            try w.put(r.icmpCode)
            try w.put(r.vlan)
            try w.put(r.innerVlan)
            try w.put(r.communityID)
            try w.put(r.final)
            try w.put(r.reason)
            try w.put(r.truncated)
            try w.run()
            blocks[0].add(recordID, ts: r.ts, sensor: r.sensor, keys: w.keys)
        case .dns(let r):
            try w.begin(dns, recordID: recordID)
            try w.put(r.ts)
            w.put(r.uid, key: .uid)
            try w.put(r.sensor)
            try w.put(r.id)
            try w.put(Int64(r.proto))
            try w.put(Int64(r.transID))
            try w.put(r.query)
            try w.put(r.qtype)
            try w.put(r.qtypeName)
            try w.put(r.rcode)
            try w.put(r.rcodeName)
            try w.put(JSONText.encode(r.answers))
            try w.put(JSONText.encode(r.ttls))
            try w.put(r.rtt)
            try w.put(r.rejected)
            try w.run()
            blocks[1].add(recordID, ts: r.ts, sensor: r.sensor, keys: w.keys)
        case .http(let r):
            let t = r.transaction
            try w.begin(http, recordID: recordID)
            try w.put(r.ts)
            w.put(r.uid, key: .uid)
            try w.put(r.sensor)
            try w.put(r.id)
            try w.put(Int64(r.transDepth))
            try w.put(t.method)
            try w.put(t.uri)
            try w.put(t.version)
            try w.put(t.host)
            try w.put(t.userAgent)
            try w.put(t.referrer)
            try w.put(t.statusCode)
            try w.put(t.statusMessage)
            try w.put(t.infoCode)
            try w.put(t.infoMessage)
            try w.put(Int64(t.requestBodyLength))
            try w.put(Int64(t.responseBodyLength))
            try w.put(t.requestContentType)
            try w.put(t.responseContentType)
            try w.run()
            blocks[2].add(recordID, ts: r.ts, sensor: r.sensor, keys: w.keys)
        case .tls(let r):
            try w.begin(tls, recordID: recordID)
            try w.put(r.ts)
            w.put(r.uid, key: .uid)
            try w.put(r.sensor)
            try w.put(r.id)
            try w.put(r.version)
            try w.put(r.cipher)
            try w.put(r.serverName)
            try w.put(JSONText.encode(r.alpn))
            try w.put(r.ja3)
            try w.put(r.ja4)
            try w.run()
            blocks[3].add(recordID, ts: r.ts, sensor: r.sensor, keys: w.keys)
        case .series(let r):
            try w.begin(series, recordID: recordID)
            try w.put(r.ts)
            try w.put(r.interval)
            try w.put(r.sensor)
            try w.put(r.packets)
            try w.put(r.bytes)
            try w.put(r.flows)
            try w.put(JSONText.encode(r.perProtocol))
            try w.run()
            blocks[4].add(recordID, ts: r.ts, sensor: r.sensor, keys: w.keys)
        case .stats(let r):
            try w.begin(stats, recordID: recordID)
            try w.put(r.ts)
            try w.put(r.sensor)
            try w.put(r.source)
            try w.put(r.packetsReceived)
            try w.put(r.packetsDroppedKernel)
            try w.put(r.packetsDroppedInterface)
            try w.put(r.bytesReceived)
            try w.put(r.nonIPPackets)
            try w.put(r.truncatedPackets)
            try w.put(r.decodeErrors)
            try w.put(r.fragments)
            try w.put(r.fragmentsReassembled)
            try w.put(r.fragmentsExpired)
            try w.put(Int64(r.flowTableSize))
            try w.put(r.flowsCreated)
            try w.put(r.flowsEvicted)
            try w.put(r.recordsDropped)
            try w.put(r.spoolBytes)
            try w.put(JSONText.encode(r.weird))
            try w.put(r.final)
            try w.run()
            blocks[5].add(recordID, ts: r.ts, sensor: r.sensor, keys: w.keys)
        }
    }
}

extension RecordInserts {
    /// Writes one `record_blocks` row per kind that received records; returns their `block_id`s.
    @discardableResult
    func writeBlocks(_ c: SQLiteConnection) throws(StoreError) -> [Int64] {
        let insert = try c.statement(
            """
            INSERT INTO record_blocks (kind, first_id, last_id, records, min_ts, max_ts, sensor, keys)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """)
        var ids: [Int64] = []
        for (kind, block) in zip(RecordKind.allCases, blocks) where block.count > 0 {
            try insert.bind(1, kind.rawValue)
            try insert.bind(2, block.firstID)
            try insert.bind(3, block.lastID)
            try insert.bind(4, Int64(block.count))
            try insert.bind(5, block.minTS)
            try insert.bind(6, block.maxTS)
            try insert.bind(7, block.mixedSensors ? nil : block.sensor)
            if block.hashes.isEmpty {
                try insert.bindNull(8)
            } else {
                var filter = BlockFilter(capacity: block.hashes.count)
                for hash in block.hashes { filter.insert(hash) }
                try insert.bind(8, blob: filter.bytes)
            }
            try insert.run()
            ids.append(c.lastInsertRowID)
        }
        return ids
    }
}

/// What one batch put into one record table: the sparse-index entry `record_blocks` keeps for it.
struct BlockBuilder {
    var firstID: Int64 = 0
    var lastID: Int64 = 0
    var count = 0
    var minTS = Double.infinity
    var maxTS = -Double.infinity
    var sensor: String?
    var mixedSensors = false
    var hashes: [UInt64] = []

    @inline(__always) mutating func add(_ recordID: Int64, ts: Double, sensor: String, keys: [UInt64]) {
        if count == 0 {
            firstID = recordID
            self.sensor = sensor
        } else if !mixedSensors && self.sensor != sensor {
            mixedSensors = true
        }
        lastID = recordID
        count += 1
        minTS = min(minTS, ts)
        maxTS = max(maxTS, ts)
        hashes.append(contentsOf: keys)
    }
}

/// Binds one row's values in column order, starting after `record_id`.
///
/// Text is copied once, into a scratch buffer that outlives the `sqlite3_step`, and bound with `SQLITE_STATIC`, so
/// SQLite neither allocates nor copies it again; IPv4 addresses are formatted straight into that buffer.
struct RowBinder {
    private let path: String
    private var statement: Statement?
    private var index: Int32 = 2
    /// Text bytes of the current row; never empty (a sentinel byte at 0), so its base address is never nil.
    private var bytes: [UInt8] = [0]
    /// Pending text parameters: (parameter index, offset in `bytes`, byte count).
    private var texts: [(index: Int32, offset: Int, count: Int)] = []
    /// Lookup-key hashes of the current row, for the block's `BlockFilter`.
    private(set) var keys: [UInt64] = []

    init(path: String) {
        self.path = path
        bytes.reserveCapacity(4096)
        texts.reserveCapacity(32)
    }

    @inline(__always) mutating func begin(_ statement: Statement, recordID: Int64) throws(StoreError) {
        self.statement = statement
        index = 2
        bytes.removeSubrange(1...)
        texts.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        try statement.bind(1, recordID)
    }

    @inline(__always) mutating func put(_ value: Double) throws(StoreError) {
        try statement?.bind(index, value)
        index += 1
    }

    @inline(__always) mutating func put(_ value: Double?) throws(StoreError) {
        try statement?.bind(index, value)
        index += 1
    }

    @inline(__always) mutating func put(_ value: Int64) throws(StoreError) {
        try statement?.bind(index, value)
        index += 1
    }

    @inline(__always) mutating func put(_ value: UInt64) throws(StoreError) {
        try statement?.bind(index, value)
        index += 1
    }

    @inline(__always) mutating func put<T: BinaryInteger>(_ value: T?) throws(StoreError) {
        try statement?.bind(index, value)
        index += 1
    }

    @inline(__always) mutating func put(_ value: Bool) throws(StoreError) {
        try statement?.bind(index, value)
        index += 1
    }

    @inline(__always) mutating func put(_ value: String) throws(StoreError) {
        let offset = bytes.count
        bytes.append(contentsOf: value.utf8)
        texts.append((index, offset, bytes.count - offset))
        index += 1
    }

    @inline(__always) mutating func put(_ value: String?) throws(StoreError) {
        if let value { try put(value) } else { try put(nil as Int64?) }
    }

    /// Text that is also a lookup key of the row.
    @inline(__always) mutating func put(_ value: String, key namespace: BlockFilter.Namespace) {
        let offset = bytes.count
        bytes.append(contentsOf: value.utf8)
        addKey(namespace, from: offset)
        texts.append((index, offset, bytes.count - offset))
        index += 1
    }

    /// Hashes the bytes appended since `offset` as a key.
    @inline(__always) private mutating func addKey(_ namespace: BlockFilter.Namespace, from offset: Int) {
        let hash = bytes.withUnsafeBufferPointer { buffer in
            BlockFilter.hash(namespace, UnsafeBufferPointer(rebasing: buffer[offset...]))
        }
        keys.append(hash)
    }

    /// An address, in `IPAddress.description`'s form, as a host key.
    @inline(__always) mutating func put(_ address: IPAddress) {
        let offset = bytes.count
        switch address {
        case .v4(let a):
            for shift: UInt32 in [24, 16, 8, 0] {
                if shift != 24 { bytes.append(UInt8(ascii: ".")) }
                appendDecimal(UInt8(truncatingIfNeeded: a >> shift))
            }
        case .v6:
            bytes.append(contentsOf: address.description.utf8)
        }
        addKey(.host, from: offset)
        texts.append((index, offset, bytes.count - offset))
        index += 1
    }

    @inline(__always) private mutating func appendDecimal(_ octet: UInt8) {
        if octet >= 100 { bytes.append(UInt8(ascii: "0") + octet / 100) }
        if octet >= 10 { bytes.append(UInt8(ascii: "0") + octet / 10 % 10) }
        bytes.append(UInt8(ascii: "0") + octet % 10)
    }

    /// The endpoints, with both hosts and the responder port as lookup keys.
    @inline(__always) mutating func put(_ id: ConnID) throws(StoreError) {
        put(id.origHost)
        try put(Int64(id.origPort))
        put(id.respHost)
        try put(Int64(id.respPort))
        keys.append(BlockFilter.hash(port: id.respPort))
    }

    /// Binds the pending text and runs the insert, while the text buffer is still alive.
    mutating func run() throws(StoreError) {
        guard let statement else {
            throw StoreError(.sqlite, path: path, detail: "row bound before begin (a bug in Store)")
        }
        let result: Result<Void, StoreError> = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else {
                return .failure(StoreError(.sqlite, path: path, detail: "empty text buffer (a bug in Store)"))
            }
            do throws(StoreError) {
                for text in texts {
                    try statement.bindStatic(text.index, base + text.offset, count: text.count)
                }
                try statement.run()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}

/// Reads one row's values in column order, starting at `record_id`. Record initialisers take their arguments in
/// column order, and Swift evaluates arguments left to right, so `record(_:)` reads each column once, in turn.
struct RecordReader {
    let statement: Statement
    private var index: Int32 = 0

    init(statement: Statement) { self.statement = statement }

    private mutating func next() -> Int32 {
        defer { index += 1 }
        return index
    }

    mutating func int64() -> Int64 { statement.int64(next()) }
    mutating func uint64() -> UInt64 { statement.uint64(next()) }
    mutating func optionalUInt64() -> UInt64? { statement.optionalUInt64(next()) }
    mutating func double() -> Double { statement.double(next()) }
    mutating func optionalDouble() -> Double? { statement.optionalDouble(next()) }
    mutating func text() -> String { statement.text(next()) }
    mutating func optionalText() -> String? { statement.optionalText(next()) }
    mutating func bool() -> Bool { statement.bool(next()) }

    mutating func integer<T: FixedWidthInteger>(_: T.Type = T.self) throws(StoreError) -> T {
        try statement.integer(next(), as: T.self)
    }

    mutating func optionalInteger<T: FixedWidthInteger>(_: T.Type = T.self) throws(StoreError) -> T? {
        try statement.optionalInteger(next(), as: T.self)
    }

    mutating func address() throws(StoreError) -> IPAddress {
        let column = next()
        let text = statement.text(column)
        guard let address = IPAddress(text) else { throw corrupt(column, "\"\(text)\" is not an IP address") }
        return address
    }

    mutating func connID() throws(StoreError) -> ConnID {
        ConnID(origHost: try address(), origPort: try integer(), respHost: try address(), respPort: try integer())
    }

    /// A JSON column decoded by `decode`, or a `corrupt` error naming the column.
    mutating func json<T>(_ decode: (String) throws(JSONText.DecodeFailure) -> T) throws(StoreError) -> T {
        let column = next()
        do {
            return try decode(statement.text(column))
        } catch {
            throw corrupt(column, "bad JSON: \(error.reason)")
        }
    }

    private func corrupt(_ column: Int32, _ what: String) -> StoreError {
        StoreError(.corrupt, path: statement.connection.path, detail: "column \(statement.columnName(column)): \(what)")
    }

    /// The record of `kind` from the columns after `record_id`.
    mutating func record(_ kind: RecordKind) throws(StoreError) -> Record {
        switch kind {
        case .flow:
            return .flow(
                FlowRecord(
                    ts: double(), uid: text(), sensor: text(), id: try connID(), proto: try integer(),
                    service: optionalText(), duration: double(), origBytes: uint64(), respBytes: uint64(),
                    origPackets: uint64(), respPackets: uint64(), origIPBytes: uint64(), respIPBytes: uint64(),
                    connState: text(), history: text(),
                    tcpFlagsOrig: try optionalInteger(UInt16.self).map(TCPFlags.init(rawValue:)),
                    tcpFlagsResp: try optionalInteger(UInt16.self).map(TCPFlags.init(rawValue:)),
                    retransPackets: uint64(), icmpType: try optionalInteger(), icmpCode: try optionalInteger(),
                    vlan: try optionalInteger(), innerVlan: try optionalInteger(), communityID: text(), final: bool(),
                    reason: text(), truncated: bool()))
        case .dns:
            return .dns(
                DNSRecord(
                    ts: double(), uid: text(), sensor: text(), id: try connID(), proto: try integer(),
                    transID: try integer(), query: optionalText(), qtype: try optionalInteger(),
                    qtypeName: optionalText(), rcode: try optionalInteger(), rcodeName: optionalText(),
                    answers: try json(JSONText.strings), ttls: try json(JSONText.doubles), rtt: optionalDouble(),
                    rejected: bool()))
        case .http:
            return .http(
                HTTPRecord(
                    ts: double(), uid: text(), sensor: text(), id: try connID(), transDepth: try integer(),
                    transaction: HTTPTransaction(
                        method: optionalText(), uri: optionalText(), version: optionalText(), host: optionalText(),
                        userAgent: optionalText(), referrer: optionalText(), statusCode: try optionalInteger(),
                        statusMessage: optionalText(), infoCode: try optionalInteger(), infoMessage: optionalText(),
                        requestBodyLength: try integer(), responseBodyLength: try integer(),
                        requestContentType: optionalText(), responseContentType: optionalText())))
        case .tls:
            return .tls(
                TLSRecord(
                    ts: double(), uid: text(), sensor: text(), id: try connID(), version: optionalText(),
                    cipher: try optionalInteger(), serverName: optionalText(), alpn: try json(JSONText.strings),
                    ja3: optionalText(), ja4: optionalText()))
        case .series:
            return .series(
                SeriesRecord(
                    ts: double(), interval: double(), sensor: text(), packets: uint64(), bytes: uint64(),
                    flows: uint64(), perProtocol: try json(JSONText.perProtocol)))
        case .stats:
            return .stats(
                StatsRecord(
                    ts: double(), sensor: text(), source: text(), packetsReceived: uint64(),
                    packetsDroppedKernel: optionalUInt64(), packetsDroppedInterface: optionalUInt64(),
                    bytesReceived: uint64(), nonIPPackets: uint64(), truncatedPackets: uint64(),
                    decodeErrors: uint64(), fragments: uint64(), fragmentsReassembled: uint64(),
                    fragmentsExpired: uint64(), flowTableSize: try integer(), flowsCreated: uint64(),
                    flowsEvicted: uint64(), recordsDropped: uint64(), spoolBytes: uint64(),
                    weird: try json(JSONText.counters), final: bool()))
        }
    }
}
