import Config
import Detect
import Flows
import Packets
import TestSupport
import Testing

/// A flow record between two addresses; answered (TCP `SF`) unless `state` says otherwise.
func flowRecord(
    _ ts: Double, _ client: String, _ server: String, port: UInt16, proto: UInt8 = IPProtocol.tcp,
    state: String = "SF", respPackets: UInt64 = 3, uid: String? = nil, sensor: String = "s1", icmpType: UInt8? = nil
) -> Record {
    .flow(
        FlowRecord(
            ts: ts, uid: uid ?? "C\(ts)-\(client)-\(server)-\(port)", sensor: sensor,
            id: ConnID(
                origHost: IPAddress(client) ?? .v4(0), origPort: 40_000, respHost: IPAddress(server) ?? .v4(0),
                respPort: port),
            proto: proto, service: nil, duration: 1, origBytes: 10, respBytes: 10, origPackets: 3,
            respPackets: respPackets, origIPBytes: 100, respIPBytes: 100, connState: state, history: "ShADadFf",
            tcpFlagsOrig: nil, tcpFlagsResp: nil, retransPackets: 0, icmpType: icmpType, icmpCode: nil, vlan: nil,
            innerVlan: nil, communityID: "", final: true, reason: "fin", truncated: false))
}

@Suite struct UnusualPortDetectorTests {
    static let t0 = 1_700_000_000.0

    /// One hour of ordinary traffic: web, DNS and SSH in 10.0.1.0/24, 3000 answered flows.
    static func learnedDetector(_ config: UnusualPortConfig = UnusualPortConfig()) -> UnusualPortDetector {
        let detector = UnusualPortDetector(config: config)
        for index in 0..<3000 {
            let ts = t0 + Double(index) * 1.2
            let client = "192.168.0.\(index % 50 + 1)"
            let (server, port, proto): (String, UInt16, UInt8) =
                switch index % 3 {
                case 0: ("10.0.1.80", 443, IPProtocol.tcp)
                case 1: ("10.0.1.53", 53, IPProtocol.udp)
                default: ("10.0.1.22", 22, IPProtocol.tcp)
                }
            _ = detector.observe(
                flowRecord(ts, client, server, port: port, proto: proto), clock: DetectionClock(event: ts))
        }
        return detector
    }

    @Test func warmUpLearnsSilently() {
        let detector = UnusualPortDetector()
        var alerts: [AlertRecord] = []
        for index in 0..<100 {
            let ts = Self.t0 + Double(index) * 30  // 50 minutes: all inside the hour of warm-up
            alerts += detector.observe(
                flowRecord(ts, "192.168.0.1", "10.0.\(index).1", port: UInt16(1000 + index)),
                clock: DetectionClock(event: ts))
        }
        #expect(alerts.isEmpty)
        #expect(detector.learnedServices.count == 100)
    }

    @Test func newServiceOnACommonPortAndRarePortOnAnOddOne() throws {
        let detector = Self.learnedDetector()
        let ts = Self.t0 + 3700
        // A known service: nothing.
        #expect(
            detector.observe(flowRecord(ts, "192.168.0.9", "10.0.1.80", port: 443), clock: .init(event: ts)).isEmpty)
        // A new web server in another network: new-service (443 is common).
        let web = detector.observe(flowRecord(ts, "192.168.0.9", "10.0.2.80", port: 443), clock: .init(event: ts))
        let newService = try #require(web.first)
        #expect(web.count == 1)
        #expect(newService.kind == .unusualPort)
        #expect(newService.subtype == "new-service")
        #expect(newService.targets == ["10.0.2.80"])
        #expect(newService.src == "192.168.0.9")
        #expect(newService.ports == [443])
        #expect(newService.detail["network"] == "10.0.2.0/24")
        #expect(newService.detail["proto"] == "tcp")
        #expect(newService.detail["flows_seen"] == 1)
        #expect(newService.detail["clients"] == 1)
        #expect(newService.message.contains("new service 443/tcp in 10.0.2.0/24"))
        // A listener on 4444 answering: rare-port (never seen anywhere, not a common port).
        let odd = detector.observe(flowRecord(ts, "192.168.0.9", "10.0.1.7", port: 4444), clock: .init(event: ts))
        #expect(odd.first?.subtype == "rare-port")
        #expect(odd.first?.detail["port_share"] == .double(0))
        // SSH (common) on a new host of a known network is not new: the service key is per network.
        #expect(detector.observe(flowRecord(ts, "192.168.0.9", "10.0.1.23", port: 22), clock: .init(event: ts)).isEmpty)
        // A non-rare, non-common port seen elsewhere is a new service, not rare.
        var config = UnusualPortConfig()
        config.commonPorts = []
        let plain = Self.learnedDetector(config)
        let dns = plain.observe(
            flowRecord(ts, "192.168.0.9", "10.0.9.53", port: 53, proto: IPProtocol.udp), clock: .init(event: ts))
        #expect(dns.first?.subtype == "new-service")
    }

    @Test func unansweredProbesAndEphemeralPortsAreIgnored() {
        let detector = Self.learnedDetector()
        let ts = Self.t0 + 3700
        var alerts: [AlertRecord] = []
        for (index, state) in ["S0", "REJ", "SH", "OTH", "RSTOS0"].enumerated() {
            alerts += detector.observe(
                flowRecord(ts, "192.168.0.66", "10.0.1.9", port: UInt16(5000 + index), state: state, respPackets: 1),
                clock: .init(event: ts))
        }
        // UDP answered by ICMP port unreachable, and UDP without any answer.
        alerts += detector.observe(
            flowRecord(
                ts, "192.168.0.66", "10.0.1.9", port: 6000, proto: IPProtocol.udp, state: "SF", respPackets: 0,
                icmpType: 3),
            clock: .init(event: ts))
        alerts += detector.observe(
            flowRecord(ts, "192.168.0.66", "10.0.1.9", port: 6001, proto: IPProtocol.udp, state: "S0", respPackets: 0),
            clock: .init(event: ts))
        // Ephemeral to ephemeral.
        alerts += detector.observe(flowRecord(ts, "192.168.0.66", "10.0.1.9", port: 50_000), clock: .init(event: ts))
        #expect(alerts.isEmpty)
        #expect(detector.learnedServices.count == 3)  // probes teach nothing either
        var config = UnusualPortConfig()
        config.includeEphemeral = true
        let ephemeral = Self.learnedDetector(config)
        #expect(
            ephemeral.observe(flowRecord(ts, "192.168.0.66", "10.0.1.9", port: 50_000), clock: .init(event: ts)).count
                == 1)
    }

    @Test func oneEpisodePerServiceUpdatedWhenItDoubles() {
        let detector = Self.learnedDetector()
        var alerts: [AlertRecord] = []
        for index in 0..<20 {
            let ts = Self.t0 + 3700 + Double(index)
            alerts += detector.observe(
                flowRecord(ts, "192.168.0.\(index + 1)", "10.0.5.5", port: 4444), clock: .init(event: ts))
        }
        #expect(Set(alerts.map(\.id)).count == 1)
        // Raised at 1 flow, updated at 2, 4, 8, 16 (flows and clients double together here).
        #expect(alerts.map(\.count) == [1, 2, 4, 8, 16])
        #expect(alerts.last?.detail["clients"] == 16)
        // The interim and final records of one flow (same uid) count once.
        let ts = Self.t0 + 3800
        _ = detector.observe(
            flowRecord(ts, "192.168.0.1", "10.0.6.6", port: 8080, uid: "Cabc"), clock: .init(event: ts))
        _ = detector.observe(
            flowRecord(ts, "192.168.0.1", "10.0.6.6", port: 8080, uid: "Cabc"), clock: .init(event: ts))
        #expect(detector.learnedServices.first { $0.network == "10.0.6.0/24" }?.flows == 1)
    }

    @Test func networkBitsAreConfigurableForBothFamilies() {
        var config = UnusualPortConfig()
        config.warmUp = 0
        config.networkBitsV4 = 16
        config.networkBitsV6 = 48
        let detector = UnusualPortDetector(config: config)
        _ = detector.observe(flowRecord(Self.t0, "192.168.0.1", "10.1.2.3", port: 443), clock: .init(event: Self.t0))
        _ = detector.observe(flowRecord(Self.t0, "192.168.0.1", "10.1.9.9", port: 443), clock: .init(event: Self.t0))
        _ = detector.observe(flowRecord(Self.t0, "fd00::1", "2001:db8:1:2::5", port: 443), clock: .init(event: Self.t0))
        let networks = detector.learnedServices.map(\.network)
        #expect(networks == ["10.1.0.0/16", "2001:db8:1::/48"])
    }

    @Test func capEvictsTheLeastRecentlySeenAndExpiryForgets() {
        var config = UnusualPortConfig()
        config.maxServices = 8
        config.expiry = 600
        let detector = UnusualPortDetector(config: config)
        for index in 0..<12 {
            let ts = Self.t0 + Double(index)
            _ = detector.observe(flowRecord(ts, "192.168.0.1", "10.0.\(index).1", port: 443), clock: .init(event: ts))
        }
        #expect(detector.usage.evicted == 4)
        #expect(detector.learnedServices.count == 8)
        #expect(!detector.learnedServices.contains { $0.network == "10.0.0.0/24" })
        #expect(detector.usage.approximateBytes > 8 * 160)
        _ = detector.advance(to: DetectionClock(event: Self.t0 + 608.5))
        #expect(detector.learnedServices.count == 3)  // seen at t0+9...11
        #expect(detector.usage.evicted == 4)  // expiry is not eviction
    }

    @Test func emptyUIDsAreNotDuplicatesOfEachOther() {
        var config = UnusualPortConfig()
        config.warmUp = 0
        let detector = UnusualPortDetector(config: config)
        for index in 0..<3 {
            let ts = Self.t0 + Double(index)
            _ = detector.observe(
                flowRecord(ts, "192.168.0.\(index + 1)", "10.0.1.80", port: 443, uid: ""),
                clock: DetectionClock(event: ts))
        }
        let service = detector.learnedServices.first
        #expect(service?.flows == 3)
        #expect(service?.clients == 3)
    }

    @Test func expiredServiceIsNewAgainBeforeTheSweepFreesIt() {
        var config = UnusualPortConfig()
        config.warmUp = 0
        config.expiry = 36_000
        let detector = UnusualPortDetector(config: config)
        _ = detector.observe(flowRecord(Self.t0, "192.168.0.1", "10.0.1.80", port: 443), clock: .init(event: Self.t0))
        _ = detector.advance(to: DetectionClock(event: Self.t0 + 35_000))  // a sweep: the next one is an hour on
        _ = detector.advance(to: DetectionClock(event: Self.t0 + 36_500))  // expires the service, no sweep
        #expect(detector.learnedServices.isEmpty)
        let later = Self.t0 + 36_501
        let again = detector.observe(
            flowRecord(later, "192.168.0.1", "10.0.1.80", port: 443), clock: .init(event: later))
        #expect(again.count == 1)
        #expect(again.first?.count == 1)
    }

    @Test func configParsesEveryKeyAndRefusesUnknownAndOutOfRange() throws {
        let text = """
            [ports]
            warm-up = 600
            network-bits-v4 = 16
            network-bits-v6 = 56
            rare-fraction = 0.01
            common-ports = [22, 443]
            include-ephemeral = true
            max-services = 1000
            expiry = 3600
            max-clients = 8
            max-tracked-flows = 500
            """
        let config = try UnusualPortConfig(section: ConfigFile(parsing: text, path: "p.conf").section("ports"))
        #expect(config.warmUp == 600 && config.networkBitsV4 == 16 && config.networkBitsV6 == 56)
        #expect(config.rareFraction == 0.01 && config.commonPorts == [22, 443] && config.includeEphemeral)
        #expect(config.maxServices == 1000 && config.expiry == 3600 && config.maxClients == 8)
        #expect(config.maxTrackedFlows == 500)
        let defaults = try UnusualPortConfig(section: ConfigFile().section("ports"))
        #expect(defaults == UnusualPortConfig())
        #expect(defaults.commonPorts.contains(3389) && defaults.commonPorts.count == 32)
        #expect(throws: ConfigError.self) {
            try UnusualPortConfig(section: ConfigFile(parsing: "[ports]\nrare = 1", path: "p.conf").section("ports"))
        }
        #expect(throws: ConfigError.self) {
            try UnusualPortConfig(
                section: ConfigFile(parsing: "[ports]\nnetwork-bits-v4 = 33", path: "p.conf").section("ports"))
        }
    }

    /// End to end on `mixed.pcap` (icmp.pcap + dns.pcap + ipv6-tcp.pcap): the baseline learns the services the
    /// capture holds: dnsmasq on 127.0.0.1:53 over UDP and TCP, and the IPv6 TCP server; the ICMP pings teach no
    /// port. With warm-up 0 and an empty baseline each first service is raised once.
    @Test func learnsTheServicesOfMixedPcap() throws {
        let records = try pipelineRecords(files: [Harness.fixture("mixed.pcap")], sensor: "s1", uidSeed: 1)
        var expected: Set<String> = []
        for record in records {
            guard case .flow(let flow) = record, UnusualPortDetector.isAnswered(flow), flow.id.respPort < 32768 else {
                continue
            }
            expected.insert("\(flow.protoName)/\(flow.id.respPort)")
        }
        #expect(expected.contains("udp/53"))
        #expect(expected.contains("tcp/53"))
        #expect(expected.count >= 3)
        let learning = UnusualPortDetector()
        for record in records { #expect(learning.observe(record, clock: .init(event: 0)).isEmpty) }
        let learned = Set(learning.learnedServices.map { "\($0.proto)/\($0.port)" })
        #expect(learned == expected)
        #expect(learning.learnedServices.contains { $0.network == "127.0.0.0/24" && $0.port == 53 })

        var config = UnusualPortConfig()
        config.warmUp = 0
        let fresh = UnusualPortDetector(config: config)
        var alerts: [AlertRecord] = []
        for record in records { alerts += fresh.observe(record, clock: .init(event: 0)) }
        #expect(Set(alerts.map(\.id)).count == fresh.learnedServices.count)
        #expect(alerts.contains { $0.ports == [53] && $0.subtype == "new-service" })
    }
}
