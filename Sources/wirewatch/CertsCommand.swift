import ArgumentParser

/// `wirewatch certs`: the private PKI that authenticates sensors and the collector to each other.
struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Manage the private CA and the collector's and sensors' TLS certificates.",
        subcommands: [CertsInitCommand.self, CertsRevokeCommand.self]
    )
}
