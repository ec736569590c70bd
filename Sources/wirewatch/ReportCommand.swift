import ArgumentParser
import Flows
import Foundation
import Geo
import Report
import Store

/// `wirewatch --db PATH report --format json|csv|html --output FILE`: the whole picture for a time window.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Alerts, top talkers, protocols, DNS, HTTP, TLS, TCP, UDP and sensors for a time window.",
        discussion: "json: one object; csv: rows of section,item,metric,value; html: one self-contained file.")
    @OptionGroup var query: QueryOptions
    @Option(name: .long, help: "MaxMind or DB-IP .mmdb file for the top talkers (repeatable).")
    var geoip: [String] = []

    func validate() throws {
        if query.format == .table { throw ValidationError("report --format must be json, csv or html") }
    }

    func run() throws {
        do {
            let store = try query.openStore()
            defer { store.close() }
            let data = try ReportData.load(store: store, query: query, geoip: geoip, progress: Progress("report"))
            switch query.format {
            case .json: try query.emit(try data.json())
            case .csv: try query.emit(Self.csv(data))
            case .html: try query.emit(Self.html(data).render())
            case .table: throw QueryError.badInput("report --format must be json, csv or html")
            }
        } catch let error as GeoError {
            throw CommandFailure.exitCode(for: QueryError.badInput(error.description), command: "report")
        } catch {
            throw CommandFailure.exitCode(for: error, command: "report")
        }
    }

    // MARK: CSV: one long table

    static func csv(_ data: ReportData) -> String {
        var rows: [[String]] = []
        func add(_ section: String, _ item: String, _ metric: String, _ value: some CustomStringConvertible) {
            rows.append([section, item, metric, value.description])
        }
        for alert in data.alertRecords {
            add("alerts", alert.id, "kind", "\(alert.kind.rawValue)/\(alert.subtype)")
            add("alerts", alert.id, "severity", alert.severity.rawValue)
            add("alerts", alert.id, "src", alert.src ?? "")
            add("alerts", alert.id, "message", alert.message)
        }
        for row in data.talkers {
            add("top_talkers", row.talker.host, "bytes", row.talker.bytes)
            add("top_talkers", row.talker.host, "sent_bytes", row.talker.sentBytes)
            add("top_talkers", row.talker.host, "received_bytes", row.talker.receivedBytes)
            add("top_talkers", row.talker.host, "location", row.location)
            add("top_talkers", row.talker.host, "organization", row.geo?.organization ?? "")
        }
        for proto in data.protocols {
            add("protocols", proto.proto, "packets", proto.packets)
            add("protocols", proto.proto, "bytes", proto.bytes)
            add("protocols", proto.proto, "flows", proto.flows)
        }
        for query in data.dns.topQueries { add("dns_queries", query.name, "count", query.count) }
        for type in data.dns.qtypes { add("dns_qtypes", type.name, "count", type.count) }
        for rcode in data.dns.rcodes { add("dns_rcodes", rcode.name, "count", rcode.count) }
        for method in data.http.methods { add("http_methods", method.name, "count", method.count) }
        for status in data.http.statusCodes {
            add("http_status", status.code.map(String.init) ?? "none", "count", status.count)
        }
        for agent in data.http.userAgents { add("http_user_agents", agent.name, "count", agent.count) }
        for host in data.http.hosts { add("http_hosts", host.name, "count", host.count) }
        for version in data.tls.versions { add("tls_versions", version.name, "count", version.count) }
        for name in data.tls.serverNames { add("tls_server_names", name.name, "count", name.count) }
        for state in data.tcp.states { add("tcp_states", state.name, "flows", state.count) }
        add("tcp", "all", "retransmitted_packets", data.tcp.retransmittedPackets)
        for flag in data.tcp.flags {
            add("tcp_flags", flag.flag, "orig_flows", flag.origFlows)
            add("tcp_flags", flag.flag, "resp_flows", flag.respFlows)
        }
        for port in data.udp.topPorts { add("udp_ports", String(port.port), "flows", port.flows) }
        for bucket in data.udp.packetSizes {
            add(
                "udp_packet_sizes", "\(bucket.lowerBound)-\(bucket.upperBound.map(String.init) ?? "")", "flows",
                bucket.flows)
        }
        for sensor in data.sensors {
            add("sensors", sensor.name, "last_seen", sensor.lastSeen.map { TimeRange.format($0) } ?? "")
            add("sensors", sensor.name, "packets_received", sensor.stats?.packetsReceived ?? 0)
            add("sensors", sensor.name, "packets_dropped_kernel", sensor.stats?.packetsDroppedKernel ?? 0)
            add("sensors", sensor.name, "records_dropped", sensor.stats?.recordsDropped ?? 0)
        }
        return Table(columns: [.init("section"), .init("item"), .init("metric"), .init("value")], rows: rows).csv()
    }

    // MARK: HTML

    static func counts(_ title: String, _ items: [NamedCount]) -> HTMLReport.TableBlock {
        HTMLReport.TableBlock(
            Table(columns: [.init(title), .init("count", .right)], rows: items.map { [$0.name, String($0.count)] }))
    }

    static func html(_ data: ReportData) -> HTMLReport {
        let alerts = Table(
            columns: [
                .init("last seen (UTC)"), .init("severity"), .init("kind"), .init("source"), .init("targets", .right),
                .init("ports"), .init("sensors"), .init("message"),
            ],
            rows: data.alertRecords.map {
                [
                    TimeRange.format($0.lastTS, milliseconds: false), $0.severity.rawValue,
                    "\($0.kind.rawValue)/\($0.subtype)", $0.src ?? "", String($0.targets.count), Units.ports($0.ports),
                    $0.sensors.joined(separator: ", "), $0.message,
                ]
            })
        let protocols = Table(
            columns: [.init("protocol"), .init("packets", .right), .init("bytes", .right), .init("flows", .right)],
            rows: data.protocols.map { [$0.proto, String($0.packets), Units.bytes($0.bytes), String($0.flows)] })
        let states = Table(
            columns: [.init("conn_state"), .init("flows", .right)],
            rows: data.tcp.states.map { [$0.name, String($0.count)] })
        let flags = Table(
            columns: [.init("flag"), .init("originator flows", .right), .init("responder flows", .right)],
            rows: data.tcp.flags.map { [$0.flag, String($0.origFlows), String($0.respFlows)] })
        let udpPorts = Table(
            columns: [.init("port", .right), .init("flows", .right), .init("packets", .right), .init("bytes", .right)],
            rows: data.udp.topPorts.map {
                [String($0.port), String($0.flows), String($0.packets), Units.bytes($0.bytes)]
            })
        let sizes = Table(
            columns: [.init("mean packet size (bytes)"), .init("flows", .right), .init("packets", .right)],
            rows: data.udp.packetSizes.map {
                [
                    "\($0.lowerBound)–\($0.upperBound.map { String($0 - 1) } ?? "")", String($0.flows),
                    String($0.packets),
                ]
            })
        let statuses = Table(
            columns: [.init("status"), .init("count", .right)],
            rows: data.http.statusCodes.map { [$0.code.map(String.init) ?? "none", String($0.count)] })
        let sensors = Table(
            columns: [
                .init("sensor"), .init("source"), .init("last seen (UTC)"), .init("packets", .right),
                .init("kernel drops", .right), .init("records dropped", .right), .init("spool", .right),
            ],
            rows: data.sensors.map {
                [
                    $0.name, $0.stats?.source ?? $0.source ?? "",
                    $0.lastSeen.map { TimeRange.format($0, milliseconds: false) } ?? "",
                    String($0.stats?.packetsReceived ?? 0), String($0.stats?.packetsDroppedKernel ?? 0),
                    String($0.stats?.recordsDropped ?? 0), Units.bytes($0.stats?.spoolBytes ?? 0),
                ]
            })
        let sections: [HTMLReport.Section] = [
            .init(
                title: "Alerts", summary: "\(data.alertRecords.count) alerts", chart: data.scanChart.svg(),
                tables: [.init(alerts)]),
            .init(
                title: "Traffic", summary: "Bytes per second by protocol; alerts and spikes marked.",
                chart: data.trafficChart.svg(), tables: []),
            .init(
                title: "Top talkers", summary: "Hosts by IP bytes sent and received.", chart: data.talkersChart.svg(),
                tables: [.init(TalkerRow.table(data.talkers, human: true))]),
            .init(
                title: "Protocols", summary: nil, chart: data.protocolChart.svg(), tables: [.init(protocols)]),
            .init(
                title: "DNS", summary: "\(data.dns.requests) requests", chart: nil,
                tables: [
                    counts("query", data.dns.topQueries), counts("type", data.dns.qtypes),
                    counts("rcode", data.dns.rcodes),
                ]),
            .init(
                title: "HTTP", summary: "\(data.http.requests) requests", chart: nil,
                tables: [
                    counts("method", data.http.methods), .init(statuses), counts("user agent", data.http.userAgents),
                    counts("host", data.http.hosts),
                ]),
            .init(
                title: "TLS", summary: "\(data.tls.handshakes) handshakes", chart: nil,
                tables: [counts("version", data.tls.versions), counts("server name", data.tls.serverNames)]),
            .init(
                title: "TCP",
                summary: "\(data.tcp.flows) connections, \(data.tcp.retransmittedPackets) retransmitted packets",
                chart: nil, tables: [.init(states), .init(flags)]),
            .init(
                title: "UDP", summary: "\(data.udp.flows) flows, \(data.udp.packets) packets", chart: nil,
                tables: [.init(udpPorts), .init(sizes)]),
            .init(title: "Sensors", summary: "\(data.sensors.count) sensors", chart: nil, tables: [.init(sensors)]),
        ]
        return HTMLReport(
            title: "Wirewatch report", subtitle: data.window, timeRange: TimeRange(from: data.from, to: data.to),
            generatedAt: data.generatedAt, sections: sections)
    }
}

/// `wirewatch --db PATH chart traffic|protocols|top-talkers|scans --output FILE.svg|FILE.png`.
struct ChartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chart", abstract: "Draw traffic, protocol mix, top talkers or the scan timeline as SVG or PNG.")
    @Argument(help: "traffic, protocols, top-talkers or scans.")
    var kind: String
    @OptionGroup var query: QueryOptions
    @Option(name: .long, help: "MaxMind or DB-IP .mmdb file for the top talkers (repeatable).")
    var geoip: [String] = []

    func validate() throws {
        guard ["traffic", "protocols", "top-talkers", "scans"].contains(kind) else {
            throw ValidationError("chart: '\(kind)' is not traffic, protocols, top-talkers or scans")
        }
        guard let output = query.output, output.hasSuffix(".svg") || output.hasSuffix(".png") else {
            throw ValidationError("chart needs --output FILE.svg or FILE.png")
        }
    }

    func run() throws {
        do {
            let store = try query.openStore()
            defer { store.close() }
            let data = try ReportData.load(store: store, query: query, geoip: geoip, progress: Progress("chart"))
            let svg: String
            switch kind {
            case "traffic": svg = data.trafficChart.svg()
            case "protocols": svg = data.protocolChart.svg()
            case "top-talkers": svg = data.talkersChart.svg()
            default: svg = data.scanChart.svg()
            }
            try Chart.write(svg: svg, to: query.output ?? "")
        } catch let error as GeoError {
            throw CommandFailure.exitCode(for: QueryError.badInput(error.description), command: "chart")
        } catch {
            throw CommandFailure.exitCode(for: error, command: "chart")
        }
    }
}
