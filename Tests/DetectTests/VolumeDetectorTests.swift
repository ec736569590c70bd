import Config
import Detect
import Flows
import TestSupport
import Testing

/// A series record of one sensor's interval.
func seriesRecord(
    _ ts: Double, sensor: String = "s1", packets: UInt64, bytes: UInt64? = nil, flows: UInt64? = nil,
    interval: Double = 60, perProtocol: [String: ProtocolCounters] = [:]
) -> Record {
    .series(
        SeriesRecord(
            ts: ts, interval: interval, sensor: sensor, packets: packets, bytes: bytes ?? packets * 500,
            flows: flows ?? packets / 10, perProtocol: perProtocol))
}

@Suite struct VolumeDetectorTests {
    static let t0 = 1_700_000_000.0

    /// Feeds one interval per sensor and advances the watermark past it (plus the detector's lateness).
    static func feed(_ detector: VolumeDetector, interval index: Int, _ packets: [String: UInt64]) -> [AlertRecord] {
        let start = t0 + Double(index) * 60
        var alerts: [AlertRecord] = []
        for sensor in packets.keys.sorted() {
            alerts += detector.observe(
                seriesRecord(start, sensor: sensor, packets: packets[sensor] ?? 0),
                clock: DetectionClock(event: start + 60))
        }
        alerts += detector.advance(to: DetectionClock(event: start + 60 + detector.config.lateness))
        return alerts
    }

    static func jitter(_ rng: inout SplitMix64, _ base: Double) -> UInt64 {
        let fraction = Double(rng.next() % 10_001) / 10_000  // 0...1
        return UInt64(base * (0.7 + 0.6 * fraction))  // ±30 %
    }

    @Test func warmUpRaisesNothingThenSpikeAlertsWithBaselineAndObserved() throws {
        let detector = VolumeDetector()
        var rng = SplitMix64(state: 7)
        // A spike inside the warm-up is learned silently.
        for index in 0..<10 {
            let packets: UInt64 = index == 5 ? 100_000 : Self.jitter(&rng, 5000)
            #expect(Self.feed(detector, interval: index, ["s1": packets]).isEmpty)
        }
        for index in 10..<30 {
            #expect(Self.feed(detector, interval: index, ["s1": Self.jitter(&rng, 5000)]).isEmpty)
        }
        let alerts = Self.feed(detector, interval: 30, ["s1": 60_000])
        let packets = alerts.filter { $0.subtype == "packets" }
        #expect(packets.count == 2)  // the sensor and the overall scope
        let sensor = try #require(packets.first { $0.detail["scope"] == "sensor" })
        #expect(sensor.kind == .trafficSpike)
        #expect(sensor.targets == ["s1"])
        #expect(sensor.sensors == ["s1"])
        #expect(sensor.src == nil)
        #expect(sensor.detail["observed"] == .double(60_000))
        guard case .double(let baseline) = sensor.detail["baseline"] else {
            Issue.record("no baseline")
            return
        }
        #expect(baseline > 3500 && baseline < 6500)
        #expect(sensor.message.contains("60.0k packets"))
        #expect(sensor.message.contains("on sensor s1"))
        #expect(sensor.firstTS == Self.t0 + 30 * 60)
        let overall = try #require(packets.first { $0.detail["scope"] == "overall" })
        #expect(overall.targets == ["all"])
        #expect(overall.id != sensor.id)
        // Bytes and flows follow the packets here (500 bytes and 0.1 flows per packet), so they spike too.
        #expect(alerts.contains { $0.subtype == "bytes" })
        #expect(alerts.contains { $0.subtype == "flows" })
    }

    @Test func jitterOfThirtyPercentNeverAlertsOverHundredsOfIntervals() {
        let detector = VolumeDetector()
        var rng = SplitMix64(state: 42)
        var alerts: [AlertRecord] = []
        for index in 0..<600 {
            alerts += Self.feed(
                detector, interval: index, ["s1": Self.jitter(&rng, 20_000), "s2": Self.jitter(&rng, 3000)])
        }
        #expect(alerts.isEmpty)
    }

    @Test func quietNetworkBlipsStayBelowTheFloor() {
        let detector = VolumeDetector()
        var alerts: [AlertRecord] = []
        for index in 0..<50 { alerts += Self.feed(detector, interval: index, ["s1": 20]) }
        alerts += Self.feed(detector, interval: 50, ["s1": 800])  // 40x, but under min-packets 1000
        #expect(alerts.filter { $0.subtype == "packets" }.isEmpty)
    }

    @Test func spikeDoesNotPoisonTheBaselineAndEpisodeKeepsItsID() throws {
        var config = VolumeConfig()
        config.perSensor = false
        let detector = VolumeDetector(config: config)
        var rng = SplitMix64(state: 3)
        for index in 0..<40 { _ = Self.feed(detector, interval: index, ["s1": Self.jitter(&rng, 4000)]) }
        // A spike lasting 8 intervals, growing: one episode, one id, updates only when it grows materially.
        var episode: [AlertRecord] = []
        for (offset, packets) in [40_000, 41_000, 42_000, 60_000, 61_000, 62_000, 63_000, 64_000].enumerated() {
            episode += Self.feed(detector, interval: 40 + offset, ["s1": UInt64(packets)])
                .filter { $0.subtype == "packets" }
        }
        #expect(Set(episode.map(\.id)).count == 1)
        // Raised, grown by the peak (60k >= 1.25 x 40k), by the count (2, 4, 8 intervals): not once per interval.
        #expect(episode.count >= 2 && episode.count < 8)
        let last = try #require(episode.last)
        #expect(last.detail["observed"] == .double(64_000))
        for index in 48..<52 { _ = Self.feed(detector, interval: index, ["s1": Self.jitter(&rng, 4000)]) }
        // The same spike again: still detected (the first did not raise the baseline), as a new episode.
        let again = Self.feed(detector, interval: 52, ["s1": 40_000]).filter { $0.subtype == "packets" }
        let second = try #require(again.first)
        #expect(second.id != last.id)
        guard case .double(let baseline) = second.detail["baseline"] else {
            Issue.record("no baseline")
            return
        }
        #expect(baseline < 5500)
    }

    @Test func overallSumsSensorsThatArriveAtDifferentTimesAndCountsSilentOnesAsZero() throws {
        var config = VolumeConfig()
        config.lateness = 120
        let detector = VolumeDetector(config: config)
        var rng = SplitMix64(state: 11)
        // Three sensors, each alone normal; s3 only reports every other interval (it counts 0 in between).
        for index in 0..<30 {
            let start = Self.t0 + Double(index) * 60
            _ = detector.observe(
                seriesRecord(start, sensor: "s1", packets: Self.jitter(&rng, 3000)),
                clock: DetectionClock(event: start + 60))
            if index % 2 == 0 {
                _ = detector.observe(
                    seriesRecord(start, sensor: "s3", packets: Self.jitter(&rng, 3000)),
                    clock: DetectionClock(event: start + 60))
            }
            // s2 reports late: its record for this interval comes 90 s later.
            _ = detector.observe(
                seriesRecord(start, sensor: "s2", packets: Self.jitter(&rng, 3000)),
                clock: DetectionClock(event: start + 150))
            _ = detector.advance(to: DetectionClock(event: start + 60 + 120))
        }
        #expect(detector.lateRecords == 0)
        // Every sensor triples: no single sensor is anomalous at 3x its jittery... but at 4x all sensors are and the
        // total is too; the overall alert's observed value is the sum of the three late and early reports.
        let start = Self.t0 + 30 * 60
        var alerts: [AlertRecord] = []
        alerts += detector.observe(
            seriesRecord(start, sensor: "s1", packets: 20_000), clock: DetectionClock(event: start + 60))
        alerts += detector.observe(
            seriesRecord(start, sensor: "s3", packets: 20_000), clock: DetectionClock(event: start + 60))
        #expect(alerts.isEmpty)  // not evaluated before the lateness passed
        alerts += detector.observe(
            seriesRecord(start, sensor: "s2", packets: 20_000), clock: DetectionClock(event: start + 150))
        alerts += detector.advance(to: DetectionClock(event: start + 180))
        let overall = try #require(alerts.first { $0.subtype == "packets" && $0.detail["scope"] == "overall" })
        #expect(overall.detail["observed"] == .double(60_000))
        #expect(overall.sensors == ["s1", "s2", "s3"])
        #expect(alerts.filter { $0.subtype == "packets" && $0.detail["scope"] == "sensor" }.count == 3)
        // A record for an evaluated interval is late and dropped.
        _ = detector.observe(seriesRecord(start, sensor: "s4", packets: 5), clock: DetectionClock(event: start + 200))
        #expect(detector.lateRecords == 1)
    }

    @Test func oneSensorSpikingIsSeenPerSensorEvenWhenTheTotalHidesIt() throws {
        let detector = VolumeDetector()
        var rng = SplitMix64(state: 5)
        for index in 0..<30 {
            _ = Self.feed(
                detector, interval: index, ["big": Self.jitter(&rng, 500_000), "small": Self.jitter(&rng, 500)])
        }
        let alerts = Self.feed(detector, interval: 30, ["big": 500_000, "small": 20_000])
        let packets = alerts.filter { $0.subtype == "packets" }
        #expect(packets.count == 1)
        #expect(packets.first?.targets == ["small"])
    }

    @Test func sensorCapEvictsAndCounts() {
        var config = VolumeConfig()
        config.maxSensors = 2
        let detector = VolumeDetector(config: config)
        _ = Self.feed(detector, interval: 0, ["a": 10, "b": 10, "c": 10, "d": 10])
        #expect(detector.usage.evicted == 2)
        #expect(detector.usage.entries == 3)  // two sensors and the overall scope
        #expect(detector.usage.approximateBytes > 3 * 3 * 60 * 8)
    }

    @Test func pendingCapEvaluatesTheOldestEarly() {
        var config = VolumeConfig()
        config.maxPending = 3
        let detector = VolumeDetector(config: config)
        for index in 0..<5 {
            _ = detector.observe(
                seriesRecord(Self.t0 + Double(index) * 60, packets: 10), clock: DetectionClock(event: Self.t0))
        }
        #expect(detector.usage.evicted == 2)
        _ = detector.observe(seriesRecord(Self.t0, sensor: "s2", packets: 10), clock: DetectionClock(event: Self.t0))
        #expect(detector.lateRecords == 1)
    }

    @Test func deterministicIDs() {
        func run() -> [String] {
            let detector = VolumeDetector()
            var rng = SplitMix64(state: 9)
            var ids: [String] = []
            for index in 0..<40 {
                let packets = index == 35 ? 90_000 : Self.jitter(&rng, 2000)
                ids += Self.feed(detector, interval: index, ["s1": packets]).map(\.id)
            }
            return ids
        }
        let first = run()
        #expect(!first.isEmpty)
        #expect(first == run())
        #expect(first.allSatisfy { $0.hasPrefix("traffic-spike-") })
    }

    @Test func configParsesEveryKeyAndRefusesUnknownAndOutOfRange() throws {
        let text = """
            [volume]
            history = 30
            warm-up = 5
            threshold = 4.5
            min-ratio = 2
            min-packets = 10
            min-bytes = 1000
            min-flows = 2
            lateness = 10
            episode-gap = 3
            per-sensor = false
            max-sensors = 50
            max-pending = 20
            """
        let config = try VolumeConfig(section: ConfigFile(parsing: text, path: "v.conf").section("volume"))
        #expect(config.history == 30)
        #expect(config.warmUp == 5)
        #expect(config.threshold == 4.5)
        #expect(config.minRatio == 2)
        #expect(config.minPackets == 10 && config.minBytes == 1000 && config.minFlows == 2)
        #expect(config.lateness == 10 && config.episodeGap == 3 && !config.perSensor)
        #expect(config.maxSensors == 50 && config.maxPending == 20)
        let defaults = try VolumeConfig(section: ConfigFile().section("volume"))
        #expect(defaults == VolumeConfig())
        #expect(defaults.history == 60 && defaults.warmUp == 10 && defaults.threshold == 6 && defaults.minRatio == 3)
        #expect(throws: ConfigError.self) {
            try VolumeConfig(section: ConfigFile(parsing: "[volume]\nthreshhold = 3", path: "v.conf").section("volume"))
        }
        #expect(throws: ConfigError.self) {
            try VolumeConfig(section: ConfigFile(parsing: "[volume]\nhistory = 1", path: "v.conf").section("volume"))
        }
        #expect(throws: ConfigError.self) {
            try VolumeConfig(
                section: ConfigFile(parsing: "[volume]\nmin-ratio = 0.5", path: "v.conf").section("volume"))
        }
    }

    /// End to end on `mixed.pcap` (icmp.pcap + dns.pcap + ipv6-tcp.pcap: ordinary ping, DNS and TCP traffic): the
    /// sensor's own series records raise no spike, and the detector learned the sensor.
    @Test func benignFixtureTrafficRaisesNothing() throws {
        let records = try pipelineRecords(files: [Harness.fixture("mixed.pcap")], sensor: "s1", uidSeed: 1)
        let series = records.filter { if case .series = $0 { return true } else { return false } }
        #expect(!series.isEmpty)
        var config = VolumeConfig()
        config.warmUp = 1
        config.history = 3
        let detector = VolumeDetector(config: config)
        var alerts: [AlertRecord] = []
        var newest = 0.0
        for record in series {
            if case .series(let s) = record { newest = max(newest, s.ts + s.interval) }
            alerts += detector.observe(record, clock: DetectionClock(event: newest))
        }
        alerts += detector.advance(to: DetectionClock(event: .infinity))
        #expect(alerts.isEmpty)
        #expect(detector.usage.entries == 2)  // s1 and the overall scope
        #expect(detector.lateRecords == 0)
    }

    /// End to end on real series records: the interval of `mixed.pcap` (ping, DNS, IPv6 TCP: 53 packets) replayed as
    /// 30 normal minutes, then the interval of `scan-syn.pcap` (an nmap SYN scan of hundreds of ports): a packets and
    /// flows spike whose baseline and observed values are the two captures' own counts. The floors are lowered to
    /// the fixtures' scale.
    @Test func synScanIsASpikeOverRealTraffic() throws {
        func series(_ file: String) throws -> SeriesRecord {
            let records = try pipelineRecords(files: [Harness.fixture(file)], sensor: "s1", uidSeed: 1)
            return try #require(
                records.compactMap { if case .series(let s) = $0 { return s } else { return nil } }.first)
        }
        let normal = try series("mixed.pcap")
        let scan = try series("scan-syn.pcap")
        #expect(scan.packets > 3 * normal.packets && scan.flows > 3 * normal.flows)
        var config = VolumeConfig()
        config.minPackets = 100
        config.minBytes = 10_000
        config.minFlows = 20
        let detector = VolumeDetector(config: config)
        func feed(_ record: SeriesRecord, _ index: Int) -> [AlertRecord] {
            var copy = record
            copy.ts = Self.t0 + Double(index) * 60
            copy.interval = 60
            return detector.observe(.series(copy), clock: DetectionClock(event: copy.ts + 60))
                + detector.advance(to: DetectionClock(event: copy.ts + 60 + config.lateness))
        }
        var alerts: [AlertRecord] = []
        for index in 0..<30 { alerts += feed(normal, index) }
        #expect(alerts.isEmpty)
        alerts += feed(scan, 30)
        let packets = try #require(alerts.first { $0.subtype == "packets" && $0.detail["scope"] == "sensor" })
        #expect(packets.detail["baseline"] == .double(Double(normal.packets)))
        #expect(packets.detail["observed"] == .double(Double(scan.packets)))
        let flows = try #require(alerts.first { $0.subtype == "flows" && $0.detail["scope"] == "sensor" })
        #expect(flows.detail["observed"] == .double(Double(scan.flows)))
    }
}
