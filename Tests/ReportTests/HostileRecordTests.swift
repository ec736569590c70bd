import Flows
import Foundation
import Packets
import Store
import TestSupport
import Testing

/// Records no sensor can make (counters near 2^64, infinite and NaN times and durations, control characters in
/// every captured string), stored directly as an older collector or a damaged database could hold them: every query
/// command still answers, and no human-readable output carries a control character from the records.
@Suite("hostile stored records")
struct HostileRecordTests {
    static let ts = 1_732_550_400.0
    /// A user agent that retitles the terminal (OSC 0) and erases the line (CSI 2K).
    static let userAgent = "\u{1B}]0;title\u{07}\u{1B}[2K"
    static let host = "evil\u{1B}[31m.example\r\nX"
    static let uri = "/a\u{07}b\u{9B}c\u{7F}"
    static let serverName = "sni\u{1B}[2J\u{0}.example"
    static let alpn = ["h2\u{1B}]8;;", "x\ny"]

    static func flow(_ uid: String, ts: Double = ts, duration: Double = 1) -> Record {
        .flow(
            FlowRecord(
                ts: ts, uid: uid, sensor: "edge-1",
                id: ConnID(
                    origHost: IPAddress("10.0.0.1") ?? .v4(1), origPort: 40_000,
                    respHost: IPAddress("10.0.0.2") ?? .v4(2), respPort: 443),
                proto: 6, service: "ssl\u{1B}[1m", duration: duration, origBytes: .max, respBytes: .max,
                origPackets: .max, respPackets: .max, origIPBytes: .max, respIPBytes: .max - 1, connState: "SF",
                history: "ShADadFf", tcpFlagsOrig: [.syn, .ack, .fin], tcpFlagsResp: [.syn, .ack],
                retransPackets: .max, icmpType: nil, icmpCode: nil, vlan: nil, innerVlan: nil,
                communityID: "1:x", final: true, reason: "fin", truncated: false))
    }

    static func series(ts: Double) -> Record {
        var tcp = ProtocolCounters()
        tcp.packets = .max
        tcp.bytes = .max
        tcp.flows = .max
        return .series(
            SeriesRecord(
                ts: ts, interval: 60, sensor: "edge-1", packets: .max, bytes: .max, flows: .max,
                perProtocol: ["tcp": tcp, "udp\u{1B}[5m": tcp]))
    }

    static var records: [Record] {
        let http = HTTPTransaction(
            method: "GET\u{1B}c", uri: uri, version: "1.1", host: host, userAgent: userAgent, referrer: nil,
            statusCode: Int.max, statusMessage: "OK", infoCode: nil, infoMessage: nil, requestBodyLength: Int.max,
            responseBodyLength: Int.max, requestContentType: nil, responseContentType: nil)
        let conn = ConnID(
            origHost: IPAddress("10.0.0.1") ?? .v4(1), origPort: 40_001, respHost: IPAddress("10.0.0.3") ?? .v4(3),
            respPort: 80)
        return [
            flow("Cflow1"), flow("Cflow2"), flow("Cflow3", duration: .infinity), flow("Cflow4", duration: -5),
            flow("Cflow5", ts: 1e300, duration: -1e300),
            .http(
                HTTPRecord(ts: ts, uid: "Chttp1", sensor: "edge-1", id: conn, transDepth: Int.max, transaction: http)),
            .http(HTTPRecord(ts: ts, uid: "Chttp2", sensor: "edge-1", id: conn, transDepth: 1, transaction: http)),
            .tls(
                TLSRecord(
                    ts: ts, uid: "Ctls1", sensor: "edge-1", id: conn, version: "TLSv13\u{1B}[0m", cipher: 0x1301,
                    serverName: serverName, alpn: alpn, ja3: nil, ja4: "t13d\u{1B}")),
            .dns(
                DNSRecord(
                    ts: ts, uid: "Cdns1", sensor: "edge-1", id: conn, proto: 17, transID: 1,
                    query: "q\u{1B}[2J.example", qtype: 1, qtypeName: "A", rcode: 0, rcodeName: "NOERROR",
                    answers: ["a\u{07}"], ttls: [.infinity, -1e300], rtt: .infinity, rejected: false)),
            series(ts: ts), series(ts: ts + 60), series(ts: .infinity), series(ts: 1e300), series(ts: -1e300),
            .stats(
                StatsRecord(
                    ts: ts, sensor: "edge-1", source: "eth0\u{1B}]0;x\u{07}", packetsReceived: .max,
                    packetsDroppedKernel: .max, packetsDroppedInterface: .max, bytesReceived: .max,
                    nonIPPackets: .max, truncatedPackets: .max, decodeErrors: .max, fragments: .max,
                    fragmentsReassembled: .max, fragmentsExpired: .max, flowTableSize: Int.max, flowsCreated: .max,
                    flowsEvicted: .max, recordsDropped: .max, spoolBytes: .max, weird: ["x\u{1B}": .max],
                    final: false)),
        ]
    }

    static func fill() throws -> String {
        let db = try Harness.temporaryDirectory().appendingPathComponent("hostile.db").path
        let store = try SQLiteStore(path: db, synchronous: .normal)
        defer { store.close() }
        let boot = [UInt8](repeating: 9, count: 16)
        _ = try store.openSession(
            SensorSession(name: "edge-1", bootID: boot, source: "eth0", softwareVersion: "old\u{1B}[8m"))
        _ = try store.commit(StoredBatch(sensor: "edge-1", bootID: boot, sequence: 1, records: records))
        return db
    }

    static func wirewatch(_ arguments: [String]) async throws -> ProcessOutput {
        try await ChildProcess.run(try Harness.binary("wirewatch"), arguments, timeout: 60)
    }

    /// Control characters the text holds other than the line ends a table or CSV writes itself.
    static func controls(_ text: String) -> [UInt32] {
        text.unicodeScalars.map(\.value).filter { value in
            (value < 0x20 && value != 0x0A && value != 0x0D) || (0x7F...0x9F).contains(value)
        }
    }

    static let queries: [[String]] = [
        ["flows"], ["flows", "--format", "csv"], ["flows", "--format", "json"], ["top-talkers"],
        ["top-talkers", "--format", "csv"], ["top-talkers", "--format", "json"], ["protocols"],
        ["protocols", "--format", "csv"], ["protocols", "--format", "json"], ["sensors"],
        ["sensors", "--format", "csv"], ["sensors", "--format", "json"], ["dns"], ["dns", "--format", "csv"],
        ["http"], ["http", "--format", "csv"], ["http", "--format", "json"], ["tls"], ["tls", "--format", "csv"],
        ["tls", "--format", "json"], ["alerts"],
    ]

    @Test("every query command answers over counters near 2^64 and non-finite times", arguments: queries)
    func queryAnswers(_ arguments: [String]) async throws {
        let db = try Self.fill()
        let output = try await Self.wirewatch(["--db", db] + arguments)
        #expect(output.status == 0, "\(arguments): \(output.stderr)")
        #expect(!output.stdout.isEmpty)
        if !arguments.contains("json") {
            #expect(Self.controls(output.stdout).isEmpty, "\(arguments): \(Self.controls(output.stdout))")
        }
    }

    @Test(
        "report json, csv and html and every chart are written over the same records",
        arguments: [
            ["report", "--format", "json"], ["report", "--format", "csv"], ["report", "--format", "html"],
            ["chart", "traffic"], ["chart", "protocols"], ["chart", "top-talkers"], ["chart", "scans"],
        ])
    func reportsAndCharts(_ arguments: [String]) async throws {
        let db = try Self.fill()
        let file = try Harness.temporaryDirectory().appendingPathComponent(
            arguments[0] == "chart" ? "out.svg" : "out.\(arguments[2])"
        ).path
        let output = try await Self.wirewatch(["--db", db] + arguments + ["--output", file])
        #expect(output.status == 0, "\(arguments): \(output.stderr)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        #expect(!text.isEmpty)
        if arguments.contains("html") || arguments[0] == "chart" || arguments.contains("csv") {
            #expect(Self.controls(text).isEmpty, "\(arguments): \(Self.controls(text))")
        }
    }

    @Test("tables and CSV show captured control characters escaped; JSON keeps the exact strings")
    func escapedStrings() async throws {
        let db = try Self.fill()
        let table = try await Self.wirewatch(["--db", db, "http"])
        #expect(table.stdout.contains("\\x1B]0;title\\x07\\x1B[2K"), "\(table.stdout)")
        #expect(table.stdout.contains("evil\\x1B[31m.example\\x0D\\x0AX"))
        #expect(table.stdout.contains("/a\\x07b\\x9Bc\\x7F"))
        let csv = try await Self.wirewatch(["--db", db, "http", "--format", "csv"])
        #expect(csv.stdout.contains("\\x1B]0;title\\x07\\x1B[2K"))
        let tls = try await Self.wirewatch(["--db", db, "tls"])
        #expect(tls.stdout.contains("sni\\x1B[2J\\x00.example"))
        #expect(tls.stdout.contains("h2\\x1B]8;;,x\\x0Ay"))
        let json = try await Self.wirewatch(["--db", db, "http", "--format", "json"])
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(objects.contains { $0["user_agent"] as? String == Self.userAgent })
        #expect(objects.contains { $0["host"] as? String == Self.host })
        #expect(objects.contains { $0["uri"] as? String == Self.uri })
        // JSON itself may carry no raw control character: ESC, BEL, DEL and C1 are \u escapes.
        #expect(Self.controls(json.stdout).isEmpty, "\(Self.controls(json.stdout))")
        let tlsJSON = try await Self.wirewatch(["--db", db, "tls", "--format", "json"])
        let tlsObjects = try #require(
            try JSONSerialization.jsonObject(with: Data(tlsJSON.stdout.utf8)) as? [[String: Any]])
        #expect(tlsObjects.first?["server_name"] as? String == Self.serverName)
        #expect(tlsObjects.first?["alpn"] as? [String] == Self.alpn)
    }
}
