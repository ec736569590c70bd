import Config
import Detect
import Flows
import TestSupport
import Testing

@Suite struct ProtocolShiftDetectorTests {
    static let t0 = 1_700_000_040.0

    static func counters(_ packets: UInt64) -> ProtocolCounters {
        var counters = ProtocolCounters()
        counters.packets = packets
        counters.bytes = packets * 100
        return counters
    }

    static func mix(_ index: Int, _ packets: [String: UInt64], sensor: String = "s1") -> Record {
        let total = packets.values.reduce(0, +)
        return seriesRecord(
            t0 + Double(index) * 60, sensor: sensor, packets: total, perProtocol: packets.mapValues(counters))
    }

    /// Feeds one interval and moves the watermark past its lateness.
    static func feed(_ detector: ProtocolShiftDetector, _ index: Int, _ packets: [String: UInt64]) -> [AlertRecord] {
        let end = t0 + Double(index + 1) * 60
        return detector.observe(mix(index, packets), clock: DetectionClock(event: end))
            + detector.advance(to: DetectionClock(event: end + detector.config.lateness))
    }

    @Test func warmUpRaisesNothing() {
        let detector = ProtocolShiftDetector()
        var alerts: [AlertRecord] = []
        for index in 0..<10 {
            alerts += Self.feed(detector, index, index < 5 ? ["tcp": 9000, "udp": 1000] : ["udp": 10_000])
        }
        #expect(alerts.isEmpty)
    }

    @Test func jitterNeverAlertsOverHundredsOfIntervals() {
        let detector = ProtocolShiftDetector()
        var rng = SplitMix64(state: 17)
        func jitter(_ base: Double) -> UInt64 { UInt64(base * (0.7 + 0.6 * Double(rng.next() % 10_001) / 10_000)) }
        var alerts: [AlertRecord] = []
        for index in 0..<500 {
            alerts += Self.feed(detector, index, ["tcp": jitter(8000), "udp": jitter(1500), "icmp": jitter(500)])
        }
        #expect(alerts.isEmpty)
        #expect(abs((detector.baselineShares["tcp"] ?? 0) - 0.8) < 0.03)
    }

    @Test func shiftIsDetectedWithItsNumbersAndEnds() throws {
        var config = ProtocolShiftConfig()
        config.smoothing = 0
        let detector = ProtocolShiftDetector(config: config)
        for index in 0..<30 { #expect(Self.feed(detector, index, ["tcp": 5000, "udp": 5000]).isEmpty) }
        var alerts: [AlertRecord] = []
        for index in 30..<40 { alerts += Self.feed(detector, index, ["tcp": 1000, "udp": 9000]) }
        #expect(!alerts.isEmpty)
        #expect(Set(alerts.map(\.id)).count == 1)  // one episode
        #expect(alerts.count < 10)  // updated when it grows, not every interval
        let last = try #require(alerts.last)
        #expect(last.kind == .protocolShift && last.subtype == "distribution")
        #expect(last.targets == ["all"] && last.src == nil && last.sensors == ["s1"])
        #expect(last.detail["grew"] == "udp")
        #expect(last.detail["baseline"] == "tcp=0.50 udp=0.50")
        // The window is all shifted by now: JSD((0.5, 0.5), (0.1, 0.9)) = 0.146793102436052 bits, by hand.
        #expect(last.detail["current"] == "udp=0.90 tcp=0.10")
        guard case .double(let divergence) = last.detail["divergence"] else {
            Issue.record("no divergence")
            return
        }
        #expect(abs(divergence - 0.146_793_102_436_052_1) < 1e-9)
        #expect(last.message.contains("udp grew from 0.50 to 0.90"))
        // The shift did not leak into the baseline.
        #expect(abs((detector.baselineShares["tcp"] ?? 0) - 0.5) < 1e-9)
        // Back to normal: after the window drains and episode-gap intervals below threshold, the episode ends...
        var after: [AlertRecord] = []
        for index in 40..<60 { after += Self.feed(detector, index, ["tcp": 5000, "udp": 5000]) }
        #expect(after.isEmpty)
        // ... so the next shift is a new episode with a new id.
        var next: [AlertRecord] = []
        for index in 60..<66 { next += Self.feed(detector, index, ["tcp": 5000, "icmp": 5000]) }
        #expect(next.first?.detail["grew"] == "icmp")
        #expect(next.first.map { $0.id != last.id } == true)
    }

    @Test func smallWindowsAreNotJudged() {
        let detector = ProtocolShiftDetector()
        for index in 0..<20 { _ = Self.feed(detector, index, ["tcp": 50, "udp": 50]) }
        var alerts: [AlertRecord] = []
        for index in 20..<30 { alerts += Self.feed(detector, index, ["icmp": 100]) }  // 500 packets < min-packets
        #expect(alerts.isEmpty)
    }

    @Test func lastingShiftIsRelearnedAndTheEpisodeEnds() {
        var config = ProtocolShiftConfig()
        config.relearn = 20
        let detector = ProtocolShiftDetector(config: config)
        for index in 0..<20 { _ = Self.feed(detector, index, ["tcp": 9000, "udp": 1000]) }
        var ids: [String] = []
        for index in 20..<80 { ids += Self.feed(detector, index, ["tcp": 2000, "udp": 8000]).map(\.id) }
        #expect(Set(ids).count == 1)
        #expect((detector.baselineShares["udp"] ?? 0) > 0.75)
        // Now the new mix is normal: more of it raises nothing.
        var later: [AlertRecord] = []
        for index in 80..<120 { later += Self.feed(detector, index, ["tcp": 2000, "udp": 8000]) }
        #expect(later.isEmpty)
    }

    @Test func sensorsAreSummedAndLateRecordsCounted() throws {
        let detector = ProtocolShiftDetector()
        for index in 0..<20 {
            let end = Self.t0 + Double(index + 1) * 60
            _ = detector.observe(Self.mix(index, ["tcp": 5000], sensor: "a"), clock: DetectionClock(event: end))
            _ = detector.observe(Self.mix(index, ["udp": 5000], sensor: "b"), clock: DetectionClock(event: end))
            _ = detector.advance(to: DetectionClock(event: end + 60))
        }
        // Each sensor alone is all one protocol; together they are half and half.
        #expect(abs((detector.baselineShares["tcp"] ?? 0) - 0.5) < 1e-9)
        _ = detector.observe(Self.mix(0, ["icmp": 5], sensor: "c"), clock: DetectionClock(event: Self.t0 + 9999))
        #expect(detector.lateRecords == 1)
        #expect(detector.usage.entries > 0 && detector.usage.approximateBytes > 0)
    }

    @Test func pendingCapEvaluatesTheOldestEarly() {
        var config = ProtocolShiftConfig()
        config.maxPending = 2
        let detector = ProtocolShiftDetector(config: config)
        for index in 0..<5 { _ = detector.observe(Self.mix(index, ["tcp": 10]), clock: DetectionClock(event: 0)) }
        #expect(detector.usage.evicted == 3)
    }

    @Test func configParsesEveryKeyAndRefusesUnknownAndOutOfRange() throws {
        let text = """
            [protocols]
            window = 3
            threshold = 0.2
            warm-up = 4
            min-packets = 10
            episode-gap = 2
            alpha = 0.1
            measure = "bytes"
            smoothing = 0.001
            lateness = 5
            relearn = 30
            max-protocols = 8
            max-pending = 50
            """
        let config = try ProtocolShiftConfig(section: ConfigFile(parsing: text, path: "p.conf").section("protocols"))
        #expect(config.window == 3 && config.threshold == 0.2 && config.warmUp == 4 && config.minPackets == 10)
        #expect(config.episodeGap == 2 && config.alpha == 0.1 && config.measure == "bytes")
        #expect(config.smoothing == 0.001 && config.lateness == 5 && config.relearn == 30)
        #expect(config.maxProtocols == 8 && config.maxPending == 50)
        #expect(try ProtocolShiftConfig(section: ConfigFile().section("protocols")) == ProtocolShiftConfig())
        #expect(throws: ConfigError.self) {
            try ProtocolShiftConfig(
                section: ConfigFile(parsing: "[protocols]\nwindows = 3", path: "p.conf").section("protocols"))
        }
        #expect(throws: ConfigError.self) {
            try ProtocolShiftConfig(
                section: ConfigFile(parsing: "[protocols]\nthreshold = 2", path: "p.conf").section("protocols"))
        }
        #expect(throws: ConfigError.self) {
            try ProtocolShiftConfig(
                section: ConfigFile(parsing: "[protocols]\nmeasure = \"flows\"", path: "p.conf").section("protocols"))
        }
    }

    /// End to end on real series records: the mix of `mixed.pcap` (ping, DNS over UDP and TCP, IPv6 TCP) replayed as
    /// 20 normal intervals, then the series of `scan-syn.pcap` (an nmap SYN scan: TCP only) as the next intervals:
    /// the scan shifts the mix toward TCP.
    @Test func synScanShiftsTheRealMixTowardTCP() throws {
        func series(_ file: String) throws -> [SeriesRecord] {
            try pipelineRecords(files: [Harness.fixture(file)], sensor: "s1", uidSeed: 1).compactMap {
                if case .series(let s) = $0 { return s } else { return nil }
            }
        }
        let normal = try #require(series("mixed.pcap").first)
        let scan = try #require(series("scan-syn.pcap").first)
        #expect(normal.perProtocol.count >= 3)
        var config = ProtocolShiftConfig()
        config.minPackets = 1
        let detector = ProtocolShiftDetector(config: config)
        func feed(_ record: SeriesRecord, _ index: Int) -> [AlertRecord] {
            var copy = record
            copy.ts = Self.t0 + Double(index) * 60
            copy.interval = 60
            return detector.observe(.series(copy), clock: DetectionClock(event: copy.ts + 60))
                + detector.advance(to: DetectionClock(event: copy.ts + 120))
        }
        var alerts: [AlertRecord] = []
        for index in 0..<20 { alerts += feed(normal, index) }
        #expect(alerts.isEmpty)
        let total = Double(normal.perProtocol.values.reduce(0) { $0 + $1.packets })
        for (name, counters) in normal.perProtocol {
            #expect(abs((detector.baselineShares[name] ?? 0) - Double(counters.packets) / total) < 1e-9)
        }
        for index in 20..<25 { alerts += feed(scan, index) }
        let shift = try #require(alerts.first)
        #expect(shift.detail["grew"] == "tcp")
    }
}
