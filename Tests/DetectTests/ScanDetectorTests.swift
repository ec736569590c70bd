import Config
import Detect
import Flows
import Packets
import Testing

/// Synthetic flow records, shaped as the sensor emits them (Zeek conn_state/history, flag unions).
enum ScanFlows {
    enum Kind {
        case synRejected, synFiltered, halfOpen, connect, web, fin, null, xmas, ack, udpFiltered, udpUnreachable,
            udpAnswered
    }

    static func make(
        _ kind: Kind, ts: Double, src: String = "10.0.0.66", dst: String = "10.0.0.1", port: UInt16,
        sensor: String = "s1", uid: String? = nil, final: Bool = true, sport: UInt16 = 40000
    ) -> FlowRecord {
        var proto = IPProtocol.tcp
        var state = "REJ"
        var history = "Sr"
        var orig: TCPFlags? = [.syn]
        var resp: TCPFlags? = [.rst, .ack]
        var origBytes: UInt64 = 0
        var respBytes: UInt64 = 0
        var respPackets: UInt64 = 1
        var icmp: (UInt8, UInt8)?
        switch kind {
        case .synRejected: break
        case .synFiltered: (state, history, resp, respPackets) = ("S0", "S", nil, 0)
        case .halfOpen: (state, history, orig, resp) = ("RSTOS0", "ShR", [.syn, .rst], [.syn, .ack])
        case .connect: (state, history, orig, resp) = ("RSTO", "ShAR", [.syn, .ack, .rst], [.syn, .ack])
        case .web:
            (state, history, orig, resp) = ("SF", "ShADadFf", [.syn, .ack, .psh, .fin], [.syn, .ack, .psh, .fin])
            (origBytes, respBytes, respPackets) = (120, 5000, 5)
        case .fin: (state, history, orig) = ("REJ", "Fr", [.fin])
        case .null: (state, history, orig, resp, respPackets) = ("OTH", "", [], nil, 0)
        case .xmas: (state, history, orig) = ("REJ", "Fr", [.fin, .psh, .urg])
        case .ack: (state, history, orig, resp) = ("OTH", "Ar", [.ack], [.rst])
        case .udpFiltered: (proto, state, history, orig, resp, respPackets) = (IPProtocol.udp, "S0", "D", nil, nil, 0)
        case .udpUnreachable:
            (proto, state, history, orig, resp, respPackets) = (IPProtocol.udp, "S0", "D", nil, nil, 0)
            icmp = (3, 3)
        case .udpAnswered:
            (proto, state, history, orig, resp) = (IPProtocol.udp, "SF", "Dd", nil, nil)
            (origBytes, respBytes) = (40, 80)
        }
        let id = ConnID(
            origHost: IPAddress(src) ?? .v4(0), origPort: sport, respHost: IPAddress(dst) ?? .v4(0), respPort: port)
        return FlowRecord(
            ts: ts, uid: uid ?? "C\(src)-\(dst)-\(port)-\(Int(ts * 1000))", sensor: sensor, id: id, proto: proto,
            service: nil, duration: 0.001, origBytes: origBytes, respBytes: respBytes, origPackets: 1,
            respPackets: respPackets, origIPBytes: 40, respIPBytes: respPackets * 40, connState: state,
            history: history, tcpFlagsOrig: proto == IPProtocol.tcp ? orig : nil,
            tcpFlagsResp: proto == IPProtocol.tcp ? resp : nil, retransPackets: 0, icmpType: icmp?.0,
            icmpCode: icmp?.1, vlan: nil, innerVlan: nil, communityID: "", final: final, reason: "rst",
            truncated: false)
    }
}

/// Feeds flows to a detector with the watermark at each record's time and keeps every alert returned.
final class ScanRun {
    let detector: ScanDetector
    var returned: [AlertRecord] = []

    init(_ config: ScanConfig = ScanConfig()) { detector = ScanDetector(config: config) }

    @discardableResult
    func feed(_ flows: [FlowRecord]) -> [AlertRecord] {
        var now: [AlertRecord] = []
        for flow in flows {
            now += detector.observe(.flow(flow), clock: DetectionClock(event: flow.ts))
            now += detector.advance(to: DetectionClock(event: flow.ts - 5))
        }
        returned += now
        return now
    }

    func finish(at ts: Double) { returned += detector.advance(to: DetectionClock(event: ts)) }

    /// The last version of each alert id, in first-raised order.
    var alerts: [AlertRecord] {
        var order: [String] = []
        var latest: [String: AlertRecord] = [:]
        for alert in returned {
            if latest[alert.id] == nil { order.append(alert.id) }
            latest[alert.id] = alert
        }
        return order.compactMap { latest[$0] }
    }
}

@Suite struct ScanDetectorTests {
    typealias K = ScanFlows.Kind

    static func scan(
        _ kind: K, ports: [UInt16], start: Double = 1000, gap: Double = 0.01, src: String = "10.0.0.66",
        dst: String = "10.0.0.1", sensor: String = "s1"
    ) -> [FlowRecord] {
        ports.enumerated().map { index, port in
            ScanFlows.make(kind, ts: start + Double(index) * gap, src: src, dst: dst, port: port, sensor: sensor)
        }
    }

    // MARK: Classification

    @Test(arguments: [
        (K.synRejected, ScanVerdict.probe(.synAttempt, .rejected)),
        (K.synFiltered, .probe(.synAttempt, .filtered)),
        (K.halfOpen, .probe(.halfOpen, .open)),
        (K.connect, .probe(.connect, .open)),
        (K.web, .success),
        (K.fin, .probe(.fin, .rejected)),
        (K.null, .probe(.null, .filtered)),
        (K.xmas, .probe(.xmas, .rejected)),
        (K.ack, .probe(.ack, .rejected)),
        (K.udpFiltered, .probe(.udp, .filtered)),
        (K.udpUnreachable, .probe(.udp, .rejected)),
        (K.udpAnswered, .success),
    ])
    func classifiesProbes(kind: K, verdict: ScanVerdict) {
        #expect(ScanVerdict.classify(ScanFlows.make(kind, ts: 1, port: 22)) == verdict)
    }

    @Test func classifiesEdgeCases() {
        // Multicast and broadcast: no ports to scan.
        #expect(ScanVerdict.classify(ScanFlows.make(.udpFiltered, ts: 1, dst: "224.0.0.251", port: 5353)) == .ignore)
        #expect(ScanVerdict.classify(ScanFlows.make(.udpFiltered, ts: 1, dst: "255.255.255.255", port: 67)) == .ignore)
        // ICMPv6 port unreachable on a UDP flow; other unreachables are filters.
        var v6 = ScanFlows.make(.udpFiltered, ts: 1, src: "2001:db8::66", dst: "2001:db8::1", port: 53)
        (v6.icmpType, v6.icmpCode) = (1, 4)
        #expect(ScanVerdict.classify(v6) == .probe(.udp, .rejected))
        var prohibited = ScanFlows.make(.udpFiltered, ts: 1, port: 53)
        (prohibited.icmpType, prohibited.icmpCode) = (3, 13)
        #expect(ScanVerdict.classify(prohibited) == .probe(.udp, .filtered))
        // A UDP service that answered, its answer then refused by the prober's host (nmap's raw socket): a success.
        var echoed = ScanFlows.make(.udpAnswered, ts: 1, port: 53)
        (echoed.icmpType, echoed.icmpCode) = (3, 3)
        #expect(ScanVerdict.classify(echoed) == .success)
        // A connect that read a banner is a real connection; a mid-stream ACK with data too; a lone RST is nothing.
        var banner = ScanFlows.make(.connect, ts: 1, port: 22)
        banner.respBytes = 40
        #expect(ScanVerdict.classify(banner) == .success)
        var midstream = ScanFlows.make(.ack, ts: 1, port: 443)
        midstream.origBytes = 500
        #expect(ScanVerdict.classify(midstream) == .success)
        // Without flag unions the history letters decide; without either, nothing.
        var historyOnly = ScanFlows.make(.halfOpen, ts: 1, port: 22)
        (historyOnly.tcpFlagsOrig, historyOnly.tcpFlagsResp) = (nil, nil)
        #expect(ScanVerdict.classify(historyOnly) == .probe(.halfOpen, .open))
        var bare = ScanFlows.make(.null, ts: 1, port: 22)
        bare.tcpFlagsOrig = nil
        #expect(ScanVerdict.classify(bare) == .ignore)
        var reset = ScanFlows.make(.ack, ts: 1, port: 443)
        reset.tcpFlagsOrig = [.rst]
        #expect(ScanVerdict.classify(reset) == .ignore)
    }

    // MARK: Random walk and window

    @Test func slowScannerIsCaughtByTheWalkAfterFewFailures() throws {
        let run = ScanRun()
        // One SYN every 30 s: never 10 in a minute, so only the walk can see it.
        run.feed(Self.scan(.synRejected, ports: [21, 22, 23], gap: 30))
        #expect(run.returned.isEmpty)
        run.feed(Self.scan(.synRejected, ports: [24], start: 1090))
        let alert = try #require(run.alerts.first)
        #expect(run.alerts.count == 1)
        #expect(alert.detail["detected_by"] == "random-walk")
        #expect(alert.detail["detected_after_probes"] == 4)
        #expect(alert.detail["detected_after_seconds"] == .double(90))
        #expect(alert.detail["speed"] == "stealthy")
        #expect(alert.severity == .low)
        #expect(alert.ts == 1090)
    }

    @Test func walkMathFollowsTheConfiguredThresholds() {
        let config = ScanConfig()
        #expect(abs(config.eta1 - 99) < 1e-9)
        #expect(abs(config.eta0 - 0.01 / 0.99) < 1e-12)
        // Each failure multiplies Λ by 0.8/0.2 = 4, each success by 0.25: 3 failures (64) stay below η1 = 99.
        var strict = ScanConfig()
        strict.alpha = 0.001  // η1 = 990: 4 failures (256) are no longer enough, 5 (1024) are
        let run = ScanRun(strict)
        run.feed(Self.scan(.synRejected, ports: [1, 2, 3, 4], gap: 20))
        #expect(run.returned.isEmpty)
        run.feed(Self.scan(.synRejected, ports: [5], start: 1100))
        #expect(run.alerts.count == 1)
        #expect(run.alerts.first?.detail["detected_after_probes"] == 5)
    }

    @Test func successesKeepBusyServersAndClientsBenign() {
        let run = ScanRun()
        // 2000 clients of one web server and one DNS server, some clients retrying the closed port 8443.
        var flows: [FlowRecord] = []
        for client in 0..<2000 {
            let src = "10.1.\(client / 250).\(client % 250 + 1)"
            let ts = 1000 + Double(client) * 0.01
            flows.append(ScanFlows.make(.web, ts: ts, src: src, dst: "10.0.0.80", port: 443))
            flows.append(ScanFlows.make(.udpAnswered, ts: ts, src: src, dst: "10.0.0.53", port: 53))
            if client % 3 == 0 {
                flows.append(ScanFlows.make(.synRejected, ts: ts, src: src, dst: "10.0.0.80", port: 8443))
            }
        }
        // One busy client: 60 web servers, every fourth visit answered by RST on a second port.
        for server in 0..<60 {
            let ts = 1100 + Double(server) * 0.1
            flows.append(ScanFlows.make(.web, ts: ts, src: "10.2.0.9", dst: "10.3.0.\(server + 1)", port: 443))
            if server % 4 == 0 {
                flows.append(
                    ScanFlows.make(.synRejected, ts: ts, src: "10.2.0.9", dst: "10.3.0.\(server + 1)", port: 80))
            }
        }
        run.feed(flows.sorted { $0.ts < $1.ts })
        run.finish(at: 10_000)
        #expect(run.returned.isEmpty, "\(run.returned.map(\.message))")
    }

    @Test func windowThresholdCatchesWhatTheWalkMisses() throws {
        var config = ScanConfig()
        config.minProbes = 1000  // the walk never alerts: only the count in the window
        let nine = ScanRun(config)
        nine.feed(Self.scan(.synRejected, ports: Array(1...9), gap: 1))
        #expect(nine.returned.isEmpty)
        let spread = ScanRun(config)
        spread.feed(Self.scan(.synRejected, ports: Array(1...10), gap: 7))  // 10 probes over 63 s > window
        #expect(spread.returned.isEmpty)
        let ten = ScanRun(config)
        ten.feed(Self.scan(.synRejected, ports: Array(1...10), gap: 1))
        let alert = try #require(ten.alerts.first)
        #expect(alert.detail["detected_by"] == "threshold")
        #expect(alert.detail["detected_after_probes"] == 10)
        #expect(alert.detail["speed"] == "aggressive")
        // The CLI override.
        let lower = ScanDetector(config: config)
        lower.threshold = 5
        var got: [AlertRecord] = []
        for flow in Self.scan(.synRejected, ports: Array(1...5), gap: 1) {
            got += lower.observe(.flow(flow), clock: DetectionClock(event: flow.ts))
        }
        #expect(got.count == 1)
    }

    // MARK: Scope, speed, subtypes

    @Test func scopes() throws {
        let vertical = ScanRun()
        vertical.feed(Self.scan(.synRejected, ports: Array(1...30)))
        #expect(vertical.alerts.count == 1)
        #expect(vertical.alerts.first?.detail["scope"] == "vertical")

        let horizontal = ScanRun()
        horizontal.feed(
            (1...30).map { ScanFlows.make(.synRejected, ts: 1000 + Double($0) * 0.01, dst: "10.0.1.\($0)", port: 445) })
        let sweep = try #require(horizontal.alerts.first)
        #expect(horizontal.alerts.count == 1)
        #expect(sweep.detail["scope"] == "horizontal")
        #expect(sweep.ports == [445])
        #expect(sweep.targets.count == 30)
        #expect(sweep.targets == sweep.targets.sorted { (IPAddress($0) ?? .v4(0)) < (IPAddress($1) ?? .v4(0)) })

        let block = ScanRun()
        var flows: [FlowRecord] = []
        for host in 1...5 {
            for port in UInt16(20)...24 {
                flows.append(
                    ScanFlows.make(
                        .synRejected, ts: 1000 + Double(flows.count) * 0.01, dst: "10.0.2.\(host)", port: port))
            }
        }
        block.feed(flows)
        block.finish(at: 2000)  // the episode's final version carries all its probes
        #expect(block.alerts.count == 1)
        #expect(block.alerts.first?.detail["scope"] == "block")
        #expect(block.alerts.first?.count == 25)
    }

    @Test func distributedScanOfOneTarget() throws {
        let run = ScanRun()
        // Four sources, three different ports each (each below the walk's and the window's thresholds).
        var flows: [FlowRecord] = []
        for (index, src) in ["10.9.0.1", "10.9.0.2", "10.9.0.3", "10.9.0.4"].enumerated() {
            for offset in 0..<3 {
                let port = UInt16(100 + index * 3 + offset)
                flows.append(
                    ScanFlows.make(.synRejected, ts: 1000 + Double(offset * 4 + index), src: src, port: port))
            }
        }
        run.feed(flows.sorted { $0.ts < $1.ts })
        #expect(run.alerts.count == 1, "\(run.alerts.map(\.jsonLine))")
        let alert = try #require(run.alerts.first)
        #expect(alert.src == "multiple")
        #expect(alert.detail["scope"] == "distributed")
        #expect(alert.detail["sources"] == "10.9.0.1,10.9.0.2,10.9.0.3,10.9.0.4")
        #expect(alert.ports == Array(100...111))
        #expect(alert.targets == ["10.0.0.1"])
        // Two sources are not enough.
        let two = ScanRun()
        two.feed(flows.filter { ["10.9.0.1", "10.9.0.2"].contains($0.id.origHost.description) })
        #expect(two.returned.isEmpty)
    }

    @Test func speedAndSeverity() throws {
        let fast = ScanRun()
        fast.feed(Self.scan(.synRejected, ports: Array(1...200), gap: 0.001))
        fast.finish(at: 5000)
        let aggressive = try #require(fast.alerts.first)
        #expect(aggressive.detail["speed"] == "aggressive")
        #expect(aggressive.severity == .high)
        if case .double(let rate) = aggressive.detail["rate"] { #expect(rate > 100) } else { Issue.record("rate") }
        #expect(
            aggressive.message.hasPrefix(
                "Port scan detected! Source: 10.0.0.66 Targets: 10.0.0.1 Ports scanned: 200 (1-200) Time window: 0.2 seconds"
            ))

        let slow = ScanRun()
        slow.feed(Self.scan(.synFiltered, ports: [22, 80, 443, 3389, 8080, 8443], gap: 12))
        let stealthy = try #require(slow.alerts.first)
        #expect(stealthy.detail["speed"] == "stealthy")
        #expect(stealthy.detail["filtered"] == 6)
        #expect(stealthy.detail["rejected"] == 0)
        #expect(stealthy.message.contains("Ports scanned: 6 (22, 80, 443, 3389, 8080, 8443) Time window: 60.0 seconds"))
    }

    @Test(arguments: [
        (K.halfOpen, "tcp-syn"), (K.connect, "tcp-connect"), (K.fin, "tcp-fin"), (K.null, "tcp-null"),
        (K.xmas, "tcp-xmas"), (K.ack, "tcp-ack"), (K.udpUnreachable, "udp"), (K.udpFiltered, "udp"),
    ])
    func subtypes(kind: K, subtype: String) throws {
        let run = ScanRun()
        // The open ports answer; the closed ones answer as closed ports do to this probe (RST, ICMP, nothing).
        var flows = Self.scan(kind == .halfOpen || kind == .connect ? .synRejected : kind, ports: Array(1...12))
        flows += Self.scan(kind, ports: [22, 80], start: 1001)
        run.feed(flows)
        let alert = try #require(run.alerts.first)
        #expect(run.alerts.count == 1)
        #expect(alert.subtype == subtype)
        #expect(alert.ports.count == 14)
    }

    // MARK: Decoys

    @Test func decoysAreOneAlert() throws {
        func decoyScan(realTalked: Bool) -> ScanRun {
            let run = ScanRun()
            var flows: [FlowRecord] = []
            if realTalked { flows.append(ScanFlows.make(.web, ts: 990, src: "10.0.0.7", port: 80)) }
            let sources = ["10.5.0.1", "10.5.0.2", "10.0.0.7", "10.5.0.3"]  // nmap -D d1,d2,ME,d3
            for (index, port) in (UInt16(1)...20).enumerated() {
                for (order, src) in sources.enumerated() {
                    flows.append(
                        ScanFlows.make(
                            .synRejected, ts: 1000 + Double(index) * 0.01 + Double(order) * 0.001, src: src, port: port)
                    )
                }
            }
            run.feed(flows)
            run.finish(at: 2000)
            return run
        }
        let known = decoyScan(realTalked: true)
        #expect(known.alerts.count == 1, "\(known.alerts.map(\.jsonLine))")
        let alert = try #require(known.alerts.first)
        #expect(alert.src == "10.0.0.7")
        #expect(alert.detail["decoys"] == 3)
        #expect(alert.detail["decoy_sources"] == "10.5.0.1,10.5.0.2,10.5.0.3")
        #expect(alert.detail["real_source_certain"] == true)
        #expect(alert.ports == Array(1...20))
        #expect(alert.count == 80)

        let unknown = decoyScan(realTalked: false)
        #expect(unknown.alerts.count == 1)
        let guess = try #require(unknown.alerts.first)
        #expect(guess.detail["real_source_certain"] == false)
        #expect(guess.src == "10.5.0.1")  // whose probes came first
    }

    @Test func largeDecoyGroupKeepsEveryPort() throws {
        // nmap -D d1,d2,ME,d3,d4 -p 1-3000: five sources probing the same 3000 ports, interleaved. The group's
        // unions are kept up to date per probe, not rebuilt over all members on every probe.
        let run = ScanRun()
        let sources = ["10.5.0.1", "10.5.0.2", "10.0.0.7", "10.5.0.3", "10.5.0.4"]
        var flows: [FlowRecord] = []
        flows.reserveCapacity(sources.count * 3000)
        for (index, port) in (UInt16(1)...3000).enumerated() {
            for (order, src) in sources.enumerated() {
                flows.append(
                    ScanFlows.make(
                        .synRejected, ts: 1000 + Double(index) * 0.01 + Double(order) * 0.001, src: src, port: port))
            }
        }
        run.feed(flows)
        run.finish(at: 2000)
        #expect(run.alerts.count == 1, "\(run.alerts.map(\.id))")
        let alert = try #require(run.alerts.first)
        #expect(alert.detail["decoys"] == 4)
        #expect(alert.ports == Array(1...3000))
        #expect(alert.count == 5 * 3000)
    }

    // MARK: Allow-lists and config

    @Test func allowListsSilence() throws {
        let file = try ConfigFile(
            parsing: """
                [scan]
                allow-sources = ["10.0.0.66"]
                allow-targets = ["10.0.9.0/24"]
                allow-ports = [161]
                allow-services = ["10.0.0.53:53", "[2001:db8::1]:443"]
                """, path: "w.conf")
        let config = try ScanConfig(section: file.section("scan"))
        let run = ScanRun(config)
        run.feed(Self.scan(.synRejected, ports: Array(1...30)))  // allowed source
        run.feed(Self.scan(.synRejected, ports: Array(1...30), src: "10.0.0.67", dst: "10.0.9.5"))
        run.feed(
            (1...30).map {
                ScanFlows.make(.udpFiltered, ts: 1000 + Double($0), src: "10.0.0.68", dst: "10.0.1.\($0)", port: 161)
            })
        run.feed(
            (1...12).map {
                ScanFlows.make(
                    .udpFiltered, ts: 1000 + Double($0), src: "10.0.0.\(100 + $0)", dst: "10.0.0.53", port: 53)
            })
        run.feed(
            (1...12).map {
                ScanFlows.make(
                    .synFiltered, ts: 1000 + Double($0), src: "2001:db8::\(100 + $0)", dst: "2001:db8::1", port: 443)
            })
        #expect(run.returned.isEmpty)
        // Not allowed: the same scan from another source.
        run.feed(Self.scan(.synRejected, ports: Array(1...30), src: "10.0.0.69"))
        #expect(run.alerts.count == 1)
    }

    @Test func readsEveryKey() throws {
        let file = try ConfigFile(
            parsing: """
                [scan]
                threshold = 20
                window = 30
                theta0 = 0.9
                theta1 = 0.1
                alpha = 0.001
                beta = 0.999
                aggressive-seconds = 5
                stealthy-gap = 10
                episode-gap = 600
                distributed-sources = 4
                max-sources = 1000
                max-ports-per-source = 512
                min-probes = 6
                """, path: "w.conf")
        let config = try ScanConfig(section: file.section("scan"))
        #expect(config.threshold == 20 && config.window == 30 && config.theta0 == 0.9 && config.theta1 == 0.1)
        #expect(config.alpha == 0.001 && config.beta == 0.999 && config.aggressiveSeconds == 5)
        #expect(config.stealthyGap == 10 && config.episodeGap == 600 && config.distributedSources == 4)
        #expect(config.maxSources == 1000 && config.maxPortsPerSource == 512 && config.minProbes == 6)
        #expect(ScanConfig() == (try ScanConfig(section: ConfigFile().section("scan"))))
        let typo = try ConfigFile(parsing: "[scan]\nthreshhold = 3\n", path: "w.conf")
        #expect(throws: ConfigError.self) { try ScanConfig(section: typo.section("scan")) }
        let inverted = try ConfigFile(parsing: "[scan]\ntheta0 = 0.2\ntheta1 = 0.8\n", path: "w.conf")
        #expect(throws: ConfigError.self) { try ScanConfig(section: inverted.section("scan")) }
        let badService = try ConfigFile(parsing: "[scan]\nallow-services = [\"10.0.0.1\"]\n", path: "w.conf")
        #expect(throws: ConfigError.self) { try ScanConfig(section: badService.section("scan")) }
    }

    // MARK: Episodes

    @Test func episodeKeepsItsIdWhileGrowingAndEndsAfterTheGap() throws {
        let run = ScanRun()
        let first = run.feed(Self.scan(.synRejected, ports: Array(1...12)))
        let ids = Set(first.map(\.id))
        #expect(ids.count == 1)
        // Updates only when it grows: a repeated port returns nothing, a new port returns the same id.
        #expect(run.feed([ScanFlows.make(.synRejected, ts: 1001, port: 5, uid: "again")]).isEmpty)
        let grown = run.feed([ScanFlows.make(.synRejected, ts: 1002, port: 99)])
        #expect(grown.map(\.id) == Array(ids))
        #expect(grown.first?.ports.count == 13)
        #expect(grown.first?.firstTS == 1000)
        // After episode-gap (300 s) without probes the next scan is a new episode.
        run.finish(at: 1400)
        let later = run.feed(Self.scan(.synRejected, ports: Array(1...12), start: 1500))
        #expect(!later.isEmpty)
        #expect(Set(later.map(\.id)).isDisjoint(with: ids))
        #expect(run.alerts.count == 2)
    }

    @Test func episodeReplacedBeforeTheSweepReturnsItsFinalVersion() throws {
        // 29 probes over 100 s, then more 400 s later, all observed before any sweep: the first episode is
        // replaced by the second one, and its final version (all 29 ports) is returned before that.
        let detector = ScanDetector()
        var returned: [AlertRecord] = []
        let first = (0..<29).map { index in
            ScanFlows.make(.synRejected, ts: Double(index) * 100 / 28, port: UInt16(index + 1))
        }
        let second = (0..<12).map { index in
            ScanFlows.make(.synRejected, ts: 500 + Double(index) * 0.1, port: UInt16(index + 1))
        }
        for flow in first + second {
            returned += detector.observe(.flow(flow), clock: DetectionClock(event: flow.ts))
        }
        let firstID = try #require(returned.first?.id)
        let firstVersions = returned.filter { $0.id == firstID }
        let final = try #require(firstVersions.last)
        #expect(final.ports == Array(1...29))
        #expect(final.count == 29)
        #expect(final.lastTS == 100)
        let later = returned.filter { $0.id != firstID }
        #expect(!later.isEmpty)
        #expect(later.allSatisfy { $0.firstTS == 500 })
        // The first episode's final version came before the second episode's first alert.
        let lastOfFirst = try #require(returned.lastIndex { $0.id == firstID })
        let firstOfSecond = try #require(returned.firstIndex { $0.id != firstID })
        #expect(lastOfFirst < firstOfSecond)
    }

    @Test func updatesAreRateLimited() throws {
        let run = ScanRun()
        run.feed(Self.scan(.synRejected, ports: Array(1...2000), gap: 0.001))
        // Returned when ports grew by an eighth (by one below 16 ports): tens of updates, not one per probe.
        #expect(run.returned.count < 100)
        #expect(run.returned.count > 5)
        #expect(Set(run.returned.map(\.id)).count == 1)
        // A new sensor is always news.
        #expect(run.feed([ScanFlows.make(.synRejected, ts: 1003, port: 1, sensor: "s2")]).count == 1)
        // The episode's end returns its final version with every probe.
        run.finish(at: 2000)
        #expect(run.alerts.first?.ports.count == 2000)
        #expect(run.alerts.first?.count == 2000)
        #expect(run.alerts.first?.sensors == ["s1", "s2"])
    }

    @Test func crossSensorProbesAreOneScan() throws {
        let run = ScanRun()
        var flows: [FlowRecord] = []
        for (index, port) in (UInt16(1)...8).enumerated() {
            flows.append(
                ScanFlows.make(.synRejected, ts: 1000 + Double(index), port: port, sensor: index % 2 == 0 ? "A" : "B"))
        }
        run.feed(flows)
        #expect(run.alerts.count == 1)
        let alert = try #require(run.alerts.first)
        #expect(alert.ports == Array(1...8))
        #expect(alert.sensors == ["A", "B"])
        #expect(alert.count == 8)
        // Four through A alone stay below detection with a stricter walk; with B's four they are one scan.
        var strict = ScanConfig()
        strict.minProbes = 8
        let split = ScanRun(strict)
        split.feed(Self.scan(.synRejected, ports: [1, 2, 3, 4], sensor: "A"))
        #expect(split.returned.isEmpty)
        split.feed(Self.scan(.synRejected, ports: [5, 6, 7, 8], start: 1001, sensor: "B"))
        #expect(split.alerts.count == 1)
        #expect(split.alerts.first?.sensors == ["A", "B"])
        #expect(split.alerts.first?.ports.count == 8)
    }

    @Test func interimAndFinalRecordsCountOnce() throws {
        var config = ScanConfig()
        config.minProbes = 1000
        let run = ScanRun(config)
        var flows: [FlowRecord] = []
        for port in UInt16(1)...9 {
            let ts = 1000 + Double(port) * 0.1
            flows.append(ScanFlows.make(.synFiltered, ts: ts, port: port, uid: "U\(port)", final: false))
            flows.append(ScanFlows.make(.synFiltered, ts: ts, port: port, uid: "U\(port)", final: true))
            // The same flow seen by a second sensor.
            flows.append(ScanFlows.make(.synFiltered, ts: ts, port: port, sensor: "s2", uid: "U\(port)"))
        }
        run.feed(flows)
        #expect(run.returned.isEmpty)  // 9 distinct probes, not 27
        run.feed([ScanFlows.make(.synFiltered, ts: 1002, port: 10)])
        let alert = try #require(run.alerts.first)
        #expect(alert.count == 10)
        #expect(alert.sensors == ["s1", "s2"])
        #expect(alert.detail["filtered"] == 10)
    }

    @Test func outOfOrderRecords() throws {
        let run = ScanRun()
        // Flow records carry the flow's start and arrive when it ends: feed them newest first.
        let flows = Self.scan(.synRejected, ports: Array(1...20), gap: 0.5).reversed()
        var alerts: [AlertRecord] = []
        for flow in flows {
            alerts += run.detector.observe(.flow(flow), clock: DetectionClock(event: 1010))
        }
        #expect(Set(alerts.map(\.id)).count == 1)
        let last = try #require(alerts.last)
        #expect(last.firstTS == 1000)
        #expect(last.lastTS == 1009.5)
        #expect(last.ports == Array(1...20))
    }

    // MARK: Bounds

    @Test func capsAndEvictionsAreCounted() throws {
        var config = ScanConfig()
        config.maxSources = 3
        config.maxPortsPerSource = 8
        let run = ScanRun(config)
        for index in 1...5 {
            run.feed([ScanFlows.make(.web, ts: 1000 + Double(index), src: "10.7.0.\(index)", port: 80)])
        }
        var usage = run.detector.usage
        #expect(usage.evicted == 2)
        #expect(usage.entries <= 3 + 1)  // three sources and the one target
        // A 30-port scan with room for 8 probes: all 30 counted and reported as ports, 8 remembered.
        let before = run.detector.usage.evicted
        run.feed(Self.scan(.synRejected, ports: Array(1...30), start: 1010))
        let alert = try #require(run.alerts.first)
        #expect(alert.count == 30)
        #expect(alert.ports.count == 30)
        usage = run.detector.usage
        #expect(usage.evicted > before)
        #expect(usage.approximateBytes > 0)
        // Everything expires once the watermark is past max(window, episode-gap).
        run.finish(at: 1010 + 301 + 60)
        #expect(run.detector.usage.entries == 0)
        #expect(run.detector.usage.approximateBytes == 0)
    }

    @Test func approximateBytesGrowWithState() {
        let detector = ScanDetector()
        let empty = detector.usage.approximateBytes
        for index in 0..<200 {
            let flow = ScanFlows.make(.synRejected, ts: 1000, src: "10.8.\(index / 200).\(index % 200)", port: 22)
            _ = detector.observe(.flow(flow), clock: DetectionClock(event: 1000))
        }
        let usage = detector.usage
        #expect(usage.entries == 201)
        #expect(usage.approximateBytes > empty + 200 * 200)
        #expect(usage.approximateBytes < 200 * 4000)
    }
}
