import Flows
import Packets

/// The reports: each one read transaction (one snapshot) over the rollups, or over the `series` and `stats` summaries;
/// never over flow records. Sums are exact integers below `Int64.max` and saturate there (`saturating_sum`), so that no
/// stored value, however absurd, makes a report fail.
extension SQLiteStore {
    public func topTalkers(_ query: ReportQuery) throws(StoreError) -> [TopTalker] {
        try check(query, "top talkers", host: true, proto: true)
        var filter = Self.window(query)
        if let host = query.host { filter.add("host = ?", .text(host.description)) }
        if let proto = query.proto { filter.add("proto = ?", .int(Int64(proto))) }
        return try read { c throws(StoreError) in
            var talkers: [TopTalker] = []
            try Self.each(
                c,
                """
                SELECT host, saturating_sum(sent_bytes), saturating_sum(received_bytes), saturating_sum(sent_pkts), saturating_sum(received_pkts),
                    saturating_sum(orig_flows), saturating_sum(resp_flows)
                FROM rollup_hosts\(filter.whereClause) GROUP BY host
                ORDER BY total(sent_bytes) + total(received_bytes) DESC, host LIMIT ?
                """, filter, limit: query.limit
            ) { s throws(StoreError) in
                talkers.append(
                    TopTalker(
                        host: s.text(0), sentBytes: s.count(1), receivedBytes: s.count(2), sentPackets: s.count(3),
                        receivedPackets: s.count(4), origFlows: s.count(5), respFlows: s.count(6)))
            }
            return talkers
        }
    }

    public func ports(_ query: ReportQuery) throws(StoreError) -> [PortTotals] {
        try check(query, "ports", proto: true)
        var filter = Self.window(query)
        if let proto = query.proto { filter.add("proto = ?", .int(Int64(proto))) }
        return try read { c throws(StoreError) in try Self.ports(c, filter, limit: query.limit) }
    }

    public func protocols(_ query: ReportQuery) throws(StoreError) -> [ProtocolTotals] {
        try check(query, "protocols")
        return try read { c throws(StoreError) in
            var totals: [String: ProtocolTotals] = [:]
            for series in try Self.series(query, c) {
                for (name, counters) in series.perProtocol {
                    totals[name, default: ProtocolTotals(proto: name, packets: 0, bytes: 0, flows: 0)].add(counters)
                }
            }
            return totals.values.sorted { ($0.bytes, $1.proto) > ($1.bytes, $0.proto) }
        }
    }

    public func traffic(_ query: ReportQuery, bucket: Double) throws(StoreError) -> [TrafficBucket] {
        try check(query, "traffic")
        guard bucket > 0, bucket.isFinite else {
            throw StoreError(.invalidArgument, path: path, detail: "bucket must be a positive number of seconds")
        }
        return try read { c throws(StoreError) in
            var buckets: [Double: (total: ProtocolTotals, protocols: [String: ProtocolTotals])] = [:]
            for series in try Self.series(query, c) {
                let start = (series.ts / bucket).rounded(.down) * bucket
                // No time axis holds a record of a non-finite time (only an older collector stored one).
                guard start.isFinite else { continue }
                var entry = buckets[start] ?? (ProtocolTotals(proto: "", packets: 0, bytes: 0, flows: 0), [:])
                var counters = ProtocolCounters()
                counters.packets = series.packets
                counters.bytes = series.bytes
                counters.flows = series.flows
                entry.total.add(counters)
                for (name, counters) in series.perProtocol {
                    entry.protocols[name, default: ProtocolTotals(proto: name, packets: 0, bytes: 0, flows: 0)]
                        .add(counters)
                }
                buckets[start] = entry
            }
            return buckets.keys.sorted().compactMap { start in
                buckets[start].map { entry in
                    TrafficBucket(
                        start: start, packets: entry.total.packets, bytes: entry.total.bytes,
                        flows: entry.total.flows, protocols: entry.protocols.values.sorted { $0.proto < $1.proto })
                }
            }
        }
    }

    public func dnsSummary(_ query: ReportQuery) throws(StoreError) -> DNSSummary {
        try check(query, "dns")
        let filter = Self.window(query)
        return try read { c throws(StoreError) in
            DNSSummary(
                requests: try Self.total(c, "rollup_dns", "count", filter),
                topQueries: try Self.named(c, "rollup_dns", "query", filter, limit: query.limit),
                qtypes: try Self.named(c, "rollup_dns", "qtype_name", filter, limit: query.limit),
                rcodes: try Self.named(c, "rollup_dns", "rcode_name", filter, limit: query.limit))
        }
    }

    public func httpSummary(_ query: ReportQuery) throws(StoreError) -> HTTPSummary {
        try check(query, "http")
        let filter = Self.window(query)
        return try read { c throws(StoreError) in
            var statuses: [StatusCount] = []
            try Self.each(
                c,
                """
                SELECT status_code, saturating_sum(count) FROM rollup_http\(filter.whereClause) GROUP BY status_code
                ORDER BY saturating_sum(count) DESC, status_code LIMIT ?
                """, filter, limit: query.limit
            ) { s throws(StoreError) in
                let code = s.int64(0)
                statuses.append(StatusCount(code: code == 0 ? nil : Int(code), count: s.count(1)))
            }
            return HTTPSummary(
                requests: try Self.total(c, "rollup_http", "count", filter),
                methods: try Self.named(c, "rollup_http", "method", filter, limit: query.limit),
                statusCodes: statuses,
                hosts: try Self.named(c, "rollup_http", "host", filter, limit: query.limit),
                userAgents: try Self.named(c, "rollup_http", "user_agent", filter, limit: query.limit))
        }
    }

    public func tlsSummary(_ query: ReportQuery) throws(StoreError) -> TLSSummary {
        try check(query, "tls")
        let filter = Self.window(query)
        return try read { c throws(StoreError) in
            TLSSummary(
                handshakes: try Self.total(c, "rollup_tls", "count", filter),
                versions: try Self.named(c, "rollup_tls", "version", filter, limit: query.limit),
                serverNames: try Self.named(c, "rollup_tls", "server_name", filter, limit: query.limit))
        }
    }

    public func tcpSummary(_ query: ReportQuery) throws(StoreError) -> TCPSummary {
        try check(query, "tcp", proto: query.proto == IPProtocol.tcp)
        var filter = Self.window(query)
        filter.add("proto = ?", .int(Int64(IPProtocol.tcp)))
        let flagFilter = Self.window(query)
        return try read { c throws(StoreError) in
            var states: [NamedCount] = []
            try Self.each(
                c,
                """
                SELECT conn_state, saturating_sum(flows) FROM rollup_conn_states\(filter.whereClause) GROUP BY conn_state
                HAVING saturating_sum(flows) > 0 ORDER BY saturating_sum(flows) DESC, conn_state LIMIT ?
                """, filter, limit: query.limit
            ) { s throws(StoreError) in states.append(NamedCount(name: s.text(0), count: s.count(1))) }
            var flags: [String: FlagCount] = [:]
            try Self.each(
                c,
                """
                SELECT flag, saturating_sum(orig_flows), saturating_sum(resp_flows) FROM rollup_tcp_flags\(flagFilter.whereClause)
                GROUP BY flag
                """, flagFilter
            ) { s throws(StoreError) in
                flags[s.text(0)] = FlagCount(flag: s.text(0), origFlows: s.count(1), respFlows: s.count(2))
            }
            return TCPSummary(
                flows: try Self.total(c, "rollup_conn_states", "flows", filter),
                states: states,
                retransmittedPackets: try Self.total(c, "rollup_conn_states", "retrans_pkts", filter),
                flags: Rollups.flagNames.compactMap { flags[$0.1] },
                topPorts: try Self.ports(c, filter, limit: query.limit))
        }
    }

    public func udpSummary(_ query: ReportQuery) throws(StoreError) -> UDPSummary {
        try check(query, "udp", proto: query.proto == IPProtocol.udp)
        var filter = Self.window(query)
        filter.add("proto = ?", .int(Int64(IPProtocol.udp)))
        return try read { c throws(StoreError) in
            var sizes: [Int64: (flows: UInt64, packets: UInt64, bytes: UInt64)] = [:]
            try Self.each(
                c,
                """
                SELECT bucket, saturating_sum(flows), saturating_sum(pkts), saturating_sum(bytes) FROM rollup_packet_sizes\(filter.whereClause)
                GROUP BY bucket
                """, filter
            ) { s throws(StoreError) in sizes[s.int64(0)] = (s.count(1), s.count(2), s.count(3)) }
            let bounds = Rollups.sizeBuckets
            let histogram = bounds.indices.map { i in
                let held = sizes[bounds[i]] ?? (0, 0, 0)
                return SizeBucket(
                    lowerBound: Int(bounds[i]), upperBound: i + 1 < bounds.count ? Int(bounds[i + 1]) : nil,
                    flows: held.flows, packets: held.packets, bytes: held.bytes)
            }
            return UDPSummary(
                flows: try Self.total(c, "rollup_ports", "flows", filter),
                packets: try Self.total(c, "rollup_ports", "pkts", filter),
                bytes: try Self.total(c, "rollup_ports", "bytes", filter),
                topPorts: try Self.ports(c, filter, limit: query.limit),
                packetSizes: histogram)
        }
    }

    public func sensorHealth() throws(StoreError) -> [SensorHealth] {
        try read { c throws(StoreError) in
            var health: [String: SensorHealth] = [:]
            let sessions = try c.statement(
                "SELECT name, source, software_version, first_seen, last_seen FROM sensors")
            defer { sessions.reset() }
            while try sessions.step() {
                let name = sessions.text(0)
                health[name] = SensorHealth(
                    name: name, source: sessions.text(1), softwareVersion: sessions.text(2),
                    firstSeen: sessions.double(3), lastSeen: sessions.double(4), stats: nil)
            }
            let stats = try c.statement(
                """
                SELECT sensor, ts, source, packets_received, packets_dropped_kernel, packets_dropped_interface,
                    bytes_received, decode_errors, flow_table_size, records_dropped, spool_bytes, final
                FROM sensor_stats
                """)
            defer { stats.reset() }
            while try stats.step() {
                var row = RecordReader(statement: stats)
                let name = row.text()
                let snapshot = SensorStatsSnapshot(
                    ts: row.double(), source: row.text(), packetsReceived: row.uint64(),
                    packetsDroppedKernel: row.optionalUInt64(), packetsDroppedInterface: row.optionalUInt64(),
                    bytesReceived: row.uint64(), decodeErrors: row.uint64(), flowTableSize: try row.integer(),
                    recordsDropped: row.uint64(), spoolBytes: row.uint64(), final: row.bool())
                health[
                    name,
                    default: SensorHealth(
                        name: name, source: nil, softwareVersion: nil, firstSeen: nil, lastSeen: nil, stats: nil)
                ]
                .stats = snapshot
            }
            return health.keys.sorted().compactMap { health[$0] }
        }
    }

    // MARK: helpers

    /// Refuses what a report cannot answer: a filter it has no column for, a NaN time, a negative limit.
    private func check(_ query: ReportQuery, _ report: String, host: Bool = false, proto: Bool = false)
        throws(StoreError)
    {
        if query.host != nil && !host {
            throw StoreError(.invalidArgument, path: path, detail: "the \(report) report cannot filter by host")
        }
        if query.proto != nil && !proto {
            throw StoreError(.invalidArgument, path: path, detail: "the \(report) report cannot filter by protocol")
        }
        if query.from?.isNaN == true || query.to?.isNaN == true {
            throw StoreError(.invalidArgument, path: path, detail: "the \(report) report's time range is NaN")
        }
        if query.limit < 0 {
            throw StoreError(.invalidArgument, path: path, detail: "limit must not be negative, got \(query.limit)")
        }
    }

    /// Runs `body` in one read transaction of a version-2 store, after writing this store's pending rollups.
    private func read<T>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        try requireReports()
        return try withConnection { c throws(StoreError) in
            try writePendingRollups(c)
            return try transaction(c, immediate: false) { () throws(StoreError) in try body(c) }
        }
    }

    /// The rollup minutes and sensor of a query.
    private static func window(_ query: ReportQuery) -> SQLFilter {
        var filter = SQLFilter()
        if let from = query.from { filter.add("minute >= ?", .double(Double(Rollups.minute(from)))) }
        if let to = query.to { filter.add("minute < ?", .double(to)) }
        if let sensor = query.sensor { filter.add("sensor = ?", .text(sensor)) }
        return filter
    }

    /// Runs `sql` with the filter's parameters, then the limit when given, handing each row to `row`.
    private static func each(
        _ c: SQLiteConnection, _ sql: String, _ filter: SQLFilter, limit: Int? = nil,
        _ row: (Statement) throws(StoreError) -> Void
    ) throws(StoreError) {
        let select = try c.statement(sql)
        defer { select.clear() }
        let next = try filter.bind(select)
        if let limit { try select.bind(next, Int64(limit)) }
        while try select.step() { try row(select) }
    }

    /// The sum of one column over the filtered rows.
    private static func total(_ c: SQLiteConnection, _ table: String, _ column: String, _ filter: SQLFilter)
        throws(StoreError) -> UInt64
    {
        var sum: UInt64 = 0
        try each(c, "SELECT saturating_sum(\(column)) FROM \(table)\(filter.whereClause)", filter) {
            s throws(StoreError) in
            sum = s.count(0)
        }
        return sum
    }

    /// The values of a text column by their summed `count`, the most first (ties by value).
    private static func named(
        _ c: SQLiteConnection, _ table: String, _ column: String, _ filter: SQLFilter, limit: Int
    ) throws(StoreError) -> [NamedCount] {
        var out: [NamedCount] = []
        try each(
            c,
            """
            SELECT \(column), saturating_sum(count) FROM \(table)\(filter.whereClause) GROUP BY \(column)
            ORDER BY saturating_sum(count) DESC, \(column) LIMIT ?
            """, filter, limit: limit
        ) { s throws(StoreError) in out.append(NamedCount(name: s.text(0), count: s.count(1))) }
        return out
    }

    private static func ports(_ c: SQLiteConnection, _ filter: SQLFilter, limit: Int) throws(StoreError)
        -> [PortTotals]
    {
        var out: [PortTotals] = []
        try each(
            c,
            """
            SELECT proto, port, saturating_sum(flows), saturating_sum(pkts), saturating_sum(bytes) FROM rollup_ports\(filter.whereClause)
            GROUP BY proto, port ORDER BY saturating_sum(flows) DESC, total(bytes) DESC, proto, port LIMIT ?
            """, filter, limit: limit
        ) { s throws(StoreError) in
            out.append(
                PortTotals(
                    proto: FlowRecord.protoName(try s.integer(0)), port: try s.integer(1), flows: s.count(2),
                    packets: s.count(3), bytes: s.count(4)))
        }
        return out
    }

    /// The `series` records of the query's window and sensor, through the sparse index.
    private static func series(_ query: ReportQuery, _ c: SQLiteConnection) throws(StoreError) -> [SeriesRecord] {
        var reader = BlockReader(
            query: RecordQuery(kinds: [.series], sensor: query.sensor, from: query.from, to: query.to))
        try reader.read(.series, c)
        return reader.finish().compactMap { record in
            if case .series(let series) = record { return series }
            return nil
        }
    }
}

extension Statement {
    /// A summed rollup counter (never negative; NULL, the sum of no rows, is 0).
    fileprivate func count(_ column: Int32) -> UInt64 { UInt64(clamping: int64(column)) }
}

extension ProtocolTotals {
    fileprivate mutating func add(_ counters: ProtocolCounters) {
        packets = packets.saturatingAdd(counters.packets)
        bytes = bytes.saturatingAdd(counters.bytes)
        flows = flows.saturatingAdd(counters.flows)
    }
}

extension UInt64 {
    fileprivate func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
