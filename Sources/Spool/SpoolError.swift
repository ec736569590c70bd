#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why a spool operation failed. One line naming the spool directory or segment file and the OS error.
public struct SpoolError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was being done; tests compare these.
    public enum Code: String, Sendable, Hashable {
        case invalidConfiguration
        case invalidBatch
        case createDirectory
        case locked
        case lockFile
        case listDirectory
        case openSegment
        case readSegment
        case writeSegment
        case truncateSegment
        case removeSegment
        case sync
        case closed
        /// A spool file's name is a symbolic link (planted, perhaps, by the user the sensor drops to).
        case symbolicLink
    }

    public var code: Code
    /// The spool directory or segment file at fault (`memory` for a memory-only spool).
    public var path: String
    /// The `errno` of the failed call, 0 when the failure was not an OS error.
    public var osError: Int32
    /// Extra context (the invalid value, the lock file, ...), empty when there is none.
    public var detail: String

    public init(_ code: Code, path: String, osError: Int32 = 0, detail: String = "") {
        self.code = code
        self.path = path
        self.osError = osError
        self.detail = detail
    }

    /// The error of the call that just failed.
    static func lastOS(_ code: Code, path: String, detail: String = "") -> SpoolError {
        SpoolError(code, path: path, osError: errno, detail: detail)
    }

    public var description: String {
        var line = "\(path): "
        switch code {
        case .invalidConfiguration: line += "invalid spool configuration"
        case .invalidBatch: line += "batch cannot be spooled"
        case .createDirectory: line += "cannot create spool directory"
        case .locked: line += "spool directory is in use by another process (one spool per sensor)"
        case .lockFile: line += "cannot lock spool directory"
        case .listDirectory: line += "cannot list spool directory"
        case .openSegment: line += "cannot open spool segment"
        case .readSegment: line += "cannot read spool segment"
        case .writeSegment: line += "cannot write spool segment"
        case .truncateSegment: line += "cannot truncate spool segment"
        case .removeSegment: line += "cannot remove spool segment"
        case .sync: line += "cannot sync spool to disk"
        case .closed: line += "spool is closed"
        case .symbolicLink:
            return "\(path): refusing to follow symbolic link ("
                + (detail.isEmpty ? "spool files must not be links" : detail)
                + ")"
        }
        if !detail.isEmpty { line += " (\(detail))" }
        if osError != 0 { line += ": " + String(cString: strerror(osError)) }
        return line
    }
}
