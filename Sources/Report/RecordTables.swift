import Flows
import Packets

/// Records as the query tool prints them: tables with the columns an analyst reads first, and JSON with
/// every field of DESIGN.md (the same objects the sensor's JSON lines carry).
public enum RecordTables {
    /// A JSON array of the records' objects, one per line.
    public static func json(_ records: [Record]) -> String {
        if records.isEmpty { return "[]\n" }
        return "[\n" + records.map(\.jsonLine).joined(separator: ",\n") + "\n]\n"
    }

    static func endpoint(_ host: IPAddress, _ port: UInt16) -> String {
        if case .v6 = host { return "[\(host)]:\(port)" }
        return "\(host):\(port)"
    }

    /// `12.345`; a value no flow can have (negative, not finite, past `Int` in milliseconds) as Swift prints it.
    static func seconds(_ value: Double) -> String {
        guard let millis = Int(exactly: (value * 1000).rounded()), millis >= 0 else { return "\(value)" }
        let fraction = String(millis % 1000)
        return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// Flow records: when, where, what, how much.
    public static func flows(_ records: [FlowRecord]) -> Table {
        Table(
            columns: [
                .init("time (UTC)"), .init("sensor"), .init("proto"), .init("originator"), .init("responder"),
                .init("service"), .init("state"), .init("duration", .right), .init("orig bytes", .right),
                .init("resp bytes", .right), .init("pkts", .right),
            ],
            rows: records.map { r in
                [
                    TimeRange.format(r.ts), r.sensor, r.protoName, endpoint(r.id.origHost, r.id.origPort),
                    endpoint(r.id.respHost, r.id.respPort), r.service ?? "", r.connState, seconds(r.duration),
                    String(r.origIPBytes), String(r.respIPBytes), String(r.origPackets.addingSaturated(r.respPackets)),
                ]
            })
    }

    public static func dns(_ records: [DNSRecord]) -> Table {
        Table(
            columns: [
                .init("time (UTC)"), .init("sensor"), .init("client"), .init("server"), .init("query"),
                .init("type"), .init("rcode"), .init("answers"), .init("rtt ms", .right),
            ],
            rows: records.map { r in
                [
                    TimeRange.format(r.ts), r.sensor, endpoint(r.id.origHost, r.id.origPort),
                    endpoint(r.id.respHost, r.id.respPort), r.query ?? "", r.qtypeName ?? "", r.rcodeName ?? "",
                    r.answers.joined(separator: " "), r.rtt.map { String(format3($0 * 1000)) } ?? "",
                ]
            })
    }

    public static func http(_ records: [HTTPRecord]) -> Table {
        Table(
            columns: [
                .init("time (UTC)"), .init("sensor"), .init("client"), .init("server"), .init("method"), .init("host"),
                .init("uri"), .init("status", .right), .init("resp bytes", .right), .init("user agent"),
            ],
            rows: records.map { r in
                let t = r.transaction
                return [
                    TimeRange.format(r.ts), r.sensor, endpoint(r.id.origHost, r.id.origPort),
                    endpoint(r.id.respHost, r.id.respPort), t.method ?? "", t.host ?? "", t.uri ?? "",
                    t.statusCode.map(String.init) ?? "", String(t.responseBodyLength), t.userAgent ?? "",
                ]
            })
    }

    public static func tls(_ records: [TLSRecord]) -> Table {
        Table(
            columns: [
                .init("time (UTC)"), .init("sensor"), .init("client"), .init("server"), .init("version"),
                .init("server name"), .init("alpn"), .init("ja4"),
            ],
            rows: records.map { r in
                [
                    TimeRange.format(r.ts), r.sensor, endpoint(r.id.origHost, r.id.origPort),
                    endpoint(r.id.respHost, r.id.respPort), r.version ?? "", r.serverName ?? "",
                    r.alpn.joined(separator: ","), r.ja4 ?? "",
                ]
            })
    }

    static func format3(_ value: Double) -> String {
        let rounded = (value * 1000).rounded() / 1000
        return String(rounded)
    }
}
