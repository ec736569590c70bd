import Flows

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where records go: printed as JSON lines, counted, or (later) shipped to a collector.
public protocol RecordSink: AnyObject {
    func write(_ record: Record)
    /// Called once after the last record; flushes what is buffered.
    func finish() throws
    /// Pushes buffered records out now (a live capture calls it when idle, so output is not held back).
    func flush()
}

extension RecordSink {
    public func flush() {}
}

/// Counts records per type (`--emit none`).
public final class CountingSink: RecordSink {
    private var flow = 0, dns = 0, http = 0, tls = 0, series = 0, stats = 0
    public init() {}
    public func write(_ record: Record) {
        switch record {
        case .flow: flow += 1
        case .dns: dns += 1
        case .http: http += 1
        case .tls: tls += 1
        case .series: series += 1
        case .stats: stats += 1
        }
    }
    /// Records written, by type name.
    public var counts: [String: Int] {
        ["flow": flow, "dns": dns, "http": http, "tls": tls, "series": series, "stats": stats]
    }
    public func finish() {}
}

/// Keeps every record in memory (tests, `analyze`).
public final class CollectingSink: RecordSink {
    public private(set) var records: [Record] = []
    public init() {}
    public func write(_ record: Record) { records.append(record) }
    public func finish() {}
}

/// An error writing output; names the path.
public struct OutputError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Writes one JSON object per line to a file or standard output, buffered by stdio.
public final class JSONLinesSink: RecordSink {
    private let file: OpaquePointer
    private let path: String
    private var failed = false

    /// Opens `path` for writing (truncating it), or standard output when `path` is nil or "-".
    public init(path: String?) throws {
        if let path, path != "-" {
            file = try Self.openNoFollow(path)
            self.path = path
        } else {
            guard let opened = fdopen(1, "w") else { throw OutputError(path: "stdout", reason: "cannot open") }
            file = OpaquePointer(opened)
            self.path = "stdout"
        }
        setvbuf(UnsafeMutablePointer(file), nil, _IOFBF, 1 << 16)
    }

    /// `fopen(path, "w")` without following a link at `path`: a sensor started as root opens `--output` before
    /// dropping to `--user`, and a link planted there must not make root truncate the file it points to.
    private static func openNoFollow(_ path: String) throws -> OpaquePointer {
        var fd: Int32
        repeat {
            fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        } while fd < 0 && errno == EINTR
        guard fd >= 0 else {
            let error = errno
            var info = stat()
            if error == ELOOP, lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK {
                throw OutputError(path: path, reason: "refusing to follow symbolic link")
            }
            throw OutputError(path: path, reason: String(cString: strerror(error)))
        }
        guard let opened = fdopen(fd, "w") else {
            let error = errno
            close(fd)
            throw OutputError(path: path, reason: String(cString: strerror(error)))
        }
        return OpaquePointer(opened)
    }

    public func write(_ record: Record) {
        var line = record.jsonLine
        line += "\n"
        let count = line.utf8.count
        let written = line.withUTF8 { buffer in fwrite(buffer.baseAddress, 1, buffer.count, UnsafeMutablePointer(file))
        }
        if written != count { failed = true }
    }

    public func flush() { fflush(UnsafeMutablePointer(file)) }

    public func finish() throws {
        if fflush(UnsafeMutablePointer(file)) != 0 || failed {
            throw OutputError(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
