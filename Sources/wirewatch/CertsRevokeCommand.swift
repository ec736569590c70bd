import ArgumentParser
import Certs

/// `wirewatch certs revoke --out DIR NAME ...`: withdraws sensors' certificates (a lost or retired host).
struct CertsRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke sensors' certificates: add them to DIR/revoked.txt, which collectors load with --revoked.",
        discussion: """
            Adds each sensor's current certificate (DIR/sensors/NAME.pem) to the revocation list DIR/revoked.txt, \
            moves it to DIR/revoked/NAME-SERIAL.pem and deletes its key. A collector started with \
            --revoked DIR/revoked.txt rereads the file while it runs and refuses the certificate at every later \
            handshake. To give the sensor a new certificate, run wirewatch certs init --sensor NAME afterwards, \
            or do both in one step with wirewatch certs init --reissue NAME.
            """
    )

    @Option(help: ArgumentHelp("The directory certs init wrote (it holds ca.pem and sensors/).", valueName: "dir"))
    var out: String

    @Argument(help: ArgumentHelp("The sensors whose certificates to revoke.", valueName: "name"))
    var names: [String]

    func validate() throws {
        guard !out.isEmpty else { throw ValidationError("--out: the directory name is empty") }
        guard !names.isEmpty else { throw ValidationError("name: give at least one sensor to revoke") }
        for name in names {
            do {
                try CertificateIdentity.validateName(name)
            } catch {
                throw ValidationError("name: \(error)")
            }
        }
    }

    func run() throws {
        let report: CertsRevokeReport
        do {
            report = try CertsRevoke(directory: out, names: names).run()
        } catch {
            throw CommandFailure.exitCode(for: error, command: "certs revoke")
        }
        for revoked in report.revoked {
            let note = revoked.newlyRevoked ? "" : " (was already on the list)"
            print("revoked sensor \(revoked.name): certificate serial \(revoked.serialHex)\(note)")
        }
        print(
            "\(report.layout.revocationList): \(report.listCount) revoked certificate(s); collectors started with "
                + "--revoked \(report.layout.revocationList) refuse them within seconds")
    }
}
