import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Shared plumbing of the end-to-end tests: where the package, the fixtures and the built programs are; running a
// program with a deadline. Nothing here knows expected results.

/// A problem with the test environment (binary or tool missing, tool failed); the test fails with its text.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Paths of the package, its fixture captures and the built programs.
public enum Harness {
    /// `<package root>`: this file is `<root>/Tests/TestSupport/Processes.swift`.
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let fixtures = packageRoot.appendingPathComponent("Tests/Fixtures", isDirectory: true)

    public static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// The program `name` built next to the running test bundle (`.build/<triple>/debug/`), else
    /// `<root>/.build/debug/<name>`. Missing is a failure, not a skip.
    public static func binary(_ name: String) throws -> URL {
        var candidates: [URL] = []
        let fm = FileManager.default
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
        }
        if let first = CommandLine.arguments.first {
            let url = URL(fileURLWithPath: first).resolvingSymlinksInPath()
            candidates.append(url.deletingLastPathComponent())
            // macOS: .../debug/wirewatchPackageTests.xctest/Contents/MacOS/wirewatchPackageTests
            candidates.append(
                url.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent())
        }
        candidates.append(packageRoot.appendingPathComponent(".build/debug", isDirectory: true))
        for dir in candidates {
            let binary = dir.appendingPathComponent(name)
            if fm.isExecutableFile(atPath: binary.path) { return binary }
        }
        throw HarnessError(
            "\(name) binary not found (looked in \(candidates.map(\.path).joined(separator: ", "))); "
                + "run `swift build` first")
    }

    /// A fresh directory under the system temp dir.
    public static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("wirewatch-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Exit status and output of a finished program.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    public init(status: Int32, stdout: String, stderr: String) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
    }

    /// stderr split into lines, without the empty string after the final newline.
    public var stderrLines: [String] {
        stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
    }
}

/// A child process whose stdout/stderr go to files (no pipe can fill up and block it), waited for by polling
/// so that no cooperative thread is blocked.
public final class ChildProcess {
    public let process = Process()
    public let stdoutURL: URL
    public let stderrURL: URL
    private let directory: URL
    public let description: String

    public init(_ executable: URL, _ arguments: [String]) throws {
        directory = try Harness.temporaryDirectory()
        stdoutURL = directory.appendingPathComponent("stdout")
        stderrURL = directory.appendingPathComponent("stderr")
        for url in [stdoutURL, stderrURL] where !FileManager.default.createFile(atPath: url.path, contents: nil) {
            throw HarnessError("cannot create \(url.path)")
        }
        process.executableURL = executable
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        description = ([executable.lastPathComponent] + arguments).joined(separator: " ")
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts the program with no signal blocked. A child inherits the signal mask of the thread that spawns
    /// it, and Swift concurrency's worker threads (libdispatch) block SIGTERM, SIGINT and most others; started
    /// from one of them, the program would never see the SIGTERM a test sends.
    public func start() throws {
        var none = sigset_t()
        var saved = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &saved)
        defer { pthread_sigmask(SIG_SETMASK, &saved, nil) }
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    public func signal(_ signal: Int32) { if process.isRunning { kill(process.processIdentifier, signal) } }

    /// Waits until the process exits; `false` when `seconds` passed first (the process is left running).
    public func waitForExit(seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            if Date() > deadline { return false }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        return true
    }

    /// Waits until `condition` holds for what the program printed so far; `false` when `seconds` passed first.
    public func waitForOutput(seconds: Double, _ condition: (ProcessOutput) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition(output()) {
            if Date() > deadline { return false }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return true
    }

    /// Kills the process (SIGKILL) and reaps it.
    public func killAndReap() async {
        signal(SIGKILL)
        _ = await waitForExit(seconds: 10)
    }

    public func output() -> ProcessOutput {
        let out = (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? ""
        return ProcessOutput(status: process.isRunning ? -1 : process.terminationStatus, stdout: out, stderr: err)
    }

    /// Runs to completion; a run longer than `seconds` is killed and reported as an error.
    public static func run(_ executable: URL, _ arguments: [String], timeout seconds: Double = 60) async throws
        -> ProcessOutput
    {
        let child = try ChildProcess(executable, arguments)
        try child.start()
        guard await child.waitForExit(seconds: seconds) else {
            await child.killAndReap()
            throw HarnessError("`\(child.description)` did not finish within \(Int(seconds)) s; killed it")
        }
        return child.output()
    }
}
