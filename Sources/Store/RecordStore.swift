import Flows
import Packets

/// Where records, sensors and each sensor's committed batch sequence are kept.
///
/// Ingest (the collector) and the query tool use only this protocol, so another backend (PostgreSQL shared by several
/// collectors) can be added without touching them. Every method is synchronous and may block on I/O; call it off the
/// cooperative pool. Implementations are safe to call from several threads.
public protocol RecordStore: AnyObject, Sendable {
    /// Records a sensor connection: upserts the sensor's row (boot id, source, version, first and last seen) and
    /// returns the highest batch sequence committed for (name, boot id), 0 when none.
    func openSession(_ session: SensorSession) throws(StoreError) -> UInt64

    /// Stores one batch exactly once, in one transaction: a sequence at or below the committed sequence of its
    /// (sensor, boot id) writes nothing and returns `.duplicate`; otherwise every record is inserted, its increase of
    /// the report rollups is added (exactly once as well), and the committed sequence becomes `batch.sequence` (a gap
    /// is allowed). On error nothing of the batch is written.
    func commit(_ batch: StoredBatch) throws(StoreError) -> CommitOutcome

    /// Group commit: the batches in order, in ONE transaction (one sync to disk for all of them), each with the
    /// rules of `commit(_:)`; outcomes in the same order. On error nothing of any of them is written.
    func commit(_ batches: [StoredBatch]) throws(StoreError) -> [CommitOutcome]

    /// The highest batch sequence committed for (sensor, boot id), 0 when none.
    func committedSequence(sensor: String, bootID: [UInt8]) throws(StoreError) -> UInt64

    /// Stored records matching `query`, ordered by `ts`, then by insertion order.
    func records(_ query: RecordQuery) throws(StoreError) -> [Record]

    /// Stored rows per record kind, keyed by `RecordKind.rawValue` ("flow", "dns", "http", "tls", "series", "stats");
    /// every kind is present, 0 when it has none.
    func counts() throws(StoreError) -> [String: Int]

    /// Every sensor that ever opened a session, by name.
    func sensors() throws(StoreError) -> [SensorRow]

    // MARK: alerts

    /// Stores an alert, replacing the stored alert with the same `id` (the episode grew); one transaction.
    func upsertAlert(_ alert: AlertRecord) throws(StoreError)

    /// Stores several alerts as `upsertAlert` does, in one transaction (one sync to disk); in order, so a later alert
    /// with the same id wins.
    func upsertAlerts(_ alerts: [AlertRecord]) throws(StoreError)

    /// Stored alerts matching `query`, the newest `last_ts` first.
    func alerts(_ query: AlertQuery) throws(StoreError) -> [AlertRecord]

    // MARK: retention

    /// Deletes every record with `ts < cut`, the rollup rows of the minutes before the one holding `cut`, the alerts
    /// whose `last_ts < cut` and the progress of flows last seen before `cut`, in transactions of at most `batchRows`
    /// rows each with a pause after each, so that a commit waits for at most one of them. Sensors and their latest
    /// stats stay. Returns the records deleted.
    func deleteOlderThan(_ cut: Double, batchRows: Int) throws(StoreError) -> Int

    // MARK: reports (from rollups and series records, never from flow records)

    /// Hosts by IP bytes sent plus received, the largest first (ties by host); honours sensor, host and proto.
    func topTalkers(_ query: ReportQuery) throws(StoreError) -> [TopTalker]

    /// Responder ports by flows, the most first (ties by proto, port); honours sensor and proto.
    func ports(_ query: ReportQuery) throws(StoreError) -> [PortTotals]

    /// Packets, bytes and flows per protocol from `series` records, the most bytes first; honours sensor.
    func protocols(_ query: ReportQuery) throws(StoreError) -> [ProtocolTotals]

    /// Totals per `bucket` seconds from `series` records, oldest first, buckets without records left out; honours
    /// sensor.
    func traffic(_ query: ReportQuery, bucket: Double) throws(StoreError) -> [TrafficBucket]

    /// DNS requests by name, qtype and rcode; honours sensor.
    func dnsSummary(_ query: ReportQuery) throws(StoreError) -> DNSSummary

    /// HTTP transactions by method, status, host and user agent; honours sensor.
    func httpSummary(_ query: ReportQuery) throws(StoreError) -> HTTPSummary

    /// TLS handshakes by version and server name; honours sensor.
    func tlsSummary(_ query: ReportQuery) throws(StoreError) -> TLSSummary

    /// TCP connection states, retransmissions, flags and ports; honours sensor (and a proto of 6).
    func tcpSummary(_ query: ReportQuery) throws(StoreError) -> TCPSummary

    /// UDP ports and packet sizes; honours sensor (and a proto of 17).
    func udpSummary(_ query: ReportQuery) throws(StoreError) -> UDPSummary

    /// Every sensor that connected or sent a stats record, by name, with its latest stats.
    func sensorHealth() throws(StoreError) -> [SensorHealth]

    /// Releases the connection; later calls throw `StoreError.Code.closed`. Calling it again does nothing.
    /// A deployment setting the collector recorded (such as `geoip`), nil when never set.
    func setting(_ key: String) throws(StoreError) -> String?

    /// Records a deployment setting, replacing an earlier value.
    func setSetting(_ key: String, to value: String) throws(StoreError)

    func close()
}

/// A sensor's identity as its Hello gives it.
public struct SensorSession: Hashable, Sendable {
    /// The sensor's name (its certificate's name).
    public var name: String
    /// 16 random bytes drawn when the sensor process started; batch sequences restart with each boot id.
    public var bootID: [UInt8]
    /// The capture source (interface name or file list).
    public var source: String
    public var softwareVersion: String

    public init(name: String, bootID: [UInt8], source: String, softwareVersion: String) {
        self.name = name
        self.bootID = bootID
        self.source = source
        self.softwareVersion = softwareVersion
    }
}

/// One sensor batch to store: records numbered by (sensor, boot id, sequence).
public struct StoredBatch: Hashable, Sendable {
    public var sensor: String
    /// 16 bytes.
    public var bootID: [UInt8]
    /// Numbered from 1 within a boot id.
    public var sequence: UInt64
    /// Stored as given, each with its own `sensor` field.
    public var records: [Record]

    public init(sensor: String, bootID: [UInt8], sequence: UInt64, records: [Record]) {
        self.sensor = sensor
        self.bootID = bootID
        self.sequence = sequence
        self.records = records
    }
}

/// What `commit` did.
public enum CommitOutcome: Hashable, Sendable {
    /// The batch was new: `records` rows were written and its sequence is now the committed one.
    case stored(records: Int)
    /// The sequence was at or below `committed`, the one already stored; nothing was written.
    case duplicate(committed: UInt64)
}

/// The kinds of record, one table each.
public enum RecordKind: String, CaseIterable, Hashable, Sendable, Comparable {
    case flow, dns, http, tls, series, stats

    public static func < (lhs: RecordKind, rhs: RecordKind) -> Bool {
        guard let l = allCases.firstIndex(of: lhs), let r = allCases.firstIndex(of: rhs) else { return false }
        return l < r
    }
}

extension Record {
    /// The kind of this record, whose raw value is `typeName`.
    public var kind: RecordKind {
        switch self {
        case .flow: return .flow
        case .dns: return .dns
        case .http: return .http
        case .tls: return .tls
        case .series: return .series
        case .stats: return .stats
        }
    }
}

/// Which stored records to read back.
public struct RecordQuery: Hashable, Sendable {
    /// Kinds to read; an empty set reads nothing.
    public var kinds: Set<RecordKind>
    /// Only records whose `sensor` field is this name.
    public var sensor: String?
    /// Only records with `ts >= from`.
    public var from: Double?
    /// Only records with `ts < to`.
    public var to: Double?
    /// Only records with this address as `orig_h` or `resp_h` (series and stats have none, so none of them match).
    public var host: IPAddress?
    /// Only records with this responder port (`resp_p`).
    public var port: UInt16?
    /// Only records of this connection uid.
    public var uid: String?
    /// At most this many records (the earliest ones).
    public var limit: Int?

    public init(
        kinds: Set<RecordKind> = Set(RecordKind.allCases),
        sensor: String? = nil,
        from: Double? = nil,
        to: Double? = nil,
        host: IPAddress? = nil,
        port: UInt16? = nil,
        uid: String? = nil,
        limit: Int? = nil
    ) {
        self.kinds = kinds
        self.sensor = sensor
        self.from = from
        self.to = to
        self.host = host
        self.port = port
        self.uid = uid
        self.limit = limit
    }
}

/// A sensor as the store knows it.
public struct SensorRow: Hashable, Sendable {
    public var name: String
    /// The boot id of its latest session.
    public var bootID: [UInt8]
    public var source: String
    public var softwareVersion: String
    /// Wall-clock epoch seconds of its first session.
    public var firstSeen: Double
    /// Wall-clock epoch seconds of its latest session or committed batch.
    public var lastSeen: Double

    public init(
        name: String, bootID: [UInt8], source: String, softwareVersion: String, firstSeen: Double, lastSeen: Double
    ) {
        self.name = name
        self.bootID = bootID
        self.source = source
        self.softwareVersion = softwareVersion
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
    }
}
