import Flows
import Foundation
import Packets
import Store
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// top-talkers, protocols and alerts on a database filled from fixture captures; expected values are computed
/// here from the pipeline's records, not read from the store.
@Suite("summary commands")
struct SummaryCommandTests {
    /// Per host: IP bytes sent and received over the last record of each flow (records are cumulative per uid).
    static func expectedTalkers(_ records: [Record]) -> [String: (sent: UInt64, received: UInt64, flows: UInt64)] {
        var last: [String: FlowRecord] = [:]
        for case .flow(let flow) in records { last[flow.uid] = flow }
        var totals: [String: (sent: UInt64, received: UInt64, flows: UInt64)] = [:]
        for flow in last.values {
            let orig = flow.id.origHost.description
            let resp = flow.id.respHost.description
            totals[orig, default: (0, 0, 0)].sent += flow.origIPBytes
            totals[orig, default: (0, 0, 0)].received += flow.respIPBytes
            totals[orig, default: (0, 0, 0)].flows += 1
            totals[resp, default: (0, 0, 0)].sent += flow.respIPBytes
            totals[resp, default: (0, 0, 0)].received += flow.origIPBytes
            totals[resp, default: (0, 0, 0)].flows += 1
        }
        return totals
    }

    @Test("top-talkers --format json ranks hosts by bytes with sent/received equal to the flows' IP bytes")
    func topTalkers() async throws {
        let filled = try QueryCommandTests.fill()
        let output = try await QueryCommandTests.wirewatch([
            "--db", filled.db, "top-talkers", "--format", "json", "--limit", "50",
        ])
        #expect(output.status == 0, "\(output.stderr)")
        let objects = try QueryCommandTests.objects(output.stdout)
        let expected = Self.expectedTalkers(filled.records)
        #expect(objects.count == expected.count)
        var previous = UInt64.max
        for object in objects {
            let host = try #require(object["host"] as? String)
            let bytes = UInt64(object["bytes"] as? Int ?? -1)
            #expect(bytes <= previous, "sorted by bytes")
            previous = bytes
            let want = try #require(expected[host])
            #expect(object["sent_bytes"] as? Int == Int(want.sent), "\(host)")
            #expect(object["received_bytes"] as? Int == Int(want.received), "\(host)")
            #expect(object["flows"] as? Int == Int(want.flows), "\(host)")
            // Fixture traffic is on loopback and in documentation/private ranges: labelled, never looked up.
            #expect(object["scope"] as? String != "public" || object["country"] != nil)
        }
    }

    @Test("top-talkers and protocols --port count only the flows to that port, each flow once")
    func byPort() async throws {
        let filled = try QueryCommandTests.fill()
        let flows = filled.records.compactMap { if case .flow(let r) = $0 { r } else { nil } }
        let port = try #require(flows.first { $0.proto == 6 }?.id.respPort)
        let toPort = flows.filter { $0.id.respPort == port }
        let expected = Self.expectedTalkers(toPort.map(Record.flow))
        let output = try await QueryCommandTests.wirewatch([
            "--db", filled.db, "top-talkers", "--port", String(port), "--format", "json", "--limit", "50",
        ])
        #expect(output.status == 0, "\(output.stderr)")
        let objects = try QueryCommandTests.objects(output.stdout)
        #expect(objects.count == expected.count)
        for object in objects {
            let host = try #require(object["host"] as? String)
            #expect(object["sent_bytes"] as? Int == Int(expected[host]?.sent ?? 0), "\(host)")
            #expect(object["received_bytes"] as? Int == Int(expected[host]?.received ?? 0), "\(host)")
        }
        let protocols = try QueryCommandTests.objects(
            try await QueryCommandTests.wirewatch([
                "--db", filled.db, "protocols", "--port", String(port), "--format", "json",
            ]).stdout)
        #expect(protocols.map { $0["proto"] as? String } == ["tcp"])
        var last: [String: FlowRecord] = [:]
        for flow in toPort { last[flow.uid] = flow }
        #expect(protocols.first?["flows"] as? Int == last.count)
        #expect(
            protocols.first?["bytes"] as? Int == Int(last.values.map { $0.origIPBytes + $0.respIPBytes }.reduce(0, +)))
    }

    @Test("protocols --format csv: one row per protocol, packets and bytes summing the series records")
    func protocols() async throws {
        let filled = try QueryCommandTests.fill()
        let output = try await QueryCommandTests.wirewatch(["--db", filled.db, "protocols", "--format", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        var packets: [String: UInt64] = [:]
        var bytes: [String: UInt64] = [:]
        for case .series(let series) in filled.records {
            for (name, counters) in series.perProtocol {
                packets[name, default: 0] += counters.packets
                bytes[name, default: 0] += counters.bytes
            }
        }
        let objects = try QueryCommandTests.objects(output.stdout)
        #expect(!objects.isEmpty)
        for object in objects {
            let name = try #require(object["proto"] as? String)
            #expect(object["packets"] as? Int == Int(packets[name] ?? 0), "\(name)")
            #expect(object["bytes"] as? Int == Int(bytes[name] ?? 0), "\(name)")
        }
        #expect(Set(objects.compactMap { $0["proto"] as? String }) == Set(packets.filter { $0.value > 0 }.keys))
    }

    @Test("alerts lists stored alerts with DESIGN.md's fields; --kind filters; a bad kind exits 2")
    func alerts() async throws {
        let filled = try QueryCommandTests.fill()
        let store = try SQLiteStore(path: filled.db, synchronous: .normal)
        let scan = AlertRecord(
            ts: 1_795_600_010, id: "scan-1", kind: .portScan, subtype: "tcp-syn", severity: .high, src: "10.9.9.9",
            targets: ["10.0.0.1", "10.0.0.2"], ports: [22, 80, 443], firstTS: 1_795_600_000, lastTS: 1_795_600_010,
            sensors: ["edge-1", "edge-2"], count: 6, message: "Port scan detected", detail: ["scope": "block"])
        let spike = AlertRecord(
            ts: 1_795_600_100, id: "spike-1", kind: .trafficSpike, subtype: "bytes", severity: .medium, src: nil,
            targets: [], ports: [], firstTS: 1_795_600_060, lastTS: 1_795_600_120, sensors: ["edge-1"], count: 1,
            message: "bytes 10x baseline", detail: [:])
        try store.upsertAlert(scan)
        try store.upsertAlert(spike)
        store.close()
        let all = try await QueryCommandTests.wirewatch(["--db", filled.db, "alerts", "--format", "json"])
        #expect(all.status == 0, "\(all.stderr)")
        let objects = try QueryCommandTests.objects(all.stdout)
        #expect(Set(objects.compactMap { $0["id"] as? String }) == ["scan-1", "spike-1"])
        let first = try #require(objects.first { $0["id"] as? String == "scan-1" })
        #expect(first["kind"] as? String == "port-scan")
        #expect(first["ports"] as? [Int] == [22, 80, 443])
        #expect(first["sensors"] as? [String] == ["edge-1", "edge-2"])
        let scans = try await QueryCommandTests.wirewatch([
            "--db", filled.db, "alerts", "--kind", "port-scan", "--format", "csv",
        ])
        #expect(CSVRows.parse(scans.stdout).count == 2)
        let bad = try await QueryCommandTests.wirewatch(["--db", filled.db, "alerts", "--kind", "nonsense"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--kind"))
    }

    @Test("report: JSON with every section, CSV that parses, one self-contained HTML file with the charts inline")
    func report() async throws {
        let filled = try QueryCommandTests.fill()
        let directory = try Harness.temporaryDirectory()
        let expected = Self.expectedTalkers(filled.records)
        let busiest = try #require(
            expected.max { $0.value.sent + $0.value.received < $1.value.sent + $1.value.received })
        let json = try await QueryCommandTests.wirewatch(["--db", filled.db, "report", "--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        for section in ["alerts", "top_talkers", "protocols", "traffic", "dns", "http", "tls", "tcp", "udp", "sensors"]
        {
            #expect(object[section] != nil, "\(section)")
        }
        let talkers = try #require(object["top_talkers"] as? [[String: Any]])
        #expect(talkers.first?["host"] as? String == busiest.key)
        let dns = try #require(object["dns"] as? [String: Any])
        let dnsRecords = filled.records.filter { if case .dns = $0 { true } else { false } }
        #expect(dns["requests"] as? Int == dnsRecords.count)

        let csv = try await QueryCommandTests.wirewatch(["--db", filled.db, "report", "--format", "csv"])
        let rows = CSVRows.parse(csv.stdout)
        #expect(rows.first == ["section", "item", "metric", "value"])
        #expect(
            rows.contains(["top_talkers", busiest.key, "bytes", String(busiest.value.sent + busiest.value.received)]))

        let html = directory.appendingPathComponent("report.html").path
        let written = try await QueryCommandTests.wirewatch([
            "--db", filled.db, "report", "--format", "html", "--output", html,
        ])
        #expect(written.status == 0, "\(written.stderr)")
        let page = try String(contentsOfFile: html, encoding: .utf8)
        for title in ["Alerts", "Traffic", "Top talkers", "Protocols", "DNS", "HTTP", "TLS", "TCP", "UDP", "Sensors"] {
            #expect(page.contains(">\(title)<"), "\(title)")
        }
        #expect(page.contains("<svg"))
        #expect(page.contains(busiest.key))
        #expect(!page.contains("src=\"http"), "self-contained")
    }

    @Test("chart writes a legible SVG (title, axis units, series) and a non-trivial PNG; a bad kind exits 2")
    func charts() async throws {
        let filled = try QueryCommandTests.fill()
        let directory = try Harness.temporaryDirectory()
        let svg = directory.appendingPathComponent("traffic.svg").path
        let made = try await QueryCommandTests.wirewatch(["--db", filled.db, "chart", "traffic", "--output", svg])
        #expect(made.status == 0, "\(made.stderr)")
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.contains("Traffic"))
        #expect(text.contains("/s)"), "the y axis names its unit per second")
        #expect(text.contains(">tcp<") && text.contains(">udp<"), "legend names the protocols")
        let talkers = directory.appendingPathComponent("talkers.svg").path
        _ = try await QueryCommandTests.wirewatch(["--db", filled.db, "chart", "top-talkers", "--output", talkers])
        #expect(try String(contentsOfFile: talkers, encoding: .utf8).contains("127.0.0.1"))
        let png = directory.appendingPathComponent("protocols.png").path
        let raster = try await QueryCommandTests.wirewatch(["--db", filled.db, "chart", "protocols", "--output", png])
        #expect(raster.status == 0, "\(raster.stderr)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        #expect(bytes.count > 10_000)
        let bad = try await QueryCommandTests.wirewatch(["--db", filled.db, "chart", "pie", "--output", png])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("pie"))
    }
}

@Suite("geolocation through the collector's --geoip")
struct GeoIPTests {
    @Test("the collector records its --geoip files; top-talkers then names 8.8.8.8 (Google LLC, US, Mountain View)")
    func collectorGeoIP() async throws {
        let directory = try Harness.temporaryDirectory()
        let db = directory.appendingPathComponent("geo.db").path
        let pkiDirectory = directory.appendingPathComponent("pki").path
        let certs = try await ChildProcess.run(
            try Harness.binary("wirewatch"), ["certs", "init", "--out", pkiDirectory, "--sensor", "edge-1"])
        #expect(certs.status == 0, "\(certs.stderr)")
        let geo = Harness.fixtures.appendingPathComponent("geo")
        let collector = try ChildProcess(
            try Harness.binary("wirewatch-collector"),
            [
                "--listen", "127.0.0.1:0", "--tls-ca", pkiDirectory + "/ca.pem", "--tls-cert",
                pkiDirectory + "/collector.pem", "--tls-key", pkiDirectory + "/collector-key.pem", "--db", db,
                "--geoip", geo.appendingPathComponent("test-city.mmdb").path,
                "--geoip", geo.appendingPathComponent("test-asn.mmdb").path,
            ])
        try collector.start()
        #expect(await collector.waitForOutput(seconds: 30) { $0.stdout.contains("listening on") })
        collector.signal(SIGTERM)
        #expect(await collector.waitForExit(seconds: 30))
        #expect(collector.output().status == 0, "\(collector.output().stderr)")

        // Traffic to a public address, stored as the collector would store it.
        let store = try SQLiteStore(path: db, synchronous: .normal)
        let boot = [UInt8](repeating: 3, count: 16)
        _ = try store.openSession(SensorSession(name: "edge-1", bootID: boot, source: "test", softwareVersion: "t"))
        let flow = FlowRecord(
            ts: 1_795_600_000, uid: "CgeoTest0000000001", sensor: "edge-1",
            id: ConnID(
                origHost: try #require(IPAddress("10.1.2.3")), origPort: 50000,
                respHost: try #require(IPAddress("8.8.8.8")), respPort: 53),
            proto: 17, service: "dns", duration: 0.1, origBytes: 40, respBytes: 120, origPackets: 1, respPackets: 1,
            origIPBytes: 68, respIPBytes: 148, connState: "SF", history: "Dd", tcpFlagsOrig: nil, tcpFlagsResp: nil,
            retransPackets: 0, icmpType: nil, icmpCode: nil, vlan: nil, innerVlan: nil, communityID: "1:x",
            final: true, reason: "idle", truncated: false)
        _ = try store.commit(StoredBatch(sensor: "edge-1", bootID: boot, sequence: 1, records: [.flow(flow)]))
        store.close()

        let output = try await QueryCommandTests.wirewatch(["--db", db, "top-talkers", "--format", "json"])
        #expect(output.status == 0, "\(output.stderr)")
        let rows = try QueryCommandTests.objects(output.stdout)
        let google = try #require(rows.first { $0["host"] as? String == "8.8.8.8" })
        #expect(google["organization"] as? String == "Google LLC")
        #expect(google["country"] as? String == "US")
        #expect(google["city"] as? String == "Mountain View")
        #expect(google["asn"] as? Int == 15169)
        #expect(google["bytes"] as? Int == 68 + 148)
        let client = try #require(rows.first { $0["host"] as? String == "10.1.2.3" })
        #expect(client["scope"] as? String == "private")
        #expect(client["country"] == nil, "private addresses are never looked up")

        let bad = try await ChildProcess.run(
            try Harness.binary("wirewatch-collector"),
            [
                "--listen", "127.0.0.1:0", "--tls-ca", pkiDirectory + "/ca.pem", "--tls-cert",
                pkiDirectory + "/collector.pem", "--tls-key", pkiDirectory + "/collector-key.pem", "--db", db,
                "--geoip", pkiDirectory + "/ca.pem",
            ])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("ca.pem"), "\(bad.stderr)")
    }
}
