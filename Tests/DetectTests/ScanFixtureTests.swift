import Detect
import Flows
import Foundation
import Packets
import TestSupport
import Testing

/// End to end: the real sensor pipeline on the captures of `make-detect-scan-fixtures.sh` (real nmap, curl and python
/// servers in a private namespace), its flow records fed to the scan detector as the collector would. The expected
/// ports and targets come from tshark on the same file, never from numbers copied out of one run.
@Suite struct ScanFixtureTests {
    /// Feeds records in emission order with a watermark 5 s behind the newest record (the collector's lateness),
    /// then advances far past the end; returns the last version of each alert id.
    static func detect(_ records: [Record], detector: ScanDetector = ScanDetector()) -> [AlertRecord] {
        var latest: [String: AlertRecord] = [:]
        var order: [String] = []
        var newest = -Double.infinity
        func take(_ alerts: [AlertRecord]) {
            for alert in alerts {
                if latest[alert.id] == nil { order.append(alert.id) }
                latest[alert.id] = alert
            }
        }
        for record in records {
            if case .flow(let flow) = record { newest = max(newest, flow.ts) }
            take(detector.observe(record, clock: DetectionClock(event: newest - 5)))
            take(detector.advance(to: DetectionClock(event: newest - 5)))
        }
        take(detector.advance(to: DetectionClock(event: newest + 100_000)))
        return order.compactMap { latest[$0] }
    }

    static func records(_ name: String, sensor: String = "s1", seed: UInt64 = 1) throws -> [Record] {
        try pipelineRecords(files: [Harness.fixture(name)], sensor: sensor, uidSeed: seed)
    }

    /// One field of the packets tshark selects with `filter`, as text.
    static func tshark(_ name: String, filter: String, field: String) throws -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tshark", "-r", Harness.fixture(name), "-Y", filter, "-T", "fields", "-e", field]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("tshark failed on \(name) with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    static func ports(_ name: String, filter: String, field: String = "tcp.dstport") throws -> [UInt16] {
        Set(try tshark(name, filter: filter, field: field).compactMap { UInt16($0) }).sorted()
    }

    static func report(_ name: String, _ alert: AlertRecord) {
        let d = alert.detail
        print(
            "[scan-fixture] \(name): subtype=\(alert.subtype) scope=\(d["scope"].map(String.init(describing:)) ?? "-") "
                + "speed=\(d["speed"].map(String.init(describing:)) ?? "-") src=\(alert.src ?? "-") "
                + "ports=\(alert.ports.count) targets=\(alert.targets.count) count=\(alert.count) "
                + "after_probes=\(d["detected_after_probes"].map(String.init(describing:)) ?? "-") "
                + "after_seconds=\(d["detected_after_seconds"].map(String.init(describing:)) ?? "-") "
                + "by=\(d["detected_by"].map(String.init(describing:)) ?? "-") "
                + "rejected=\(d["rejected"].map(String.init(describing:)) ?? "-") "
                + "filtered=\(d["filtered"].map(String.init(describing:)) ?? "-") "
                + "open=\(d["open"].map(String.init(describing:)) ?? "-") severity=\(alert.severity)")
    }

    struct Case: Sendable, CustomStringConvertible {
        var file: String
        var subtype: String
        var speed: String
        /// tshark filter selecting the probes (their destination ports are the expected `ports`).
        var probes: String
        var portField = "tcp.dstport"
        /// tshark filter selecting real answers of a service (their source ports are successes, not probes).
        var answered: String?
        var description: String { file }
    }

    // Captures: scan-sS.pcap, scan-sT.pcap, scan-sU.pcap, scan-sF.pcap, scan-sN.pcap, scan-sX.pcap, scan-sA.pcap,
    // scan-slow.pcap (one nmap run each against 127.0.0.1 from 127.0.0.1).
    @Test(arguments: [
        Case(file: "scan-sS.pcap", subtype: "tcp-syn", speed: "aggressive", probes: "tcp.flags==0x002"),
        Case(file: "scan-sT.pcap", subtype: "tcp-connect", speed: "aggressive", probes: "tcp.flags==0x002"),
        Case(
            file: "scan-sU.pcap", subtype: "udp", speed: "aggressive", probes: "udp && !icmp && udp.dstport <= 1024",
            portField: "udp.dstport", answered: "udp && !icmp && udp.srcport <= 1024"),
        Case(file: "scan-sF.pcap", subtype: "tcp-fin", speed: "aggressive", probes: "tcp.flags==0x001"),
        Case(file: "scan-sN.pcap", subtype: "tcp-null", speed: "aggressive", probes: "tcp.flags==0x000"),
        Case(file: "scan-sX.pcap", subtype: "tcp-xmas", speed: "aggressive", probes: "tcp.flags==0x029"),
        Case(file: "scan-sA.pcap", subtype: "tcp-ack", speed: "aggressive", probes: "tcp.flags==0x010"),
        Case(file: "scan-slow.pcap", subtype: "tcp-syn", speed: "stealthy", probes: "tcp.flags==0x002"),
    ])
    func nmapScanIsOneVerticalAlert(_ scan: Case) throws {
        let alerts = Self.detect(try Self.records(scan.file))
        #expect(alerts.count == 1, "\(alerts.map(\.jsonLine))")
        let alert = try #require(alerts.first)
        Self.report(scan.file, alert)
        #expect(alert.kind == .portScan)
        #expect(alert.subtype == scan.subtype)
        #expect(alert.src == "127.0.0.1")
        #expect(alert.targets == ["127.0.0.1"])
        #expect(alert.detail["scope"] == "vertical")
        #expect(alert.detail["speed"] == .string(scan.speed))
        var expected = Set(try Self.ports(scan.file, filter: scan.probes, field: scan.portField))
        if let answered = scan.answered {
            let open = try Self.ports(scan.file, filter: answered, field: "udp.srcport")
            #expect(!open.isEmpty)
            expected.subtract(open)
        }
        #expect(alert.ports == expected.sorted())
        #expect(alert.sensors == ["s1"])
        #expect(alert.count == alert.ports.count)
        if case .int(let after) = alert.detail["detected_after_probes"] {
            #expect(after >= 4 && after <= alert.count)
        } else {
            Issue.record("no detected_after_probes")
        }
    }

    // Capture: scan-sS.pcap. Port 25 is held by a listener with a full accept queue (SYNs dropped, filtered), 22 and
    // 80 are open, the rest answer RST.
    @Test func synScanCountsRejectedFilteredAndOpen() throws {
        let alert = try #require(Self.detect(try Self.records("scan-sS.pcap")).first)
        let synAcks = try Self.ports("scan-sS.pcap", filter: "tcp.flags==0x012", field: "tcp.srcport")
        let resets = try Self.ports("scan-sS.pcap", filter: "tcp.flags==0x014", field: "tcp.srcport")
        let probed = try Self.ports("scan-sS.pcap", filter: "tcp.flags==0x002")
        let unanswered = Set(probed).subtracting(synAcks).subtracting(resets)
        #expect(alert.detail["open"] == .int(Int64(synAcks.count)))
        #expect(alert.detail["rejected"] == .int(Int64(resets.count)))
        #expect(alert.detail["filtered"] == .int(Int64(unanswered.count)))
        #expect(!unanswered.isEmpty)
        #expect(alert.severity == .high)
    }

    // Capture: scan-sweep.pcap (nmap -sS -p 80 127.0.0.1-40).
    @Test func sweepIsHorizontal() throws {
        let alerts = Self.detect(try Self.records("scan-sweep.pcap"))
        #expect(alerts.count == 1)
        let alert = try #require(alerts.first)
        Self.report("scan-sweep.pcap", alert)
        let targets = Set(try Self.tshark("scan-sweep.pcap", filter: "tcp.flags==0x002", field: "ip.dst"))
        #expect(alert.subtype == "tcp-syn")
        #expect(alert.ports == [80])
        #expect(Set(alert.targets) == targets)
        #expect(alert.targets.count >= 40)
        #expect(alert.detail["scope"] == "horizontal")
        #expect(alert.detail["speed"] == "aggressive")
    }

    // Capture: scan-decoy.pcap (ping and curl from 127.0.0.1, then nmap -sS -D 127.0.0.2,127.0.0.3,ME,127.0.0.4).
    @Test func decoysAreOneAlertNamingTheRealSource() throws {
        let alerts = Self.detect(try Self.records("scan-decoy.pcap"))
        #expect(alerts.count == 1, "\(alerts.map(\.jsonLine))")
        let alert = try #require(alerts.first)
        Self.report("scan-decoy.pcap", alert)
        let probers = Set(try Self.tshark("scan-decoy.pcap", filter: "tcp.flags==0x002", field: "ip.src"))
        #expect(probers.count == 4)
        #expect(alert.src == "127.0.0.1")
        #expect(alert.detail["decoys"] == .int(Int64(probers.count - 1)))
        #expect(
            alert.detail["decoy_sources"] == .string(probers.subtracting(["127.0.0.1"]).sorted().joined(separator: ","))
        )
        #expect(alert.detail["real_source_certain"] == true)
        #expect(alert.subtype == "tcp-syn")
        #expect(alert.ports == (try Self.ports("scan-decoy.pcap", filter: "tcp.flags==0x002 && ip.src==127.0.0.2")))
    }

    // Capture: benign-web.pcap (41 curl requests and a 256 KiB download from python http.server, 3 attempts on the
    // closed port 81).
    @Test func benignWebIsNoScan() throws {
        let records = try Self.records("benign-web.pcap")
        let flows = records.filter { if case .flow = $0 { return true } else { return false } }
        #expect(flows.count >= 44)
        #expect(Self.detect(records).isEmpty)
    }

    // Captures: scan-split-a.pcap and scan-split-b.pcap, one scan whose two halves two sensors saw.
    @Test func splitScanNeedsBothSensors() throws {
        let a = try Self.records("scan-split-a.pcap", sensor: "a", seed: 1)
        let b = try Self.records("scan-split-b.pcap", sensor: "b", seed: 2)
        #expect(Self.detect(a).isEmpty)
        #expect(Self.detect(b).isEmpty)
        func ts(_ record: Record) -> Double { if case .flow(let f) = record { return f.ts } else { return 0 } }
        let both = (a + b).enumerated().sorted { (ts($0.element), $0.offset) < (ts($1.element), $1.offset) }
            .map(\.element)
        let alerts = Self.detect(both)
        #expect(alerts.count == 1)
        let alert = try #require(alerts.first)
        Self.report("scan-split-a+b", alert)
        #expect(alert.sensors == ["a", "b"])
        let expected = Set(try Self.ports("scan-split-a.pcap", filter: "tcp.flags==0x002"))
            .union(try Self.ports("scan-split-b.pcap", filter: "tcp.flags==0x002"))
        #expect(alert.ports == expected.sorted())
        #expect(alert.detail["detected_by"] == "random-walk")
    }

    // Capture: scans.pcap (make-scan-fixtures.sh: nmap -sT -sU -sF -sN -sX -sA on ports 20-30,8080 in a row from one
    // source, then hping3 -S on 8080 and an iperf3 transfer). One alert per scan family, each with all 12 ports.
    @Test func oneAlertPerScanFamilyInScansCapture() throws {
        let alerts = Self.detect(try Self.records("scans.pcap"))
        let subtypes = alerts.map(\.subtype)
        #expect(alerts.count == 6, "\(subtypes)")
        #expect(Set(subtypes).isSuperset(of: ["udp", "tcp-fin", "tcp-null", "tcp-xmas", "tcp-ack"]))
        // -sT and hping3's half-open SYNs share the SYN/connect episode; which one names it depends on which
        // record of port 8080 arrived first.
        #expect(subtypes.contains("tcp-connect") || subtypes.contains("tcp-syn"))
        let expected = try Self.ports("scans.pcap", filter: "tcp.flags==0x001")
        #expect(expected.count == 12)
        for alert in alerts {
            #expect(alert.ports == expected, "\(alert.subtype)")
            #expect(alert.src == "127.0.0.1")
            #expect(alert.detail["scope"] == "vertical")
        }
        #expect(Set(alerts.map(\.id)).count == 6)
    }

    // Capture: scan-sU.pcap (nmap -sU -p 50-62; a UDP echo answers on 53, port 57 reads and never answers, the rest
    // answer ICMP port unreachable).
    @Test func udpScanSeparatesRejectedFromFiltered() throws {
        let alert = try #require(Self.detect(try Self.records("scan-sU.pcap")).first)
        let unreachable = try Self.ports(
            "scan-sU.pcap", filter: "icmp.type==3 && icmp.code==3 && udp.srcport > 1024", field: "udp.dstport")
        let probed = try Self.ports("scan-sU.pcap", filter: "udp && !icmp && udp.dstport <= 1024", field: "udp.dstport")
        let answered = try Self.ports(
            "scan-sU.pcap", filter: "udp && !icmp && udp.srcport <= 1024", field: "udp.srcport")
        let silent = Set(probed).subtracting(unreachable).subtracting(answered)
        #expect(!silent.isEmpty)
        #expect(alert.detail["rejected"] == .int(Int64(Set(unreachable).subtracting(answered).count)))
        #expect(alert.detail["filtered"] == .int(Int64(silent.count)))
        #expect(alert.detail["open"] == 0)
    }
}
