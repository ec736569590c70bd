import ArgumentParser
import Certs

/// `wirewatch certs init --out DIR [--sensor NAME ...]`: a CA, the collector's certificate and one certificate
/// per sensor; rerun with new `--sensor` names to add sensors.
struct CertsInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a private CA, the collector's certificate and sensor certificates.",
        discussion: """
            Writes DIR/ca.pem, DIR/ca-key.pem, DIR/collector.pem, DIR/collector-key.pem and, per sensor, \
            DIR/sensors/NAME.pem and DIR/sensors/NAME-key.pem. Private keys are created with mode 0600. \
            Existing files are never overwritten: run it again on the same directory with new --sensor names \
            to add sensors; the CA and the collector certificate are reused.
            """
    )

    @Option(
        help: ArgumentHelp("Directory for the certificates and keys; created (mode 0700) if missing.", valueName: "dir")
    )
    var out: String

    @Option(
        name: .customLong("sensor"),
        help: ArgumentHelp(
            "A sensor to issue a client certificate for (repeatable): 1-64 letters, digits, '-', '_', '.'.",
            valueName: "name")
    )
    var sensors: [String] = []

    @Option(
        name: .customLong("collector-name"),
        help: ArgumentHelp(
            "Another DNS name for the collector certificate (repeatable); localhost and this host's name are always in it.",
            valueName: "dns")
    )
    var collectorNames: [String] = []

    @Option(
        name: .customLong("collector-address"),
        help: ArgumentHelp(
            "Another IPv4 or IPv6 address for the collector certificate (repeatable); 127.0.0.1 and ::1 are always in it.",
            valueName: "ip")
    )
    var collectorAddresses: [String] = []

    @Option(
        help: ArgumentHelp(
            "A sensor whose certificate is revoked (added to DIR/revoked.txt) and replaced by a new one (repeatable).",
            valueName: "name")
    )
    var reissue: [String] = []

    @Option(help: ArgumentHelp("Validity of the collector and sensor certificates, in days.", valueName: "n"))
    var days: Int = CertsInit.defaultValidDays

    @Option(name: .customLong("ca-days"), help: ArgumentHelp("Validity of a new CA, in days.", valueName: "n"))
    var caDays: Int = CertsInit.defaultCAValidDays

    func validate() throws {
        let range = 1...CertificateAuthority.maximumValidDays
        guard range.contains(days) else {
            throw ValidationError("--days \(days): must be 1 to \(range.upperBound)")
        }
        guard range.contains(caDays) else {
            throw ValidationError("--ca-days \(caDays): must be 1 to \(range.upperBound)")
        }
        guard !out.isEmpty else {
            throw ValidationError("--out: the directory name is empty")
        }
        do {
            try request.validate()
        } catch let error as CertsError {
            let option: String
            switch error.code {
            case .invalidName:
                option = reissue.contains { error.subject.contains("'\($0)'") } ? "--reissue" : "--sensor"
            case .invalidDNSName: option = "--collector-name"
            case .invalidIPAddress: option = "--collector-address"
            default: option = "certs init"
            }
            throw ValidationError("\(option): \(error)")
        }
    }

    func run() throws {
        let report: CertsInitReport
        do {
            report = try request.run()
        } catch {
            throw CommandFailure.exitCode(for: error, command: "certs init")
        }
        if !report.collectorCreated, !collectorNames.isEmpty || !collectorAddresses.isEmpty {
            writeToStandardError(
                "wirewatch certs init: note: \(report.layout.collectorCertificate) already exists, so "
                    + "--collector-name/--collector-address were not applied; remove it and "
                    + "\(report.layout.collectorPrivateKey) and run again to reissue it")
        }
        print(CertsInitSummary(report: report).text, terminator: "")
    }

    private var request: CertsInit {
        CertsInit(
            directory: out,
            sensors: sensors,
            extraCollectorNames: collectorNames,
            extraCollectorAddresses: collectorAddresses,
            validDays: days,
            caValidDays: caDays,
            reissue: reissue
        )
    }
}
