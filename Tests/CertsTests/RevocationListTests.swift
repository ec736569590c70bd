import Certs
import Foundation
import SwiftASN1
import Testing
import X509

@Suite struct RevocationListTests {
    private func serialOf(pem path: String) throws -> [UInt8] {
        Array(try Certificate(pemEncoded: try String(contentsOfFile: path, encoding: .utf8)).serialNumber.bytes)
    }

    @Test func revokeListsTheSerialAndMovesThePairAway() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let layout = CertsLayout(directory: temporary.path)
        _ = try CertsInit(directory: temporary.path, sensors: ["edge-1", "edge-2"], hostName: nil).run()
        let serial = try serialOf(pem: layout.sensorCertificate("edge-1"))
        let certificateBytes = try Data(contentsOf: URL(fileURLWithPath: layout.sensorCertificate("edge-1")))

        let report = try CertsRevoke(directory: temporary.path, names: ["edge-1"]).run()
        #expect(report.revoked == [.init(name: "edge-1", serialHex: RevocationList.hex(serial), newlyRevoked: true)])
        #expect(report.listCount == 1)
        let list = try RevocationList.load(path: layout.revocationList)
        #expect(list.contains(serial: serial))
        #expect(list.contains(serial: [0] + serial))  // as DER writes a high first bit
        #expect(list.entries.map(\.name) == ["edge-1"])
        #expect(!FileManager.default.fileExists(atPath: layout.sensorCertificate("edge-1")))
        #expect(!FileManager.default.fileExists(atPath: layout.sensorPrivateKey("edge-1")))
        let kept = layout.revokedCertificate("edge-1", serialHex: RevocationList.hex(serial))
        #expect(try Data(contentsOf: URL(fileURLWithPath: kept)) == certificateBytes)
        // edge-2 is untouched and not revoked.
        #expect(FileManager.default.fileExists(atPath: layout.sensorPrivateKey("edge-2")))
        #expect(!list.contains(serial: try serialOf(pem: layout.sensorCertificate("edge-2"))))

        // Revoking again names the problem; re-issuing with init gives a new serial, not on the list.
        #expect(throws: CertsError.self) { try CertsRevoke(directory: temporary.path, names: ["edge-1"]).run() }
        do {
            _ = try CertsRevoke(directory: temporary.path, names: ["edge-1"]).run()
        } catch let error as CertsError {
            #expect(error.code == .unknownSensor)
            #expect("\(error)".contains("edge-1"))
        }
        _ = try CertsInit(directory: temporary.path, sensors: ["edge-1"], hostName: nil).run()
        let newSerial = try serialOf(pem: layout.sensorCertificate("edge-1"))
        #expect(newSerial != serial)
        #expect(!(try RevocationList.load(path: layout.revocationList)).contains(serial: newSerial))
    }

    @Test func reissueRevokesTheOldCertificateAndIssuesANewOne() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.remove() }
        let layout = CertsLayout(directory: temporary.path)
        _ = try CertsInit(directory: temporary.path, sensors: ["edge-1"], hostName: nil).run()
        let old = try serialOf(pem: layout.sensorCertificate("edge-1"))
        let report = try CertsInit(directory: temporary.path, reissue: ["edge-1"], hostName: nil).run()
        #expect(report.sensorsCreated == ["edge-1"])
        #expect(report.revoked.map(\.serialHex) == [RevocationList.hex(old)])
        let new = try serialOf(pem: layout.sensorCertificate("edge-1"))
        let list = try RevocationList.load(path: layout.revocationList)
        #expect(list.contains(serial: old) && !list.contains(serial: new))
    }

    @Test func textRoundTripsAndDuplicatesAreIgnored() throws {
        let time = Date(timeIntervalSince1970: 1_800_000_000)
        var list = RevocationList()
        let added = [
            list.add(.init(serial: [0x00, 0x8f, 0x01], name: "edge-1", revokedAt: time)),
            list.add(.init(serial: [0x8f, 0x01], name: "edge-1", revokedAt: time)),
            list.add(.init(serial: [0x05], name: "edge.2", revokedAt: time)),
        ]
        #expect(added == [true, false, true])
        #expect(list.text.contains("8f01 edge-1 2027-01-15T08:00:00Z\n"))
        #expect(list.text.contains("05 edge.2 "))
        let parsed = try RevocationList(parsing: list.text, source: "revoked.txt")
        #expect(parsed == list)
    }

    @Test(arguments: [
        ("8f01 edge-1\n", "revoked.txt:1", "found 2 fields"),
        ("# comment\n\nxyz edge-1 2026-01-01T00:00:00Z\n", "revoked.txt:3", "not 1 to 40 hex digits"),
        ("8f01 ../etc 2026-01-01T00:00:00Z\n", "revoked.txt:1", "only letters"),
        ("8f01 edge-1 yesterday\n", "revoked.txt:1", "ISO 8601"),
        (String(repeating: "a", count: 41) + " edge-1 2026-01-01T00:00:00Z\n", "revoked.txt:1", "hex digits"),
    ])
    func malformedLinesAreNamed(text: String, location: String, detail: String) throws {
        do {
            _ = try RevocationList(parsing: text, source: "revoked.txt")
            Issue.record("parsed \(text.debugDescription)")
        } catch let error as CertsError {
            #expect(error.code == .invalidRevocationList)
            #expect("\(error)".hasPrefix(location + ": "), "\(error)")
            #expect("\(error)".contains(detail), "\(error)")
        }
    }

    @Test func aMissingListIsAnErrorNotAnEmptyList() throws {
        #expect(throws: CertsError.self) { try RevocationList.load(path: "/nonexistent/wirewatch/revoked.txt") }
    }
}
