import Foundation
import Packets
import Testing

/// The committed fixtures in Tests/Fixtures/geo (written by make-geo-fixtures.py), found from this file's path.
enum GeoFixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // GeoTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures/geo")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static var city: String { path("test-city.mmdb") }
    static var asn: String { path("test-asn.mmdb") }
    static var countryV4: String { path("test-country-v4.mmdb") }
    static var unknownType: String { path("test-unknown-type.mmdb") }
    static var torDirectory: String { path("tor") }
    static var torV4: String { path("tor/geoip") }
    static var torV6: String { path("tor/geoip6") }

    /// Networks the fixtures map to the canary AQ / AS64512, although the locator must never look them up.
    static let notPublic = [
        "10.1.2.3", "127.0.0.1", "169.254.1.1", "100.64.0.1", "192.0.2.1", "192.168.1.1", "fd00::1", "2001:db8::1",
        "::ffff:a00:1", "::ffff:7f00:1",
    ]
}

/// A file in a fresh temporary directory, removed at deinit.
final class TemporaryFile {
    let directory: URL
    let path: String

    init(named name: String, contents: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("geo-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(contents.utf8).write(to: url)
        path = url.path
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

func address(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> IPAddress {
    try #require(IPAddress(text), "not an address: \(text)", sourceLocation: sourceLocation)
}
