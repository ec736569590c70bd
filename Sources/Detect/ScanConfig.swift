import Config
import Packets

/// The `[scan]` section: when a source's probes are a port scan. Two tests run side by side: a Threshold Random Walk
/// per source over the outcomes of its first contacts (Jung, Paxson, Berger, Balakrishnan, "Fast Portscan Detection
/// Using Sequential Hypothesis Testing", 2004), which catches slow scans after a few failures, and a count of distinct
/// (host, port) probes in a sliding window for aggressive ones.
public struct ScanConfig: Hashable, Sendable {
    /// Distinct (host, port) probes within `window` that make a scan whatever the random walk says.
    public var threshold: Int = 10
    /// Seconds of the sliding window for `threshold` and for distributed scans.
    public var window: Double = 60
    /// Probability that a benign source's first contact succeeds.
    public var theta0: Double = 0.8
    /// Probability that a scanner's first contact succeeds.
    public var theta1: Double = 0.2
    /// Wanted false-positive probability of the walk.
    public var alpha: Double = 0.01
    /// Wanted detection probability of the walk.
    public var beta: Double = 0.99
    /// A scan reaching `threshold` probes within this many seconds (or probing at that rate) is aggressive.
    public var aggressiveSeconds: Double = 10
    /// A scan whose probes are this many seconds apart on average is stealthy.
    public var stealthyGap: Double = 5
    /// Seconds without a probe that end an episode; a later scan is a new alert.
    public var episodeGap: Double = 300
    /// Sources needed for a distributed scan of one target.
    public var distributedSources: Int = 3
    /// Sources tracked at once; the least recently seen is evicted beyond it.
    public var maxSources: Int = 100_000
    /// (host, port) pairs remembered per source (first contacts, and probes per episode).
    public var maxPortsPerSource: Int = 4096
    /// First contacts the walk needs before it may call a source a scanner.
    public var minProbes: Int = 4
    /// Sources never reported (known scanners, monitoring systems).
    public var allowSources = PrefixList()
    /// Targets whose probes are ignored.
    public var allowTargets = PrefixList()
    /// Destination ports whose probes are ignored.
    public var allowPorts: Set<UInt16> = []
    /// Individual services (`"10.0.0.53:53"`, `"[2001:db8::1]:443"`) whose probes are ignored.
    public var allowServices: Set<ScanService> = []

    /// The walk's upper threshold η1 = β/α: crossing it calls the source a scanner.
    public var eta1: Double { beta / alpha }
    /// The walk's lower threshold η0 = (1-β)/(1-α): crossing it calls the source benign (the walk restarts).
    public var eta0: Double { (1 - beta) / (1 - alpha) }

    public init() {}

    public init(section: ConfigSection) throws(ConfigError) {
        var section = section
        threshold = try section.int("threshold", default: threshold, in: 2...1_000_000)
        window = try section.double("window", default: window, in: 1...86_400)
        theta0 = try section.double("theta0", default: theta0, in: 0.01...0.99)
        theta1 = try section.double("theta1", default: theta1, in: 0.01...0.99)
        alpha = try section.double("alpha", default: alpha, in: 0.000_001...0.5)
        beta = try section.double("beta", default: beta, in: 0.5...0.999_999)
        aggressiveSeconds = try section.double("aggressive-seconds", default: aggressiveSeconds, in: 0.001...86_400)
        stealthyGap = try section.double("stealthy-gap", default: stealthyGap, in: 0.001...86_400)
        episodeGap = try section.double("episode-gap", default: episodeGap, in: 1...604_800)
        distributedSources = try section.int("distributed-sources", default: distributedSources, in: 2...100_000)
        maxSources = try section.int("max-sources", default: maxSources, in: 1...100_000_000)
        maxPortsPerSource = try section.int("max-ports-per-source", default: maxPortsPerSource, in: 1...1_000_000)
        minProbes = try section.int("min-probes", default: minProbes, in: 1...100_000)
        allowSources = try section.prefixes("allow-sources")
        allowTargets = try section.prefixes("allow-targets")
        allowPorts = try section.ports("allow-ports")
        var services: Set<ScanService> = []
        for text in try section.strings("allow-services", default: []) {
            guard let service = ScanService(text) else {
                throw ConfigError(
                    path: section.path, line: nil,
                    "[\(section.name)] allow-services: '\(text)' is not ADDRESS:PORT or [IPv6]:PORT")
            }
            services.insert(service)
        }
        allowServices = services
        try section.checkUsed()
        guard theta1 < theta0 else {
            throw ConfigError(
                path: section.path, line: nil,
                "[\(section.name)] theta1 (\(theta1)) must be below theta0 (\(theta0)): scanners succeed less often")
        }
    }
}

/// One service (address and port) of an allow-list, written `ADDRESS:PORT` or `[IPv6]:PORT`.
public struct ScanService: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16

    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        var host = text[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let address = IPAddress(String(host)) else { return nil }
        self.init(address: address, port: port)
    }

    public var description: String {
        if case .v6 = address { return "[\(address)]:\(port)" }
        return "\(address):\(port)"
    }
}
