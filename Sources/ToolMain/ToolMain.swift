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

    /// `HOST:PORT` or `[IPv6]:PORT` (brackets removed from the host); port 0 only when `allowPortZero` (a listener
    /// that picks a free port). Nil for anything else.
    public static func hostPort(_ text: String, allowPortZero: Bool) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            ((allowPortZero ? 0 : 1)...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    /// Writes `PROGRAM: message` and a newline to standard error in one write.
    public static func printError(program: String, _ message: String) {
        writeAll(program + ": " + message + "\n", to: 2)
    }

    /// Writes all of `text` to the file descriptor (retrying short writes; gives up on an error), so that lines
    /// and alert blocks are never cut or interleaved with other output.
    public static func writeAll(_ text: String, to descriptor: Int32) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
