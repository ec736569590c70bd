import ArgumentParser
import Flows
import Foundation
import Geo
import Packets
import Report
import Store

/// `wirewatch --db PATH top-talkers`: the hosts that moved the most bytes, from the per-minute rollups, with
/// their location and organisation.
struct TopTalkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top-talkers", abstract: "The hosts that sent and received the most bytes.")
    @OptionGroup var query: QueryOptions
    @Option(name: .long, help: "MaxMind or DB-IP .mmdb file (City/Country and/or ASN; repeatable).")
    var geoip: [String] = []

    func run() throws {
        do {
            let store = try query.openStore()
            defer { store.close() }
            let talkers =
                query.port == nil
                ? try store.topTalkers(try query.reportQuery(defaultLimit: 10))
                : FlowTotals.talkers(
                    query.protocolFiltered(
                        try store.records(try query.recordQuery([.flow], unlimited: true)), unlimited: true),
                    limit: query.limit ?? 10)
            // Loading the default country ranges takes a moment: only when a public address needs them.
            let anyPublic = talkers.contains {
                IPAddress($0.host).map { AddressScope.scope(of: $0) == .public } ?? false
            }
            let progress = Progress("top-talkers")
            progress.step("geolocation")
            let locator = try ReportData.locator(store: store, geoip: geoip, needed: anyPublic)
            progress.done()
            let rows = talkers.map { TalkerRow(talker: $0, geo: IPAddress($0.host).map(locator.locate)) }
            switch query.format {
            case .html: throw QueryError.badInput("--format html is for report; use table, json or csv")
            case .json: try query.emit(try JSONOutput.encode(rows.map(\.json)))
            case .csv: try query.emit(TalkerRow.table(rows, human: false).csv())
            case .table: try query.emit(TalkerRow.table(rows, human: true).render(on: query.terminal))
            }
        } catch let error as GeoError {
            throw CommandFailure.exitCode(for: QueryError.badInput(error.description), command: "top-talkers")
        } catch {
            throw CommandFailure.exitCode(for: error, command: "top-talkers")
        }
    }
}

/// One top talker with what geolocation says about it.
struct TalkerRow {
    var talker: TopTalker
    var geo: GeoInfo?

    /// "172.217.14.206 (Google LLC)", the form a report's reader recognises.
    var name: String {
        guard let organization = geo?.organization else { return talker.host }
        return "\(talker.host) (\(organization))"
    }

    var location: String {
        guard let geo else { return "" }
        if geo.scope != .public { return geo.scope.rawValue }
        return [geo.countryCode, geo.city].compactMap { $0 }.joined(separator: ", ")
    }

    static func table(_ rows: [TalkerRow], human: Bool) -> Table {
        func bytes(_ value: UInt64) -> String { human ? Units.bytes(value) : String(value) }
        return Table(
            columns: [
                .init("host"), .init("location"), .init("organization"), .init("bytes", .right), .init("sent", .right),
                .init("received", .right), .init("packets", .right), .init("flows", .right),
            ],
            rows: rows.map { row in
                [
                    row.talker.host, row.location, row.geo?.organization ?? "", bytes(row.talker.bytes),
                    bytes(row.talker.sentBytes), bytes(row.talker.receivedBytes), String(row.talker.packets),
                    String(row.talker.flows),
                ]
            })
    }

    var json: TalkerJSON {
        TalkerJSON(
            host: talker.host, bytes: talker.bytes, sent_bytes: talker.sentBytes, received_bytes: talker.receivedBytes,
            packets: talker.packets, flows: talker.flows, scope: geo?.scope.rawValue, country: geo?.countryCode,
            city: geo?.city, asn: geo?.asn, organization: geo?.organization)
    }

    struct TalkerJSON: Encodable {
        var host: String
        var bytes, sent_bytes, received_bytes, packets, flows: UInt64
        var scope, country, city: String?
        var asn: UInt32?
        var organization: String?
    }
}

/// `wirewatch --db PATH protocols`: packets, bytes and flows per protocol.
struct ProtocolsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protocols", abstract: "Packets, bytes and flows per protocol.")
    @OptionGroup var query: QueryOptions

    func run() throws {
        do {
            let store = try query.openStore()
            defer { store.close() }
            let totals =
                query.port == nil
                ? try store.protocols(try query.reportQuery(defaultLimit: 1000))
                : FlowTotals.protocols(
                    query.protocolFiltered(
                        try store.records(try query.recordQuery([.flow], unlimited: true)), unlimited: true))
            let allBytes = max(1, totals.map(\.bytes).reduce(UInt64(0)) { $0.addingSaturated($1) })
            let table = Table(
                columns: [
                    .init("protocol"), .init("packets", .right), .init("bytes", .right), .init("flows", .right),
                    .init("share of bytes", .right),
                ],
                rows: totals.map {
                    [
                        $0.proto, String($0.packets), query.format == .table ? Units.bytes($0.bytes) : String($0.bytes),
                        String($0.flows), Units.percent(Double($0.bytes) / Double(allBytes)),
                    ]
                })
            switch query.format {
            case .html: throw QueryError.badInput("--format html is for report; use table, json or csv")
            case .json: try query.emit(try JSONOutput.encode(totals))
            case .csv: try query.emit(table.csv())
            case .table: try query.emit(table.render(on: query.terminal))
            }
        } catch {
            throw CommandFailure.exitCode(for: error, command: "protocols")
        }
    }
}

/// `wirewatch --db PATH alerts`: what the detectors found, newest last.
struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "alerts", abstract: "List alerts.")
    @OptionGroup var query: QueryOptions
    @Option(name: .long, help: "Only this kind (port-scan, traffic-spike, unusual-port, protocol-shift, ...).")
    var kind: String?
    @Option(name: .customLong("min-severity"), help: "low, medium or high.")
    var minimumSeverity: String?

    func validate() throws {
        if let kind, AlertKind(rawValue: kind) == nil {
            throw ValidationError(
                "--kind: '\(kind)' is not one of \(AlertKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let minimumSeverity, AlertSeverity(rawValue: minimumSeverity) == nil {
            throw ValidationError("--min-severity: '\(minimumSeverity)' is not low, medium or high")
        }
    }

    func run() throws {
        do {
            let store = try query.openStore()
            defer { store.close() }
            let range = try query.timeRange()
            let alerts = try store.alerts(
                AlertQuery(
                    from: range.from, to: range.to, kind: kind.flatMap(AlertKind.init(rawValue:)),
                    minimumSeverity: minimumSeverity.flatMap(AlertSeverity.init(rawValue:)), host: query.host,
                    sensor: query.sensor, limit: query.effectiveLimit))
            try query.emit(try AlertListing.text(alerts, format: query.format, terminal: query.terminal))
        } catch {
            throw CommandFailure.exitCode(for: error, command: "alerts")
        }
    }
}

/// The alert list of `alerts` and `analyze`: a table (severity in colour), CSV, or a JSON array of alert objects.
enum AlertListing {
    static func text(_ alerts: [AlertRecord], format: OutputFormat, terminal: Terminal) throws -> String {
        let table = Table(
            columns: [
                .init("last seen (UTC)"), .init("severity"), .init("kind"), .init("source"),
                .init("targets", .right),
                .init("ports"), .init("sensors"), .init("message"),
            ],
            rows: alerts.map {
                [
                    TimeRange.format($0.lastTS, milliseconds: false), $0.severity.rawValue,
                    "\($0.kind.rawValue)/\($0.subtype)", $0.src ?? "", String($0.targets.count),
                    Units.ports($0.ports), $0.sensors.joined(separator: ","), $0.message,
                ]
            })
        switch format {
        case .html: throw QueryError.badInput("--format html is for report; use table, json or csv")
        case .json: return JSONOutput.array(alerts.map(\.jsonLine))
        case .csv: return table.csv()
        case .table:
            return table.render(on: terminal) { row, column in
                guard column == 1 else { return nil }
                switch alerts[row].severity {
                case .high: return .red
                case .medium: return .yellow
                case .low: return .cyan
                }
            }
        }
    }
}

/// JSON documents of the query tool: arrays of objects.
enum JSONOutput {
    static func encode(_ value: some Encodable) throws -> String {
        text(try encoder.encode(value)) + "\n"
    }

    /// Sorted, indented keys; a time or amount that is not finite (which only a damaged or older store holds) as the
    /// string "Infinity", "-Infinity" or "NaN" rather than a failed export.
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return encoder
    }

    /// The encoder's UTF-8 with DEL and C1 controls as `\u` escapes, as `JSONObjectWriter` writes them: JSON allows
    /// them raw in strings (and they occur only there), but a terminal showing the output would act on them.
    static func text(_ data: Data) -> String {
        let raw = String(decoding: data, as: UTF8.self)
        guard raw.unicodeScalars.contains(where: { (0x7F...0x9F).contains($0.value) }) else { return raw }
        var out = ""
        for scalar in raw.unicodeScalars {
            if (0x7F...0x9F).contains(scalar.value) {
                out += "\\u00" + String(scalar.value, radix: 16)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// An array of already-encoded JSON objects, one per line.
    static func array(_ objects: [String]) -> String {
        objects.isEmpty ? "[]\n" : "[\n" + objects.joined(separator: ",\n") + "\n]\n"
    }
}

/// Human units for tables (exports keep raw numbers).
enum Units {
    /// `34.2 kB`, `1.5 GB`: the charts' byte unit, so tables and charts print the same figures.
    static func bytes(_ value: UInt64) -> String { Chart.Unit.bytes.format(Double(value)) }

    static func percent(_ fraction: Double) -> String { String(format: "%.1f%%", fraction * 100) }

    /// "22,80,443" or "1-1024 (1024 ports)" style summaries of a sorted port list.
    static func ports(_ ports: [UInt16]) -> String {
        if ports.count <= 6 { return ports.map(String.init).joined(separator: ",") }
        let first = ports.prefix(4).map(String.init).joined(separator: ",")
        return "\(first),… (\(ports.count) ports)"
    }
}

/// Top talkers and protocol totals computed from flow records, for filters the rollups have no key for
/// (`--port`): the flows come from the store through its sparse index, and each flow counts once, by its last
/// record (interim records carry cumulative counters).
enum FlowTotals {
    static func lastRecords(_ records: [Record]) -> [FlowRecord] {
        var last: [String: FlowRecord] = [:]
        for case .flow(let flow) in records {
            if let seen = last[flow.uid], seen.ts + seen.duration > flow.ts + flow.duration { continue }
            last[flow.uid] = flow
        }
        return Array(last.values)
    }

    static func talkers(_ records: [Record], limit: Int) -> [TopTalker] {
        var totals:
            [String: (
                sent: UInt64, received: UInt64, sentPackets: UInt64, receivedPackets: UInt64, orig: UInt64, resp: UInt64
            )] = [:]
        for flow in lastRecords(records) {
            for (host, sent, received, sentPackets, receivedPackets, isOrig) in [
                (flow.id.origHost, flow.origIPBytes, flow.respIPBytes, flow.origPackets, flow.respPackets, true),
                (flow.id.respHost, flow.respIPBytes, flow.origIPBytes, flow.respPackets, flow.origPackets, false),
            ] {
                var t = totals[host.description, default: (0, 0, 0, 0, 0, 0)]
                // Stored counters can be anything an older collector accepted: totals saturate.
                t.sent = t.sent.addingSaturated(sent)
                t.received = t.received.addingSaturated(received)
                t.sentPackets = t.sentPackets.addingSaturated(sentPackets)
                t.receivedPackets = t.receivedPackets.addingSaturated(receivedPackets)
                if isOrig { t.orig = t.orig.addingSaturated(1) } else { t.resp = t.resp.addingSaturated(1) }
                totals[host.description] = t
            }
        }
        let talkers = totals.map { host, t in
            TopTalker(
                host: host, sentBytes: t.sent, receivedBytes: t.received, sentPackets: t.sentPackets,
                receivedPackets: t.receivedPackets, origFlows: t.orig, respFlows: t.resp)
        }
        return Array(talkers.sorted { ($0.bytes, $1.host) > ($1.bytes, $0.host) }.prefix(limit))
    }

    static func protocols(_ records: [Record]) -> [ProtocolTotals] {
        var totals: [String: ProtocolTotals] = [:]
        for flow in lastRecords(records) {
            let name = flow.protoName
            var entry = totals[name] ?? ProtocolTotals(proto: name, packets: 0, bytes: 0, flows: 0)
            entry.packets = entry.packets.addingSaturated(flow.origPackets).addingSaturated(flow.respPackets)
            entry.bytes = entry.bytes.addingSaturated(flow.origIPBytes).addingSaturated(flow.respIPBytes)
            entry.flows = entry.flows.addingSaturated(1)
            totals[name] = entry
        }
        return totals.values.sorted { ($0.bytes, $1.proto) > ($1.bytes, $0.proto) }
    }
}
