import ArgumentParser
import Foundation

/// `wirewatch`, the operator's tool: queries of the collector's database, certificates; reports and offline
/// analysis as sibling subcommands (one file per command, registered in `subcommands`).
@main
struct Wirewatch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wirewatch",
        abstract: "Administer and query a Wirewatch deployment.",
        subcommands: [
            AlertsCommand.self, FlowsCommand.self, TopTalkersCommand.self, DNSCommand.self, HTTPCommand.self,
            TLSCommand.self, ProtocolsCommand.self, SensorsCommand.self, ReportCommand.self, ChartCommand.self,
            AnalyzeCommand.self, CertsCommand.self,
        ]
    )

    /// Runs the command line with the contract's exit codes: ArgumentParser exits 64 (`EX_USAGE`) for a usage
    /// error, Wirewatch exits 2 (see DESIGN.md, "Command-line contract"); everything else is ArgumentParser's.
    static func main() {
        do {
            var command = try parseAsRoot(rootOptionsMoved(Array(CommandLine.arguments.dropFirst())))
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

extension Wirewatch {
    /// The contract writes the database first (`wirewatch --db PATH flows ...`), but ArgumentParser only takes a
    /// subcommand's options after its name: `--db PATH` (or `--db=PATH`) given before the subcommand is moved
    /// to just after it.
    static func rootOptionsMoved(_ arguments: [String]) -> [String] {
        var leading: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--db", index + 1 < arguments.count {
                leading += [argument, arguments[index + 1]]
                index += 2
            } else if argument.hasPrefix("--db=") {
                leading.append(argument)
                index += 1
            } else {
                break
            }
        }
        guard !leading.isEmpty, index < arguments.count else { return arguments }
        return [arguments[index]] + leading + arguments[(index + 1)...]
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
