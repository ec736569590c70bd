import Packets
import Synchronization

/// Answers "where is this address?" from MaxMind DB files (MaxMind GeoLite2/GeoIP2, DB-IP lite) and/or the tor
/// geoip range files, and classifies every address by scope first: only `public` addresses are looked up.
///
/// Several `.mmdb` files combine: each field comes from the first file that has it (country and city from a
/// City database, AS number and organisation from an ASN database). The tor files give a country code only,
/// and only where no `.mmdb` file gave one. Lookups are safe from any thread; recent answers are cached.
public final class GeoLocator: Sendable {
    /// Where `default(mmdbPaths:)` looks for the tor range files `geoip` and `geoip6`: the tor package's own
    /// location, then where the project's setup unpacks `tor-geoipdb` without installing the tor daemon.
    public static let defaultTorDirectories = [
        "/usr/share/tor",
        "/usr/local/share/wirewatch/tor-geoip/usr/share/tor",
    ]

    private let databases: [MaxMindDatabase]
    private let tor: TorGeoIP?
    private let cacheCapacity: Int
    private let cache = Mutex(GenerationCache())

    /// One line per loaded source, e.g. "mmdb GeoLite2-City (location): /var/lib/GeoLite2-City.mmdb" or
    /// "tor geoip (country, 181003 IPv4 ranges): /usr/share/tor/geoip"; empty for a scope-only locator.
    public let sources: [String]

    /// False when no database is loaded: `locate` then gives scopes only.
    public var hasData: Bool { !sources.isEmpty }

    /// Opens `mmdbPaths` (in priority order) and, if given, the tor range files.
    /// - Parameter cacheCapacity: answers kept per cache generation (two generations); 0 turns the cache off.
    public convenience init(
        mmdbPaths: [String],
        torV4Path: String? = nil,
        torV6Path: String? = nil,
        cacheCapacity: Int = 4096
    ) throws(GeoError) {
        var databases: [MaxMindDatabase] = []
        for path in mmdbPaths { databases.append(try MaxMindDatabase(path: path)) }
        let tor: TorGeoIP? =
            if torV4Path == nil && torV6Path == nil { nil } else { try TorGeoIP(v4Path: torV4Path, v6Path: torV6Path) }
        self.init(databases: databases, tor: tor, cacheCapacity: cacheCapacity)
    }

    /// A locator with no data: `locate` classifies scopes and knows nothing else.
    public convenience init() {
        self.init(databases: [], tor: nil, cacheCapacity: 0)
    }

    private init(databases: [MaxMindDatabase], tor: TorGeoIP?, cacheCapacity: Int) {
        self.databases = databases
        self.tor = tor
        self.cacheCapacity = max(0, cacheCapacity)
        var sources = databases.map { database in
            var kinds: [String] = []
            if database.kind.contains(.location) { kinds.append("location") }
            if database.kind.contains(.autonomousSystem) { kinds.append("ASN") }
            return "mmdb \(database.databaseType) (\(kinds.joined(separator: ", "))): \(database.path)"
        }
        if let tor {
            if let path = tor.v4Path { sources.append("tor geoip (country, \(tor.v4.count) IPv4 ranges): \(path)") }
            if let path = tor.v6Path { sources.append("tor geoip6 (country, \(tor.v6.count) IPv6 ranges): \(path)") }
        }
        self.sources = sources
    }

    /// A country-level locator from tor-geoipdb's `geoip` (IPv4) and/or `geoip6` (IPv6) range files.
    public static func torGeoIP(v4Path: String?, v6Path: String?) throws(GeoError) -> GeoLocator {
        try GeoLocator(mmdbPaths: [], torV4Path: v4Path, torV6Path: v6Path)
    }

    /// The locator the tools use: the `.mmdb` files if any are given; otherwise the tor range files from the first
    /// of `torDirectories` that has them; otherwise a scope-only locator (`hasData` false). When the given
    /// `.mmdb` files hold no location database (an ASN database alone), the tor files still supply the country.
    public static func `default`(
        mmdbPaths: [String] = [],
        torDirectories: [String] = defaultTorDirectories,
        cacheCapacity: Int = 4096
    ) throws(GeoError) -> GeoLocator {
        var databases: [MaxMindDatabase] = []
        for path in mmdbPaths { databases.append(try MaxMindDatabase(path: path)) }
        let hasLocation = databases.contains { $0.kind.contains(.location) }
        var torV4: String?
        var torV6: String?
        if !hasLocation {
            for directory in torDirectories {
                let v4 = directory + "/geoip"
                let v6 = directory + "/geoip6"
                torV4 = FileCheck.isRegularFile(v4) ? v4 : nil
                torV6 = FileCheck.isRegularFile(v6) ? v6 : nil
                if torV4 != nil || torV6 != nil { break }
            }
        }
        let tor: TorGeoIP? = if torV4 == nil && torV6 == nil { nil } else { try TorGeoIP(v4Path: torV4, v6Path: torV6) }
        return GeoLocator(databases: databases, tor: tor, cacheCapacity: cacheCapacity)
    }

    /// The scope of `address` and, for public addresses only, what the loaded databases know about it.
    /// IPv4 addresses carried in IPv6 (IPv4-mapped, NAT64, 6to4) are looked up by their IPv4 address.
    public func locate(_ address: IPAddress) -> GeoInfo {
        let scope = AddressScope.scope(of: address)
        guard scope == .public, hasData else { return GeoInfo(scope: scope) }
        let key = AddressScope.lookupAddress(for: address)
        if cacheCapacity > 0, let cached = cache.withLock({ $0.value(for: key, capacity: cacheCapacity) }) {
            return cached
        }
        var info = GeoInfo(scope: .public)
        for database in databases { database.fill(&info, for: key) }
        if info.countryCode == nil, let tor { info.countryCode = tor.countryCode(for: key) }
        if cacheCapacity > 0 { cache.withLock { $0.insert(info, for: key, capacity: cacheCapacity) } }
        return info
    }
}

/// A bounded cache that forgets in bulk: when the current generation is full it becomes the previous one and a
/// new one starts; a hit in the previous generation moves up. So recent and often-asked addresses stay, memory
/// stays below two generations, and no per-entry bookkeeping is needed.
struct GenerationCache: Sendable {
    private var current: [IPAddress: GeoInfo] = [:]
    private var previous: [IPAddress: GeoInfo] = [:]

    mutating func value(for address: IPAddress, capacity: Int) -> GeoInfo? {
        if let info = current[address] { return info }
        guard let info = previous[address] else { return nil }
        insert(info, for: address, capacity: capacity)
        return info
    }

    mutating func insert(_ info: GeoInfo, for address: IPAddress, capacity: Int) {
        if current.count >= capacity {
            previous = current
            current = [:]
            current.reserveCapacity(capacity)
        }
        current[address] = info
    }
}
