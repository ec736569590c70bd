import Capture
import Flows
import Foundation
import Sensor
import SwiftProtobuf
import TestSupport
import Testing
import Wire

@Suite("records over the wire")
struct RecordWireTests {
    /// Runs the real sensor pipeline over a fixture and returns what it would ship.
    func records(of fixture: String) throws -> [Record] {
        try pipelineRecords(files: [Harness.fixture(fixture)], sensor: "edge-1", uidSeed: 7)
    }

    // Captures: http.pcap, dns.pcap, tls.pcap, udp-unreach.pcap, vlan.pcap, ipv6-tcp.pcap (every record type).
    @Test(
        "every record survives batch encoding and decoding field for field",
        arguments: [
            "http.pcap", "dns.pcap", "tls.pcap", "udp-unreach.pcap", "vlan.pcap", "ipv6-tcp.pcap",
        ])
    func roundTrip(fixture: String) throws {
        let original = try records(of: fixture)
        #expect(!original.isEmpty)
        var builder = BatchBuilder()
        for record in original { builder.append(record) }
        #expect(builder.count == original.count)
        var envelope = Wirewatch_V1_Envelope()
        envelope.batch = builder.take(sequence: 9)
        let bytes: [UInt8] = try envelope.serializedBytes()
        let decoded = try Wirewatch_V1_Envelope(serializedBytes: bytes)
        #expect(decoded.batch.sequence == 9)
        let back = try decoded.batch.records(sensor: "edge-1")
        // Records come back grouped by type; compare the JSON each would print (times at microseconds).
        #expect(back.map(\.jsonLine).sorted() == original.map(\.jsonLine).sorted())
    }

    @Test("a record with an address of the wrong length is refused, naming the field")
    func badAddress() throws {
        var flow = Wirewatch_V1_Flow()
        flow.id.origH = Data([1, 2, 3])
        flow.id.respH = Data([10, 0, 0, 1])
        var batch = Wirewatch_V1_RecordBatch()
        batch.flows = [flow]
        #expect(throws: WireRecordError(field: "flows[0].id.orig_h", reason: "3 bytes, not 4 or 16")) {
            try batch.records(sensor: "s")
        }
        var port = Wirewatch_V1_Flow()
        port.id.origH = Data([10, 0, 0, 2])
        port.id.respH = Data([10, 0, 0, 1])
        port.id.respP = 70_000
        batch.flows = [port]
        #expect(throws: WireRecordError(field: "flows[0].id", reason: "port above 65535")) {
            try batch.records(sensor: "s")
        }
    }
}
