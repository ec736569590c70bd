import Flows
import Foundation
import Testing

@testable import Store

@Suite("Alerts: one row per episode, queried by time, kind, severity, host and sensor")
struct AlertTests {
    static func scan(
        id: String = "scan-1", first: Double = 1_000, last: Double = 1_010, count: Int = 8,
        severity: AlertSeverity = .medium, src: String? = "203.0.113.9", sensors: [String] = ["a"]
    ) -> AlertRecord {
        AlertRecord(
            ts: first + 5, id: id, kind: .portScan, subtype: "tcp-syn", severity: severity, src: src,
            targets: ["10.0.0.1"], ports: [443, 22, 80, 22], firstTS: first, lastTS: last, sensors: sensors,
            count: count, message: "203.0.113.9 probed 3 ports on 10.0.0.1",
            detail: ["scope": "vertical", "speed": "aggressive", "rejected": 5, "filtered": 3, "rate": 0.75])
    }

    @Test("ports are kept sorted without repeats, and the JSON line has DESIGN's names with the detail beside them")
    func jsonLine() {
        var alert = Self.scan()
        #expect(alert.ports == [22, 80, 443])
        alert.ports = [9, 1, 9]
        #expect(alert.ports == [1, 9])
        alert.ports = [22, 80, 443]
        alert.detail["count"] = true
        #expect(
            alert.jsonLine
                == #"{"type":"alert","ts":1005.000000,"id":"scan-1","kind":"port-scan","subtype":"tcp-syn","#
                + #""severity":"medium","src":"203.0.113.9","targets":["10.0.0.1"],"ports":[22,80,443],"#
                + #""first_ts":1000.000000,"last_ts":1010.000000,"sensors":["a"],"count":8,"#
                + #""message":"203.0.113.9 probed 3 ports on 10.0.0.1","detail.count":true,"filtered":3,"#
                + #""rate":0.750000,"rejected":5,"scope":"vertical","speed":"aggressive"}"#)
        let health = AlertRecord(
            ts: 1, id: "h", kind: .sensorHealth, subtype: "silent", severity: .high, src: nil, targets: ["s\"1"],
            ports: [], firstTS: 1, lastTS: 2, sensors: [], count: 0, message: "no records for 5 minutes")
        #expect(health.jsonLine.contains(#""severity":"high","targets":["s\"1"],"ports":[],"#))
        #expect(!health.jsonLine.contains("src"))
        #expect(AlertKind.portScan.subtypes.contains("tcp-xmas"))
        #expect(AlertSeverity.low < AlertSeverity.medium)
        #expect(AlertSeverity.medium < AlertSeverity.high)
    }

    @Test("an alert stored again under its id replaces the stored one; every field round-trips")
    func upsertReplaces() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal)
            defer { store.close() }
            let first = Self.scan()
            try store.upsertAlert(first)
            #expect(try store.alerts(AlertQuery()) == [first])
            var grown = Self.scan(last: 1_100, count: 40, severity: .high, sensors: ["a", "b"])
            grown.ports = [22, 80, 443, 8080]
            grown.targets = ["10.0.0.1", "10.0.0.2"]
            grown.detail = ["scope": "block", "speed": "stealthy", "rejected": 30, "stealthy": true, "big": 1e300]
            try store.upsertAlert(grown)
            #expect(try store.alerts(AlertQuery()) == [grown])
            let other = AlertRecord(
                ts: 5, id: "silent-s9", kind: .sensorHealth, subtype: "silent", severity: .low, src: nil,
                targets: ["s9"], ports: [], firstTS: 5, lastTS: 6, sensors: [], count: 0, message: "silent",
                detail: [:])
            try store.upsertAlerts([other, other])
            #expect(try store.alerts(AlertQuery()) == [grown, other])
            #expect(try store.rows("SELECT count(*) FROM alerts") == [["2"]])
            let error = #expect(throws: StoreError.self) { try store.upsertAlert(Self.scan(id: "")) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test("queries filter by overlap with the window, kind, subtype, severity, host, sensor and limit, newest first")
    func queries() throws {
        try withTemporaryDirectory { dir in
            let store = try SQLiteStore(path: dir + "/w.sqlite", synchronous: .normal)
            defer { store.close() }
            let early = Self.scan(id: "early", first: 100, last: 200, severity: .low, sensors: ["a"])
            let middle = Self.scan(id: "middle", first: 150, last: 400, severity: .medium, sensors: ["a", "b"])
            let late = Self.scan(id: "late", first: 500, last: 600, severity: .high, src: "multiple", sensors: ["b"])
            let spike = AlertRecord(
                ts: 300, id: "spike", kind: .trafficSpike, subtype: "bytes", severity: .high, src: "10.0.0.7",
                targets: ["203.0.113.9"], ports: [], firstTS: 300, lastTS: 350, sensors: ["c"], count: 1,
                message: "bytes 5x baseline", detail: ["baseline": 1_000.5, "observed": 5_000])
            try store.upsertAlerts([early, middle, late, spike])

            #expect(try store.alerts(AlertQuery()) == [late, middle, spike, early])
            // Overlap: an episode from 150 to 400 is in [300, 320); one that ended at 200 is not.
            #expect(try store.alerts(AlertQuery(from: 300, to: 320)) == [middle, spike])
            #expect(try store.alerts(AlertQuery(from: 200)) == [late, middle, spike, early])
            #expect(try store.alerts(AlertQuery(to: 150)) == [early])
            #expect(try store.alerts(AlertQuery(kind: .trafficSpike)) == [spike])
            #expect(try store.alerts(AlertQuery(subtype: "tcp-syn")) == [late, middle, early])
            #expect(try store.alerts(AlertQuery(minimumSeverity: .medium)) == [late, middle, spike])
            #expect(try store.alerts(AlertQuery(minimumSeverity: .high)) == [late, spike])
            // The host as source, or among the targets.
            #expect(try store.alerts(AlertQuery(host: "203.0.113.9")) == [middle, spike, early])
            #expect(try store.alerts(AlertQuery(host: "multiple")) == [late])
            #expect(try store.alerts(AlertQuery(host: "10.0.0.1")) == [late, middle, early])
            #expect(try store.alerts(AlertQuery(sensor: "b")) == [late, middle])
            #expect(try store.alerts(AlertQuery(limit: 2)) == [late, middle])
            #expect(try store.alerts(AlertQuery(limit: 0)).isEmpty)
            #expect(
                try store.alerts(AlertQuery(from: 0, kind: .portScan, minimumSeverity: .medium, sensor: "a"))
                    == [middle])
        }
    }
}
