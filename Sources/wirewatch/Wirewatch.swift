import ArgumentParser
import Foundation

/// `wirewatch`, the operator's tool: certificates now; queries, reports and offline analysis as sibling
/// subcommands (one file per command, registered in `subcommands`).
@main
struct Wirewatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wirewatch",
        abstract: "Administer and query a Wirewatch deployment.",
        subcommands: [CertsCommand.self]
    )

    /// Runs the command line with the contract's exit codes: ArgumentParser exits 64 (`EX_USAGE`) for a usage
    /// error, Wirewatch exits 2 (see DESIGN.md, "Command-line contract"); everything else is ArgumentParser's.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                writeToStandardError(fullMessage(for: error))
                exit(withError: ExitCode.usage)
            }
            exit(withError: error)
        }
    }
}

extension ExitCode {
    /// Bad usage or bad input (an option value, an input file or directory that cannot be used).
    static let usage = ExitCode(2)
}

/// Writes `message` and a newline to standard error.
func writeToStandardError(_ message: String) {
    let line = message.hasSuffix("\n") ? message : message + "\n"
    FileHandle.standardError.write(Data(line.utf8))
}
