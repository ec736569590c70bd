import Foundation

/// SVG to PNG through `rsvg-convert` (librsvg, Debian package `librsvg2-bin`), run as a child process: a
/// maintained renderer instead of one of our own, and nothing linked into the query tool.
public enum Rasterizer {
    /// The renderer run, found on `PATH`.
    public static let tool = "rsvg-convert"
    /// The Debian package that installs it.
    public static let package = "librsvg2-bin"

    /// Why a PNG could not be written; `description` is one line naming the file and, when the renderer is
    /// missing, the package to install.
    public struct Failure: Error, CustomStringConvertible, Hashable, Sendable {
        public enum Code: String, Sendable, Hashable {
            /// The renderer is not installed (not on `PATH`).
            case toolMissing
            /// It could not be started.
            case launchFailed
            /// It ran and failed, or wrote nothing.
            case renderFailed
            /// The SVG could not be handed to it (temporary file).
            case inputFailed
        }

        public var code: Code
        public var path: String
        public var detail: String

        public var description: String {
            switch code {
            case .toolMissing:
                "cannot write \(path): \(Rasterizer.tool) not found on PATH; install the Debian package "
                    + "\(Rasterizer.package) (apt-get install \(Rasterizer.package)) or write a .svg file instead"
            case .launchFailed: "cannot write \(path): could not run \(detail)"
            case .renderFailed: "cannot write \(path): \(Rasterizer.tool) failed: \(detail)"
            case .inputFailed: "cannot write \(path): \(detail)"
            }
        }
    }

    /// Renders `svg` at its own size into a PNG file at `path` (replaced if it exists).
    public static func png(svg: String, to path: String) throws {
        try png(svg: svg, to: path, tool: tool, searchPath: ProcessInfo.processInfo.environment["PATH"])
    }

    /// As `png(svg:to:)`, with the renderer named (a bare name is looked up on `searchPath`).
    public static func png(svg: String, to path: String, tool: String, searchPath: String?) throws {
        guard let executable = locate(tool, searchPath: searchPath) else {
            throw Failure(code: .toolMissing, path: path, detail: tool)
        }
        let input = FileManager.default.temporaryDirectory
            .appendingPathComponent("wirewatch-chart-\(UUID().uuidString).svg")
        do {
            try Data(svg.utf8).write(to: input)
        } catch {
            throw Failure(
                code: .inputFailed, path: path, detail: "temporary file \(input.path): \(error.localizedDescription)")
        }
        defer { try? FileManager.default.removeItem(at: input) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--format", "png", "--output", path, input.path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw Failure(code: .launchFailed, path: path, detail: "\(executable): \(error.localizedDescription)")
        }
        // Read before waiting: a child blocked on a full stderr pipe would never exit.
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let firstLine = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let how =
                process.terminationReason == .exit
                ? "exit status \(process.terminationStatus)" : "killed by signal \(process.terminationStatus)"
            throw Failure(code: .renderFailed, path: path, detail: firstLine.isEmpty ? how : "\(firstLine) (\(how))")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        guard let size, size > 0 else {
            throw Failure(code: .renderFailed, path: path, detail: "no output written")
        }
    }

    /// `tool` itself when it is a path, else the first executable of that name in `searchPath`'s directories.
    static func locate(_ tool: String, searchPath: String?) -> String? {
        let files = FileManager.default
        if tool.contains("/") { return files.isExecutableFile(atPath: tool) ? tool : nil }
        let directories = (searchPath ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":")
        return directories.lazy.map { "\($0)/\(tool)" }.first { files.isExecutableFile(atPath: $0) }
    }
}
