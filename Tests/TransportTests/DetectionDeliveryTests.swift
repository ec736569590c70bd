import Collector
import Config
import Detect
import Flows
import Store
import TestSupport
import Testing

@Suite("detection across sensors behind a real collector")
struct DetectionDeliveryTests {
    /// Captures: scan-split-a.pcap and scan-split-b.pcap, one nmap SYN scan of one target whose ports were cut
    /// in two halves, each captured alone (Tests/Fixtures/make-detect-scan-fixtures.sh). Neither half alone
    /// crosses the scan detection; shipped by two sensors to one collector they are one scan seen by both.
    @Test("a scan split across two sensors is one alert naming both")
    func splitScanIsOneAlert() async throws {
        let files = ["scan-split-a.pcap", "scan-split-b.pcap"]
        // The premise, checked with the same detectors offline: each half alone raises no port-scan alert.
        for file in files {
            let engine = try DetectionSetup().makeEngine()
            var alerts = engine.process(try expectedRecords([file], sensor: "alone"))
            alerts += engine.finish()
            #expect(alerts.filter { $0.kind == .portScan }.isEmpty, "\(file) alone")
        }
        let pki = try PKI()
        let collector = try TestCollector(pki: pki, detection: DetectionSetup())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (sensor, file) in zip(["edge-1", "edge-2"], files) {
                group.addTask { _ = try await shipInProcess([file], sensor: sensor, pki: pki, port: collector.port) }
            }
            try await group.waitForAll()
        }
        // Stopping lets the last batches through the detectors and stores their alerts before the store closes.
        collector.server.stop()
        let stored = try collector.store.alerts(AlertQuery(kind: .portScan))
        collector.store.close()
        try #require(stored.count == 1)
        let scan = stored[0]
        #expect(scan.sensors == ["edge-1", "edge-2"])
        let expectedPorts = try files.flatMap { file in
            try expectedRecords([file], sensor: "x").compactMap { record -> UInt16? in
                guard case .flow(let flow) = record, flow.proto == 6, flow.history.hasPrefix("S") else { return nil }
                return flow.id.respPort
            }
        }
        #expect(scan.ports == Set(expectedPorts).sorted())
        // The collector announced the episode (printed and stored the same alert).
        let announced = collector.published.all.filter { $0.alert.kind == .portScan }
        #expect(announced.first?.updated == false)
        #expect(announced.last?.alert == scan)
        #expect(collector.server.metrics.alertsByKind[.portScan] == 1)
    }
}
