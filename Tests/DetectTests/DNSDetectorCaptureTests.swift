import Detect
import Flows
import Foundation
import Packets
import TestSupport
import Testing

/// One field of the packets matching a display filter, as tshark reads the capture (one line per packet).
private func tshark(_ fixture: String, filter: String, field: String) async throws -> [String] {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let found = path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("tshark") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    let binary = try #require(found, "tshark not found on PATH: install tshark (apt-get install -y tshark)")
    let output = try await ChildProcess.run(
        binary, ["-r", Harness.fixture(fixture), "-Y", filter, "-T", "fields", "-e", field])
    #expect(output.status == 0, "\(output.stderr)")
    return output.stdout.split(separator: "\n").map(String.init)
}

/// The DNS detector on real captures (made by Tests/Fixtures/make-detect-dns-fixtures.sh), through the sensor's
/// pipeline. Expected values are computed from the capture (tshark's reading of it, which the sensor's DNS records
/// must agree with), never copied in.
@Suite struct DNSDetectorCaptureTests {
    /// The capture's DNS records, and the detector's alerts on them (the last version of each id, after a final
    /// advance past every window so held-back updates are out).
    private func run(_ fixture: String) throws -> (dns: [DNSRecord], alerts: [AlertRecord]) {
        let records = try pipelineRecords(files: [Harness.fixture(fixture)], sensor: "s1", uidSeed: 1)
        let dns = records.compactMap { record -> DNSRecord? in
            if case .dns(let d) = record { return d }
            return nil
        }
        let detector = DNSDetector()
        var all: [AlertRecord] = []
        var last = 0.0
        for record in records {
            if case .dns(let d) = record { last = max(last, d.ts) }
            all += detector.observe(record, clock: DetectionClock(event: last))
        }
        all += detector.advance(to: DetectionClock(event: last + 3600))
        var order: [String] = []
        var byID: [String: AlertRecord] = [:]
        for alert in all {
            if byID[alert.id] == nil { order.append(alert.id) }
            byID[alert.id] = alert
        }
        #expect(detector.usage.entries == 0)  // everything expired an hour after the last query
        return (dns, order.compactMap { byID[$0] })
    }

    @Test func tunnelCapture() async throws {
        // Capture: dns-tunnel.pcap (72 base32-chunk queries, TXT/NULL/CNAME/A, under t.tunnel.test).
        let (dns, alerts) = try run("dns-tunnel.pcap")
        let queried = try await tshark("dns-tunnel.pcap", filter: "dns.flags.response == 0", field: "dns.qry.name")
        #expect(dns.compactMap(\.query).sorted() == queried.sorted())
        let names = queried.map { DNSName($0) }
        #expect(names.count >= 60)
        // The zone: the longest label suffix common to every query name.
        var zone = names.first?.labels ?? []
        for name in names {
            var common = 0
            while common < zone.count, common < name.labels.count,
                zone[zone.count - 1 - common] == name.labels[name.labels.count - 1 - common]
            {
                common += 1
            }
            zone = Array(zone.suffix(common))
        }
        let zoneName = zone.joined(separator: ".")
        #expect(zoneName == "t.tunnel.test")
        let types = try await tshark("dns-tunnel.pcap", filter: "dns.flags.response == 0", field: "dns.qry.type")
        let dataQueries = types.filter { ["5", "10", "16"].contains($0) }.count
        let longest = names.map(\.longestSubdomainLabel).max() ?? 0

        #expect(alerts.map(\.subtype) == ["tunneling"])
        let alert = try #require(alerts.first)
        #expect(alert.src == dns.first?.id.origHost.description)
        #expect(alert.targets == [names.first?.registeredDomain ?? ""])
        #expect(alert.detail["zone"] == .string(zoneName))
        #expect(alert.count == queried.count)
        #expect(alert.detail["unique_subdomains"] == .int(Int64(Set(names.map(\.full)).count)))
        #expect(alert.detail["txt_queries"] == .int(Int64(dataQueries)))
        #expect(alert.detail["max_label_length"] == .int(Int64(longest)))
        #expect(
            alert.detail["query_bytes"] == .int(Int64(names.map(\.subdomain.utf8.count).reduce(0, +))))
        #expect(alert.sensors == ["s1"])
        #expect(alert.firstTS == dns.map(\.ts).min())
        #expect(alert.lastTS == dns.map(\.ts).max())
        #expect(alert.message.contains("unique subdomains of \(zoneName)"))
    }

    @Test func dgaCapture() async throws {
        // Capture: dns-dga.pcap (40 generated names under .com/.net/.info, all NXDOMAIN, and 4 resolving lookups).
        let (dns, alerts) = try run("dns-dga.pcap")
        let queried = try await tshark("dns-dga.pcap", filter: "dns.flags.response == 0", field: "dns.qry.name")
        let nxNames = try await tshark("dns-dga.pcap", filter: "dns.flags.rcode == 3", field: "dns.qry.name")
        #expect(dns.compactMap(\.query).sorted() == queried.sorted())
        let nxdomain = dns.filter { $0.rcode == 3 }
        #expect(nxdomain.compactMap(\.query).sorted() == nxNames.sorted())
        let threshold = DNSConfig().dgaScore
        let suspicious = Set(
            queried.filter { DNSDetector.dgaScore($0).total >= threshold }.compactMap { DNSName($0).registeredDomain })
        #expect(suspicious.count * 10 >= nxNames.count * 9)  // the generated (NXDOMAIN) names score as generated

        let dga = try #require(alerts.first { $0.subtype == "high-entropy" })
        #expect(dga.count == suspicious.count)
        #expect(Set(dga.targets).isSubset(of: suspicious))
        #expect(dga.targets.count == min(20, suspicious.count))
        #expect(dga.severity == (suspicious.count >= 20 ? .high : .medium))
        let nxSuspicious = Set(nxNames.compactMap { DNSName($0).registeredDomain }).intersection(suspicious)
        #expect(dga.detail["nxdomain_names"] == .int(Int64(nxSuspicious.count)))

        // The NXDOMAIN answers: a burst exactly when the capture holds 20 of them within 60 s.
        let times = nxdomain.map(\.ts).sorted()
        let burst = times.indices.contains { i in
            i + 19 < times.count && times[i + 19] - times[i] <= 60
        }
        let nx = alerts.first { $0.subtype == "nxdomain-burst" }
        #expect((nx != nil) == burst)
        if let nx {
            #expect(nx.count == nxNames.count)
            #expect(nx.detail["distinct_names"] == .int(Int64(Set(nxNames).count)))
        }
        #expect(Set(alerts.map(\.subtype)).isSubset(of: ["high-entropy", "nxdomain-burst"]))
    }

    @Test func benignCapture() async throws {
        // Capture: dns-benign.pcap (popular names A/AAAA/MX/TXT, 3 NXDOMAIN typos, 3 reverse lookups).
        let (dns, alerts) = try run("dns-benign.pcap")
        let queried = try await tshark("dns-benign.pcap", filter: "dns.flags.response == 0", field: "dns.qry.name")
        #expect(dns.compactMap(\.query).sorted() == queried.sorted())
        #expect(queried.count >= 30)
        let nxNames = try await tshark("dns-benign.pcap", filter: "dns.flags.rcode == 3", field: "dns.qry.name")
        #expect(!nxNames.isEmpty && nxNames.count < DNSConfig().nxdomainThreshold)  // typos, not a burst
        #expect(queried.contains { $0.hasSuffix(".arpa") })  // the reverse lookups are there
        #expect(alerts.isEmpty, "\(alerts.map(\.message))")
    }
}
