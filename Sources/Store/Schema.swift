/// The database schema as an ordered list of named migrations; `PRAGMA user_version` is the number of migrations
/// applied. A new table (alerts, rollups) or column is a new migration appended to `Schema.migrations`, never an edit of
/// an applied one.
///
/// Record tables have one column per record field, named as in the JSON lines (Zeek's names) with `id.` dropped from
/// the endpoints. `record_id` is one sequence across all record tables, so reads can merge kinds in insertion order,
/// and each table is stored in `record_id` order, which is arrival order.
///
/// Record tables have no per-row secondary index: six B-tree indexes (ts; sensor, ts; orig_h; resp_h; resp_p; uid)
/// cut commits of 5,000 flows from about 500,000 to under 50,000 records a second, because keys such as hosts and uids
/// land on a different page for nearly every row. Instead `record_blocks` is a sparse index, as in ClickHouse's data
/// skipping indexes or PostgreSQL's BRIN: one row per kind per committed batch with its `record_id` range, record count,
/// `ts` range, sensor (NULL when the batch mixes sensors) and a Bloom filter (`BlockFilter`) over its hosts, responder
/// ports and uids. A query reads the blocks whose time range, sensor and filter may match, then only their `record_id`
/// ranges of the record table.
/// Addresses are stored as text (dotted quad; RFC 5952 IPv6), unsigned 64-bit counters as their 64-bit pattern,
/// booleans as 0/1, lists and maps as compact JSON (see `JSONText`). Tables are STRICT: a value of the wrong type is
/// an error, not a silent conversion.
enum Schema {
    /// One step of the schema.
    struct Migration {
        /// The `user_version` after this step.
        var version: Int64
        var name: String
        var sql: String
        /// Runs after `sql`, in the same transaction, for what SQL alone does not express (rebuilding rollups).
        var fill: (@Sendable (SQLiteConnection) throws(StoreError) -> Void)? = nil
    }

    /// Marks the file as a Wirewatch store (`PRAGMA application_id`, bytes 68-71 of the header): "WWST".
    static let applicationID: Int64 = 0x5757_5354

    /// The record tables by kind; every one has `record_id`, `ts` and `sensor` columns.
    static func table(_ kind: RecordKind) -> String {
        switch kind {
        case .flow: return "flows"
        case .dns: return "dns"
        case .http: return "http"
        case .tls: return "tls"
        case .series: return "series"
        case .stats: return "stats"
        }
    }

    static var version: Int64 { migrations.last?.version ?? 0 }

    static let migrations: [Migration] = [
        Migration(version: 1, name: "records", sql: recordsV1),
        Migration(
            version: 2, name: "alerts, rollups and flow progress", sql: reportsV2,
            fill: { c throws(StoreError) in try Rollups.rebuild(c) }),
        Migration(version: 3, name: "settings", sql: settingsV3),
    ]

    /// Deployment settings the collector records for the query tool (the `--geoip` databases it was given).
    private static let settingsV3 = """
        CREATE TABLE settings (
            key TEXT PRIMARY KEY NOT NULL,
            value TEXT NOT NULL
        ) STRICT, WITHOUT ROWID;
        """

    private static let endpoints = """
        orig_h TEXT NOT NULL,
        orig_p INTEGER NOT NULL CHECK (orig_p BETWEEN 0 AND 65535),
        resp_h TEXT NOT NULL,
        resp_p INTEGER NOT NULL CHECK (resp_p BETWEEN 0 AND 65535),
        """

    private static let recordsV1 = """
        CREATE TABLE sensors (
            name TEXT PRIMARY KEY NOT NULL,
            boot_id BLOB NOT NULL,
            source TEXT NOT NULL,
            software_version TEXT NOT NULL,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL
        ) STRICT;
        CREATE TABLE sensor_sequences (
            sensor TEXT NOT NULL,
            boot_id BLOB NOT NULL,
            committed_seq INTEGER NOT NULL,
            updated_at REAL NOT NULL,
            PRIMARY KEY (sensor, boot_id)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE record_blocks (
            block_id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            first_id INTEGER NOT NULL,
            last_id INTEGER NOT NULL CHECK (last_id >= first_id),
            records INTEGER NOT NULL CHECK (records > 0),
            min_ts REAL NOT NULL,
            max_ts REAL NOT NULL CHECK (max_ts >= min_ts),
            sensor TEXT,
            keys BLOB
        ) STRICT;
        CREATE INDEX record_blocks_kind_min_ts ON record_blocks (kind, min_ts);
        CREATE TABLE flows (
            record_id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            uid TEXT NOT NULL,
            sensor TEXT NOT NULL,
            \(endpoints)
            proto INTEGER NOT NULL CHECK (proto BETWEEN 0 AND 255),
            service TEXT,
            duration REAL NOT NULL,
            orig_bytes INTEGER NOT NULL,
            resp_bytes INTEGER NOT NULL,
            orig_pkts INTEGER NOT NULL,
            resp_pkts INTEGER NOT NULL,
            orig_ip_bytes INTEGER NOT NULL,
            resp_ip_bytes INTEGER NOT NULL,
            conn_state TEXT NOT NULL,
            history TEXT NOT NULL,
            tcp_flags_orig INTEGER CHECK (tcp_flags_orig BETWEEN 0 AND 65535),
            tcp_flags_resp INTEGER CHECK (tcp_flags_resp BETWEEN 0 AND 65535),
            retrans_pkts INTEGER NOT NULL,
            icmp_type INTEGER CHECK (icmp_type BETWEEN 0 AND 255),
            icmp_code INTEGER CHECK (icmp_code BETWEEN 0 AND 255),
            vlan INTEGER CHECK (vlan BETWEEN 0 AND 65535),
            inner_vlan INTEGER CHECK (inner_vlan BETWEEN 0 AND 65535),
            community_id TEXT NOT NULL,
            final INTEGER NOT NULL CHECK (final IN (0, 1)),
            end_reason TEXT NOT NULL,
            truncated INTEGER NOT NULL CHECK (truncated IN (0, 1))
        ) STRICT;
        CREATE TABLE dns (
            record_id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            uid TEXT NOT NULL,
            sensor TEXT NOT NULL,
            \(endpoints)
            proto INTEGER NOT NULL CHECK (proto BETWEEN 0 AND 255),
            trans_id INTEGER NOT NULL CHECK (trans_id BETWEEN 0 AND 65535),
            query TEXT,
            qtype INTEGER CHECK (qtype BETWEEN 0 AND 65535),
            qtype_name TEXT,
            rcode INTEGER CHECK (rcode BETWEEN 0 AND 65535),
            rcode_name TEXT,
            answers TEXT NOT NULL,
            ttls TEXT NOT NULL,
            rtt REAL,
            rejected INTEGER NOT NULL CHECK (rejected IN (0, 1))
        ) STRICT;
        CREATE TABLE http (
            record_id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            uid TEXT NOT NULL,
            sensor TEXT NOT NULL,
            \(endpoints)
            trans_depth INTEGER NOT NULL,
            method TEXT,
            host TEXT,
            uri TEXT,
            referrer TEXT,
            version TEXT,
            user_agent TEXT,
            request_body_len INTEGER NOT NULL,
            response_body_len INTEGER NOT NULL,
            status_code INTEGER,
            status_msg TEXT,
            info_code INTEGER,
            info_msg TEXT,
            request_content_type TEXT,
            response_content_type TEXT
        ) STRICT;
        CREATE TABLE tls (
            record_id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            uid TEXT NOT NULL,
            sensor TEXT NOT NULL,
            \(endpoints)
            version TEXT,
            cipher_code INTEGER CHECK (cipher_code BETWEEN 0 AND 65535),
            server_name TEXT,
            alpn TEXT NOT NULL,
            ja3 TEXT,
            ja4 TEXT
        ) STRICT;
        CREATE TABLE series (
            record_id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            sensor TEXT NOT NULL,
            interval REAL NOT NULL,
            packets INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            flows INTEGER NOT NULL,
            per_protocol TEXT NOT NULL
        ) STRICT;
        CREATE TABLE stats (
            record_id INTEGER PRIMARY KEY,
            ts REAL NOT NULL,
            sensor TEXT NOT NULL,
            source TEXT NOT NULL,
            packets_received INTEGER NOT NULL,
            packets_dropped_kernel INTEGER,
            packets_dropped_interface INTEGER,
            bytes_received INTEGER NOT NULL,
            non_ip_packets INTEGER NOT NULL,
            truncated_packets INTEGER NOT NULL,
            decode_errors INTEGER NOT NULL,
            fragments INTEGER NOT NULL,
            fragments_reassembled INTEGER NOT NULL,
            fragments_expired INTEGER NOT NULL,
            flow_table_size INTEGER NOT NULL,
            flows_created INTEGER NOT NULL,
            flows_evicted INTEGER NOT NULL,
            records_dropped INTEGER NOT NULL,
            spool_bytes INTEGER NOT NULL,
            weird TEXT NOT NULL,
            final INTEGER NOT NULL CHECK (final IN (0, 1))
        ) STRICT;
        """

    /// Version 2: what reports and detectors read without scanning records.
    ///
    /// - `alerts`: one row per alert id; storing an alert again replaces its row (an episode grows in place).
    /// - `rollup_*`: per minute of packet time (`minute` = epoch seconds of its start) and per sensor (the record's
    ///   `sensor` field), counters written in the transaction that stores the records they come from, so they are
    ///   exactly-once as the records are. Text keys are never NULL (an unset value is ''), because they are part of the
    ///   primary key. See `Rollups` for what each counts and the interim-record rule.
    /// - `flow_progress`: the last counters of each flow whose latest stored record is interim, so the next record of
    ///   that uid adds only its increase to the rollups.
    /// - `rollup_pending`: the `record_blocks` whose records are stored but not yet in the rollups, when the writer
    ///   defers rollups (`SQLiteStore`'s `rollupDelay`); the next writer to open with a delay adds them.
    /// - `sensor_stats`: each sensor's latest `stats` record (by `ts`), for health reports.
    private static let reportsV2 = """
        CREATE TABLE alerts (
            alert_id INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            ts REAL NOT NULL,
            kind TEXT NOT NULL,
            subtype TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
            src TEXT,
            targets TEXT NOT NULL,
            ports TEXT NOT NULL,
            first_ts REAL NOT NULL,
            last_ts REAL NOT NULL,
            sensors TEXT NOT NULL,
            count INTEGER NOT NULL,
            message TEXT NOT NULL,
            detail TEXT NOT NULL
        ) STRICT;
        CREATE INDEX alerts_last_ts ON alerts (last_ts);
        CREATE INDEX alerts_kind_last_ts ON alerts (kind, last_ts);
        CREATE INDEX alerts_src_last_ts ON alerts (src, last_ts);
        CREATE TABLE rollup_hosts (
            minute INTEGER NOT NULL,
            sensor TEXT NOT NULL,
            host TEXT NOT NULL,
            proto INTEGER NOT NULL,
            orig_flows INTEGER NOT NULL,
            resp_flows INTEGER NOT NULL,
            sent_bytes INTEGER NOT NULL,
            received_bytes INTEGER NOT NULL,
            sent_pkts INTEGER NOT NULL,
            received_pkts INTEGER NOT NULL,
            PRIMARY KEY (minute, sensor, host, proto)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE rollup_ports (
            minute INTEGER NOT NULL,
            sensor TEXT NOT NULL,
            proto INTEGER NOT NULL,
            port INTEGER NOT NULL,
            flows INTEGER NOT NULL,
            pkts INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            PRIMARY KEY (minute, sensor, proto, port)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE rollup_conn_states (
            minute INTEGER NOT NULL,
            sensor TEXT NOT NULL,
            proto INTEGER NOT NULL,
            conn_state TEXT NOT NULL,
            flows INTEGER NOT NULL,
            retrans_pkts INTEGER NOT NULL,
            PRIMARY KEY (minute, sensor, proto, conn_state)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE rollup_tcp_flags (
            minute INTEGER NOT NULL,
            sensor TEXT NOT NULL,
            flag TEXT NOT NULL,
            orig_flows INTEGER NOT NULL,
            resp_flows INTEGER NOT NULL,
            PRIMARY KEY (minute, sensor, flag)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE rollup_packet_sizes (
            minute INTEGER NOT NULL,
            sensor TEXT NOT NULL,
            proto INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            flows INTEGER NOT NULL,
            pkts INTEGER NOT NULL,
            bytes INTEGER NOT NULL,
            PRIMARY KEY (minute, sensor, proto, bucket)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE rollup_dns (
            minute INTEGER NOT NULL,
            sensor TEXT NOT NULL,
            query TEXT NOT NULL,
            qtype_name TEXT NOT NULL,
            rcode_name TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (minute, sensor, query, qtype_name, rcode_name)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE rollup_http (
            minute INTEGER NOT NULL,
            sensor TEXT NOT NULL,
            method TEXT NOT NULL,
            status_code INTEGER NOT NULL,
            host TEXT NOT NULL,
            user_agent TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (minute, sensor, method, status_code, host, user_agent)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE rollup_tls (
            minute INTEGER NOT NULL,
            sensor TEXT NOT NULL,
            version TEXT NOT NULL,
            server_name TEXT NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (minute, sensor, version, server_name)
        ) STRICT, WITHOUT ROWID;
        CREATE TABLE flow_progress (
            sensor TEXT NOT NULL,
            uid TEXT NOT NULL,
            end_ts REAL NOT NULL,
            orig_pkts INTEGER NOT NULL,
            resp_pkts INTEGER NOT NULL,
            orig_ip_bytes INTEGER NOT NULL,
            resp_ip_bytes INTEGER NOT NULL,
            retrans_pkts INTEGER NOT NULL,
            PRIMARY KEY (sensor, uid)
        ) STRICT, WITHOUT ROWID;
        CREATE INDEX flow_progress_end_ts ON flow_progress (end_ts);
        CREATE TABLE rollup_pending (
            block_id INTEGER PRIMARY KEY
        ) STRICT;
        CREATE TABLE sensor_stats (
            sensor TEXT PRIMARY KEY NOT NULL,
            ts REAL NOT NULL,
            record_id INTEGER NOT NULL,
            source TEXT NOT NULL,
            packets_received INTEGER NOT NULL,
            packets_dropped_kernel INTEGER,
            packets_dropped_interface INTEGER,
            bytes_received INTEGER NOT NULL,
            decode_errors INTEGER NOT NULL,
            flow_table_size INTEGER NOT NULL,
            records_dropped INTEGER NOT NULL,
            spool_bytes INTEGER NOT NULL,
            final INTEGER NOT NULL CHECK (final IN (0, 1))
        ) STRICT;
        """
}
