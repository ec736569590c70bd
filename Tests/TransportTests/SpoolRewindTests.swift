import Collector
import Flows
import Foundation
import NIOCore
import Shipper
import Spool
import TestSupport
import Testing
import Wire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A sensor whose spool went back in time (a restored copy, a VM snapshot, power lost before a sync) while the
/// collector kept what it had committed: the collector's committed sequence for the boot id is above anything the
/// spool numbered, and new batches under that boot id would be acknowledged as replays and deleted unstored.
@Suite("spool rewind: the sensor continues under a new boot id")
struct SpoolRewindTests {
    /// Phase 1 spools 4 records in 2 batches and keeps a copy of the spool directory; phase 2 delivers them and 4
    /// more (the collector commits sequence 4); phase 3 restores the copy (the spool's highest is 2 again) and
    /// ships 8 new records. `clientFirst`: the client is connected before the new batches are spooled (else
    /// they are spooled first, and numbered 3...6, which the collector already has).
    @Test("after a rewind, 8 new records are stored exactly once and one warning names both numbers")
    func rewindIsDetected() async throws {
        for clientFirst in [false, true] {
            try await rewind(clientFirst: clientFirst)
        }
    }

    /// The same with the built programs: a first run spools dns.pcap with no collector up and is killed (the copy is
    /// taken then), a second run delivers it and http.pcap, a third run on the restored copy ships tls.pcap.
    @Test("wirewatch-sensor on a restored spool copy warns once, exits 0, and every record is stored once")
    func rewindWithPrograms() async throws {
        let lab = try FaultTests.Lab()
        let spool = lab.directory.appendingPathComponent("spool").path
        let backup = lab.directory.appendingPathComponent("spool-backup").path
        let first = try lab.sensor("dns.pcap", seed: 1, spool: spool)
        try first.start()
        let waiting = await first.waitForOutput(seconds: 30) { $0.stderr.contains("waiting for the collector") }
        #expect(waiting, "\(first.output().stderr)")
        await first.killAndReap()
        try FileManager.default.copyItem(atPath: spool, toPath: backup)

        let collector = try await lab.startCollector()
        let second = try lab.sensor("http.pcap", seed: 2, spool: spool)
        try second.start()
        #expect(await second.waitForExit(seconds: 60))
        #expect(second.output().status == 0, "\(second.output().stderr)")
        #expect(!second.output().stderr.contains("warning"), "\(second.output().stderr)")

        try FileManager.default.removeItem(atPath: spool)
        try FileManager.default.copyItem(atPath: backup, toPath: spool)
        let third = try lab.sensor("tls.pcap", seed: 3, spool: spool)
        try third.start()
        #expect(await third.waitForExit(seconds: 60))
        let stderr = third.output().stderr
        #expect(third.output().status == 0, "\(stderr)")
        let warnings = stderr.split(separator: "\n").filter { $0.contains("warning") }
        #expect(warnings.count == 1, "\(stderr)")
        #expect(warnings.first?.contains("continuing as boot id") == true, "\(stderr)")
        collector.signal(SIGTERM)
        #expect(await collector.waitForExit(seconds: 30))
        let expected =
            try await lab.expected("dns.pcap", seed: 1) + lab.expected("http.pcap", seed: 2)
            + lab.expected("tls.pcap", seed: 3)
        #expect(try lab.stored() == expected.sorted())
    }

    private func rewind(clientFirst: Bool) async throws {
        let pki = try PKI()
        let collector = try TestCollector(pki: pki)
        defer { collector.stop() }
        let sensor = "edge-1"
        let records = try expectedRecords(["http.pcap", "dns.pcap", "tls.pcap", "vlan.pcap"], sensor: sensor)
        try #require(records.count >= 16)
        let old = Array(records[0..<8])
        let new = Array(records[8..<16])
        let base = try Harness.temporaryDirectory()
        let directory = base.appendingPathComponent("spool").path
        let backup = base.appendingPathComponent("spool-backup").path

        // Phase 1: spooled, not delivered; the copy is taken now.
        let first = try Spool(directory: directory, maxBytes: 1 << 20)
        let oldBootID = first.bootID
        try spoolRecords(Array(old[0..<4]), into: first)
        #expect(first.highestSequence == 2)
        first.close()
        try FileManager.default.copyItem(atPath: directory, toPath: backup)

        // Phase 2: everything delivered; the collector has sequence 4 of the old boot id.
        let second = try Spool(directory: directory, maxBytes: 1 << 20)
        let quiet = LogLines()
        try await ship(Array(old[4..<8]), spool: second, sensor: sensor, pki: pki, port: collector.port, log: quiet)
        #expect(second.highestSequence == 4)
        second.close()
        #expect(!quiet.all.contains { $0.contains("warning") }, "\(quiet.all)")

        // Phase 3: the older copy is back.
        try FileManager.default.removeItem(atPath: directory)
        try FileManager.default.copyItem(atPath: backup, toPath: directory)
        let third = try Spool(directory: directory, maxBytes: 1 << 20)
        #expect(third.bootID == oldBootID)
        #expect(third.recovery.highestSequence == 2)
        let log = LogLines()
        try await ship(
            new, spool: third, sensor: sensor, pki: pki, port: collector.port, log: log, clientFirst: clientFirst)

        #expect(third.pendingBatches == 0)
        #expect(third.bootID != oldBootID)
        let stored = try collector.jsonLines(sensor: sensor)
        #expect(stored == (old + new).map(normalizedJSON).sorted(), "clientFirst \(clientFirst)")
        #expect(collector.server.metrics.records == 16)
        let newID = third.bootID.map { String(format: "%02x", $0) }.joined()
        let warnings = log.all.filter { $0.contains("warning") }
        #expect(warnings.count == 1, "\(log.all)")
        let warning = warnings.first ?? ""
        for part in [sensor, "up to 4", "only up to 2", newID] {
            #expect(warning.contains(part), "\(part) in \(warning)")
        }
        #expect(!warning.contains("\n"))
        third.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".seg") }.isEmpty)
    }

    /// Records into the spool in batches of 2, as the capture thread would, with no collector.
    private func spoolRecords(_ records: [Record], into spool: Spool) throws {
        var batching = BatchingOptions()
        batching.maxRecords = 2
        let sink = ShippingSink(spool: spool, options: batching) {}
        for record in records { sink.write(record) }
        try sink.finish()
    }

    /// The sensor's client on `spool`: spools `records` in batches of 2 (before connecting, or after when
    /// `clientFirst`) and returns once the collector acknowledged everything.
    private func ship(
        _ records: [Record], spool: Spool, sensor: String, pki: PKI, port: Int, log: LogLines, clientFirst: Bool = false
    ) async throws {
        var options = ShipperOptions(host: "127.0.0.1", port: port, sensorName: sensor)
        options.initialBackoff = 0.05
        options.maximumBackoff = 0.5
        let client = CollectorClient(
            options: options, spool: spool, tls: try MutualTLS.clientContext(pki.sensorFiles(sensor))
        ) { log.append($0) }
        defer { client.shutdown() }
        if clientFirst {
            client.start()
            _ = await log.waitFor(["connected"])
        }
        try spoolRecords(records, into: spool)
        client.batchesAppended()
        if !clientFirst { client.start() }
        guard (try? await client.drained(timeout: 30).get()) != nil else {
            throw HarnessError(
                "\(spool.pendingBatches) batches not acknowledged: \(client.lastError ?? "?"); \(log.all)")
        }
    }
}
