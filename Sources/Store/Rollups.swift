import Flows
import Packets

/// Per-minute rollup deltas of one commit, or of several while they wait (`SQLiteStore+Rollups.swift`): records add
/// to them in memory, `write` upserts each key once.
///
/// What the tables count, per minute of packet time and per sensor (the record's `sensor` field):
/// - `rollup_hosts` (host, proto): flows it originated and answered, IP bytes and packets it sent and received.
/// - `rollup_ports` (proto, responder port for TCP and UDP, 0 otherwise): flows, packets, IP bytes.
/// - `rollup_conn_states` (proto, conn_state): final flows, and retransmitted packets.
/// - `rollup_tcp_flags` (flag): final TCP flows with that flag seen from the originator, and from the responder.
/// - `rollup_packet_sizes` (proto, bucket of `sizeBuckets`): packets and IP bytes by the mean packet size of each
///   record's increase; final flows by the mean packet size of the whole flow.
/// - `rollup_dns` (query, qtype_name, rcode_name), `rollup_http` (method, status_code, host, user_agent),
///   `rollup_tls` (version, server_name): records; text keys cut to `maxKeyLength` characters.
///
/// Flows and interim records: a long flow is stored as interim records (`final: false`) with counters cumulative since
/// its start, under one uid, then a final record. Each record adds only its increase over the previous stored record of
/// the same (sensor, uid) (each counter clamped at zero), so a flow's totals are counted exactly once however many
/// records it has; a flow counts as one flow in the record that first shows it. The increase goes to the minute of
/// the record's last packet (`ts + duration`): every record of a uid has the flow's start as `ts`, and putting a long
/// flow's later traffic in its first minute would hide it from the minutes it happened in. The counters of the latest
/// interim record of each uid are kept in `flow_progress` (in the same transaction, hence exactly-once across
/// crashes) and mirrored in memory by `FlowProgressCache`; a final record removes its uid's row. DNS, HTTP and TLS
/// records count in the minute of their `ts`. A record whose time is not finite counts in minute 0.
///
/// Counters saturate at `Int64.max` rather than wrap.
struct Rollups {
    /// Lower bounds, in bytes, of the packet-size buckets (the last is open-ended).
    static let sizeBuckets: [Int64] = [0, 64, 128, 256, 512, 1024, 1500]
    /// Longest text kept in a rollup key, in characters (hosts, user agents, names); longer values are cut.
    static let maxKeyLength = 256
    /// TCP flags in `rollup_tcp_flags`, by name.
    static let flagNames: [(TCPFlags, String)] = [
        (.syn, "SYN"), (.ack, "ACK"), (.fin, "FIN"), (.rst, "RST"), (.psh, "PSH"), (.urg, "URG"), (.ece, "ECE"),
        (.cwr, "CWR"), (.ns, "NS"),
    ]

    private let progress: FlowProgressCache
    /// Progress changes of these deltas, written to `flow_progress` with them; nil removes the uid. They are made to
    /// `progress` at once, so a transaction that fails must invalidate it.
    private(set) var staged: [ProgressKey: FlowCounters?] = [:]
    private let names: SensorNames
    private var lastSensor: (name: String, index: Int32)?

    private var hosts: [HostKey: HostCounters] = [:]
    private var ports: [PortKey: Triple] = [:]
    /// Packet sizes, connection states and TCP flags, together: one dictionary access per flow record, not one per
    /// table.
    private var protos: [ProtoKey: ProtoCounters] = [:]
    private var dns: [DNSKey: Int64] = [:]
    private var http: [HTTPKey: Int64] = [:]
    private var tls: [TLSKey: Int64] = [:]
    private var stats: [String: (recordID: Int64, record: StatsRecord)] = [:]

    init(progress: FlowProgressCache, names: SensorNames) {
        self.progress = progress
        self.names = names
    }

    /// Empties every table but keeps their storage, so the next deltas do not grow (and rehash) them again.
    mutating func removeAll() {
        staged.removeAll(keepingCapacity: true)
        hosts.removeAll(keepingCapacity: true)
        ports.removeAll(keepingCapacity: true)
        protos.removeAll(keepingCapacity: true)
        dns.removeAll(keepingCapacity: true)
        http.removeAll(keepingCapacity: true)
        tls.removeAll(keepingCapacity: true)
        stats.removeAll(keepingCapacity: true)
    }

    /// Keys held, a measure of the memory and of the upserts `write` will make.
    var keyCount: Int {
        staged.count + hosts.count + ports.count + protos.count + dns.count + http.count + tls.count + stats.count
    }

    /// Epoch seconds of the start of the minute holding `ts`; 0 for a time that is not finite or absurdly far.
    @inline(__always)
    static func minute(_ ts: Double) -> Int64 {
        let minutes = (ts / 60).rounded(.down)
        guard minutes.isFinite, minutes.magnitude < 1e15 else { return 0 }
        return Int64(minutes) * 60
    }

    /// The index of the bucket of `sizeBuckets` that holds a mean packet size.
    @inline(__always)
    static func bucket(bytes: Int64, packets: Int64) -> Int {
        guard packets > 0 else { return 0 }
        let mean = bytes / packets
        var index = 0
        while index + 1 < sizeBuckets.count, sizeBuckets[index + 1] <= mean { index += 1 }
        return index
    }

    @inline(__always)
    private mutating func sensorIndex(_ name: String) -> Int32 {
        if let last = lastSensor, last.name == name { return last.index }
        let index = names.index(of: name)
        lastSensor = (name, index)
        return index
    }

    private static func cut(_ text: String?) -> String {
        guard let text else { return "" }
        // No more characters than bytes: only a long text needs counting.
        guard text.utf8.count > maxKeyLength, text.count > maxKeyLength else { return text }
        return String(text.prefix(maxKeyLength))
    }

    // MARK: adding records

    mutating func add(_ record: Record, recordID: Int64, _ c: SQLiteConnection) throws(StoreError) {
        switch record {
        case .flow(let r): try add(r, c)
        case .dns(let r):
            let key = DNSKey(
                minute: Self.minute(r.ts), sensor: sensorIndex(r.sensor), query: Self.cut(r.query),
                qtype: Self.cut(r.qtypeName), rcode: Self.cut(r.rcodeName))
            dns[key, default: 0].add(1)
        case .http(let r):
            let t = r.transaction
            let key = HTTPKey(
                minute: Self.minute(r.ts), sensor: sensorIndex(r.sensor), method: Self.cut(t.method),
                status: Int64(t.statusCode ?? 0), host: Self.cut(t.host), userAgent: Self.cut(t.userAgent))
            http[key, default: 0].add(1)
        case .tls(let r):
            let key = TLSKey(
                minute: Self.minute(r.ts), sensor: sensorIndex(r.sensor), version: Self.cut(r.version),
                serverName: Self.cut(r.serverName))
            tls[key, default: 0].add(1)
        case .series:
            break
        case .stats(let r):
            // The latest by ts; on a tie the later arrival.
            if let held = stats[r.sensor], held.record.ts > r.ts { return }
            stats[r.sensor] = (recordID, r)
        }
    }

    /// The counters of the previous stored record of this flow, nil when there is none.
    private func previous(_ key: ProgressKey, _ c: SQLiteConnection) throws(StoreError) -> FlowCounters? {
        // A complete cache holds every change made so far (one lookup); the table lacks those not yet written.
        if progress.complete { return progress.entries.isEmpty ? nil : progress.entries[key] }
        if let staged = staged[key] { return staged }
        return try FlowProgressCache.read(key, c)
    }

    private mutating func add(_ r: FlowRecord, _ c: SQLiteConnection) throws(StoreError) {
        let key = ProgressKey(sensor: r.sensor, uid: r.uid)
        let now = FlowCounters(r)
        let before = try previous(key, c)
        if !r.final {
            staged[key] = .some(now)
            progress.set(key, now)
        } else if before != nil {
            staged[key] = .some(nil)
            progress.set(key, nil)
        }
        let first: Int64 = before == nil ? 1 : 0
        let origPackets = now.origPackets.increase(over: before?.origPackets)
        let respPackets = now.respPackets.increase(over: before?.respPackets)
        let origBytes = now.origIPBytes.increase(over: before?.origIPBytes)
        let respBytes = now.respIPBytes.increase(over: before?.respIPBytes)
        let retrans = now.retransPackets.increase(over: before?.retransPackets)
        let sensor = sensorIndex(r.sensor)
        let minute = Self.minute(r.ts + r.duration)
        let packets = origPackets.saturatingAdd(respPackets)
        let bytes = origBytes.saturatingAdd(respBytes)

        if first == 1 || packets > 0 || bytes > 0 {
            hosts[HostKey(minute: minute, sensor: sensor, host: r.id.origHost, proto: r.proto), default: .init()]
                .add(
                    HostCounters(
                        origFlows: first, respFlows: 0, sentBytes: origBytes, receivedBytes: respBytes,
                        sentPackets: origPackets, receivedPackets: respPackets))
            hosts[HostKey(minute: minute, sensor: sensor, host: r.id.respHost, proto: r.proto), default: .init()]
                .add(
                    HostCounters(
                        origFlows: 0, respFlows: first, sentBytes: respBytes, receivedBytes: origBytes,
                        sentPackets: respPackets, receivedPackets: origPackets))
            let port = r.proto == IPProtocol.tcp || r.proto == IPProtocol.udp ? r.id.respPort : 0
            ports[PortKey(minute: minute, sensor: sensor, proto: r.proto, port: port), default: .init()]
                .add(Triple(flows: first, packets: packets, bytes: bytes))
        }
        let finalFlow = r.final
        let totalPackets = Int64(clamping: now.origPackets).saturatingAdd(Int64(clamping: now.respPackets))
        guard packets > 0 || retrans > 0 || finalFlow else { return }
        protos[ProtoKey(minute: minute, sensor: sensor, proto: r.proto), default: ProtoCounters()].add { counters in
            if packets > 0 {
                counters.sizes[Self.bucket(bytes: bytes, packets: packets)].add(
                    Triple(flows: 0, packets: packets, bytes: bytes))
            }
            if finalFlow || retrans > 0 {
                counters.add(state: r.connState, Pair(first: finalFlow ? 1 : 0, second: retrans))
            }
            guard finalFlow else { return }
            if totalPackets > 0 {
                let totalBytes = Int64(clamping: now.origIPBytes).saturatingAdd(Int64(clamping: now.respIPBytes))
                counters.sizes[Self.bucket(bytes: totalBytes, packets: totalPackets)].flows.add(1)
            }
            if r.proto == IPProtocol.tcp {
                if counters.flags.isEmpty { counters.flags = [Pair](repeating: Pair(), count: Self.flagNames.count) }
                let orig = r.tcpFlagsOrig ?? []
                let resp = r.tcpFlagsResp ?? []
                for (index, (flag, _)) in Self.flagNames.enumerated() {
                    if orig.contains(flag) { counters.flags[index].first.add(1) }
                    if resp.contains(flag) { counters.flags[index].second.add(1) }
                }
            }
        }
    }

    // MARK: writing

    /// Upserts every key once and writes the progress changes; the caller's transaction makes it atomic with the
    /// records.
    func write(_ c: SQLiteConnection) throws(StoreError) {
        if !hosts.isEmpty {
            let upsert = try c.statement(
                """
                INSERT INTO rollup_hosts (minute, sensor, host, proto, orig_flows, resp_flows, sent_bytes,
                    received_bytes, sent_pkts, received_pkts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                ON CONFLICT (minute, sensor, host, proto) DO UPDATE SET
                    orig_flows = min(orig_flows + excluded.orig_flows, \(Int64.max)),
                    resp_flows = min(resp_flows + excluded.resp_flows, \(Int64.max)),
                    sent_bytes = min(sent_bytes + excluded.sent_bytes, \(Int64.max)),
                    received_bytes = min(received_bytes + excluded.received_bytes, \(Int64.max)),
                    sent_pkts = min(sent_pkts + excluded.sent_pkts, \(Int64.max)),
                    received_pkts = min(received_pkts + excluded.received_pkts, \(Int64.max))
                """)
            var text = AddressText()
            // In key order: neighbouring upserts touch the same B-tree pages (measured: about twice as fast as hash
            // order).
            let ordered = hosts.sorted {
                ($0.key.minute, $0.key.sensor, $0.key.host) < ($1.key.minute, $1.key.sensor, $1.key.host)
            }
            for (key, value) in ordered {
                try upsert.bind(1, key.minute)
                try upsert.bind(2, names.name(key.sensor))
                try text.bind(key.host, to: upsert, at: 3) { () throws(StoreError) in
                    try upsert.bind(4, Int64(key.proto))
                    try upsert.bind(5, value.origFlows)
                    try upsert.bind(6, value.respFlows)
                    try upsert.bind(7, value.sentBytes)
                    try upsert.bind(8, value.receivedBytes)
                    try upsert.bind(9, value.sentPackets)
                    try upsert.bind(10, value.receivedPackets)
                    try upsert.run()
                }
            }
        }
        try upsert(
            ports, c,
            """
            INSERT INTO rollup_ports (minute, sensor, proto, port, flows, pkts, bytes)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (minute, sensor, proto, port) DO UPDATE SET
                flows = min(flows + excluded.flows, \(Int64.max)), pkts = min(pkts + excluded.pkts, \(Int64.max)),
                bytes = min(bytes + excluded.bytes, \(Int64.max))
            """
        ) { (key, value, s) throws(StoreError) in
            try s.bind(1, key.minute)
            try s.bind(2, names.name(key.sensor))
            try s.bind(3, Int64(key.proto))
            try s.bind(4, Int64(key.port))
            try s.bind(5, value.flows)
            try s.bind(6, value.packets)
            try s.bind(7, value.bytes)
        }
        try writeProtos(c)
        try upsert(
            dns, c,
            """
            INSERT INTO rollup_dns (minute, sensor, query, qtype_name, rcode_name, count)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT (minute, sensor, query, qtype_name, rcode_name) DO UPDATE SET
                count = min(count + excluded.count, \(Int64.max))
            """
        ) { (key, value, s) throws(StoreError) in
            try s.bind(1, key.minute)
            try s.bind(2, names.name(key.sensor))
            try s.bind(3, key.query)
            try s.bind(4, key.qtype)
            try s.bind(5, key.rcode)
            try s.bind(6, value)
        }
        try upsert(
            http, c,
            """
            INSERT INTO rollup_http (minute, sensor, method, status_code, host, user_agent, count)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (minute, sensor, method, status_code, host, user_agent) DO UPDATE SET
                count = min(count + excluded.count, \(Int64.max))
            """
        ) { (key, value, s) throws(StoreError) in
            try s.bind(1, key.minute)
            try s.bind(2, names.name(key.sensor))
            try s.bind(3, key.method)
            try s.bind(4, key.status)
            try s.bind(5, key.host)
            try s.bind(6, key.userAgent)
            try s.bind(7, value)
        }
        try upsert(
            tls, c,
            """
            INSERT INTO rollup_tls (minute, sensor, version, server_name, count) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (minute, sensor, version, server_name) DO UPDATE SET
                count = min(count + excluded.count, \(Int64.max))
            """
        ) { (key, value, s) throws(StoreError) in
            try s.bind(1, key.minute)
            try s.bind(2, names.name(key.sensor))
            try s.bind(3, key.version)
            try s.bind(4, key.serverName)
            try s.bind(5, value)
        }
        try writeStats(c)
        try FlowProgressCache.write(staged, c)
    }

    /// `rollup_packet_sizes`, `rollup_conn_states` and `rollup_tcp_flags`: a row per counter that is not zero.
    private func writeProtos(_ c: SQLiteConnection) throws(StoreError) {
        guard !protos.isEmpty else { return }
        let sizes = try c.statement(
            """
            INSERT INTO rollup_packet_sizes (minute, sensor, proto, bucket, flows, pkts, bytes)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (minute, sensor, proto, bucket) DO UPDATE SET
                flows = min(flows + excluded.flows, \(Int64.max)), pkts = min(pkts + excluded.pkts, \(Int64.max)),
                bytes = min(bytes + excluded.bytes, \(Int64.max))
            """)
        let states = try c.statement(
            """
            INSERT INTO rollup_conn_states (minute, sensor, proto, conn_state, flows, retrans_pkts)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            ON CONFLICT (minute, sensor, proto, conn_state) DO UPDATE SET
                flows = min(flows + excluded.flows, \(Int64.max)),
                retrans_pkts = min(retrans_pkts + excluded.retrans_pkts, \(Int64.max))
            """)
        let flags = try c.statement(
            """
            INSERT INTO rollup_tcp_flags (minute, sensor, flag, orig_flows, resp_flows) VALUES (?1, ?2, ?3, ?4, ?5)
            ON CONFLICT (minute, sensor, flag) DO UPDATE SET
                orig_flows = min(orig_flows + excluded.orig_flows, \(Int64.max)),
                resp_flows = min(resp_flows + excluded.resp_flows, \(Int64.max))
            """)
        for (key, counters) in protos {
            let sensor = names.name(key.sensor)
            for (index, size) in counters.sizes.enumerated()
            where size.flows > 0 || size.packets > 0 || size.bytes > 0 {
                try sizes.bind(1, key.minute)
                try sizes.bind(2, sensor)
                try sizes.bind(3, Int64(key.proto))
                try sizes.bind(4, Self.sizeBuckets[index])
                try sizes.bind(5, size.flows)
                try sizes.bind(6, size.packets)
                try sizes.bind(7, size.bytes)
                try sizes.run()
            }
            for (state, count) in counters.states {
                try states.bind(1, key.minute)
                try states.bind(2, sensor)
                try states.bind(3, Int64(key.proto))
                try states.bind(4, state)
                try states.bind(5, count.first)
                try states.bind(6, count.second)
                try states.run()
            }
            for (index, count) in counters.flags.enumerated() where count.first > 0 || count.second > 0 {
                try flags.bind(1, key.minute)
                try flags.bind(2, sensor)
                try flags.bind(3, Self.flagNames[index].1)
                try flags.bind(4, count.first)
                try flags.bind(5, count.second)
                try flags.run()
            }
        }
    }

    /// Binds each key's row with `bind` and runs the statement, once per key.
    private func upsert<Key, Value>(
        _ rows: [Key: Value], _ c: SQLiteConnection, _ sql: String,
        _ bind: (Key, Value, Statement) throws(StoreError) -> Void
    ) throws(StoreError) {
        guard !rows.isEmpty else { return }
        let statement = try c.statement(sql)
        for (key, value) in rows {
            try bind(key, value, statement)
            try statement.run()
        }
    }

    private func writeStats(_ c: SQLiteConnection) throws(StoreError) {
        guard !stats.isEmpty else { return }
        let upsert = try c.statement(
            """
            INSERT INTO sensor_stats (sensor, ts, record_id, source, packets_received, packets_dropped_kernel,
                packets_dropped_interface, bytes_received, decode_errors, flow_table_size, records_dropped,
                spool_bytes, final) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
            ON CONFLICT (sensor) DO UPDATE SET ts = excluded.ts, record_id = excluded.record_id,
                source = excluded.source, packets_received = excluded.packets_received,
                packets_dropped_kernel = excluded.packets_dropped_kernel,
                packets_dropped_interface = excluded.packets_dropped_interface,
                bytes_received = excluded.bytes_received, decode_errors = excluded.decode_errors,
                flow_table_size = excluded.flow_table_size, records_dropped = excluded.records_dropped,
                spool_bytes = excluded.spool_bytes, final = excluded.final
            WHERE excluded.ts >= sensor_stats.ts
            """)
        for (sensor, held) in stats {
            let r = held.record
            try upsert.bind(1, sensor)
            try upsert.bind(2, r.ts)
            try upsert.bind(3, held.recordID)
            try upsert.bind(4, r.source)
            try upsert.bind(5, r.packetsReceived)
            try upsert.bind(6, r.packetsDroppedKernel)
            try upsert.bind(7, r.packetsDroppedInterface)
            try upsert.bind(8, r.bytesReceived)
            try upsert.bind(9, r.decodeErrors)
            try upsert.bind(10, Int64(r.flowTableSize))
            try upsert.bind(11, r.recordsDropped)
            try upsert.bind(12, r.spoolBytes)
            try upsert.bind(13, r.final)
            try upsert.run()
        }
    }
}

// MARK: rebuilding

extension Rollups {
    /// Records read per step of a rebuild.
    static let rebuildChunk = 20_000

    /// Fills the rollups, `flow_progress` and `sensor_stats` from the records already stored, by the same rules as
    /// ingest and in the same order (`record_id`), inside the caller's transaction (migration 2 of a version-1 file).
    static func rebuild(_ c: SQLiteConnection) throws(StoreError) {
        let progress = FlowProgressCache()
        let names = SensorNames()
        for kind in [RecordKind.flow, .dns, .http, .tls, .stats] {
            var after: Int64 = 0
            while true {
                var rollups = Rollups(progress: progress, names: names)
                let read = try rollups.add(kind, after: after, through: .max, limit: rebuildChunk, c)
                try rollups.write(c)
                guard read.count == rebuildChunk, let last = read.last else { break }
                after = last
            }
        }
    }

    /// Adds the records of `kind` with `after < record_id <= through`, in `record_id` order, at most `limit` of them;
    /// returns the last record id read, or nil when there was none.
    mutating func add(_ kind: RecordKind, after: Int64, through: Int64, limit: Int, _ c: SQLiteConnection)
        throws(StoreError) -> (count: Int, last: Int64?)
    {
        let select = try c.statement(
            "SELECT \(RecordColumns.selectList(kind)) FROM \(Schema.table(kind)) WHERE record_id > ?1 "
                + "AND record_id <= ?2 ORDER BY record_id LIMIT ?3")
        defer { select.clear() }
        try select.bind(1, after)
        try select.bind(2, through)
        try select.bind(3, Int64(limit))
        var count = 0
        var last: Int64?
        while try select.step() {
            var row = RecordReader(statement: select)
            let recordID = row.int64()
            try add(try row.record(kind), recordID: recordID, c)
            count += 1
            last = recordID
        }
        return (count, last)
    }
}

// MARK: flow progress

/// Sensor names by a small index, shared by every `Rollups` of a store so their keys can be merged.
final class SensorNames {
    private var names: [String] = []
    private var indexes: [String: Int32] = [:]

    func index(of name: String) -> Int32 {
        if let index = indexes[name] { return index }
        let index = Int32(names.count)
        names.append(name)
        indexes[name] = index
        return index
    }

    func name(_ index: Int32) -> String { names[Int(index)] }
}

/// A flow's cumulative counters as of its latest stored record.
struct FlowCounters: Hashable {
    var end: Double
    var origPackets: UInt64
    var respPackets: UInt64
    var origIPBytes: UInt64
    var respIPBytes: UInt64
    var retransPackets: UInt64

    init(_ r: FlowRecord) {
        end = r.ts + r.duration
        origPackets = r.origPackets
        respPackets = r.respPackets
        origIPBytes = r.origIPBytes
        respIPBytes = r.respIPBytes
        retransPackets = r.retransPackets
    }

    init(
        end: Double, origPackets: UInt64, respPackets: UInt64, origIPBytes: UInt64, respIPBytes: UInt64,
        retransPackets: UInt64
    ) {
        self.end = end
        self.origPackets = origPackets
        self.respPackets = respPackets
        self.origIPBytes = origIPBytes
        self.respIPBytes = respIPBytes
        self.retransPackets = retransPackets
    }
}

/// A flow as `flow_progress` keys it.
struct ProgressKey: Hashable {
    var sensor: String
    var uid: String

    // The uid alone: it is random and unique to one sensor already, and hashing the sensor's name too cost a few
    // percent of a commit (measured).
    func hash(into hasher: inout Hasher) { hasher.combine(uid) }
}

/// The writer's in-memory copy of `flow_progress`, so that the common record (a flow with no interim record before
/// it) needs no lookup in the database.
///
/// Complete (every row) while it holds at most `limit` flows; past that it is dropped and lookups go to the table,
/// which is always the truth. Another connection's write (retention run by another process, say) makes it stale: the
/// writer compares `PRAGMA data_version` at the start of each transaction and reloads when it moved.
final class FlowProgressCache {
    static let limit = 1_000_000
    var entries: [ProgressKey: FlowCounters] = [:]
    /// True when `entries` holds every row of `flow_progress`.
    var complete = true
    /// `PRAGMA data_version` when the cache was last known to match the table; nil forces a reload.
    var dataVersion: Int64?

    /// Reloads from the table, plus the changes not yet written there, when another connection may have changed the
    /// table since; call inside the write transaction.
    func refresh(_ c: SQLiteConnection, unwritten: [ProgressKey: FlowCounters?] = [:]) throws(StoreError) {
        let version = try c.integer("PRAGMA data_version")
        if version == dataVersion { return }
        entries = [:]
        complete = try c.integer("SELECT count(*) FROM flow_progress") <= Self.limit
        if complete {
            let select = try c.statement(
                """
                SELECT sensor, uid, end_ts, orig_pkts, resp_pkts, orig_ip_bytes, resp_ip_bytes, retrans_pkts
                FROM flow_progress
                """)
            defer { select.reset() }
            while try select.step() {
                entries[ProgressKey(sensor: select.text(0), uid: select.text(1))] = Self.counters(select, from: 2)
            }
        }
        dataVersion = version
        apply(unwritten)
    }

    /// Applies changes not in the table (after a reload).
    func apply(_ staged: [ProgressKey: FlowCounters?]) {
        for (key, value) in staged { set(key, value) }
    }

    /// One flow's new progress (nil: finished); past `limit` flows the cache gives up being complete.
    @inline(__always)
    func set(_ key: ProgressKey, _ value: FlowCounters?) {
        guard complete else { return }
        entries[key] = value
        if entries.count > Self.limit {
            entries = [:]
            complete = false
        }
    }

    /// Forgets everything; the next transaction reloads.
    func invalidate() {
        entries = [:]
        complete = true
        dataVersion = nil
    }

    static func read(_ key: ProgressKey, _ c: SQLiteConnection) throws(StoreError) -> FlowCounters? {
        let select = try c.statement(
            """
            SELECT end_ts, orig_pkts, resp_pkts, orig_ip_bytes, resp_ip_bytes, retrans_pkts FROM flow_progress
            WHERE sensor = ?1 AND uid = ?2
            """)
        defer { select.reset() }
        try select.bind(1, key.sensor)
        try select.bind(2, key.uid)
        return try select.step() ? counters(select, from: 0) : nil
    }

    private static func counters(_ s: Statement, from column: Int32) -> FlowCounters {
        FlowCounters(
            end: s.double(column), origPackets: s.uint64(column + 1), respPackets: s.uint64(column + 2),
            origIPBytes: s.uint64(column + 3), respIPBytes: s.uint64(column + 4), retransPackets: s.uint64(column + 5))
    }

    static func write(_ staged: [ProgressKey: FlowCounters?], _ c: SQLiteConnection) throws(StoreError) {
        guard !staged.isEmpty else { return }
        let upsert = try c.statement(
            """
            INSERT OR REPLACE INTO flow_progress (sensor, uid, end_ts, orig_pkts, resp_pkts, orig_ip_bytes,
                resp_ip_bytes, retrans_pkts) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
            """)
        let delete = try c.statement("DELETE FROM flow_progress WHERE sensor = ?1 AND uid = ?2")
        for (key, value) in staged {
            if let value {
                try upsert.bind(1, key.sensor)
                try upsert.bind(2, key.uid)
                try upsert.bind(3, value.end)
                try upsert.bind(4, value.origPackets)
                try upsert.bind(5, value.respPackets)
                try upsert.bind(6, value.origIPBytes)
                try upsert.bind(7, value.respIPBytes)
                try upsert.bind(8, value.retransPackets)
                try upsert.run()
            } else {
                try delete.bind(1, key.sensor)
                try delete.bind(2, key.uid)
                try delete.run()
            }
        }
    }
}

// MARK: keys and counters

private struct HostKey: Hashable {
    var minute: Int64
    var sensor: Int32
    var host: IPAddress
    var proto: UInt8

    // Two or three words instead of the synthesized five fields and the enum's case: a fifth of the time of a flow's
    // rollup deltas went to hashing host keys (measured).
    func hash(into hasher: inout Hasher) {
        hasher.combine(
            UInt64(bitPattern: minute) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(UInt32(bitPattern: sensor)) << 8
                ^ UInt64(proto))
        switch host {
        case .v4(let a): hasher.combine(UInt64(a))
        case .v6(let high, let low):
            hasher.combine(high)
            hasher.combine(low)
        }
    }
}

private struct HostCounters {
    var origFlows: Int64 = 0
    var respFlows: Int64 = 0
    var sentBytes: Int64 = 0
    var receivedBytes: Int64 = 0
    var sentPackets: Int64 = 0
    var receivedPackets: Int64 = 0

    mutating func add(_ other: HostCounters) {
        origFlows.add(other.origFlows)
        respFlows.add(other.respFlows)
        sentBytes.add(other.sentBytes)
        receivedBytes.add(other.receivedBytes)
        sentPackets.add(other.sentPackets)
        receivedPackets.add(other.receivedPackets)
    }
}

private struct PortKey: Hashable {
    var minute: Int64
    var sensor: Int32
    var proto: UInt8
    var port: UInt16

    func hash(into hasher: inout Hasher) {
        hasher.combine(
            UInt64(bitPattern: minute) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(UInt32(bitPattern: sensor)) << 24
                ^ UInt64(proto) << 16 ^ UInt64(port))
    }
}

private struct ProtoKey: Hashable {
    var minute: Int64
    var sensor: Int32
    var proto: UInt8

    func hash(into hasher: inout Hasher) {
        hasher.combine(
            UInt64(bitPattern: minute) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(UInt32(bitPattern: sensor)) << 8
                ^ UInt64(proto))
    }
}

/// Per (minute, sensor, proto): packet sizes by bucket, connection states, and (TCP) flags by `Rollups.flagNames`.
private struct ProtoCounters {
    var sizes = [Triple](repeating: Triple(), count: Rollups.sizeBuckets.count)
    /// Empty until a final TCP flow is counted.
    var flags: [Pair] = []
    /// A handful of Zeek states, so a list beats hashing the text.
    var states: [(state: String, count: Pair)] = []

    mutating func add(state: String, _ count: Pair) {
        if let index = states.firstIndex(where: { $0.state == state }) {
            states[index].count.add(count)
        } else {
            states.append((state, count))
        }
    }

    /// Several changes through one dictionary access.
    @inline(__always)
    mutating func add(_ body: (inout ProtoCounters) -> Void) { body(&self) }
}

private struct DNSKey: Hashable {
    var minute: Int64
    var sensor: Int32
    var query: String
    var qtype: String
    var rcode: String
}

private struct HTTPKey: Hashable {
    var minute: Int64
    var sensor: Int32
    var method: String
    var status: Int64
    var host: String
    var userAgent: String
}

private struct TLSKey: Hashable {
    var minute: Int64
    var sensor: Int32
    var version: String
    var serverName: String
}

private struct Triple {
    var flows: Int64 = 0
    var packets: Int64 = 0
    var bytes: Int64 = 0

    mutating func add(_ other: Triple) {
        flows.add(other.flows)
        packets.add(other.packets)
        bytes.add(other.bytes)
    }
}

private struct Pair {
    var first: Int64 = 0
    var second: Int64 = 0

    mutating func add(_ other: Pair) {
        first.add(other.first)
        second.add(other.second)
    }
}

extension Int64 {
    /// Adds, stopping at `Int64.max` (rollup counters are never negative).
    @inline(__always)
    mutating func add(_ other: Int64) { self = saturatingAdd(other) }

    @inline(__always)
    func saturatingAdd(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}

extension UInt64 {
    /// How much a cumulative counter grew since `before` (all of it when there is no before), as a rollup counter:
    /// 0 if it shrank, `Int64.max` at most.
    @inline(__always)
    func increase(over before: UInt64?) -> Int64 {
        let base = before ?? 0
        return self > base ? Int64(clamping: self - base) : 0
    }
}

/// Formats addresses as `IPAddress.description` does into one reused buffer, bound without a copy, so a rollup row
/// does not allocate a string per host.
private struct AddressText {
    private var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(64) }

    mutating func bind(
        _ address: IPAddress, to statement: Statement, at index: Int32, then body: () throws(StoreError) -> Void
    ) throws(StoreError) {
        bytes.removeAll(keepingCapacity: true)
        switch address {
        case .v4(let a):
            for shift: UInt32 in [24, 16, 8, 0] {
                if shift != 24 { bytes.append(UInt8(ascii: ".")) }
                let octet = UInt8(truncatingIfNeeded: a >> shift)
                if octet >= 100 { bytes.append(UInt8(ascii: "0") + octet / 100) }
                if octet >= 10 { bytes.append(UInt8(ascii: "0") + octet / 10 % 10) }
                bytes.append(UInt8(ascii: "0") + octet % 10)
            }
        case .v6:
            bytes.append(contentsOf: address.description.utf8)
        }
        let result: Result<Void, StoreError> = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else {
                return .failure(StoreError(.sqlite, path: statement.connection.path, detail: "empty address text"))
            }
            do throws(StoreError) {
                try statement.bindStatic(index, base, count: buffer.count)
                try body()
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }
}
