import Flows
import Foundation
import Geo
import Packets
import Report
import Store

/// Everything a report shows for a time window, read from the store's rollups (never from raw flows), with
/// the top talkers geolocated. Encodes as the JSON report.
struct ReportData: Encodable {
    var from: Double?
    var to: Double?
    var generatedAt: Double
    var topTalkers: [TalkerRow.TalkerJSON]
    var protocols: [ProtocolTotals]
    var traffic: [TrafficBucket]
    var dns: DNSSummary
    var http: HTTPSummary
    var tls: TLSSummary
    var tcp: TCPSummary
    var udp: UDPSummary
    var sensors: [SensorHealth]

    /// Rows and charts read once for all formats.
    var talkers: [TalkerRow] = []
    var alertRecords: [AlertRecord] = []
    /// Seconds per `traffic` bucket.
    var trafficBucket: Double = 60

    enum CodingKeys: String, CodingKey {
        case from, to, generatedAt = "generated_at", topTalkers = "top_talkers", protocols, traffic
        case trafficBucket = "traffic_bucket_seconds"
        case dns, http, tls, tcp, udp, sensors
    }

    static func load(store: any RecordStore, query: QueryOptions, geoip: [String], progress: Progress) throws
        -> ReportData
    {
        let range = try query.timeRange()
        let report = try query.reportQuery(defaultLimit: 10)
        progress.step("alerts")
        let alerts = try store.alerts(
            AlertQuery(from: range.from, to: range.to, host: query.host, sensor: query.sensor, limit: 200))
        progress.step("top talkers")
        let top = try store.topTalkers(report)
        let anyPublic = top.contains { IPAddress($0.host).map { AddressScope.scope(of: $0) == .public } ?? false }
        progress.step("geolocation")
        let locator = try Self.locator(store: store, geoip: geoip, needed: anyPublic)
        let talkers = top.map { TalkerRow(talker: $0, geo: IPAddress($0.host).map(locator.locate)) }
        progress.step("traffic")
        let protocols = try store.protocols(
            ReportQuery(from: range.from, to: range.to, sensor: query.sensor, limit: 100))
        let trafficQuery = ReportQuery(from: range.from, to: range.to, sensor: query.sensor, limit: 100_000)
        var bucket = Self.bucket(span: (range.to ?? Date().timeIntervalSince1970) - (range.from ?? 0))
        var traffic = try store.traffic(trafficQuery, bucket: bucket)
        // An open window: size the buckets to the data's own span instead (each pass narrows the span it sees).
        while range.from == nil || range.to == nil, let first = traffic.first?.start, let last = traffic.last?.start {
            let finer = Self.bucket(span: max(60, last + bucket - first))
            guard finer < bucket else { break }
            bucket = finer
            traffic = try store.traffic(trafficQuery, bucket: bucket)
        }
        progress.step("applications")
        // Host and protocol filters narrow the top talkers; the application summaries have no such columns and
        // cover the whole window (of the sensor, if one is given).
        let window = ReportQuery(from: range.from, to: range.to, sensor: query.sensor, limit: 10)
        var data = ReportData(
            from: range.from, to: range.to, generatedAt: Date().timeIntervalSince1970,
            topTalkers: talkers.map(\.json), protocols: protocols,
            traffic: traffic, dns: try store.dnsSummary(window), http: try store.httpSummary(window),
            tls: try store.tlsSummary(window), tcp: try store.tcpSummary(window), udp: try store.udpSummary(window),
            sensors: try store.sensorHealth())
        data.talkers = talkers
        data.alertRecords = alerts
        data.trafficBucket = bucket
        progress.done()
        return data
    }

    /// The JSON report: one object with every section; `alerts` holds the alert records' own objects (the
    /// fields of DESIGN.md), the rest is encoded from the store's summary types.
    func json() throws -> String {
        let body = JSONOutput.text(try JSONOutput.encoder.encode(self))
        let alerts = alertRecords.isEmpty ? "[]" : "[\n" + alertRecords.map(\.jsonLine).joined(separator: ",\n") + "\n]"
        guard body.hasPrefix("{") else { return body + "\n" }
        return "{\n  \"alerts\" : " + alerts + "," + body.dropFirst() + "\n"
    }

    /// The query's `--geoip` files, else those the collector recorded, else the default country data; only
    /// loaded when a public address needs it (the default data takes a moment to load).
    static func locator(store: any RecordStore, geoip: [String], needed: Bool) throws -> GeoLocator {
        var paths = geoip
        if paths.isEmpty, let recorded = try store.setting("geoip") {
            paths = recorded.split(separator: "\n").map(String.init).filter {
                FileManager.default.fileExists(atPath: $0)
            }
        }
        guard needed || !geoip.isEmpty else { return GeoLocator() }
        return try GeoLocator.default(mmdbPaths: paths)
    }

    /// A bucket that gives a few hundred points over the window at most: 60 s up to ~6 h, then coarser.
    static func bucket(span: Double) -> Double {
        for candidate in [60.0, 300, 900, 3600, 21600, 86400] where span / candidate <= 400 { return candidate }
        return 86400 * 7
    }

    // MARK: charts

    var trafficChart: Chart.Traffic {
        // Bytes per second per protocol; a bucket with no traffic is a 0, not a gap the line would bridge.
        let bucket = max(1, trafficBucket)
        let names = Set(traffic.flatMap { $0.protocols.map(\.proto) }).sorted()
        var byStart: [Double: [String: UInt64]] = [:]
        for point in traffic {
            for proto in point.protocols { byStart[point.start, default: [:]][proto.proto] = proto.bytes }
        }
        var starts: [Double] = []
        if let first = traffic.first?.start, let last = traffic.last?.start {
            starts = Array(stride(from: first, through: last, by: bucket).prefix(100_000))
        }
        let series = names.map { name in
            Chart.TimeSeries(
                name: name,
                points: starts.map { start in (t: start, value: Double(byStart[start]?[name] ?? 0) / bucket) })
        }
        let markers = alertRecords.map { alert in
            Chart.Marker(
                t: alert.firstTS, label: "\(alert.kind.rawValue) \(alert.src ?? "")",
                kind: alert.kind == .trafficSpike ? .spike : .alert)
        }
        return Chart.Traffic(
            title: "Traffic", subtitle: window, unit: .bytesPerSecond, series: series, markers: markers,
            timeRange: from.flatMap { start in to.map { start...max(start, $0) } })
    }

    var protocolChart: Chart.ProtocolMix {
        Chart.ProtocolMix(
            title: "Protocol mix", subtitle: window, unit: .bytes,
            slices: protocols.map { Chart.Slice(label: $0.proto, value: Double($0.bytes)) })
    }

    var talkersChart: Chart.TopTalkers {
        Chart.TopTalkers(
            title: "Top talkers", subtitle: window, unit: .bytes,
            bars: talkers.map {
                Chart.Bar(label: $0.talker.host, value: Double($0.talker.bytes), detail: $0.geo?.organization)
            })
    }

    var scanChart: Chart.ScanTimeline {
        let scans = alertRecords.filter { $0.kind == .portScan }
        return Chart.ScanTimeline(
            title: "Scans", subtitle: window,
            events: scans.map {
                Chart.ScanEvent(
                    t: $0.firstTS, end: $0.lastTS, source: $0.src ?? "?",
                    target: $0.targets.count == 1 ? $0.targets[0] : "\($0.targets.count) hosts", ports: $0.ports.count,
                    label: $0.subtype)
            })
    }

    var window: String {
        let start = from.map { TimeRange.format($0, milliseconds: false) } ?? "the beginning"
        let end = to.map { TimeRange.format($0, milliseconds: false) } ?? "now"
        return "\(start) to \(end) UTC"
    }
}

/// "alerts… top talkers…" on standard error while a report is assembled, only when it is a terminal.
final class Progress {
    private let enabled: Bool
    private let label: String
    private var started = Date()

    init(_ label: String, enabled: Bool = Terminal.standardErrorIsTerminal) {
        self.label = label
        self.enabled = enabled
    }

    func step(_ what: String) {
        guard enabled else { return }
        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
        FileHandle.standardError.write(Data("\r\u{1B}[K\(label): \(what)… \(seconds) s".utf8))
    }

    func done() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        started = Date()
    }
}
