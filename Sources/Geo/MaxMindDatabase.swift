import CMaxMindDB
import Packets

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One MaxMind DB (`.mmdb`) file, opened with `MMDB_MODE_MMAP` for the life of the value.
///
/// `@unchecked Sendable`: `MMDB_open` fills the `MMDB_s` once and nothing writes it afterwards; libmaxminddb
/// documents lookups on a database opened in MMAP mode as thread-safe (they only read the mapping).
final class MaxMindDatabase: @unchecked Sendable {
    /// What a database can answer, from its metadata's `database_type`.
    struct Kind: OptionSet, Hashable, Sendable {
        let rawValue: UInt8
        /// country.iso_code, country.names.en, city.names.en (GeoLite2-City/Country, DB-IP city/country lite).
        static let location = Kind(rawValue: 1)
        /// autonomous_system_number and _organization (GeoLite2-ASN, DB-IP ASN lite, GeoIP2-ISP).
        static let autonomousSystem = Kind(rawValue: 2)
    }

    let path: String
    /// The metadata's `database_type`, e.g. "GeoLite2-City" or "DBIP-ASN-Lite (compat=GeoLite2-ASN)".
    let databaseType: String
    let kind: Kind
    private let handle: UnsafeMutablePointer<MMDB_s>

    init(path: String) throws(GeoError) {
        guard FileCheck.isRegularFile(path) else { throw GeoError(.missingFile, path: path, detail: "no such file") }
        let handle = UnsafeMutablePointer<MMDB_s>.allocate(capacity: 1)
        handle.initialize(to: MMDB_s())
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), handle)
        guard status == MMDB_SUCCESS else {
            // MMDB_open frees what it allocated itself when it fails; only our struct is left.
            let reason = errno
            handle.deallocate()
            if status == MMDB_FILE_OPEN_ERROR || status == MMDB_IO_ERROR {
                throw GeoError(.unreadable, path: path, detail: String(cString: strerror(reason)))
            }
            throw GeoError(.notMMDB, path: path, detail: String(cString: MMDB_strerror(status)))
        }
        let type = handle.pointee.metadata.database_type.map { String(cString: $0) } ?? ""
        let kind = Self.kind(ofDatabaseType: type)
        guard !kind.isEmpty else {
            MMDB_close(handle)
            handle.deallocate()
            throw GeoError(
                .unknownDatabaseType,
                path: path,
                detail: "database_type \"\(type)\" is neither a City/Country nor an ASN database"
            )
        }
        self.path = path
        self.databaseType = type
        self.kind = kind
        self.handle = handle
    }

    deinit {
        MMDB_close(handle)
        handle.deallocate()
    }

    /// MaxMind and DB-IP name their databases "<vendor>-<Content>[-Lite]"; Enterprise databases hold both.
    static func kind(ofDatabaseType type: String) -> Kind {
        let name = type.lowercased()
        var kind: Kind = []
        if name.contains("city") || name.contains("country") || name.contains("enterprise") { kind.insert(.location) }
        if name.contains("asn") || name.contains("isp") || name.contains("enterprise") {
            kind.insert(.autonomousSystem)
        }
        return kind
    }

    /// Fills the fields of `info` that are still nil from this database's record for `address`, if it has one.
    func fill(_ info: inout GeoInfo, for address: IPAddress) {
        guard let entry = entry(for: address) else { return }
        if kind.contains(.location) {
            if info.countryCode == nil {
                // GeoLite2 leaves `country` out for some anycast and satellite networks; the registrant's
                // country is the best it offers then.
                info.countryCode = string(entry, LookupPath.countryCode) ?? string(entry, LookupPath.registeredCode)
            }
            if info.countryName == nil {
                info.countryName = string(entry, LookupPath.countryName) ?? string(entry, LookupPath.registeredName)
            }
            if info.city == nil { info.city = string(entry, LookupPath.city) }
        }
        if kind.contains(.autonomousSystem) {
            if info.asn == nil { info.asn = unsigned(entry, LookupPath.asNumber) }
            if info.organization == nil { info.organization = string(entry, LookupPath.asOrganization) }
        }
    }

    /// The data record for `address`, or nil when the tree has none (or an IPv6 address meets an IPv4-only DB).
    private func entry(for address: IPAddress) -> MMDB_entry_s? {
        var error: Int32 = 0
        let result: MMDB_lookup_result_s
        switch address {
        case .v4(let value):
            var socket = sockaddr_in()
            socket.sin_family = sa_family_t(AF_INET)
            socket.sin_addr.s_addr = value.bigEndian
            result = withUnsafePointer(to: &socket) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { MMDB_lookup_sockaddr(handle, $0, &error) }
            }
        case .v6(let high, let low):
            var socket = sockaddr_in6()
            socket.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &socket.sin6_addr) { raw in
                raw.storeBytes(of: high.bigEndian, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: low.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            result = withUnsafePointer(to: &socket) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { MMDB_lookup_sockaddr(handle, $0, &error) }
            }
        }
        guard error == MMDB_SUCCESS, result.found_entry else { return nil }
        return result.entry
    }

    private func string(_ entry: MMDB_entry_s, _ path: LookupPath) -> String? {
        var start = entry
        var data = MMDB_entry_data_s()
        guard MMDB_aget_value(&start, &data, path.keys) == MMDB_SUCCESS, data.has_data,
            data.type == UInt32(MMDB_DATA_TYPE_UTF8_STRING), let bytes = data.utf8_string
        else { return nil }
        // MaxMind DB strings are not NUL-terminated: `data_size` bytes of UTF-8.
        let text = String(
            decoding: UnsafeRawBufferPointer(start: UnsafeRawPointer(bytes), count: Int(data.data_size)),
            as: UTF8.self
        )
        return text.isEmpty ? nil : text
    }

    private func unsigned(_ entry: MMDB_entry_s, _ path: LookupPath) -> UInt32? {
        var start = entry
        var data = MMDB_entry_data_s()
        guard MMDB_aget_value(&start, &data, path.keys) == MMDB_SUCCESS, data.has_data else { return nil }
        // GeoLite2 stores AS numbers as uint32; other writers pick the smallest type that fits.
        switch Int32(bitPattern: data.type) {
        case MMDB_DATA_TYPE_UINT16: return UInt32(data.uint16)
        case MMDB_DATA_TYPE_UINT32: return data.uint32
        case MMDB_DATA_TYPE_UINT64: return UInt32(exactly: data.uint64)
        case MMDB_DATA_TYPE_INT32: return UInt32(exactly: data.int32)
        default: return nil
        }
    }
}

/// A NULL-terminated array of C strings for `MMDB_aget_value` (`MMDB_get_value` is variadic, so Swift cannot
/// call it). Each path is allocated once and kept for the life of the process.
///
/// `@unchecked Sendable`: the strings are written once, before the value is published, and only read after.
struct LookupPath: @unchecked Sendable {
    let keys: UnsafePointer<UnsafePointer<CChar>?>

    init(_ components: String...) {
        let keys = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: components.count + 1)
        for (index, component) in components.enumerated() {
            let utf8 = Array(component.utf8CString)
            let copy = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
            copy.initialize(from: utf8, count: utf8.count)
            keys[index] = UnsafePointer(copy)
        }
        keys[components.count] = nil
        self.keys = UnsafePointer(keys)
    }

    static let countryCode = LookupPath("country", "iso_code")
    static let countryName = LookupPath("country", "names", "en")
    static let registeredCode = LookupPath("registered_country", "iso_code")
    static let registeredName = LookupPath("registered_country", "names", "en")
    static let city = LookupPath("city", "names", "en")
    static let asNumber = LookupPath("autonomous_system_number")
    static let asOrganization = LookupPath("autonomous_system_organization")
}
