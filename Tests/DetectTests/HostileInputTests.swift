import Detect
import Flows
import Packets
import Testing

/// Record fields come from sensors over the network: huge counters, times near the limits, odd intervals and
/// clocks far ahead must neither trap nor wreck the detectors' state.
@Suite struct HostileInputTests {
    static let t0 = 1_700_000_000.0

    static func stats(_ ts: Double, received: UInt64, kernel: UInt64, interface: UInt64, dropped: UInt64) -> Record {
        .stats(
            StatsRecord(
                ts: ts, sensor: "s1", source: "eth0", packetsReceived: received, packetsDroppedKernel: kernel,
                packetsDroppedInterface: interface, bytesReceived: 0, nonIPPackets: 0, truncatedPackets: 0,
                decodeErrors: 0, fragments: 0, fragmentsReassembled: 0, fragmentsExpired: 0, flowTableSize: 0,
                flowsCreated: 0, flowsEvicted: 0, recordsDropped: dropped, spoolBytes: 0, weird: [:], final: false))
    }

    @Test(arguments: [9.3e12, -9.3e12, 1e300, -.infinity, .infinity, .nan])
    func alertIDsOfAnyTimeAreMade(start: Double) {
        let id = AlertID.make(kind: .portScan, key: "k", start: start)
        #expect(id.hasPrefix("port-scan-") && id.count == "port-scan-".count + 16)
    }

    @Test func saturatingConversionsAndSums() {
        #expect(Int64(saturating: 1e19) == .max)
        #expect(Int64(saturating: -1e19) == .min)
        #expect(Int64(saturating: .nan) == 0)
        #expect(Int64(saturating: 9_223_372_036_854_775_808.0) == .max)
        #expect(Int64(saturating: 42.9) == 42)
        #expect(UInt64.max.saturatingAdd(1) == .max)
        #expect(Int.max.saturatingAdd(5) == .max)
        #expect(Int.min.saturatingAdd(-5) == .min)
        #expect(3.saturatingAdd(4) == 7)
    }

    @Test func sensorHealthSurvivesCountersNearTheirLimits() {
        let detector = SensorHealthDetector()
        let clock = DetectionClock(event: Self.t0)
        var alerts = detector.observe(
            Self.stats(Self.t0, received: 0, kernel: 0, interface: 0, dropped: 0), clock: clock)
        alerts += detector.observe(
            Self.stats(Self.t0 + 60, received: 1 << 63, kernel: 1 << 63, interface: 1 << 63, dropped: 1 << 63),
            clock: clock)
        alerts += detector.observe(
            Self.stats(Self.t0 + 120, received: .max, kernel: .max, interface: .max, dropped: .max), clock: clock)
        alerts += detector.observe(
            Self.stats(Self.t0 + 180, received: 0, kernel: 0, interface: 0, dropped: 0), clock: clock)
        alerts += detector.observe(
            Self.stats(Self.t0 + 240, received: .max, kernel: .max, interface: .max, dropped: .max), clock: clock)
        // It raised loss and spool-drop alerts (the numbers are absurd but said), and did not trap.
        #expect(Set(alerts.map(\.subtype)).isSuperset(of: ["capture-loss", "spool-drops"]))
        #expect(alerts.allSatisfy { $0.count >= 0 })
    }

    @Test func aClockFarAheadDoesNotMoveLiveEventTime() {
        let engine = DetectionEngine(detectors: [SensorHealthDetector()], lateness: 10, maximumFuture: 300)
        let now = Self.t0
        _ = engine.process([Self.stats(now - 5, received: 1, kernel: 0, interface: 0, dropped: 0)], wall: now)
        #expect(engine.eventWatermark == now - 15)
        // A sensor whose clock says 2100.
        _ = engine.process([Self.stats(4_102_444_800, received: 2, kernel: 0, interface: 0, dropped: 0)], wall: now)
        #expect(engine.eventWatermark == now - 15)
        #expect(engine.futureRecords == 1)
        // A little ahead (within the allowance) is normal clock skew and counts.
        _ = engine.process([Self.stats(now + 100, received: 3, kernel: 0, interface: 0, dropped: 0)], wall: now)
        #expect(engine.eventWatermark == now + 90)
    }

    @Test func aBogusFlowDurationMovesEventTimeByADayAtMost() {
        let engine = DetectionEngine(detectors: [], lateness: 0)
        let id = ConnID(origHost: .v4(1), origPort: 1, respHost: .v4(2), respPort: 2)
        let flow = FlowRecord(
            ts: Self.t0, uid: "C", sensor: "a", id: id, proto: 6, service: nil, duration: 4e12, origBytes: 0,
            respBytes: 0, origPackets: 1, respPackets: 0, origIPBytes: 40, respIPBytes: 0, connState: "S0",
            history: "S", tcpFlagsOrig: nil, tcpFlagsResp: nil, retransPackets: 0, icmpType: nil, icmpCode: nil,
            vlan: nil, innerVlan: nil, communityID: "", final: true, reason: "idle", truncated: false)
        _ = engine.process([.flow(flow)])
        #expect(engine.eventWatermark == Self.t0 + 86_400)
    }

    @Test func volumeFollowsAFewWholeSecondIntervalLengthsOnly() {
        let detector = VolumeDetector()
        let clock = DetectionClock(event: Self.t0)
        // A sensor sending ever new interval lengths: 1 µs, 2 µs, ... and odd ones: all refused, counted late.
        for n in 1...1000 {
            _ = detector.observe(
                .series(
                    SeriesRecord(
                        ts: Self.t0, interval: Double(n) * 1e-6, sensor: "s1", packets: 1, bytes: 1, flows: 1,
                        perProtocol: [:])), clock: clock)
        }
        // Whole seconds are followed, at most a handful of lengths.
        for n in 1...20 {
            _ = detector.observe(
                .series(
                    SeriesRecord(
                        ts: Self.t0, interval: Double(n), sensor: "s1", packets: 1, bytes: 1, flows: 1,
                        perProtocol: [:])), clock: clock)
        }
        #expect(detector.lateRecords == 1000 + 12)
        #expect(detector.usage.entries < 100)
    }

    @Test func protocolShiftWithAHugeCountDoesNotTrap() {
        let detector = ProtocolShiftDetector()
        var alerts: [AlertRecord] = []
        func series(_ i: Int, _ proto: String, _ packets: UInt64) -> Record {
            var counters = ProtocolCounters()
            counters.packets = packets
            return .series(
                SeriesRecord(
                    ts: Self.t0 + Double(i) * 60, interval: 60, sensor: "s1", packets: packets, bytes: packets,
                    flows: 1, perProtocol: [proto: counters]))
        }
        for i in 0..<20 {
            alerts += detector.observe(series(i, "tcp", 10_000), clock: DetectionClock(event: Self.t0 + Double(i) * 60))
        }
        for i in 20..<30 {
            alerts += detector.observe(
                series(i, "udp", 10_000_000_000_000_000_000), clock: DetectionClock(event: Self.t0 + Double(i) * 60))
        }
        alerts += detector.finish(at: DetectionClock(event: Self.t0 + 31 * 60))
        // The shift to UDP is reported, its packet count clamped to the largest integer instead of trapping.
        let shift = alerts.last { $0.kind == .protocolShift }
        #expect(shift?.detail["grew"] == .string("udp"))
        #expect(shift?.detail["window_packets"] == .int(.max))
    }

    @Test func theEngineTellsHealthWhenASensorsConnectionClosed() {
        let engine = DetectionEngine(detectors: [SensorHealthDetector()], lateness: 0)
        _ = engine.process([Self.stats(Self.t0, received: 1, kernel: 0, interface: 0, dropped: 0)], wall: Self.t0)
        engine.sensorDisconnected("s1", wall: Self.t0 + 1)
        let silent = engine.tick(wall: Self.t0 + 200).first { $0.subtype == "silent" }
        #expect(silent?.detail["disconnected"] == true)
        #expect(engine.newIDs == Set(silent.map { [$0.id] } ?? []))
        // A heartbeat afterwards is a sign of life: no new silent episode, and the open one does not grow.
        engine.sensorSeen("s1", wall: Self.t0 + 201)
        let later = engine.tick(wall: Self.t0 + 202)
        #expect(engine.newIDs.isEmpty)
        #expect(later.allSatisfy { $0.id == silent?.id })
    }
}
