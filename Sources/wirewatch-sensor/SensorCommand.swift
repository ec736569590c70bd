import ArgumentParser
import CMalloc
import Capture
import Certs
import Config
import Flows
import Foundation
import Logging
import NIOSSL
import Sensor
import ServiceLifecycle
import Shipper
import Spool
import ToolMain
import UnixSignals
import Wire

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How records leave the sensor when no collector is given.
enum EmitMode: String, ExpressibleByArgument, CaseIterable {
    case jsonl, none
}

/// `wirewatch-sensor`: capture, decode, aggregate, and print or ship records.
struct SensorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wirewatch-sensor",
        abstract: "Capture packets (live or from pcap/pcapng files), decode them and aggregate flow records.",
        discussion: """
            Examples:
              wirewatch-sensor --read trace.pcap --emit jsonl --output records.jsonl
              wirewatch-sensor --read a.pcap --read b.pcapng --emit none
              wirewatch-sensor --interface eth0 --filter 'not port 22' --emit jsonl
              wirewatch-sensor --interface eth0 --collector collector.example:7400 --tls-ca pki/ca.pem \\
                  --tls-cert pki/sensors/edge-1.pem --tls-key pki/sensors/edge-1-key.pem --spool /var/lib/wirewatch/spool
              wirewatch-sensor --read trace.pcap --collector 127.0.0.1:7400 --tls-ca ... (exits once all is acknowledged)
            Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input file.
            """)

    @Option(name: .long, help: "Capture live from this interface.")
    var interface: String?

    @Option(name: .long, help: "Read packets from a pcap or pcapng file (repeat for several, read in order).")
    var read: [String] = []

    @Option(name: .long, help: "BPF capture filter (tcpdump syntax).")
    var filter: String?

    @Option(name: .long, help: "Collector HOST:PORT to ship records to over mutual TLS.")
    var collector: String?

    @Option(name: .customLong("tls-ca"), help: "CA certificate (PEM) that signed the collector's certificate.")
    var tlsCA: String?

    @Option(name: .customLong("tls-cert"), help: "This sensor's certificate (PEM).")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "This sensor's private key (PEM).")
    var tlsKey: String?

    @Option(
        name: .long,
        help:
            "Sensor name written into every record (default: the certificate's name with --collector, else the host name)."
    )
    var name: String?

    @Option(name: .long, help: "Spool directory for unacknowledged batches (default: memory only, lost on a crash).")
    var spool: String?

    @Option(name: .customLong("spool-size"), help: "Largest spool, MiB; beyond it the oldest batches are dropped.")
    var spoolSizeMiB: Int?

    @Option(
        name: .customLong("drain-timeout"),
        help:
            "Seconds to wait at the end for the collector's acknowledgements (default: for ever with --read, 10 s live)."
    )
    var drainTimeout: Double?

    @Option(name: .customLong("batch-records"), help: "Records per batch sent to the collector.")
    var batchRecords: Int = 4096

    @Option(name: .long, help: "Configuration file.")
    var config: String?

    @Option(name: .long, help: "Without a collector: 'jsonl' prints records as JSON lines, 'none' prints a summary.")
    var emit: EmitMode?

    @Option(name: .long, help: "File for --emit jsonl (default: standard output).")
    var output: String?

    @Option(name: .long, help: "Live capture: bytes kept of each packet.")
    var snaplen: Int32?

    @Flag(name: .customLong("no-promisc"), help: "Live capture: do not put the interface in promiscuous mode.")
    var noPromiscuous = false

    @Option(name: .customLong("buffer-size"), help: "Live capture: kernel buffer size in MiB (each worker's).")
    var bufferSizeMiB: Int32?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Live capture: workers in one packet fanout group, each with its own flow table: 1-64, or 'auto' "
                + "(the cores less one). Default 1.", valueName: "n|auto"))
    var workers: String?

    @Option(name: .customLong("active-timeout"), help: "Seconds after which a long flow emits an interim record.")
    var activeTimeout: Double = 60

    @Option(name: .customLong("tcp-timeout"), help: "Idle timeout of TCP flows, seconds.")
    var tcpTimeout: Double = 300

    @Option(name: .customLong("tcp-closed-timeout"), help: "Idle timeout of TCP flows after FIN or RST, seconds.")
    var tcpClosedTimeout: Double = 5

    @Option(name: .customLong("udp-timeout"), help: "Idle timeout of UDP flows, seconds.")
    var udpTimeout: Double = 60

    @Option(name: .customLong("icmp-timeout"), help: "Idle timeout of ICMP and other flows, seconds.")
    var icmpTimeout: Double = 60

    @Option(name: .customLong("max-flows"), help: "Most flows held in memory; the idlest are evicted beyond it.")
    var maxFlows: Int = 500_000

    @Option(name: .customLong("series-interval"), help: "Seconds per 'series' record.")
    var seriesInterval: Double = 60

    @Option(name: .customLong("stats-interval"), help: "Seconds between 'stats' records.")
    var statsInterval: Double = 60

    @Option(name: .customLong("dns-port"), help: "Extra port whose UDP/TCP payload is DNS (repeatable).")
    var dnsPorts: [UInt16] = []

    @Option(name: .customLong("uid-seed"), help: .hidden)
    var uidSeed: UInt64?

    /// Tests: milliseconds between a fanout handle's activation and its join (see `CaptureOptions.joinDelay`).
    @Option(name: .customLong("fanout-join-delay"), help: .hidden)
    var fanoutJoinDelay: UInt32 = 0

    @Option(
        name: .long,
        help: "After opening the capture, drop root privileges to this user (and its group); needs root to start.")
    var user: String?

    mutating func validate() throws {
        if let config {
            do {
                let file = try ConfigFile(contentsOf: config)
                try file.checkSections(known: ["sensor"])
                try merge(file.section("sensor"))
            } catch {
                throw ValidationError("--config: \(error)")
            }
        }
        if interface == nil && read.isEmpty {
            throw ValidationError("give --interface IFACE or --read FILE")
        }
        if interface != nil && !read.isEmpty {
            throw ValidationError("--interface and --read exclude each other")
        }
        if let workers {
            let count: WorkerCount
            do { count = try WorkerCount(parsing: workers) } catch { throw ValidationError("--workers: \(error)") }
            if !read.isEmpty && count != .count(1) {
                throw ValidationError(
                    "--workers is for live capture (--interface); --read files are read by one worker")
            }
        }
        if let collector {
            if emit != nil { throw ValidationError("--emit is for running without --collector") }
            if output != nil { throw ValidationError("--output is for --emit jsonl, not --collector") }
            guard Self.splitHostPort(collector) != nil else {
                throw ValidationError("--collector: '\(collector)' is not HOST:PORT (IPv6 as [ADDR]:PORT)")
            }
            if tlsCA == nil || tlsCert == nil || tlsKey == nil {
                throw ValidationError("--collector needs --tls-ca, --tls-cert and --tls-key")
            }
        }
        if let spoolSizeMiB, spoolSizeMiB < 1 { throw ValidationError("--spool-size must be at least 1 MiB") }
        if let drainTimeout, !(drainTimeout >= 0) { throw ValidationError("--drain-timeout must be 0 or more seconds") }
        if batchRecords < 1 || batchRecords > 100_000 {
            throw ValidationError("--batch-records must be between 1 and 100000")
        }
        if collector == nil && (tlsCA != nil || tlsCert != nil || tlsKey != nil || spool != nil || drainTimeout != nil)
        {
            throw ValidationError("--tls-ca, --tls-cert, --tls-key, --spool and --drain-timeout go with --collector")
        }
        if output != nil && emit == EmitMode.none { throw ValidationError("--output needs --emit jsonl") }
        for (value, option) in [
            (activeTimeout, "--active-timeout"), (tcpTimeout, "--tcp-timeout"), (udpTimeout, "--udp-timeout"),
            (icmpTimeout, "--icmp-timeout"), (seriesInterval, "--series-interval"), (statsInterval, "--stats-interval"),
            (tcpClosedTimeout, "--tcp-closed-timeout"),
        ] where !(value > 0) || !value.isFinite {
            throw ValidationError("\(option) must be a positive number of seconds")
        }
        if maxFlows < 1 { throw ValidationError("--max-flows must be at least 1") }
        if let snaplen, snaplen < 64 { throw ValidationError("--snaplen must be at least 64") }
        if let user, user.isEmpty { throw ValidationError("--user must not be empty") }
        if let size = bufferSizeMiB, size < 1 || size > 4096 {
            throw ValidationError("--buffer-size must be between 1 and 4096 MiB")
        }
        if let name, name.isEmpty || name.utf8.count > 255 { throw ValidationError("--name must be 1-255 bytes") }
    }

    /// Takes the `[sensor]` values of the options not given on the command line. Every key is read whatever the
    /// command line says, so a misspelt key is refused either way.
    private mutating func merge(_ section: ConfigSection) throws {
        var section = section
        let fileInterface = try section.string("interface")
        let fileFilter = try section.string("filter")
        let fileName = try section.string("name")
        let fileCollector = try section.string("collector")
        let fileCA = try section.string("tls-ca")
        let fileCert = try section.string("tls-cert")
        let fileKey = try section.string("tls-key")
        let fileSpool = try section.string("spool")
        let fileSpoolSize = try section.int("spool-size-mb", in: 1...1 << 30)
        let fileSnaplen = try section.int("snaplen", in: 64...262_144)
        let filePromiscuous = try section.bool("promiscuous")
        let fileBuffer = try section.int("buffer-mb", in: 1...4096)
        let fileUser = try section.string("user")
        let fileWorkers = try Self.workers(in: &section)
        try section.checkUsed()
        // A file naming an interface does not turn `--read FILE` runs into live ones.
        if read.isEmpty {
            interface = interface ?? fileInterface
            // Likewise, the file's workers apply to live runs only.
            workers = workers ?? fileWorkers?.description
        }
        filter = filter ?? fileFilter
        name = name ?? fileName
        collector = collector ?? fileCollector
        if collector != nil {
            tlsCA = tlsCA ?? fileCA
            tlsCert = tlsCert ?? fileCert
            tlsKey = tlsKey ?? fileKey
            spool = spool ?? fileSpool
        }
        spoolSizeMiB = spoolSizeMiB ?? fileSpoolSize
        snaplen = snaplen ?? fileSnaplen.map { Int32($0) }
        if filePromiscuous == false { noPromiscuous = true }
        bufferSizeMiB = bufferSizeMiB ?? fileBuffer.map { Int32($0) }
        user = user ?? fileUser
    }

    /// `[sensor] workers`: a number (`workers = 4`) or `workers = "auto"`.
    static func workers(in section: inout ConfigSection) throws -> WorkerCount? {
        guard let value = section.value("workers") else { return nil }
        do throws(WorkerCountError) {
            switch value {
            case .int(let number): return try WorkerCount(Int(clamping: number))
            case .string(let text): return try WorkerCount(parsing: text)
            default: throw WorkerCountError.expected(found: value.typeName)
            }
        } catch {
            throw section.error("workers", error.description)
        }
    }

    /// The number of live capture workers (`--workers`, validated), with `auto` resolved on this machine.
    func workerCount() -> Int {
        guard interface != nil, let workers, let count = try? WorkerCount(parsing: workers) else { return 1 }
        return count.resolved(cores: ProcessInfo.processInfo.activeProcessorCount)
    }

    /// HOST:PORT or [IPv6]:PORT.
    static func splitHostPort(_ text: String) -> (host: String, port: Int)? {
        ToolMain.hostPort(text, allowPortZero: false)
    }

    func flowConfig(sensorName: String? = nil) -> FlowConfig {
        var config = FlowConfig(sensor: sensorName ?? name ?? Self.hostName())
        config.activeTimeout = activeTimeout
        config.tcpIdleTimeout = tcpTimeout
        config.tcpClosedTimeout = tcpClosedTimeout
        config.udpIdleTimeout = udpTimeout
        config.icmpIdleTimeout = icmpTimeout
        config.otherIdleTimeout = icmpTimeout
        config.maxFlows = maxFlows
        config.seriesInterval = seriesInterval
        config.dnsPorts.formUnion(dnsPorts)
        config.uidSeed = uidSeed
        return config
    }

    func captureOptions() -> CaptureOptions {
        var options = CaptureOptions()
        options.files = read
        options.interface = interface
        options.filter = filter
        options.statsInterval = statsInterval
        options.live.snaplen = snaplen ?? 262_144
        options.live.promiscuous = !noPromiscuous
        options.live.bufferSize = bufferSizeMiB.map { $0 * 1024 * 1024 }
        options.workers = workerCount()
        options.joinDelay = Double(min(fanoutJoinDelay, 10_000)) / 1000
        return options
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "sensor" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "sensor" : name
    }

    func run() throws {
        let command = self
        // SIGTERM and SIGINT start a graceful shutdown: the capture stops, every open flow is flushed and, with a
        // collector, shipped before the program exits.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    // The capture ending (a file read to its end) ends the program, like a shutdown does.
                    ServiceGroupConfiguration.ServiceConfiguration(
                        service: CaptureService { try command.capture() },
                        successTerminationBehavior: .gracefullyShutdownGroup)
                ], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "wirewatch-sensor") { _ in SwiftLogNoOpLogHandler() }))
        try ToolMain.runBlocking { try await group.run() }
    }

    /// What the `CaptureService` runs on its own thread.
    func capture() throws {
        if collector != nil {
            try ship()
            return
        }
        let mode = emit ?? .jsonl
        let sink: any RecordSink
        let counter = CountingSink()
        switch mode {
        case .jsonl: sink = try JSONLinesSink(path: output)
        case .none: sink = counter
        }
        let summary = try runPipeline(flow: flowConfig(), sink: sink)
        for warning in summary.warnings { printError(warning.description) }
        if mode == .none {
            print(Self.summaryText(summary, counts: counter.counts, sources: read.isEmpty ? [interface ?? ""] : read))
        }
    }

    /// Captures or reads, and ships every record to the collector through the spool.
    func ship() throws {
        guard let collector, let (host, port) = Self.splitHostPort(collector), let tlsCA, let tlsCert, let tlsKey
        else { throw ValidationError("--collector needs HOST:PORT and --tls-ca, --tls-cert, --tls-key") }
        let files = TLSFiles(caPath: tlsCA, certificatePath: tlsCert, keyPath: tlsKey)
        let tls = try MutualTLS.clientContext(files)
        let certified = try Self.certificateName(tlsCert)
        if let name, name != certified {
            throw TLSSetupError(
                path: tlsCert, reason: "certificate is for sensor \"\(certified)\", not --name \"\(name)\"")
        }
        let spool = try Spool(directory: self.spool, maxBytes: (spoolSizeMiB ?? 1024) << 20)
        var options = ShipperOptions(host: host, port: port, sensorName: certified)
        options.source = read.isEmpty ? (interface ?? "") : read.joined(separator: ",")
        let client = CollectorClient(options: options, spool: spool, tls: tls) { printError($0) }
        var batching = BatchingOptions()
        batching.maxRecords = batchRecords
        batching.maxBytes = (1 << 20) - 64
        let sink = ShippingSink(spool: spool, options: batching) { client.batchesAppended() }
        client.start()
        let summary = try runPipeline(flow: flowConfig(sensorName: certified), sink: sink)
        for warning in summary.warnings { printError(warning.description) }
        if spool.pendingBatches > 0 {
            printError(
                "capture done; waiting for the collector to acknowledge \(spool.pendingBatches) batches "
                    + "(\(spool.pendingRecords) records)")
        }
        let timeout = drainTimeout ?? (interface != nil ? 10 : nil)
        let drained = client.waitUntilDrained(timeout: timeout == 0 ? nil : timeout)
        let problem = client.lastError
        client.shutdown()
        try? spool.sync()
        if sink.droppedRecords > 0 {
            printError("\(sink.droppedRecords) records were dropped because the spool was full")
        }
        guard drained else {
            let whereTo =
                self.spool.map { "they stay in the spool \($0) for the next run" } ?? "they are lost (no --spool)"
            throw DrainError(
                message: "\(spool.pendingBatches) batches (\(spool.pendingRecords) records) not acknowledged by "
                    + "\(collector) (\(problem ?? "no answer")); \(whereTo)")
        }
    }

    /// Reads the files, or captures live with one pipeline or, with `--workers` above 1, with several behind one
    /// fanout group; every record goes to `sink`.
    func runPipeline(flow: FlowConfig, sink: any RecordSink) throws -> RunSummary {
        let options = captureOptions()
        guard options.workers > 1 else {
            let pipeline = SensorPipeline(options: options, flow: flow, sink: sink)
            pipeline.onCaptureOpened = dropPrivileges
            return interface != nil ? try pipeline.runLive() : try pipeline.runFiles()
        }
        #if canImport(Glibc)
            // Each worker's thread allocates its new flows: an arena each (see `main`), not one they contend for.
            mallopt(M_ARENA_MAX, Int32(options.workers + 1))
        #endif
        let fanout = FanoutPipeline(options: options, flow: flow, sink: sink)
        fanout.onCaptureOpened = dropPrivileges
        return try fanout.run()
    }

    /// `--user`: once the capture is open.
    func dropPrivileges() throws {
        if let user { try Privileges.drop(to: user) }
    }

    /// The sensor name the certificate carries; the collector only accepts a Hello with that name.
    static func certificateName(_ path: String) throws -> String {
        do {
            let certificates = try NIOSSLCertificate.fromPEMFile(path)
            guard let first = certificates.first else {
                throw TLSSetupError(path: path, reason: "no certificate in the file")
            }
            return try CertificateIdentity.name(fromDER: try first.toDERBytes())
        } catch let error as TLSSetupError {
            throw error
        } catch {
            throw TLSSetupError(path: path, reason: "cannot read the sensor name from the certificate: \(error)")
        }
    }

    static func summaryText(_ summary: RunSummary, counts: [String: Int], sources: [String]) -> String {
        let rate = summary.seconds > 0 ? Double(summary.packets) / summary.seconds : 0
        var lines: [String] = []
        lines.append(
            "read \(sources.joined(separator: ", ")): \(summary.packets) packets, \(summary.bytes) bytes in "
                + "\(formatSeconds(summary.seconds)) s (\(Int(rate)) packets/s)")
        let order = ["flow", "dns", "http", "tls", "series", "stats"]
        lines.append("records: " + order.map { "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", "))
        lines.append("flows: \(summary.flowsCreated)")
        if summary.weird.isEmpty {
            lines.append("decode problems: 0")
        } else {
            let detail = summary.weird.keys.sorted().map { "\($0)=\(summary.weird[$0] ?? 0)" }.joined(separator: " ")
            lines.append("decode problems: \(summary.weird.values.reduce(0, +)) (\(detail))")
        }
        return lines.joined(separator: "\n")
    }

    static func formatSeconds(_ value: Double) -> String {
        let millis = Int((value * 1000).rounded())
        let fraction = String(millis % 1000)
        return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

/// The capture as a service of the process's `ServiceGroup`: the blocking libpcap loop runs on its own thread
/// (never a cooperative-pool thread); a graceful shutdown asks it to stop, and the service ends when the loop has
/// flushed and (with a collector) drained.
struct CaptureService: Service {
    let work: @Sendable () throws -> Void

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let thread = Thread {
                    do {
                        try work()
                        continuation.resume()
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
                thread.name = "wirewatch-capture"
                thread.start()
            }
        } onGracefulShutdown: {
            requestStop()
        }
    }
}

struct DrainError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

func printError(_ message: String) {
    ToolMain.printError(program: "wirewatch-sensor", message)
}

@main
enum Main {
    static func main() {
        #if canImport(Glibc)
            // The flow table allocates a few small objects per new flow, on the capture thread. glibc gives each
            // thread an arena of its own and grows it a page at a time, one mprotect call each (3,000 calls for the
            // 30,000 flows of bench/sensor.sh's small capture, 3% of its time); one arena, grown 4 MiB at a time,
            // makes that a handful of brk calls. The other threads (the capture reader, the shipper's event loop)
            // allocate rarely, so sharing the arena costs them nothing measurable.
            mallopt(M_ARENA_MAX, 1)
            mallopt(M_TOP_PAD, 4 << 20)
        #endif
        ToolMain.run(SensorCommand.self, program: "wirewatch-sensor") { error in
            switch error {
            case CaptureError.readFailed: return false
            case is CaptureError, is OutputError, is TLSSetupError, is SpoolError, is PrivilegeError: return true
            default: return false
            }
        }
    }
}
