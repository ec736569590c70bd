#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The two questions the loaders ask the file system.
enum FileCheck {
    /// True when `path` names a regular file (after following symbolic links).
    static func isRegularFile(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
    }

    /// The whole file; throws `missingFile` or `unreadable`.
    static func contents(of path: String) throws(GeoError) -> Data {
        guard isRegularFile(path) else { throw GeoError(.missingFile, path: path, detail: "no such file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw GeoError(.unreadable, path: path, detail: "cannot read the file")
        }
        return data
    }
}
