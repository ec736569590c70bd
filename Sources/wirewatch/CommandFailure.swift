import ArgumentParser
import Certs

/// Turns an error from a command's work into the contract's exit code, after printing one line that names
/// what is at fault.
enum CommandFailure {
    /// Prints `wirewatch COMMAND: error: …` to standard error and returns the exit code to throw: 2 for bad input
    /// (``CertsError/isInputError``), 1 for any other failure.
    static func exitCode(for error: any Error, command: String) -> ExitCode {
        switch error {
        case let error as ExitCode:
            return error
        case let error as CertsError:
            writeToStandardError("wirewatch \(command): error: \(error)")
            return error.isInputError ? .usage : .failure
        case QueryError.badInput(let message):
            writeToStandardError("wirewatch \(command): error: \(message)")
            return .usage
        default:
            writeToStandardError("wirewatch \(command): error: \(error)")
            return .failure
        }
    }
}
