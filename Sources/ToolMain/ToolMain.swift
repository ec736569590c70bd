import ArgumentParser
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `main` of `wirewatch-sensor` and `wirewatch-collector`: parse, run, and exit with the contract's codes
/// (0 success, 1 runtime failure, 2 bad usage or bad input), every error one line `PROGRAM: message`.
public enum ToolMain {
    /// Runs `Command`; `isBadInput` says which errors of `run()` are the user's input (exit 2) rather than a
    /// failure at run time (exit 1). `--help` and `--version` exit 0 as ArgumentParser prints them.
    public static func run<Command: ParsableCommand>(
        _ type: Command.Type, program: String, isBadInput: (any Error) -> Bool
    ) -> Never {
        // A process started from a thread that blocks SIGTERM/SIGINT (Swift concurrency workers do) inherits the
        // mask and would never see them: unblock them before any thread starts, so the graceful shutdown works.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
        var command: Command
        do {
            command = try Command.parse()
        } catch {
            if Command.exitCode(for: error) == .success { Command.exit(withError: error) }
            printError(program: program, Command.message(for: error))
            exit(2)
        }
        do {
            try command.run()
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            printError(program: program, "\(error)")
            exit(isBadInput(error) ? 2 : 1)
        }
        exit(0)
    }

    /// Runs async work (a `ServiceGroup`) to its end from a synchronous `run()`, on the cooperative pool; the
    /// calling thread (main, not a pool thread) waits.
    public static func runBlocking(_ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Mutex<Result<Void, any Error>>(.success(()))
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await body()
            } catch {
                outcome.withLock { $0 = .failure(error) }
            }
            done.signal()
        }
        done.wait()
        try outcome.withLock { $0 }.get()
    }

    /// Writes `PROGRAM: message` and a newline to standard error in one write.
    public static func printError(program: String, _ message: String) {
        var line = program + ": " + message + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
