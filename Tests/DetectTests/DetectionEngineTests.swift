import Detect
import Flows
import Packets
import Testing

/// A detector that records what the engine tells it and raises one growing episode per record it sees.
private final class RecordingDetector: Detector {
    let name = "recording"
    var observedClocks: [DetectionClock] = []
    var advancedTo: [DetectionClock] = []
    var alertFor: (Record) -> AlertRecord? = { _ in nil }

    func observe(_ record: Record, clock: DetectionClock) -> [AlertRecord] {
        observedClocks.append(clock)
        return alertFor(record).map { [$0] } ?? []
    }

    func advance(to clock: DetectionClock) -> [AlertRecord] {
        advancedTo.append(clock)
        return []
    }

    var usage: DetectorUsage {
        DetectorUsage(name: name, entries: observedClocks.count, approximateBytes: 0, evicted: 0)
    }
}

private func dns(ts: Double, sensor: String = "a") -> Record {
    let id = ConnID(
        origHost: IPAddress("127.0.0.1") ?? .v4(0), origPort: 40000, respHost: IPAddress("127.0.0.53") ?? .v4(0),
        respPort: 53)
    return .dns(
        DNSRecord(
            ts: ts, uid: "C1", sensor: sensor, id: id, proto: 17, transID: 1, query: "example.com", qtype: 1,
            qtypeName: "A", rcode: 0, rcodeName: "NOERROR", answers: [], ttls: [], rtt: nil, rejected: false))
}

private func alert(id: String, count: Int, kind: AlertKind = .dnsSuspicious) -> AlertRecord {
    AlertRecord(
        ts: 0, id: id, kind: kind, subtype: kind.subtypes[0], severity: .low, src: nil, targets: [], ports: [],
        firstTS: 0, lastTS: 0, sensors: [], count: count, message: "")
}

@Suite struct DetectionEngineTests {
    @Test func watermarkTrailsTheNewestEventTimeAndNeverMovesBack() {
        let detector = RecordingDetector()
        let engine = DetectionEngine(detectors: [detector], lateness: 10)
        _ = engine.process([dns(ts: 100), dns(ts: 130, sensor: "b")])
        #expect(engine.eventWatermark == 120)
        #expect(detector.advancedTo.last?.event == 120)
        // A sensor whose clock runs behind cannot rewind the watermark.
        _ = engine.process([dns(ts: 90, sensor: "c")])
        #expect(engine.eventWatermark == 120)
        // Records are observed with the watermark as it was before their batch.
        #expect(detector.observedClocks.map(\.event) == [-.infinity, -.infinity, 120])
        _ = engine.finish()
        #expect(engine.eventWatermark == 130)
        // At the end the detectors (by default) run the clock on past every window.
        #expect(detector.advancedTo.last == DetectionClock(event: 130 + RecordingDetector.finishHorizon, wall: nil))
        #expect(engine.records == 3)
    }

    @Test func flowsCountFromTheirEnd() {
        let detector = RecordingDetector()
        let engine = DetectionEngine(detectors: [detector], lateness: 0)
        let id = ConnID(origHost: .v4(1), origPort: 1, respHost: .v4(2), respPort: 2)
        let flow = FlowRecord(
            ts: 1000, uid: "C", sensor: "a", id: id, proto: 6, service: nil, duration: 50, origBytes: 0,
            respBytes: 0, origPackets: 1, respPackets: 0, origIPBytes: 40, respIPBytes: 0, connState: "S0",
            history: "S", tcpFlagsOrig: nil, tcpFlagsResp: nil, retransPackets: 0, icmpType: nil, icmpCode: nil,
            vlan: nil, innerVlan: nil, communityID: "", final: true, reason: "idle", truncated: false)
        _ = engine.process([.flow(flow)], wall: 1060)
        #expect(engine.eventWatermark == 1050)
        #expect(detector.advancedTo.last == DetectionClock(event: 1050, wall: 1060))
    }

    @Test func keepsTheNewestVersionOfEachEpisodeAndCountsEpisodesOnce() {
        let detector = RecordingDetector()
        var n = 0
        detector.alertFor = { _ in
            n += 1
            return alert(id: n <= 2 ? "one" : "two", count: n)
        }
        let engine = DetectionEngine(detectors: [detector], lateness: 0)
        let first = engine.process([dns(ts: 1), dns(ts: 2), dns(ts: 3)])
        #expect(first.map(\.id) == ["one", "two"])
        #expect(first.map(\.count) == [2, 3])
        let second = engine.process([dns(ts: 4)])
        #expect(second.map(\.id) == ["two"])
        #expect(engine.episodesByKind == [.dnsSuspicious: 2])
    }

    @Test func tickPassesTheWallClockWithoutRecords() {
        let detector = RecordingDetector()
        let engine = DetectionEngine(detectors: [detector])
        _ = engine.tick(wall: 1_700_000_000)
        #expect(detector.advancedTo == [DetectionClock(event: -.infinity, wall: 1_700_000_000)])
        _ = engine.finish()
        // Offline with no records at all there is no time to advance to.
        #expect(detector.advancedTo.count == 1)
    }
}

@Suite struct AlertTextTests {
    @Test func foldsPortRanges() {
        #expect(AlertText.portRanges([20, 21, 22, 8080, 23, 25, 65535, 65534]) == "20-23, 25, 8080, 65534-65535")
        #expect(AlertText.portRanges([]) == "")
    }

    @Test func printsTheSeedsReadableBlock() {
        let scan = AlertRecord(
            ts: 10, id: "port-scan-1", kind: .portScan, subtype: "tcp-syn", severity: .high, src: "127.0.0.1",
            targets: ["127.0.0.2"], ports: [20, 21, 22, 8080], firstTS: 10, lastTS: 12.34, sensors: ["a", "b"],
            count: 4, message: "4 probes")
        #expect(
            AlertText.block(scan, updated: true) == """
                [ALERT] Port scan detected! port-scan/tcp-syn, high (updated)
                  Source: 127.0.0.1
                  Targets: 127.0.0.2
                  Ports scanned: 4 (20-22, 8080)
                  Time window: 2.3 seconds
                  Sensors: a, b
                  Events: 4
                  4 probes
                  Id: port-scan-1

                """)
    }

    @Test func doesNotRepeatTheSeedsOneLineMessage() {
        var scan = AlertRecord(
            ts: 10, id: "port-scan-2", kind: .portScan, subtype: "udp", severity: .low, src: "127.0.0.1",
            targets: ["127.0.0.2"], ports: [53], firstTS: 10, lastTS: 11, sensors: ["a"], count: 1,
            message: "Port scan detected! Source: 127.0.0.1 Ports scanned: 1")
        #expect(AlertText.block(scan).split(separator: "Port scan detected!").count == 2)
        scan.message = "distributed over 3 sources"
        #expect(AlertText.block(scan).contains("  distributed over 3 sources\n"))
    }
}
