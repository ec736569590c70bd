#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The few POSIX file operations `certs init` needs, with the modes and no-overwrite rules it promises.
enum SecureFile {
    /// Mode of a private key file: owner read/write only, set at creation.
    static let privateKeyMode: mode_t = 0o600
    /// Mode of a certificate file (public material).
    static let certificateMode: mode_t = 0o644
    /// Mode of a directory holding private keys.
    static let keyDirectoryMode: mode_t = 0o700

    /// True when anything (file, directory, even a dangling symlink) is at `path`.
    static func exists(_ path: String) -> Bool {
        // access() follows symlinks; readlink() also finds a dangling one. (No `struct stat` here: on Linux its
        // members resolve through CoreFoundation in release builds, which MemberImportVisibility refuses.)
        var byte: CChar = 0
        return access(path, F_OK) == 0 || readlink(path, &byte, 1) >= 0
    }

    /// Creates `path` with `mode` and writes `contents`; fails if anything is already there. The mode is given to
    /// `open(O_CREAT|O_EXCL)`, so a key is never readable by others, not even for a moment. A partly written file
    /// is removed.
    static func create(_ path: String, contents: String, mode: mode_t) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw CertsError(.fileSystem, path, "cannot create", errno: errno)
        }
        do {
            try writeAll(descriptor, Array(contents.utf8), path: path)
            guard fsync(descriptor) == 0 else {
                throw CertsError(.fileSystem, path, "cannot sync", errno: errno)
            }
            guard close(descriptor) == 0 else {
                throw CertsError(.fileSystem, path, "cannot close", errno: errno)
            }
        } catch {
            _ = close(descriptor)
            _ = unlink(path)
            throw error
        }
    }

    private static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress.map { $0 + written }, bytes.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw CertsError(.fileSystem, path, "cannot write", errno: errno)
            }
            written += result
        }
    }

    /// The text of a file, for PEM input (certificates and keys are a few KB) or a revocation list.
    static func readText(_ path: String, limit: Int = 1 << 20, what: String = "PEM certificate or key") throws
        -> String
    {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw CertsError(.fileSystem, path, "cannot open", errno: errno)
        }
        defer { _ = close(descriptor) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw CertsError(.fileSystem, path, "cannot read", errno: errno)
            }
            if count == 0 { break }
            contents += chunk[..<count]
            if contents.count > limit {
                throw CertsError(.invalidPEM, path, "is larger than \(limit >> 20) MiB, not a \(what)")
            }
        }
        return String(decoding: contents, as: UTF8.self)
    }

    /// Makes `path` a directory if it is not one: missing parents with the usual mode, `path` itself with `mode`.
    /// An existing directory is left as it is.
    static func makeDirectory(_ path: String, mode: mode_t) throws {
        if let directory = opendir(path) {
            closedir(directory)
            return
        }
        switch errno {
        case ENOENT:
            break  // missing: create it below
        case ENOTDIR:
            // Either `path` itself is a file, or one of its parents is (found by the recursion below).
            if exists(path) { throw CertsError(.fileSystem, path, "is not a directory", errno: ENOTDIR) }
        default:
            return  // exists but unreadable: writing into it reports the real error
        }
        let parent = parentDirectory(of: path)
        if parent != path, !parent.isEmpty {
            try makeDirectory(parent, mode: 0o755)
        }
        if mkdir(path, mode) != 0, errno != EEXIST {
            throw CertsError(.fileSystem, path, "cannot create directory", errno: errno)
        }
    }

    private static func parentDirectory(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "." }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }
}

extension SecureFile {
    /// Replaces `path` with `contents` atomically: a reader (the collector reloading the revocation list) sees the
    /// old file or the new one, never half of one. The new file is written beside it, synced, then renamed over it.
    static func replace(_ path: String, contents: String, mode: mode_t) throws {
        let temporary = path + ".tmp-\(getpid())"
        _ = unlink(temporary)
        try create(temporary, contents: contents, mode: mode)
        guard rename(temporary, path) == 0 else {
            let error = errno
            _ = unlink(temporary)
            throw CertsError(.fileSystem, path, "cannot replace", errno: error)
        }
    }

    /// Moves a file within one file system, refusing to replace anything at `target`.
    static func move(_ path: String, to target: String) throws {
        guard !exists(target) else {
            throw CertsError(.fileSystem, target, "already exists", errno: EEXIST)
        }
        guard rename(path, target) == 0 else {
            throw CertsError(.fileSystem, path, "cannot move to \(target)", errno: errno)
        }
    }

    /// Removes a file this module created.
    static func remove(_ path: String) throws {
        guard unlink(path) == 0 else {
            throw CertsError(.fileSystem, path, "cannot remove", errno: errno)
        }
    }
}
