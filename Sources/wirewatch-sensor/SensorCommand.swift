import ArgumentParser
import Capture
import Flows
import Sensor

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

    @Option(name: .long, help: "Sensor name written into every record (default: the host name).")
    var name: String?

    @Option(name: .long, help: "Spool directory for unacknowledged batches.")
    var spool: String?

    @Option(name: .long, help: "Configuration file.")
    var config: String?

    @Option(name: .long, help: "Without a collector: 'jsonl' prints records as JSON lines, 'none' prints a summary.")
    var emit: EmitMode?

    @Option(name: .long, help: "File for --emit jsonl (default: standard output).")
    var output: String?

    @Option(name: .long, help: "Live capture: bytes kept of each packet.")
    var snaplen: Int32 = 262_144

    @Flag(name: .customLong("no-promisc"), help: "Live capture: do not put the interface in promiscuous mode.")
    var noPromiscuous = false

    @Option(name: .customLong("buffer-size"), help: "Live capture: kernel buffer size in MiB.")
    var bufferSizeMiB: Int32?

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

    func validate() throws {
        if interface == nil && read.isEmpty {
            throw ValidationError("give --interface IFACE or --read FILE")
        }
        if interface != nil && !read.isEmpty {
            throw ValidationError("--interface and --read exclude each other")
        }
        if collector != nil {
            if emit != nil { throw ValidationError("--emit is for running without --collector") }
            throw ValidationError(
                "--collector: shipping to a collector is not available in this build yet; use --emit jsonl")
        }
        if config != nil {
            throw ValidationError("--config: configuration files are not supported by this build yet; use options")
        }
        if collector == nil && (tlsCA != nil || tlsCert != nil || tlsKey != nil || spool != nil) {
            throw ValidationError("--tls-ca, --tls-cert, --tls-key and --spool go with --collector")
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
        if snaplen < 64 { throw ValidationError("--snaplen must be at least 64") }
        if let size = bufferSizeMiB, size < 1 || size > 4096 {
            throw ValidationError("--buffer-size must be between 1 and 4096 MiB")
        }
        if let name, name.isEmpty || name.utf8.count > 255 { throw ValidationError("--name must be 1-255 bytes") }
    }

    func flowConfig() -> FlowConfig {
        var config = FlowConfig(sensor: name ?? Self.hostName())
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
        options.live.snaplen = snaplen
        options.live.promiscuous = !noPromiscuous
        options.live.bufferSize = bufferSizeMiB.map { $0 * 1024 * 1024 }
        return options
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "sensor" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "sensor" : name
    }

    func run() throws {
        let mode = emit ?? .jsonl
        let sink: any RecordSink
        let counter = CountingSink()
        switch mode {
        case .jsonl: sink = try JSONLinesSink(path: output)
        case .none: sink = counter
        }
        let pipeline = SensorPipeline(options: captureOptions(), flow: flowConfig(), sink: sink)
        installStopSignalHandlers()
        let summary = interface != nil ? try pipeline.runLive() : try pipeline.runFiles()
        for warning in summary.warnings { printError(warning.description) }
        if mode == .none {
            print(Self.summaryText(summary, counts: counter.counts, sources: read.isEmpty ? [interface ?? ""] : read))
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

func printError(_ message: String) {
    var line = "wirewatch-sensor: " + message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

@main
enum Main {
    static func main() {
        let command: SensorCommand
        do {
            command = try SensorCommand.parse()
        } catch {
            if SensorCommand.exitCode(for: error) == .success { SensorCommand.exit(withError: error) }
            printError(SensorCommand.message(for: error))
            exit(2)
        }
        do {
            try command.run()
        } catch let error as CaptureError {
            switch error {
            case .readFailed: printError(error.description); exit(1)
            default: printError(error.description); exit(2)
            }
        } catch let error as OutputError {
            printError(error.description)
            exit(2)
        } catch {
            printError("\(error)")
            exit(1)
        }
        exit(0)
    }
}
