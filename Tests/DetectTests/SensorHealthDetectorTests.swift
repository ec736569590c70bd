import Config
import Detect
import Flows
import TestSupport
import Testing

@Suite struct SensorHealthDetectorTests {
    static let t0 = 1_700_000_000.0

    static func stats(
        _ ts: Double, sensor: String = "s1", received: UInt64, kernel: UInt64? = 0, interface: UInt64? = nil,
        recordsDropped: UInt64 = 0
    ) -> Record {
        .stats(
            StatsRecord(
                ts: ts, sensor: sensor, source: "eth0", packetsReceived: received, packetsDroppedKernel: kernel,
                packetsDroppedInterface: interface, bytesReceived: received * 100, nonIPPackets: 0,
                truncatedPackets: 0, decodeErrors: 0, fragments: 0, fragmentsReassembled: 0, fragmentsExpired: 0,
                flowTableSize: 10, flowsCreated: 10, flowsEvicted: 0, recordsDropped: recordsDropped, spoolBytes: 0,
                weird: [:], final: false))
    }

    @Test func captureLossFiresAboveTheThresholdGrowsAndResolves() throws {
        let detector = SensorHealthDetector()
        let clock = DetectionClock(event: Self.t0)
        // First stats: a reference only (its drops may predate the collector).
        #expect(detector.observe(Self.stats(Self.t0, received: 1_000_000, kernel: 50_000), clock: clock).isEmpty)
        // 10 000 received, 50 dropped: 0.5 % < 1 %.
        #expect(detector.observe(Self.stats(Self.t0 + 10, received: 1_010_000, kernel: 50_050), clock: clock).isEmpty)
        // 9 700 received, 300 dropped (200 kernel, 100 interface): 3 %.
        let first = detector.observe(
            Self.stats(Self.t0 + 20, received: 1_019_700, kernel: 50_250, interface: 100), clock: clock)
        let alert = try #require(first.first)
        #expect(alert.kind == .sensorHealth && alert.subtype == "capture-loss")
        #expect(alert.targets == ["s1"] && alert.sensors == ["s1"] && alert.src == nil)
        #expect(alert.detail["loss"] == .double(0.03))
        #expect(alert.detail["dropped"] == 300 && alert.detail["received"] == 9700)
        #expect(alert.detail["dropped_kernel"] == 200 && alert.detail["dropped_interface"] == 100)
        #expect(alert.message.contains("3.00%"))
        // Still lossy, 300 more: the episode's drops doubled -> same id returned; then 200 more (2 %): not returned.
        let grown = detector.observe(
            Self.stats(Self.t0 + 30, received: 1_029_400, kernel: 50_450, interface: 200), clock: clock)
        #expect(grown.map(\.id) == [alert.id])
        #expect(grown.first?.count == 600)
        #expect(
            detector.observe(
                Self.stats(Self.t0 + 40, received: 1_039_200, kernel: 50_650, interface: 200), clock: clock
            )
            .isEmpty)
        // Clean again: resolved, the episode ends.
        let resolved = detector.observe(
            Self.stats(Self.t0 + 50, received: 1_049_200, kernel: 50_650, interface: 200), clock: clock)
        #expect(resolved.map(\.id) == [alert.id])
        #expect(resolved.first?.detail["resolved"] == true)
        #expect(resolved.first?.count == 800)
        // A later loss is a new episode.
        let again = detector.observe(
            Self.stats(Self.t0 + 60, received: 1_058_900, kernel: 50_950, interface: 200), clock: clock)
        #expect(again.count == 1 && again.first?.id != alert.id)
    }

    @Test func fewPacketsAreSummedUntilMinPackets() {
        let detector = SensorHealthDetector()
        let clock = DetectionClock(event: Self.t0)
        var alerts = detector.observe(Self.stats(Self.t0, received: 0, kernel: 0), clock: clock)
        // 100 packets per interval with 10 dropped (9 %): judged only once 1000 packets were summed.
        for index in 1...10 {
            let received = UInt64(index) * 90
            let dropped = UInt64(index) * 10
            let step = detector.observe(
                Self.stats(Self.t0 + Double(index), received: received, kernel: dropped), clock: clock)
            if index < 10 { #expect(step.isEmpty) }
            alerts += step
        }
        #expect(alerts.count == 1)
        #expect(alerts.first?.detail["loss"] == .double(0.1))
    }

    @Test func counterResetOnRestartIsNotANegativeOrHugeDelta() {
        let detector = SensorHealthDetector()
        let clock = DetectionClock(event: Self.t0)
        _ = detector.observe(Self.stats(Self.t0, received: 5_000_000, kernel: 10, recordsDropped: 7), clock: clock)
        // The sensor restarted: counters start over. 20 000 packets, none dropped, no records dropped.
        let alerts = detector.observe(Self.stats(Self.t0 + 10, received: 20_000, kernel: 0), clock: clock)
        #expect(alerts.isEmpty)
        #expect(detector.restarts(of: "s1") == 1)
        // After the restart, drops count from the new start: 500 of 10 500 is lossy.
        let lossy = detector.observe(Self.stats(Self.t0 + 20, received: 30_000, kernel: 500), clock: clock)
        #expect(lossy.first?.subtype == "capture-loss")
        #expect(lossy.first?.detail["dropped"] == 500)
    }

    @Test func spoolDropsFireOnIncreaseAndResolve() throws {
        let detector = SensorHealthDetector()
        let clock = DetectionClock(event: Self.t0)
        #expect(detector.observe(Self.stats(Self.t0, received: 100, recordsDropped: 3), clock: clock).isEmpty)
        #expect(detector.observe(Self.stats(Self.t0 + 10, received: 200, recordsDropped: 3), clock: clock).isEmpty)
        let raised = detector.observe(Self.stats(Self.t0 + 20, received: 300, recordsDropped: 43), clock: clock)
        let alert = try #require(raised.first)
        #expect(alert.subtype == "spool-drops")
        #expect(alert.detail["last_increase"] == 40 && alert.detail["records_dropped_total"] == 43)
        #expect(alert.count == 40)
        let grown = detector.observe(Self.stats(Self.t0 + 30, received: 400, recordsDropped: 103), clock: clock)
        #expect(grown.map(\.id) == [alert.id])
        #expect(grown.first?.detail["records_dropped"] == 100)
        let resolved = detector.observe(Self.stats(Self.t0 + 40, received: 500, recordsDropped: 103), clock: clock)
        #expect(resolved.first?.detail["resolved"] == true)
    }

    @Test func clockSkewOnlyLiveUsesTheLeastDelayedSampleAndIgnoresReplays() throws {
        let offline = SensorHealthDetector()
        for index in 0..<5 {
            let ts = Self.t0 + Double(index) * 10
            #expect(offline.observe(Self.stats(ts, received: 100), clock: DetectionClock(event: ts)).isEmpty)
        }
        let live = SensorHealthDetector()
        // Sensor 5 s behind, arrivals delayed 0..40 s: within 30 s (the least delayed sample is -5 s).
        var alerts: [AlertRecord] = []
        for (index, delay) in [0.0, 40, 10, 35, 0, 20].enumerated() {
            let ts = Self.t0 + Double(index) * 60
            alerts += live.observe(
                Self.stats(ts, received: UInt64(index) * 10), clock: DetectionClock(event: ts, wall: ts + 5 + delay))
        }
        #expect(alerts.isEmpty)
        // Sensor 120 s ahead: raised once the samples agree.
        let ahead = SensorHealthDetector()
        for index in 0..<4 {
            let ts = Self.t0 + Double(index) * 60
            alerts += ahead.observe(
                Self.stats(ts, received: UInt64(index) * 10), clock: DetectionClock(event: ts, wall: ts - 120))
        }
        let skew = try #require(alerts.first)
        #expect(alerts.count == 1)
        #expect(skew.subtype == "clock-skew" && skew.detail["skew"] == .double(120))
        #expect(skew.message.contains("120.0 s ahead of"))
        // A spool replay after a cut: old stats arriving in a burst are not skew.
        let replay = SensorHealthDetector()
        var replayAlerts: [AlertRecord] = []
        for index in 0..<3 {
            let ts = Self.t0 + Double(index) * 60
            replayAlerts += replay.observe(Self.stats(ts, received: 10), clock: DetectionClock(event: ts, wall: ts + 1))
        }
        for index in 3..<30 {
            let ts = Self.t0 + Double(index) * 60  // stats of 27 minutes, arriving within 2.7 s at the end
            let wall = Self.t0 + 30 * 60 + Double(index) * 0.1
            replayAlerts += replay.observe(Self.stats(ts, received: 10), clock: DetectionClock(event: ts, wall: wall))
        }
        #expect(replayAlerts.isEmpty)
    }

    @Test func silenceLiveByWallClock() throws {
        let detector = SensorHealthDetector()
        let wall0 = 2_000_000_000.0
        _ = detector.observe(Self.stats(Self.t0, received: 1), clock: DetectionClock(event: Self.t0, wall: wall0))
        _ = detector.observe(
            Self.stats(Self.t0, sensor: "s2", received: 1), clock: DetectionClock(event: Self.t0, wall: wall0))
        #expect(detector.advance(to: DetectionClock(event: Self.t0, wall: wall0 + 100)).isEmpty)
        _ = detector.observe(
            Self.stats(Self.t0 + 110, sensor: "s2", received: 2),
            clock: DetectionClock(event: Self.t0 + 110, wall: wall0 + 110))
        detector.sensorDisconnected("s1", at: wall0 + 5)
        let silent = detector.advance(to: DetectionClock(event: Self.t0 + 110, wall: wall0 + 125))
        let alert = try #require(silent.first)
        #expect(silent.count == 1)
        #expect(alert.subtype == "silent" && alert.targets == ["s1"] && alert.severity == .high)
        #expect(alert.detail["silent_for"] == .double(125) && alert.detail["clock"] == "wall")
        #expect(alert.detail["disconnected"] == true)
        // Not returned again unchanged; returned when the silence doubled.
        #expect(detector.advance(to: DetectionClock(event: Self.t0 + 110, wall: wall0 + 130)).isEmpty)
        let doubled = detector.advance(to: DetectionClock(event: Self.t0 + 110, wall: wall0 + 250))
        #expect(doubled.filter { $0.targets == ["s1"] }.map(\.id) == [alert.id])
        #expect(doubled.filter { $0.targets == ["s2"] }.count == 1)  // s2 has been silent 140 s by now
        // The sensor is back: resolved.
        let back = detector.observe(
            Self.stats(Self.t0 + 260, received: 5), clock: DetectionClock(event: Self.t0 + 260, wall: wall0 + 260))
        #expect(back.map(\.id) == [alert.id])
        #expect(back.first?.detail["resolved"] == true)
    }

    @Test func silenceOfflineByEventTime() {
        let detector = SensorHealthDetector()
        // s1 stops at t0+100; s2 goes on. Any record counts as life, not only stats.
        _ = detector.observe(
            flowRecord(Self.t0 + 100, "10.0.0.1", "10.0.0.2", port: 80), clock: DetectionClock(event: Self.t0))
        var alerts: [AlertRecord] = []
        for index in 0..<30 {
            let ts = Self.t0 + Double(index) * 10
            alerts += detector.observe(
                flowRecord(ts, "10.0.0.1", "10.0.0.2", port: 80, sensor: "s2"), clock: DetectionClock(event: ts))
            alerts += detector.advance(to: DetectionClock(event: ts))
        }
        #expect(alerts.count == 1)
        #expect(alerts.first?.targets == ["s1"])
        #expect(alerts.first?.detail["clock"] == "event")
        #expect(alerts.first?.ts == Self.t0 + 230)  // the first watermark more than 120 s past t0+100
        // The end of an offline run (an infinite watermark) silences nobody.
        #expect(SensorHealthDetector().advance(to: DetectionClock(event: .infinity)).isEmpty)
    }

    @Test func sensorCapEvictsAndForgetting() {
        var config = SensorHealthConfig()
        config.maxSensors = 3
        let detector = SensorHealthDetector(config: config)
        for index in 0..<5 {
            _ = detector.observe(
                Self.stats(Self.t0 + Double(index), sensor: "s\(index)", received: 1), clock: .init(event: 0))
        }
        #expect(detector.usage.evicted == 2)
        #expect(detector.usage.entries == 3)
        #expect(detector.usage.approximateBytes >= 3 * 256)
        _ = detector.advance(to: DetectionClock(event: Self.t0 + 8 * 86_400))
        #expect(detector.usage.entries == 0)
    }

    @Test func configParsesEveryKeyAndRefusesUnknownAndOutOfRange() throws {
        let text = """
            [health]
            loss-threshold = 0.05
            min-packets = 100
            max-skew = 10
            skew-samples = 5
            silence = 300
            max-sensors = 20
            forget-after = 3600
            """
        let config = try SensorHealthConfig(section: ConfigFile(parsing: text, path: "h.conf").section("health"))
        #expect(config.lossThreshold == 0.05 && config.minPackets == 100 && config.maxSkew == 10)
        #expect(config.skewSamples == 5 && config.silence == 300 && config.maxSensors == 20)
        #expect(config.forgetAfter == 3600)
        #expect(try SensorHealthConfig(section: ConfigFile().section("health")) == SensorHealthConfig())
        #expect(throws: ConfigError.self) {
            try SensorHealthConfig(
                section: ConfigFile(parsing: "[health]\nsilent = 3", path: "h.conf").section("health"))
        }
        #expect(throws: ConfigError.self) {
            try SensorHealthConfig(
                section: ConfigFile(parsing: "[health]\nloss-threshold = 1.5", path: "h.conf").section("health"))
        }
    }

    /// End to end on `mixed.pcap` and `dns.pcap` read offline by the real sensor pipeline: their stats (no kernel
    /// drops offline, no spool) and records raise no health alert, and the sensor is known.
    @Test func realOfflineRecordsAreHealthy() throws {
        let records = try pipelineRecords(files: [Harness.fixture("mixed.pcap")], sensor: "s1", uidSeed: 1)
        #expect(records.contains { if case .stats = $0 { return true } else { return false } })
        let detector = SensorHealthDetector()
        var alerts: [AlertRecord] = []
        var newest = -Double.infinity
        for record in records {
            if case .stats(let s) = record { newest = max(newest, s.ts) }
            alerts += detector.observe(record, clock: DetectionClock(event: newest))
        }
        alerts += detector.advance(to: DetectionClock(event: newest))
        #expect(alerts.isEmpty)
        #expect(detector.usage.entries == 1)
    }
}
