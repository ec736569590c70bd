#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Thin wrappers over the POSIX calls the spool makes; each retries `EINTR` and reports `errno` as a SpoolError.
enum FileIO {
    /// Creates `path` (and missing parents) with mode 0700; an existing directory is fine.
    static func makeDirectory(_ path: String) throws(SpoolError) {
        if mkdir(path, 0o700) == 0 { return }
        let error = errno
        if error == EEXIST {
            var info = stat()
            if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { return }
            throw SpoolError(.createDirectory, path: path, osError: ENOTDIR)
        }
        if error == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try makeDirectory(String(path[..<slash]))
            if mkdir(path, 0o700) == 0 || errno == EEXIST { return }
            throw SpoolError.lastOS(.createDirectory, path: path)
        }
        throw SpoolError(.createDirectory, path: path, osError: error)
    }

    /// Opens `path` with `O_CLOEXEC` and, unless `followLink` (the spool directory itself, which an administrator
    /// may link elsewhere), `O_NOFOLLOW`: the sensor opens its spool as root before dropping to `--user`, and that
    /// user can write the directory, so a link planted at the lock or a segment name must not redirect root's
    /// open (or its truncation) to a file elsewhere. Anything but a regular file (or a directory with
    /// `O_DIRECTORY`) is refused too: a FIFO would block, a device is not a spool file.
    static func open(_ path: String, _ flags: Int32, code: SpoolError.Code, followLink: Bool = false)
        throws(SpoolError) -> Int32
    {
        let fd = try openDescriptor(path, flags | O_CLOEXEC | (followLink ? 0 : O_NOFOLLOW), code: code)
        var info = stat()
        let wanted = flags & O_DIRECTORY != 0 ? S_IFDIR : S_IFREG
        guard fstat(fd, &info) == 0 else {
            let error = SpoolError.lastOS(code, path: path)
            close(fd)
            throw error
        }
        guard info.st_mode & S_IFMT == wanted else {
            close(fd)
            throw SpoolError(code, path: path, detail: wanted == S_IFDIR ? "not a directory" : "not a regular file")
        }
        return fd
    }

    private static func openDescriptor(_ path: String, _ flags: Int32, code: SpoolError.Code) throws(SpoolError)
        -> Int32
    {
        while true {
            #if canImport(Glibc)
                let fd = Glibc.open(path, flags, 0o600)
            #else
                let fd = Darwin.open(path, flags, 0o600)
            #endif
            if fd >= 0 { return fd }
            let error = errno
            if error == EINTR { continue }
            // O_NOFOLLOW fails with ELOOP on a link, O_CREAT|O_EXCL with EEXIST (it never follows one either).
            if (error == ELOOP || error == EEXIST) && isSymbolicLink(path) {
                throw SpoolError(.symbolicLink, path: path, osError: error)
            }
            throw SpoolError(code, path: path, osError: error)
        }
    }

    /// The spool directory may be a link an administrator made (owned by root or by this process's user), not one
    /// another user could have planted: with `--user`, the user dropped to may own the directory above the spool.
    static func checkDirectoryLink(_ path: String) throws(SpoolError) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK else { return }
        let owner = info.st_uid
        guard owner == 0 || owner == geteuid() else {
            throw SpoolError(
                .symbolicLink,
                path: path,
                detail: "the spool directory is a link owned by uid \(owner), not by root or this user"
            )
        }
    }

    static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK
    }

    /// Writes all of `buffers` at `offset` with as few `pwritev` calls as the kernel allows (one, normally).
    /// Returns 0 or the `errno` of the failed call.
    static func write(_ fd: Int32, at offset: Int, _ buffers: [UnsafeRawBufferPointer]) -> Int32 {
        var vectors = buffers.filter { $0.count > 0 }.map {
            iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        var position = offset
        var first = 0
        while first < vectors.count {
            let written = vectors[first...].withUnsafeBufferPointer { v in
                pwritev(fd, v.baseAddress, Int32(v.count), off_t(position))
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if written == 0 { return EIO }
            position += written
            var left = written
            while first < vectors.count, left >= vectors[first].iov_len {
                left -= vectors[first].iov_len
                first += 1
            }
            if left > 0, let base = vectors[first].iov_base {
                vectors[first].iov_base = base + left
                vectors[first].iov_len -= left
            }
        }
        return 0
    }

    /// Reads exactly `count` bytes at `offset`; nil with `errno` set (EIO for a file that ends early) on failure.
    static func read(_ fd: Int32, at offset: Int, count: Int) -> [UInt8]? {
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let got = pread(fd, buffer.baseAddress.map { $0 + done }, count - done, off_t(offset + done))
                if got < 0, errno == EINTR { continue }
                if got <= 0 {
                    if got == 0 { errno = EIO }
                    failed = true
                    break
                }
                done += got
            }
            initialized = failed ? 0 : count
        }
        return failed ? nil : bytes
    }

    static func size(_ fd: Int32) -> Int? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return Int(info.st_size)
    }

    /// The names in a directory, without `.` and `..`.
    static func list(_ path: String) throws(SpoolError) -> [String] {
        guard let directory = opendir(path) else { throw SpoolError.lastOS(.listDirectory, path: path) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: pointer.pointee)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Flushes a file's data (and the metadata needed to read it back) to stable storage.
    static func dataSync(_ fd: Int32) -> Bool {
        #if canImport(Glibc)
            return fdatasync(fd) == 0
        #else
            return fsync(fd) == 0
        #endif
    }

    static func close(_ fd: Int32) {
        #if canImport(Glibc)
            _ = Glibc.close(fd)
        #else
            _ = Darwin.close(fd)
        #endif
    }
}
