import ArgumentParser
import Collector
import Config
import Detect
import Dispatch
import Flows
import Foundation
import Geo
import Logging
import NIOCore
import Report
import ServiceLifecycle
import Store
import ToolMain
import UnixSignals
import Wire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `wirewatch-collector`: accept sensors over mutual TLS and store what they send.
struct CollectorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wirewatch-collector",
        abstract: "Accept sensors over mutual TLS and store their records in SQLite.",
        discussion: """
            Example:
              wirewatch certs init --out /etc/wirewatch/pki --sensor edge-1
              wirewatch-collector --listen 0.0.0.0:7400 --tls-ca /etc/wirewatch/pki/ca.pem \\
                  --tls-cert /etc/wirewatch/pki/collector.pem --tls-key /etc/wirewatch/pki/collector-key.pem \\
                  --db /var/lib/wirewatch/wirewatch.db
            Prints "listening on HOST:PORT" once ready; SIGTERM or SIGINT stops it after storing what it received.
            Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input file.
            """)

    @Option(name: .long, help: "Address and port to listen on (HOST:PORT; port 0 picks a free one).")
    var listen: String?

    @Option(name: .customLong("tls-ca"), help: "CA certificate (PEM) that sensor certificates must chain to.")
    var tlsCA: String?

    @Option(name: .customLong("tls-cert"), help: "The collector's certificate (PEM).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "The collector's private key (PEM).")
    var tlsKey: String?

    @Option(name: .long, help: "SQLite database file (created if missing).")
    var db: String?

    @Option(name: .long, help: "Allow only this sensor name (repeat for several; default: any name the CA signed).")
    var allow: [String] = []

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Revocation list from 'wirewatch certs revoke' (DIR/revoked.txt): certificates on it are refused at every "
                + "handshake; the file is reread every 2 s while the collector runs.",
            valueName: "file"))
    var revoked: String?

    @Option(name: .customLong("max-frame-bytes"), help: "Largest frame accepted, bytes (at least 1 MiB).")
    var maxFrameBytes: Int?

    @Option(name: .long, help: "Unacknowledged batches a sensor may have in flight.")
    var window: Int?

    @Option(name: .customLong("idle-timeout"), help: "Seconds without a frame after which a connection is closed.")
    var idleTimeout: Int?

    @Option(
        name: .customLong("handshake-timeout"),
        help: "Seconds a new connection has to complete its TLS handshake before it is closed (default 5).")
    var handshakeTimeout: Int?

    @Option(
        name: .customLong("max-connections"),
        help: "Connections open at once, authenticated or not; more are closed at accept (default 1024).")
    var maxConnections: Int?

    @Option(
        name: .customLong("max-connections-per-address"),
        help: "Connections open at once from one IP address; more are closed at accept (default 64).")
    var maxConnectionsPerAddress: Int?

    @Option(
        name: .customLong("frame-timeout"),
        help: "Seconds a frame may take to arrive once its first byte has (default 30).")
    var frameTimeout: Int?

    @Option(
        name: .customLong("max-inflight-bytes"),
        help: """
            Bytes of decoded batches (about 400 a record) one connection may have waiting for the database before \
            reading pauses (default 32 MiB).
            """)
    var maxInFlightBytes: Int?

    @Option(
        name: .customLong("max-inflight-bytes-total"),
        help: "The same over all connections together (default 256 MiB).")
    var maxInFlightBytesTotal: Int?

    @Option(name: .long, help: "Durability of each commit: 'full' (fsync before the ack) or 'normal'.")
    var durability: String?

    @Option(name: .long, help: "Delete what is older than this (30m, 12h, 7d, 4w); default: keep everything.")
    var retention: String?

    @Option(
        name: .long,
        help: """
            Configuration file: a [collector] section with these options' values (the command line wins) and the \
            detector sections (see docs/DETECTION.md and deploy/config/collector.conf).
            """)
    var config: String?

    @Option(name: .long, help: "HOST:PORT of an HTTP endpoint serving /metrics (Prometheus) and /health.")
    var metrics: String?

    @Option(
        name: .customLong("scan-threshold"),
        help: "Distinct ports or hosts probed within the scan window that make a port scan (overrides the file).")
    var scanThreshold: Int?

    @Option(name: .long, help: "How alerts are printed on standard output as they fire: text, json (lines) or none.")
    var alerts: String?

    @Option(
        name: .long,
        help: "MaxMind or DB-IP .mmdb file (City/Country, ASN; repeatable), recorded for the query tool's reports.")
    var geoip: [String] = []

    mutating func validate() throws {
        if let config {
            do {
                let file = try ConfigFile(contentsOf: config)
                try file.checkSections(known: DetectionSetup.sections.union(["collector"]))
                try merge(file.section("collector"))
            } catch {
                throw ValidationError("--config: \(error)")
            }
        }
        guard listen != nil else { throw ValidationError("give --listen HOST:PORT (or listen in [collector])") }
        guard tlsCA != nil, tlsCert != nil, tlsKey != nil else {
            throw ValidationError(
                "give --tls-ca, --tls-cert and --tls-key (or tls-ca, tls-cert, tls-key in [collector])")
        }
        guard db != nil else { throw ValidationError("give --db PATH (or db in [collector])") }
        guard parseListen() != nil else {
            throw ValidationError("--listen: '\(listen ?? "")' is not HOST:PORT (IPv6 as [ADDR]:PORT, port 0-65535)")
        }
        if let metrics, Self.hostPort(metrics) == nil {
            throw ValidationError("--metrics: '\(metrics)' is not HOST:PORT (IPv6 as [ADDR]:PORT, port 0-65535)")
        }
        if let maxFrameBytes, maxFrameBytes < CollectorOptions.minimumFrameBytes || maxFrameBytes > Int(Int32.max) {
            throw ValidationError("--max-frame-bytes must be between \(CollectorOptions.minimumFrameBytes) and 2^31-1")
        }
        if let window, window < 1 || window > 1024 { throw ValidationError("--window must be between 1 and 1024") }
        if let idleTimeout, idleTimeout < 1 { throw ValidationError("--idle-timeout must be at least 1 second") }
        for (name, value, range) in Self.limitRanges(self) {
            if let value, !range.contains(value) {
                throw ValidationError("--\(name) must be between \(range.lowerBound) and \(range.upperBound)")
            }
        }
        if let durability, durability != "full" && durability != "normal" {
            throw ValidationError("--durability must be 'full' or 'normal'")
        }
        if let retention, Self.seconds(retention) == nil {
            throw ValidationError("--retention: '\(retention)' is not a duration like 30m, 12h, 7d or 4w")
        }
        if let scanThreshold, scanThreshold < 2 || scanThreshold > 65535 {
            throw ValidationError("--scan-threshold must be between 2 and 65535")
        }
        if let alerts, !["text", "json", "none"].contains(alerts) {
            throw ValidationError("--alerts must be text, json or none")
        }
    }

    /// Takes the `[collector]` values of the options not given on the command line.
    /// Every key is read whatever the command line says, so a misspelt key is refused either way (and
    /// ArgumentParser may validate more than once).
    private mutating func merge(_ section: ConfigSection) throws {
        var section = section
        let fileListen = try section.string("listen")
        listen = listen ?? fileListen
        let fileTlsCA = try section.string("tls-ca")
        tlsCA = tlsCA ?? fileTlsCA
        let fileTlsCert = try section.string("tls-cert")
        tlsCert = tlsCert ?? fileTlsCert
        let fileTlsKey = try section.string("tls-key")
        tlsKey = tlsKey ?? fileTlsKey
        let fileDb = try section.string("db")
        db = db ?? fileDb
        let allowed = try section.strings("allow")
        if allow.isEmpty { allow = allowed ?? [] }
        let fileRevoked = try section.string("revoked")
        revoked = revoked ?? fileRevoked
        let fileRetention = try section.string("retention")
        retention = retention ?? fileRetention
        let fileDurability = try section.string("durability", oneOf: ["full", "normal"])
        durability = durability ?? fileDurability
        let paths = try section.strings("geoip")
        if geoip.isEmpty { geoip = paths ?? [] }
        let fileAlerts = try section.string("alerts", oneOf: ["text", "json", "none"])
        alerts = alerts ?? fileAlerts
        let fileMetrics = try section.string("metrics")
        metrics = metrics ?? fileMetrics
        let fileMaxFrameBytes = try section.int("max-frame-bytes", in: 1...Int(Int32.max))
        maxFrameBytes = maxFrameBytes ?? fileMaxFrameBytes
        let fileWindow = try section.int("window", in: 1...1024)
        window = window ?? fileWindow
        let fileIdleTimeout = try section.int("idle-timeout", in: 1...86_400)
        idleTimeout = idleTimeout ?? fileIdleTimeout
        let fileHandshakeTimeout = try section.int("handshake-timeout", in: Self.ranges["handshake-timeout"] ?? 1...1)
        handshakeTimeout = handshakeTimeout ?? fileHandshakeTimeout
        let fileMaxConnections = try section.int("max-connections", in: Self.ranges["max-connections"] ?? 1...1)
        maxConnections = maxConnections ?? fileMaxConnections
        let filePerAddress = try section.int(
            "max-connections-per-address", in: Self.ranges["max-connections-per-address"] ?? 1...1)
        maxConnectionsPerAddress = maxConnectionsPerAddress ?? filePerAddress
        let fileFrameTimeout = try section.int("frame-timeout", in: Self.ranges["frame-timeout"] ?? 1...1)
        frameTimeout = frameTimeout ?? fileFrameTimeout
        let fileInFlight = try section.int("max-inflight-bytes", in: Self.ranges["max-inflight-bytes"] ?? 1...1)
        maxInFlightBytes = maxInFlightBytes ?? fileInFlight
        let fileInFlightTotal = try section.int(
            "max-inflight-bytes-total", in: Self.ranges["max-inflight-bytes-total"] ?? 1...1)
        maxInFlightBytesTotal = maxInFlightBytesTotal ?? fileInFlightTotal
        try section.checkUsed()
    }

    /// The accepted values of the connection limits, by option name (the same keys in `[collector]`).
    static let ranges: [String: ClosedRange<Int>] = [
        "handshake-timeout": 1...600,
        "max-connections": 1...1_000_000,
        "max-connections-per-address": 1...1_000_000,
        "frame-timeout": 1...3600,
        // One frame is always taken whatever the budget, so 64 KiB is as low as is useful.
        "max-inflight-bytes": (64 << 10)...Int(Int32.max),
        "max-inflight-bytes-total": (64 << 10)...(1 << 40),
    ]

    static func limitRanges(_ command: CollectorCommand) -> [(String, Int?, ClosedRange<Int>)] {
        [
            ("handshake-timeout", command.handshakeTimeout), ("max-connections", command.maxConnections),
            ("max-connections-per-address", command.maxConnectionsPerAddress),
            ("frame-timeout", command.frameTimeout), ("max-inflight-bytes", command.maxInFlightBytes),
            ("max-inflight-bytes-total", command.maxInFlightBytesTotal),
        ].map { ($0.0, $0.1, ranges[$0.0] ?? 1...1) }
    }

    /// Makes room for `maxConnections` descriptors (plus the database, listeners and logs): raises the soft
    /// RLIMIT_NOFILE up to the hard limit if needed, and warns when even that is too low, because connections
    /// past the descriptor limit fail at accept whatever `--max-connections` says.
    static func checkDescriptorLimit(maxConnections: Int, logger: Logger) {
        let needed = rlim_t(maxConnections + 64)
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < needed else { return }
        var raised = limit
        raised.rlim_cur = min(needed, limit.rlim_max)
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        if limit.rlim_cur < needed {
            logger.warning(
                """
                descriptor limit \(limit.rlim_cur) (hard \(limit.rlim_max)) is below max-connections \(maxConnections) \
                + 64: connections past it fail at accept; raise the limit (LimitNOFILE=, ulimit -n) or lower \
                --max-connections
                """)
        }
    }

    /// A `--retention` duration in seconds (at least one minute).
    static func seconds(_ text: String) -> Double? {
        TimeRange.duration(text).flatMap { $0 >= 60 ? $0 : nil }
    }

    func parseListen() -> (host: String, port: Int)? { listen.flatMap(Self.hostPort) }

    /// HOST:PORT or [IPv6]:PORT, port 0-65535.
    static func hostPort(_ text: String) -> (host: String, port: Int)? {
        ToolMain.hostPort(text, allowPortZero: true)
    }

    func run() throws {
        guard let (host, port) = parseListen(), let listen, let tlsCA, let tlsCert, let tlsKey, let db else {
            throw ExitCode(2)
        }
        let detection = try Self.detectionSetup(config: config, scanThreshold: scanThreshold)
        let engine: DetectionEngine
        do {
            engine = try detection.makeEngine()
        } catch {
            throw ConfigInputError(description: "--config: \(error)")
        }
        let tls = try MutualTLS.serverContext(TLSFiles(caPath: tlsCA, certificatePath: tlsCert, keyPath: tlsKey))
        // Each --geoip file must open as a location or ASN database before anything starts.
        let geoipPaths = geoip.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if !geoipPaths.isEmpty {
            do {
                _ = try GeoLocator.default(mmdbPaths: geoipPaths, torDirectories: [])
            } catch {
                throw GeoInputError(description: "--geoip: \(error)")
            }
        }
        // Rollup deltas are written once a second for all the batches of that second (each key once), not in
        // every batch's transaction: the same exactly-once rollups at about twice the ingest rate.
        let store = try SQLiteStore(
            path: db, synchronous: (durability ?? "full") == "full" ? .full : .normal, rollupDelay: .seconds(1))
        // The query tool geolocates top talkers with these files unless it is given its own.
        if !geoipPaths.isEmpty { try store.setSetting("geoip", to: geoipPaths.joined(separator: "\n")) }
        var options = CollectorOptions()
        options.host = host
        options.port = port
        options.maxFrameBytes = maxFrameBytes ?? WireProtocol.defaultMaxFrameBytes
        options.window = UInt32(window ?? 16)
        options.idleTimeout = .seconds(Int64(idleTimeout ?? 60))
        if let handshakeTimeout { options.handshakeTimeout = .seconds(Int64(handshakeTimeout)) }
        if let maxConnections { options.maxConnections = maxConnections }
        if let maxConnectionsPerAddress { options.maxConnectionsPerAddress = maxConnectionsPerAddress }
        if let frameTimeout { options.frameTimeout = .seconds(Int64(frameTimeout)) }
        if let maxInFlightBytes { options.maxInFlightBytes = maxInFlightBytes }
        if let maxInFlightBytesTotal { options.maxInFlightBytesTotal = maxInFlightBytesTotal }
        options.allowList = allow.isEmpty ? nil : Set(allow)
        options.retention = retention.flatMap(Self.seconds)
        options.metricsAddress = metrics.flatMap(Self.hostPort)
        var logger = Logger(label: "wirewatch-collector") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .info
        Self.checkDescriptorLimit(maxConnections: options.maxConnections, logger: logger)
        let printer = AlertPrinter(format: alerts ?? "text")
        var revocation: RevocationWatcher?
        if let revoked {
            do {
                revocation = try RevocationWatcher(path: revoked, logger: logger)
            } catch {
                throw ConfigInputError(description: "--revoked: \(error)")
            }
        }
        let server = CollectorServer(
            options: options, tls: tls, store: store, logger: logger, detection: engine, revocation: revocation,
            onAlerts: { printer.print($0) })
        let service = CollectorService(server: server, store: store, printer: printer, listen: listen, logger: logger)
        // SIGTERM and SIGINT start a graceful shutdown: stop accepting, store what was received, then exit 0.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    ServiceGroupConfiguration.ServiceConfiguration(
                        service: service, successTerminationBehavior: .gracefullyShutdownGroup)
                ], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try ToolMain.runBlocking { try await group.run() }
    }
}

/// The collector as a service of the process's `ServiceGroup`: listens until a graceful shutdown, then stops the
/// server (every received batch committed and acknowledged, alerts stored) and closes the store.
struct CollectorService: Service {
    let server: CollectorServer
    let store: SQLiteStore
    let printer: AlertPrinter
    let listen: String
    let logger: Logger

    func run() async throws {
        let address: SocketAddress
        do {
            address = try server.start()
        } catch {
            throw ListenError(address: listen, reason: "\(error)")
        }
        do {
            if let metricsAddress = try server.startMetrics() {
                logger.info("metrics on http://\(metricsAddress.ipAddress ?? "?"):\(metricsAddress.port ?? 0)/metrics")
            }
        } catch {
            server.stop()
            throw ListenError(
                address: "metrics \(server.options.metricsAddress.map { "\($0.host):\($0.port)" } ?? "")",
                reason: "\(error)")
        }
        let ready = "listening on \(address.ipAddress ?? server.options.host):\(address.port ?? server.options.port)\n"
        ToolMain.writeAll(ready, to: 1)
        // Returns on SIGTERM/SIGINT (graceful shutdown) or throws when the group is cancelled.
        try? await gracefulShutdown()
        logger.info("stopping: storing what was received")
        server.stop()
        store.close()
        // The alerts published while stopping (each episode's latest version) are printed before exiting.
        printer.flush()
        let metrics = server.metrics
        logger.info(
            """
            stopped; \(metrics.records) records in \(metrics.batches) batches stored \
            (\(metrics.bytesReceived) bytes of batch frames received)
            """)
    }
}

extension CollectorCommand {
    /// The detector configuration: the `--config` file (whose sections must all be known) and the overrides.
    static func detectionSetup(config: String?, scanThreshold: Int?) throws -> DetectionSetup {
        do {
            return try DetectionSetup(configPath: config, programSections: ["collector"], scanThreshold: scanThreshold)
        } catch {
            throw ConfigInputError(description: "--config: \(error)")
        }
    }
}

/// Prints alerts on standard output as they fire, one block (or JSON line) per alert, whole blocks only.
final class AlertPrinter: Sendable {
    let format: String
    private let queue = DispatchQueue(label: "wirewatch.collector.alerts")

    init(format: String) { self.format = format }

    /// Waits until everything handed over so far is written.
    func flush() { queue.sync {} }

    func print(_ published: [PublishedAlert]) {
        guard format != "none" else { return }
        let text = published.map { item in
            // A blank line after each readable block keeps blocks apart across batches too.
            format == "json" ? item.alert.jsonLine + "\n" : AlertText.block(item.alert, updated: item.updated) + "\n"
        }.joined()
        queue.async { ToolMain.writeAll(text, to: 1) }
    }
}

struct ConfigInputError: Error, CustomStringConvertible {
    var description: String
}

struct GeoInputError: Error, CustomStringConvertible {
    var description: String
}

struct ListenError: Error, CustomStringConvertible {
    var address: String
    var reason: String
    var description: String { "cannot listen on \(address): \(reason)" }
}

func printError(_ message: String) {
    ToolMain.printError(program: "wirewatch-collector", message)
}

@main
enum Main {
    static func main() {
        ToolMain.run(CollectorCommand.self, program: "wirewatch-collector") { error in
            error is TLSSetupError || error is StoreError || error is GeoInputError || error is ConfigInputError
        }
    }
}
