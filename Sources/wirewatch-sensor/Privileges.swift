#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--user`: the sensor opens the capture as root (or with CAP_NET_RAW), then becomes an unprivileged user for
/// everything else: parsing untrusted packets, TLS, the spool.
enum Privileges {
    /// Switches to `name`'s uid, gid and only that group; fails unless the switch is complete and irreversible.
    static func drop(to name: String) throws {
        guard let entry = getpwnam(name) else { throw PrivilegeError("--user: no such user '\(name)'") }
        let uid = entry.pointee.pw_uid
        let gid = entry.pointee.pw_gid
        if getuid() == uid && geteuid() == uid { return }
        guard geteuid() == 0 else {
            throw PrivilegeError(
                "--user \(name): switching users needs root; this sensor runs as uid \(geteuid()) (drop --user, or "
                    + "start it as root, or give the binary CAP_NET_RAW,CAP_NET_ADMIN and run it as \(name))")
        }
        var groups = [gid]
        guard setgroups(1, &groups) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw PrivilegeError(
                "--user \(name): cannot switch to uid \(uid) gid \(gid): \(String(cString: strerror(errno)))")
        }
        // Proof that root is gone for good: getting it back must fail.
        guard getuid() == uid, geteuid() == uid, getgid() == gid, setuid(0) != 0 else {
            throw PrivilegeError("--user \(name): the switch to uid \(uid) is not complete")
        }
    }
}

struct PrivilegeError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
