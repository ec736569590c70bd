import Config

/// Which detectors run and with what parameters: the config file's detector sections (`[engine]`, `[scan]`,
/// `[dns]`, `[volume]`, `[ports]`, `[protocols]`, `[health]`; every key documented in docs/DETECTION.md) plus the
/// command-line overrides. `makeEngine()` builds a fresh engine, so the collector and `wirewatch analyze` given the
/// same file detect the same way.
public struct DetectionSetup: Sendable {
    public var file: ConfigFile
    /// `--scan-threshold N`: distinct probes in the scan window that make a scan, overriding `[scan] threshold`.
    public var scanThreshold: Int?

    /// The config sections the detectors read.
    public static let sections: Set<String> = ["engine", "scan", "dns", "volume", "ports", "protocols", "health"]

    public init(file: ConfigFile = ConfigFile(), scanThreshold: Int? = nil) {
        self.file = file
        self.scanThreshold = scanThreshold
    }

    /// Reads the config file at `path` (nil: every default), whose sections must be the detectors' or one of
    /// `programSections` (the collector's own `[collector]`), with `--scan-threshold`'s override.
    public init(configPath path: String?, programSections: Set<String> = [], scanThreshold: Int?) throws(ConfigError) {
        var file = ConfigFile()
        if let path {
            file = try ConfigFile(contentsOf: path)
            try file.checkSections(known: Self.sections.union(programSections))
        }
        self.init(file: file, scanThreshold: scanThreshold)
    }

    /// Builds every detector from its section; a bad value or an unknown key fails with the file, line and key.
    public func makeEngine() throws(ConfigError) -> DetectionEngine {
        let engine = try EngineConfig(section: file.section("engine"))
        var scan = try ScanConfig(section: file.section("scan"))
        if let scanThreshold { scan.threshold = scanThreshold }
        let detectors: [any Detector] = [
            ScanDetector(config: scan),
            DNSDetector(config: try DNSConfig(section: file.section("dns"))),
            VolumeDetector(config: try VolumeConfig(section: file.section("volume"))),
            UnusualPortDetector(config: try UnusualPortConfig(section: file.section("ports"))),
            ProtocolShiftDetector(config: try ProtocolShiftConfig(section: file.section("protocols"))),
            SensorHealthDetector(config: try SensorHealthConfig(section: file.section("health"))),
        ]
        return DetectionEngine(detectors: detectors, lateness: engine.lateness, maximumFuture: engine.maximumFuture)
    }
}
