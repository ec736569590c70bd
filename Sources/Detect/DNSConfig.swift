import Config

/// The `[dns]` section: thresholds and windows of the suspicious-DNS detector (`DNSDetector`), its allow-lists and
/// its state caps. Every key is optional; `init()` gives the defaults below.
public struct DNSConfig: Hashable, Sendable {
    /// `window`: seconds of queries the DGA and tunneling counters look back over (sliding).
    public var window: Double = 300
    /// `episode-gap`: seconds of quiet after which an episode ends; the next one is a new alert with a new id.
    public var episodeGap: Double = 600
    /// `update-interval`: seconds of event time after which an episode that grew without reaching the next
    /// reporting step (count doubled, a new sensor, higher severity) is returned anyway.
    public var updateInterval: Double = 60
    /// `dga-score`: a registered-domain label scoring at least this (`DNSDetector.dgaScore`, 0...1) is suspicious.
    public var dgaScore: Double = 0.45
    /// `dga-min-names`: distinct suspicious registered domains a client must look up within `window` to alert.
    public var dgaMinNames: Int = 5
    /// `tunnel-unique-subdomains`: distinct names under one registered domain within `window`, the first condition
    /// of a tunnel (required).
    public var tunnelUniqueSubdomains: Int = 30
    /// `tunnel-label-length`: a label this long under the domain is the sign of encoded data (one of the second
    /// conditions).
    public var tunnelLabelLength: Int = 40
    /// `tunnel-mean-length`: the same when the subdomain parts are this long on average.
    public var tunnelMeanLength: Int = 50
    /// `tunnel-txt-queries`: the same when this many of the queries ask for data-carrying types (TXT, NULL, CNAME,
    /// MX, SRV, ANY, iodine's PRIVATE 65399).
    public var tunnelTXTQueries: Int = 20
    /// `tunnel-bytes`: the same when the subdomain text sent under the domain adds up to this many bytes.
    public var tunnelBytes: Int = 2048
    /// `nxdomain-threshold`: NXDOMAIN answers to one client within `nxdomain-window` that make a burst.
    public var nxdomainThreshold: Int = 20
    /// `nxdomain-window`: seconds.
    public var nxdomainWindow: Double = 60
    /// `long-name-length`: a query name longer than this (the whole name, in characters) is reported; a label
    /// longer than 63 (RFC 1035 §2.3.4) always is.
    public var longNameLength: Int = 180
    /// `allow-clients`: clients never reported (the resolvers themselves, scanners of your own).
    public var allowClients = PrefixList()
    /// `allow-domains`: names under these domains are ignored (suffix match on label boundaries), for services
    /// whose lookups look like tunnels (anti-virus reputation lookups, some CDNs, DNS-based blocklists).
    public var allowDomains: [String] = []
    /// `max-clients`: clients with state; beyond it the least recently seen is evicted.
    public var maxClients: Int = 50_000
    /// `max-names-per-client`: the cap of each per-client list (tunnel queries over all domains, suspicious names,
    /// NXDOMAIN answers, recent queries kept to drop duplicates) and of the client's tunnel episodes; the oldest
    /// entries go first.
    public var maxNamesPerClient: Int = 1024
    /// `max-examples`: names kept in an alert's `targets`.
    public var maxExamples: Int = 20
    /// `duplicate-window`: seconds within which the same query (id, name, type, answer code) seen again, by
    /// another sensor on the path or the same one, counts once.
    public var duplicateWindow: Double = 2

    public init() {}

    /// Reads `[dns]`; unknown keys are refused.
    public init(section: ConfigSection) throws(ConfigError) {
        var s = section
        window = try s.double("window", default: window, in: 1...86_400)
        episodeGap = try s.double("episode-gap", default: episodeGap, in: 1...86_400)
        updateInterval = try s.double("update-interval", default: updateInterval, in: 1...86_400)
        dgaScore = try s.double("dga-score", default: dgaScore, in: 0.01...1)
        dgaMinNames = try s.int("dga-min-names", default: dgaMinNames, in: 1...100_000)
        tunnelUniqueSubdomains = try s.int("tunnel-unique-subdomains", default: tunnelUniqueSubdomains, in: 1...100_000)
        tunnelLabelLength = try s.int("tunnel-label-length", default: tunnelLabelLength, in: 1...255)
        tunnelMeanLength = try s.int("tunnel-mean-length", default: tunnelMeanLength, in: 1...255)
        tunnelTXTQueries = try s.int("tunnel-txt-queries", default: tunnelTXTQueries, in: 1...1_000_000)
        tunnelBytes = try s.int("tunnel-bytes", default: tunnelBytes, in: 1...1_000_000_000)
        nxdomainThreshold = try s.int("nxdomain-threshold", default: nxdomainThreshold, in: 1...1_000_000)
        nxdomainWindow = try s.double("nxdomain-window", default: nxdomainWindow, in: 1...86_400)
        longNameLength = try s.int("long-name-length", default: longNameLength, in: 1...1024)
        allowClients = try s.prefixes("allow-clients", default: allowClients)
        allowDomains = try s.strings("allow-domains", default: allowDomains).map { DNSName($0).full }
        maxClients = try s.int("max-clients", default: maxClients, in: 1...10_000_000)
        maxNamesPerClient = try s.int("max-names-per-client", default: maxNamesPerClient, in: 1...1_000_000)
        maxExamples = try s.int("max-examples", default: maxExamples, in: 1...1000)
        duplicateWindow = try s.double("duplicate-window", default: duplicateWindow, in: 0...60)
        try s.checkUsed()
    }
}
