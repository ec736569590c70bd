import Foundation
import Packets
import Testing

@testable import Geo

@Suite struct MaxMindLocatorTests {
    let locator: GeoLocator

    init() throws {
        locator = try GeoLocator(mmdbPaths: [GeoFixtures.city, GeoFixtures.asn])
    }

    @Test func combinesCityAndASNDatabases() throws {
        let info = locator.locate(try address("8.8.8.8"))
        #expect(
            info
                == GeoInfo(
                    scope: .public, countryCode: "US", countryName: "United States", city: "Mountain View", asn: 15169,
                    organization: "Google LLC"
                )
        )
        #expect(info.label == "US, Mountain View, AS15169 Google LLC")
    }

    @Test func fieldsTheDatabasesLackStayNil() throws {
        let london = locator.locate(try address("81.2.69.160"))
        #expect(london.countryCode == "GB" && london.city == "London" && london.asn == 20712)
        #expect(london.organization == nil)
        #expect(london.label == "GB, London, AS20712")

        let google6 = locator.locate(try address("2001:4860:4860::8888"))
        #expect(google6.countryCode == "US" && google6.city == nil)
        #expect(google6.label == "US, AS15169 Google LLC")

        // Only registered_country in the record, as GeoLite2 has for some anycast networks.
        let cloudflare = locator.locate(try address("1.1.1.1"))
        #expect(cloudflare.countryCode == "AU" && cloudflare.countryName == "Australia")
        #expect(cloudflare.label == "AU, AS13335 Cloudflare, Inc.")
    }

    @Test func publicAddressNoDatabaseKnows() throws {
        let info = locator.locate(try address("9.9.9.9"))
        #expect(info == GeoInfo(scope: .public))
        #expect(info.isEmpty)
        #expect(info.label == "public")
        #expect(locator.locate(try address("2600::1")).isEmpty)
    }

    @Test(arguments: ["::ffff:808:808", "64:ff9b::808:808", "2002:808:808::1"])
    func ipv4CarriedInIPv6IsLookedUpByItsIPv4Address(_ text: String) throws {
        #expect(locator.locate(try address(text)) == locator.locate(try address("8.8.8.8")))
    }

    @Test(arguments: GeoFixtures.notPublic)
    func nonPublicAddressesAreLabelledAndNeverLookedUp(_ text: String) throws {
        let address = try address(text)
        let info = locator.locate(address)
        #expect(info.scope != .public)
        #expect(info.isEmpty, "looked up a \(info.scope) address: \(info)")
        #expect(info.label == info.scope.rawValue)
        // The fixture does map it (to the canary): were the scope check gone, the answer would not be empty.
        var raw = GeoInfo(scope: .public)
        for path in [GeoFixtures.city, GeoFixtures.asn] {
            try MaxMindDatabase(path: path).fill(&raw, for: AddressScope.lookupAddress(for: address))
        }
        #expect(raw.countryCode == "AQ" && raw.asn == 64512)
    }

    @Test func earlierFilesWinFieldByField() throws {
        let countryFirst = try GeoLocator(mmdbPaths: [GeoFixtures.countryV4, GeoFixtures.city, GeoFixtures.asn])
        let google = countryFirst.locate(try address("8.8.8.8"))
        #expect(google.countryCode == "CA" && google.city == "Second Opinion" && google.asn == 15169)
        // An IPv6 address finds nothing in the IPv4-only database, and the next file answers.
        #expect(countryFirst.locate(try address("2001:4860::1")).countryCode == "US")
        #expect(countryFirst.locate(try address("9.9.9.9")).countryCode == "CH")

        let cityFirst = try GeoLocator(mmdbPaths: [GeoFixtures.city, GeoFixtures.countryV4])
        #expect(cityFirst.locate(try address("8.8.8.8")).city == "Mountain View")
    }

    @Test func reportsItsSources() throws {
        #expect(locator.hasData)
        #expect(
            locator.sources == [
                "mmdb Wirewatch-Test-City (location): \(GeoFixtures.city)",
                "mmdb Wirewatch-Test-ASN (ASN): \(GeoFixtures.asn)",
            ]
        )
    }

    @Test func databaseTypesAreRecognised() {
        let location: MaxMindDatabase.Kind = .location
        let both: MaxMindDatabase.Kind = [.location, .autonomousSystem]
        #expect(MaxMindDatabase.kind(ofDatabaseType: "GeoLite2-City") == location)
        #expect(MaxMindDatabase.kind(ofDatabaseType: "GeoLite2-Country") == location)
        #expect(MaxMindDatabase.kind(ofDatabaseType: "DBIP-City-Lite") == location)
        #expect(MaxMindDatabase.kind(ofDatabaseType: "DBIP-Country-Lite") == location)
        #expect(MaxMindDatabase.kind(ofDatabaseType: "GeoLite2-ASN") == .autonomousSystem)
        #expect(MaxMindDatabase.kind(ofDatabaseType: "DBIP-ASN-Lite (compat=GeoLite2-ASN)") == .autonomousSystem)
        #expect(MaxMindDatabase.kind(ofDatabaseType: "GeoIP2-Enterprise") == both)
        #expect(MaxMindDatabase.kind(ofDatabaseType: "GeoIP2-Anonymous-IP").isEmpty)
    }

    @Test func concurrentLookupsAgreeWithSerialOnes() async throws {
        let addresses = try [
            "8.8.8.8", "81.2.69.160", "1.1.1.1", "9.9.9.9", "2001:4860::1", "10.0.0.1", "::ffff:808:808",
        ]
        .map { try address($0) }
        let expected = addresses.map { locator.locate($0) }
        // A cache of 2 per generation rotates constantly under this load; 0 turns it off.
        for capacity in [0, 2, 4096] {
            let shared = try GeoLocator(mmdbPaths: [GeoFixtures.city, GeoFixtures.asn], cacheCapacity: capacity)
            let mismatches = await withTaskGroup(of: Int.self) { group in
                for task in 0..<8 {
                    group.addTask {
                        var wrong = 0
                        for round in 0..<500 {
                            let index = (round + task) % addresses.count
                            if shared.locate(addresses[index]) != expected[index] { wrong += 1 }
                        }
                        return wrong
                    }
                }
                return await group.reduce(0, +)
            }
            #expect(mismatches == 0, "cache capacity \(capacity)")
        }
    }
}

@Suite struct TorGeoIPLocatorTests {
    let locator: GeoLocator

    init() throws {
        locator = try GeoLocator.torGeoIP(v4Path: GeoFixtures.torV4, v6Path: GeoFixtures.torV6)
    }

    @Test(
        arguments: [
            ("8.8.8.8", "US"), ("8.8.8.0", "US"), ("8.8.8.255", "US"), ("8.8.7.255", nil), ("8.8.9.0", nil),
            ("81.2.69.160", "GB"),  // written "UK" in the file
            ("1.1.1.1", "AU"),  // lower case, CRLF line end
            ("9.9.9.9", nil),  // "??"
            ("2001:4860:4860::8888", "US"), ("2a00:1450:4001::1", "IE"), ("2a00:1451::", nil), ("2600::1", nil),
            ("::ffff:808:808", "US"),
        ] as [(String, String?)])
    func countryFromRanges(_ text: String, _ country: String?) throws {
        let info = locator.locate(try address(text))
        #expect(info.scope == .public)
        #expect(info.countryCode == country)
        #expect(info.countryName == nil && info.city == nil && info.asn == nil)
        #expect(info.label == country ?? "public")
    }

    @Test(arguments: GeoFixtures.notPublic)
    func nonPublicAddressesAreNotLookedUp(_ text: String) throws {
        let address = try address(text)
        #expect(locator.locate(address) == GeoInfo(scope: AddressScope.scope(of: address)))
        #expect(AddressScope.scope(of: address) != .public)
    }

    @Test func privateRangesInTheFileAreThereButUnused() throws {
        // The fixture maps 10/8 and fc00::/7 to AQ; only the scope check keeps them out.
        let table = try TorGeoIP(v4Path: GeoFixtures.torV4, v6Path: GeoFixtures.torV6)
        #expect(table.countryCode(for: try address("10.1.2.3")) == "AQ")
        #expect(table.countryCode(for: try address("fd00::1")) == "AQ")
        #expect(table.v4.count == 4)  // 5 ranges, one of them "??"
        #expect(table.v6.count == 3)
    }

    @Test func v4FileAloneAnswersNothingForIPv6() throws {
        let v4Only = try GeoLocator.torGeoIP(v4Path: GeoFixtures.torV4, v6Path: nil)
        #expect(v4Only.locate(try address("8.8.8.8")).countryCode == "US")
        #expect(v4Only.locate(try address("2001:4860::1")).countryCode == nil)
        #expect(v4Only.sources == ["tor geoip (country, 4 IPv4 ranges): \(GeoFixtures.torV4)"])
    }

    @Test func unsortedFilesAreSorted() throws {
        let file = try TemporaryFile(named: "geoip", contents: "134744064,134744319,US\n16843008,16843263,AU\n")
        let unsorted = try GeoLocator.torGeoIP(v4Path: file.path, v6Path: nil)
        #expect(unsorted.locate(try address("1.1.1.1")).countryCode == "AU")
        #expect(unsorted.locate(try address("8.8.8.8")).countryCode == "US")
    }
}

@Suite struct DefaultLocatorTests {
    @Test func mmdbFilesWinOverTorFiles() throws {
        let locator = try GeoLocator.default(mmdbPaths: [GeoFixtures.city], torDirectories: [GeoFixtures.torDirectory])
        #expect(locator.sources.count == 1)
        #expect(locator.locate(try address("2a00:1450::1")).countryCode == nil)  // only the tor fixture has it
    }

    @Test func torFilesGiveTheCountryWhenTheMMDBFilesHaveNone() throws {
        let locator = try GeoLocator.default(mmdbPaths: [GeoFixtures.asn], torDirectories: [GeoFixtures.torDirectory])
        #expect(locator.sources.count == 3)
        #expect(locator.locate(try address("8.8.8.8")).label == "US, AS15169 Google LLC")
    }

    @Test func firstTorDirectoryThatHasTheFilesIsUsed() throws {
        let locator = try GeoLocator.default(torDirectories: ["/nonexistent/wirewatch", GeoFixtures.torDirectory])
        #expect(
            locator.sources == [
                "tor geoip (country, 4 IPv4 ranges): \(GeoFixtures.torV4)",
                "tor geoip6 (country, 3 IPv6 ranges): \(GeoFixtures.torV6)",
            ]
        )
        #expect(locator.locate(try address("2a00:1450::1")).countryCode == "IE")
    }

    @Test func withNoDataTheLocatorOnlyClassifies() throws {
        for locator in [try GeoLocator.default(torDirectories: ["/nonexistent/wirewatch"]), GeoLocator()] {
            #expect(!locator.hasData)
            #expect(locator.sources.isEmpty)
            #expect(locator.locate(try address("8.8.8.8")) == GeoInfo(scope: .public))
            #expect(locator.locate(try address("192.168.1.1")).label == "private")
        }
    }

    /// The real tor-geoipdb data, where the project's setup unpacked it (or where the tor package put it).
    /// Without it, `default()` must say that it has no data rather than answer.
    @Test func realTorGeoIPDataAtTheDefaultLocation() throws {
        let installed = GeoLocator.defaultTorDirectories.contains {
            FileManager.default.fileExists(atPath: $0 + "/geoip")
        }
        let locator = try GeoLocator.default()
        guard installed else {
            #expect(!locator.hasData)
            #expect(locator.locate(try address("8.8.8.8")).countryCode == nil)
            return
        }
        #expect(locator.hasData)
        // Long-standing allocations: Google's 8.8.8.0/24 and 2001:4860::/32, Andrews & Arnold's 81.2.69.0/24.
        #expect(locator.locate(try address("8.8.8.8")).countryCode == "US")
        #expect(locator.locate(try address("81.2.69.160")).countryCode == "GB")
        #expect(locator.locate(try address("2001:4860:4860::8888")).countryCode == "US")
        #expect(locator.locate(try address("10.0.0.1")) == GeoInfo(scope: .private))
    }
}

@Suite struct GeoErrorTests {
    @Test func missingMMDBFile() {
        #expect {
            try GeoLocator(mmdbPaths: [GeoFixtures.city, "/nonexistent/GeoLite2-City.mmdb"])
        } throws: { error in
            let error = error as? GeoError
            return error?.code == .missingFile
                && error?.description == "geo: /nonexistent/GeoLite2-City.mmdb: missing file: no such file"
        }
    }

    @Test func directoryIsNotADatabase() throws {
        let error = try #require(throws: GeoError.self) { try GeoLocator(mmdbPaths: [GeoFixtures.directory.path]) }
        #expect(error.code == .missingFile && error.path == GeoFixtures.directory.path)
    }

    @Test func fileThatIsNotAnMMDB() throws {
        let error = try #require(throws: GeoError.self) { try GeoLocator(mmdbPaths: [GeoFixtures.torV4]) }
        #expect(error.code == .notMMDB)
        // MMDB_open's own reason follows the file name.
        #expect(error.description == "geo: \(GeoFixtures.torV4): not a MaxMind DB: \(error.detail)")
        #expect(error.detail.contains("metadata"))
    }

    @Test func unknownDatabaseType() throws {
        let error = try #require(throws: GeoError.self) { try GeoLocator(mmdbPaths: [GeoFixtures.unknownType]) }
        #expect(error.code == .unknownDatabaseType)
        #expect(
            error.description
                == "geo: \(GeoFixtures.unknownType): unknown database type: database_type \"Wirewatch-Test-Weather\" "
                + "is neither a City/Country nor an ASN database"
        )
    }

    @Test func missingTorFile() throws {
        let error = try #require(throws: GeoError.self) {
            try GeoLocator.torGeoIP(v4Path: GeoFixtures.torV4, v6Path: "/nonexistent/geoip6")
        }
        #expect(error.code == .missingFile && error.path == "/nonexistent/geoip6")
    }

    @Test(arguments: [
        "1,2", "1,2,USA", "1,2,U", "2,1,US", "1,4294967296,US", "-1,2,US", "a,b,US", "1,2,U1", "1,2,US,extra",
        "1, 2,US", ",2,US", "1.2.3.4,1.2.3.5,US",
    ])
    func malformedIPv4Line(_ bad: String) throws {
        let file = try TemporaryFile(named: "geoip", contents: "# comment\n16843008,16843263,AU\n\(bad)\n1,2,US\n")
        let error = try #require(throws: GeoError.self) { try GeoLocator.torGeoIP(v4Path: file.path, v6Path: nil) }
        #expect(error.code == .malformedTorLine && error.line == 3)
        #expect(
            error.description == "geo: \(file.path):3: malformed tor geoip line: expected FROM,TO,CC, got \"\(bad)\"")
    }

    @Test(arguments: ["2001::,1.2.3.4,US", "::1,::,US", "2001::,2001::g,US", "16843008,16843263,AU"])
    func malformedIPv6Line(_ bad: String) throws {
        let file = try TemporaryFile(named: "geoip6", contents: "2001:4860::,2001:4860::ffff,US\n\(bad)\n")
        let error = try #require(throws: GeoError.self) { try GeoLocator.torGeoIP(v4Path: nil, v6Path: file.path) }
        #expect(error.code == .malformedTorLine && error.line == 2 && error.path == file.path)
    }

    @Test func longBadLinesAreShortenedInTheMessage() throws {
        let bad = String(repeating: "9", count: 100)
        let file = try TemporaryFile(named: "geoip", contents: bad + "\n")
        let error = try #require(throws: GeoError.self) { try GeoLocator.torGeoIP(v4Path: file.path, v6Path: nil) }
        #expect(error.description.hasSuffix("got \"\(String(repeating: "9", count: 60))...\""))
    }
}

@Suite struct GeoInfoTests {
    @Test func labels() {
        #expect(GeoInfo(scope: .public, organization: "Example Org").label == "Example Org")
        #expect(GeoInfo(scope: .public, countryName: "France").label == "France")
        #expect(GeoInfo(scope: .public, countryCode: "FR", city: "Paris").label == "FR, Paris")
        #expect(GeoInfo(scope: .linkLocal).label == "link-local")
        // Only public addresses carry places; a non-public one is labelled by scope whatever it holds.
        #expect(GeoInfo(scope: .private, countryCode: "US").label == "private")
    }

    @Test func codableRoundTrip() throws {
        let info = GeoInfo(scope: .public, countryCode: "US", city: "Mountain View", asn: 15169)
        let data = try JSONEncoder().encode(info)
        #expect(try JSONDecoder().decode(GeoInfo.self, from: data) == info)
        let linkLocal = try JSONEncoder().encode(GeoInfo(scope: .linkLocal))
        #expect(String(decoding: linkLocal, as: UTF8.self) == #"{"scope":"link-local"}"#)
    }
}

@Suite struct TorRangeParsingTests {
    @Test func ipv6TextAgreesWithPacketsParser() throws {
        var generator = SystemRandomNumberGenerator()
        var samples: [IPAddress] = [
            .v6(0, 0), .v6(0, 1), .v6(~0, ~0), .v6(0x2001_0db8_0000_0000, 0x0000_0000_0000_0001),
        ]
        for _ in 0..<2000 {
            // Zero some groups so that "::" compression shows up in many places.
            let mask = UInt64.random(in: 0...UInt64.max, using: &generator)
            var high = UInt64.random(in: 0...UInt64.max, using: &generator)
            var low = UInt64.random(in: 0...UInt64.max, using: &generator)
            for group in 0..<4 where mask >> UInt64(group) & 1 == 1 { high &= ~(0xFFFF << UInt64(group * 16)) }
            for group in 0..<4 where mask >> UInt64(group + 4) & 1 == 1 { low &= ~(0xFFFF << UInt64(group * 16)) }
            samples.append(.v6(high, low))
        }
        for sample in samples {
            guard case .v6(let high, let low) = sample else { continue }
            for text in [sample.description, sample.description.uppercased()] {
                let parsed = Array(text.utf8).withUnsafeBytes { TorGeoIP.ipv6($0) }
                #expect(parsed == UInt128(high) << 64 | UInt128(low), "\(text)")
            }
        }
    }

    @Test(arguments: [
        "", ":", ":::", "1:", ":1", "1:::2", "1::2::3", "12345::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "g::", "::ffff:1.2.3.4", "1 ::",
    ])
    func invalidIPv6Text(_ text: String) {
        #expect(Array(text.utf8).withUnsafeBytes { TorGeoIP.ipv6($0) } == nil)
    }
}
