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
import Store
import ToolMain
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
    var listen: String

    @Option(name: .customLong("tls-ca"), help: "CA certificate (PEM) that sensor certificates must chain to.")
    var tlsCA: String

    @Option(name: .customLong("tls-cert"), help: "The collector's certificate (PEM).")
    var tlsCert: String

    @Option(name: .customLong("tls-key"), help: "The collector's private key (PEM).")
    var tlsKey: String

    @Option(name: .long, help: "SQLite database file (created if missing).")
    var db: String

    @Option(name: .long, help: "Allow only this sensor name (repeat for several; default: any name the CA signed).")
    var allow: [String] = []

    @Option(name: .customLong("max-frame-bytes"), help: "Largest frame accepted, bytes (at least 1 MiB).")
    var maxFrameBytes = WireProtocol.defaultMaxFrameBytes

    @Option(name: .long, help: "Unacknowledged batches a sensor may have in flight.")
    var window: UInt32 = 16

    @Option(name: .customLong("idle-timeout"), help: "Seconds without a frame after which a connection is closed.")
    var idleTimeout: Int64 = 60

    @Option(name: .long, help: "Durability of each commit: 'full' (fsync before the ack) or 'normal'.")
    var durability: String = "full"

    @Option(name: .long, help: "Delete what is older than this (30m, 12h, 7d, 4w); default: keep everything.")
    var retention: String?

    @Option(name: .long, help: "Configuration file: detector parameters and allow-lists (see docs/DETECTION.md).")
    var config: String?

    @Option(
        name: .customLong("scan-threshold"),
        help: "Distinct ports or hosts probed within the scan window that make a port scan (overrides the file).")
    var scanThreshold: Int?

    @Option(name: .long, help: "How alerts are printed on standard output as they fire: text, json (lines) or none.")
    var alerts: String = "text"

    @Option(
        name: .long,
        help: "MaxMind or DB-IP .mmdb file (City/Country, ASN; repeatable), recorded for the query tool's reports.")
    var geoip: [String] = []

    func validate() throws {
        guard parseListen() != nil else {
            throw ValidationError("--listen: '\(listen)' is not HOST:PORT (IPv6 as [ADDR]:PORT, port 0-65535)")
        }
        if maxFrameBytes < CollectorOptions.minimumFrameBytes {
            throw ValidationError("--max-frame-bytes must be at least \(CollectorOptions.minimumFrameBytes)")
        }
        if window < 1 || window > 1024 { throw ValidationError("--window must be between 1 and 1024") }
        if idleTimeout < 1 { throw ValidationError("--idle-timeout must be at least 1 second") }
        if durability != "full" && durability != "normal" {
            throw ValidationError("--durability must be 'full' or 'normal'")
        }
        if let retention, Self.seconds(retention) == nil {
            throw ValidationError("--retention: '\(retention)' is not a duration like 30m, 12h, 7d or 4w")
        }
        if let scanThreshold, scanThreshold < 2 || scanThreshold > 65535 {
            throw ValidationError("--scan-threshold must be between 2 and 65535")
        }
        if !["text", "json", "none"].contains(alerts) {
            throw ValidationError("--alerts must be text, json or none")
        }
    }

    /// A `--retention` duration in seconds (at least one minute).
    static func seconds(_ text: String) -> Double? {
        TimeRange.duration(text).flatMap { $0 >= 60 ? $0 : nil }
    }

    func parseListen() -> (host: String, port: Int)? {
        guard let colon = listen.lastIndex(of: ":") else { return nil }
        var host = String(listen[..<colon])
        guard let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }

    func run() throws {
        guard let (host, port) = parseListen() else { throw ExitCode(2) }
        let detection = try Self.detectionSetup(config: config, scanThreshold: scanThreshold)
        let engine: DetectionEngine
        do {
            engine = try detection.makeEngine()
        } catch {
            throw ConfigInputError(description: "--config: \(error)")
        }
        let tls = try MutualTLS.serverContext(TLSFiles(caPath: tlsCA, certificatePath: tlsCert, keyPath: tlsKey))
        // Rollup deltas are written once a second for all the batches of that second (each key once), not in
        // every batch's transaction: the same exactly-once rollups at about twice the ingest rate.
        // Each --geoip file must open as a location or ASN database before anything starts.
        let geoipPaths = geoip.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if !geoipPaths.isEmpty {
            do {
                _ = try GeoLocator.default(mmdbPaths: geoipPaths, torDirectories: [])
            } catch {
                throw GeoInputError(description: "--geoip: \(error)")
            }
        }
        let store = try SQLiteStore(
            path: db, synchronous: durability == "full" ? .full : .normal, rollupDelay: .seconds(1))
        // The query tool geolocates top talkers with these files unless it is given its own.
        if !geoipPaths.isEmpty { try store.setSetting("geoip", to: geoipPaths.joined(separator: "\n")) }
        var options = CollectorOptions()
        options.host = host
        options.port = port
        options.maxFrameBytes = maxFrameBytes
        options.window = window
        options.idleTimeout = .seconds(idleTimeout)
        options.allowList = allow.isEmpty ? nil : Set(allow)
        options.retention = retention.flatMap(Self.seconds)
        var logger = Logger(label: "wirewatch-collector") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .info
        let printer = AlertPrinter(format: alerts)
        let server = CollectorServer(
            options: options, tls: tls, store: store, logger: logger, detection: engine,
            onAlerts: { printer.print($0) })

        let stop = DispatchSemaphore(value: 0)
        var sources: [any DispatchSourceSignal] = []
        for signalNumber in [SIGTERM, SIGINT] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { stop.signal() }
            source.resume()
            sources.append(source)
        }
        let address: SocketAddress
        do {
            address = try server.start()
        } catch {
            throw ListenError(address: listen, reason: "\(error)")
        }
        var ready = "listening on \(address.ipAddress ?? host):\(address.port ?? port)\n"
        ready.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
        stop.wait()
        logger.info("stopping: storing what was received")
        server.stop()
        store.close()
        let metrics = server.metrics
        logger.info(
            """
            stopped; \(metrics.records) records in \(metrics.batches) batches stored \
            (\(metrics.bytesReceived) bytes of batch frames received)
            """)
        _ = sources
    }
}

extension CollectorCommand {
    /// The detector configuration: the `--config` file (whose sections must all be known) and the overrides.
    static func detectionSetup(config: String?, scanThreshold: Int?) throws -> DetectionSetup {
        var file = ConfigFile()
        if let config {
            do {
                file = try ConfigFile(contentsOf: config)
                try file.checkSections(known: DetectionSetup.sections)
            } catch {
                throw ConfigInputError(description: "--config: \(error)")
            }
        }
        return DetectionSetup(file: file, scanThreshold: scanThreshold)
    }
}

/// Prints alerts on standard output as they fire, one block (or JSON line) per alert, whole blocks only.
final class AlertPrinter: Sendable {
    let format: String
    private let queue = DispatchQueue(label: "wirewatch.collector.alerts")

    init(format: String) { self.format = format }

    func print(_ published: [PublishedAlert]) {
        guard format != "none" else { return }
        let text = published.map { item in
            // A blank line after each readable block keeps blocks apart across batches too.
            format == "json" ? item.alert.jsonLine + "\n" : AlertText.block(item.alert, updated: item.updated) + "\n"
        }.joined()
        queue.async {
            var out = text
            out.withUTF8 { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(1, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                    if written <= 0 { return }
                    offset += written
                }
            }
        }
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
