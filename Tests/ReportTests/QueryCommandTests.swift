import Flows
import Foundation
import Packets
import Sensor
import Store
import TestSupport
import Testing

/// `wirewatch --db PATH flows|dns|http|tls|sensors` on a database filled from fixture captures; every expected
/// value comes from the sensor pipeline's own records of the same captures, not from the store.
@Suite("query commands")
struct QueryCommandTests {
    struct Filled {
        let db: String
        let records: [Record]
    }

    static func fill() throws -> Filled {
        let records = try pipelineRecords(
            files: ["http.pcap", "dns.pcap", "tls.pcap", "ipv6-tcp.pcap"].map(Harness.fixture), sensor: "edge-1",
            uidSeed: 5)
        let db = try Harness.temporaryDirectory().appendingPathComponent("q.db").path
        let store = try SQLiteStore(path: db, synchronous: .normal)
        defer { store.close() }
        let boot = [UInt8](repeating: 7, count: 16)
        _ = try store.openSession(SensorSession(name: "edge-1", bootID: boot, source: "fixtures", softwareVersion: "t"))
        _ = try store.commit(StoredBatch(sensor: "edge-1", bootID: boot, sequence: 1, records: records))
        return Filled(db: db, records: records)
    }

    static func wirewatch(_ arguments: [String]) async throws -> ProcessOutput {
        try await ChildProcess.run(try Harness.binary("wirewatch"), arguments, timeout: 60)
    }

    static func objects(_ json: String) throws -> [[String: Any]] {
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8))
        return try #require(parsed as? [[String: Any]])
    }

    @Test("flows --format json holds every flow record with DESIGN.md's fields and values")
    func flowsJSON() async throws {
        let filled = try Self.fill()
        let output = try await Self.wirewatch(["--db", filled.db, "flows", "--format", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let objects = try Self.objects(output.stdout)
        let flows = filled.records.compactMap { if case .flow(let r) = $0 { r } else { nil } }
        #expect(objects.count == flows.count)
        let byUID = Dictionary(grouping: objects) { $0["uid"] as? String ?? "" }
        for flow in flows {
            let match = byUID[flow.uid]?.first { ($0["final"] as? Bool) == flow.final }
            #expect(match?["id.orig_h"] as? String == flow.id.origHost.description)
            #expect(match?["id.resp_p"] as? Int == Int(flow.id.respPort))
            #expect(match?["orig_ip_bytes"] as? Int == Int(flow.origIPBytes))
            #expect(match?["conn_state"] as? String == flow.connState)
            #expect(match?["community_id"] as? String == flow.communityID)
            #expect(match?["type"] as? String == "flow")
        }
    }

    @Test("dns --format csv parses back to one row per DNS record with the query names")
    func dnsCSV() async throws {
        let filled = try Self.fill()
        let output = try await Self.wirewatch(["--db", filled.db, "dns", "--format", "csv"])
        #expect(output.status == 0, "\(output.stderr)")
        let rows = CSVRows.parse(output.stdout)
        let dns = filled.records.compactMap { if case .dns(let r) = $0 { r } else { nil } }
        #expect(rows.first?.contains("query") == true)
        #expect(rows.count == dns.count + 1)
        let column = try #require(rows.first?.firstIndex(of: "query"))
        #expect(rows.dropFirst().map { $0[column] }.sorted() == dns.map { $0.query ?? "" }.sorted())
    }

    @Test("--host and --from/--to filter; --limit caps; a table is aligned text")
    func filters() async throws {
        let filled = try Self.fill()
        let flows = filled.records.compactMap { if case .flow(let r) = $0 { r } else { nil } }
        let v6 = try #require(flows.first { if case .v6 = $0.id.origHost { true } else { false } })
        let host = v6.id.origHost.description
        let output = try await Self.wirewatch(["--db", filled.db, "flows", "--host", host, "--format", "json"])
        let expected = flows.filter { $0.id.origHost.description == host || $0.id.respHost.description == host }
        #expect(try Self.objects(output.stdout).count == expected.count)
        let sorted = flows.map(\.ts).sorted()
        let middle = sorted[sorted.count / 2]
        let windowed = try await Self.wirewatch([
            "--db", filled.db, "flows", "--from", String(middle), "--to", String(sorted.last ?? 0), "--format", "json",
        ])
        #expect(
            try Self.objects(windowed.stdout).count
                == flows.filter { $0.ts >= middle && $0.ts < (sorted.last ?? 0) }.count)
        let limited = try await Self.wirewatch(["--db", filled.db, "flows", "--limit", "2", "--format", "json"])
        #expect(try Self.objects(limited.stdout).count == 2)
        let table = try await Self.wirewatch(["--db", filled.db, "http"])
        let lines = table.stdout.split(separator: "\n")
        let http = filled.records.filter { if case .http = $0 { true } else { false } }
        #expect(lines.count == http.count + 2)
        #expect(lines.first?.hasPrefix("time (UTC)") == true)
        #expect(!table.stdout.contains("\u{1B}"), "no colour when not a terminal")
    }

    @Test("sensors lists the sensor; bad input exits 2 with one line naming it")
    func sensorsAndErrors() async throws {
        let filled = try Self.fill()
        let sensors = try await Self.wirewatch(["--db", filled.db, "sensors", "--format", "csv"])
        #expect(CSVRows.parse(sensors.stdout).dropFirst().map { $0.first } == ["edge-1"])
        let missing = try await Self.wirewatch(["--db", "/nonexistent/x.db", "flows"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("/nonexistent/x.db"))
        let badHost = try await Self.wirewatch(["--db", filled.db, "flows", "--host", "not-an-ip"])
        #expect(badHost.status == 2)
        #expect(badHost.stderr.contains("--host"))
        let badSince = try await Self.wirewatch(["--db", filled.db, "flows", "--since", "later"])
        #expect(badSince.status == 2)
        #expect(badSince.stderr.contains("--since"))
    }
}

/// The tests' own RFC 4180 reader, independent of the one in Report.
enum CSVRows {
    static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var inQuotes = false
        var previousQuote = false
        for scalar in text.unicodeScalars {
            if inQuotes {
                if scalar == "\"" {
                    inQuotes = false
                    previousQuote = true
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"":
                if previousQuote { field.append("\"") }
                inQuotes = true
            case ",":
                row.append(field)
                field = ""
            case "\r":
                break
            case "\n":
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            default:
                field.unicodeScalars.append(scalar)
            }
            previousQuote = false
        }
        return rows
    }
}

@Suite("query input safety and bad input")
struct QueryInputTests {
    @Test("http, tls and sensors --format json carry the records' values")
    func moreJSON() async throws {
        let filled = try QueryCommandTests.fill()
        let http = try QueryCommandTests.objects(
            try await QueryCommandTests.wirewatch(["--db", filled.db, "http", "--format", "json"]).stdout)
        let httpRecords = filled.records.compactMap { if case .http(let r) = $0 { r } else { nil } }
        #expect(http.count == httpRecords.count)
        #expect(
            Set(http.compactMap { $0["uri"] as? String }) == Set(httpRecords.compactMap { $0.transaction.uri }))
        #expect(
            http.compactMap { $0["status_code"] as? Int }.sorted()
                == httpRecords.compactMap { $0.transaction.statusCode }.sorted())
        let tls = try QueryCommandTests.objects(
            try await QueryCommandTests.wirewatch(["--db", filled.db, "tls", "--format", "json"]).stdout)
        let tlsRecords = filled.records.compactMap { if case .tls(let r) = $0 { r } else { nil } }
        #expect(tls.count == tlsRecords.count)
        #expect(Set(tls.compactMap { $0["ja4"] as? String }) == Set(tlsRecords.compactMap(\.ja4)))
        #expect(Set(tls.compactMap { $0["server_name"] as? String }) == Set(tlsRecords.compactMap(\.serverName)))
        let sensors = try QueryCommandTests.objects(
            try await QueryCommandTests.wirewatch(["--db", filled.db, "sensors", "--format", "json"]).stdout)
        #expect(sensors.map { $0["name"] as? String } == ["edge-1"])
        #expect(sensors.first?["source"] as? String == "fixtures")
    }

    @Test("hostile strings in every filter are values, never SQL: no rows, no error, the database unchanged")
    func hostileFilters() async throws {
        let filled = try QueryCommandTests.fill()
        let before = try Data(contentsOf: URL(fileURLWithPath: filled.db))
        let hostile = ["' OR 1=1 --", "x'; DROP TABLE flows; --", "\" OR \"\"=\"", "%' OR '1'='1"]
        for text in hostile {
            for command in ["flows", "dns", "http", "tls", "alerts", "top-talkers", "protocols", "sensors"] {
                let output = try await QueryCommandTests.wirewatch([
                    "--db", filled.db, command, "--sensor", text, "--format", "json",
                ])
                #expect(output.status == 0, "\(command) --sensor \(text): \(output.stderr)")
                #expect(try QueryCommandTests.objects(output.stdout).isEmpty, "\(command) --sensor \(text)")
            }
            // Options that only take an address, a number, a time or a fixed word refuse the text itself.
            for option in ["--host", "--port", "--from", "--to", "--since", "--limit", "--proto"] {
                let output = try await QueryCommandTests.wirewatch(["--db", filled.db, "flows", option, text])
                #expect(output.status == 2, "\(option) \(text)")
                #expect(output.stderr.contains(option), "\(option): \(output.stderr)")
            }
            let kind = try await QueryCommandTests.wirewatch(["--db", filled.db, "alerts", "--kind", text])
            #expect(kind.status == 2)
        }
        let flows = try await QueryCommandTests.wirewatch(["--db", filled.db, "flows", "--format", "json"])
        #expect(
            try QueryCommandTests.objects(flows.stdout).count == filled.records.filter { $0.typeName == "flow" }.count)
        #expect(try Data(contentsOf: URL(fileURLWithPath: filled.db)) == before, "queries never write")
    }

    @Test("a file that is not SQLite, an unreadable mmdb, an unknown --format, --port on the report: exit 2, one line")
    func badInput() async throws {
        let filled = try QueryCommandTests.fill()
        let directory = try Harness.temporaryDirectory()
        let text = directory.appendingPathComponent("notes.db").path
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        let notSQLite = try await QueryCommandTests.wirewatch(["--db", text, "flows"])
        #expect(notSQLite.status == 2)
        #expect(notSQLite.stderr.contains("notes.db"))
        #expect(notSQLite.stderr.split(separator: "\n").count == 1, "\(notSQLite.stderr)")
        let mmdb = directory.appendingPathComponent("broken.mmdb").path
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: mmdb))
        let badGeo = try await QueryCommandTests.wirewatch(["--db", filled.db, "top-talkers", "--geoip", mmdb])
        #expect(badGeo.status == 2)
        #expect(badGeo.stderr.contains("broken.mmdb"), "\(badGeo.stderr)")
        let format = try await QueryCommandTests.wirewatch(["--db", filled.db, "flows", "--format", "xml"])
        #expect(format.status == 2)
        #expect(format.stderr.contains("--format"), "\(format.stderr)")
        let port = try await QueryCommandTests.wirewatch([
            "--db", filled.db, "report", "--port", "80", "--format", "json",
        ])
        #expect(port.status == 2)
        #expect(port.stderr.contains("--port"))
    }
}
