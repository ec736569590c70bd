import Packets

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

/// Sorted, non-overlapping address ranges, each with a two-letter country code; looked up by binary search.
struct RangeTable<Bound: FixedWidthInteger & UnsignedInteger & Sendable>: Sendable {
    private(set) var starts: [Bound] = []
    private(set) var ends: [Bound] = []
    /// Two ASCII letters, first in the high byte.
    private(set) var codes: [UInt16] = []

    var count: Int { starts.count }

    mutating func append(from start: Bound, to end: Bound, code: UInt16) {
        starts.append(start)
        ends.append(end)
        codes.append(code)
    }

    /// Sorts by start when the file was not sorted already (tor's files are).
    mutating func sort() {
        guard zip(starts, starts.dropFirst()).contains(where: { $0 > $1 }) else { return }
        let order = starts.indices.sorted { starts[$0] < starts[$1] }
        starts = order.map { starts[$0] }
        ends = order.map { ends[$0] }
        codes = order.map { codes[$0] }
    }

    /// The code of the range holding `value`, if any.
    func code(for value: Bound) -> UInt16? {
        // `low` ends as the first range starting after `value`; the one before it is the only candidate.
        var low = 0
        var high = starts.count
        while low < high {
            let middle = low + (high - low) / 2
            if starts[middle] <= value { low = middle + 1 } else { high = middle }
        }
        guard low > 0, value <= ends[low - 1] else { return nil }
        return codes[low - 1]
    }
}

/// The country ranges of Debian's `tor-geoipdb` (IPFire Location data): `usr/share/tor/geoip` holds lines
/// `FROM,TO,CC` with the IPv4 bounds as decimal integers, `geoip6` the same with IPv6 text bounds; `#` starts a
/// comment line. "??" (unknown) ranges are dropped.
struct TorGeoIP: Sendable {
    var v4 = RangeTable<UInt32>()
    var v6 = RangeTable<UInt128>()
    var v4Path: String?
    var v6Path: String?

    init(v4Path: String?, v6Path: String?) throws(GeoError) {
        self.v4Path = v4Path
        self.v6Path = v6Path
        if let v4Path {
            try Self.parse(path: v4Path, into: &v4) { field in Self.decimal(field) }
        }
        if let v6Path {
            try Self.parse(path: v6Path, into: &v6) { field in Self.ipv6(field) }
        }
    }

    /// The country code for `address` (an IPv4 address when the caller had an IPv4-mapped one).
    func countryCode(for address: IPAddress) -> String? {
        let code: UInt16?
        switch address {
        case .v4(let value): code = v4.code(for: value)
        case .v6(let high, let low): code = v6.code(for: UInt128(high) << 64 | UInt128(low))
        }
        guard let code else { return nil }
        return String(decoding: [UInt8(code >> 8), UInt8(code & 0xFF)], as: UTF8.self)
    }

    private static func parse<Bound>(
        path: String,
        into table: inout RangeTable<Bound>,
        bound: (UnsafeRawBufferPointer) -> Bound?
    ) throws(GeoError) {
        let data = try FileCheck.contents(of: path)
        let failure: GeoError? = data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> GeoError? in
            var lineNumber = 0
            var lineStart = 0
            while lineStart < bytes.count {
                lineNumber += 1
                let lineEnd = endOfLine(in: bytes, from: lineStart)
                defer { lineStart = lineEnd + 1 }
                let line = trimmed(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd]))
                if line.isEmpty || line[0] == UInt8(ascii: "#") { continue }
                guard let range = parseLine(line, bound: bound) else {
                    return GeoError(
                        .malformedTorLine,
                        path: path,
                        line: lineNumber,
                        detail: "expected FROM,TO,CC, got \"\(excerpt(line))\""
                    )
                }
                if let code = range.code { table.append(from: range.start, to: range.end, code: code) }
            }
            return nil
        }
        if let failure { throw failure }
        table.sort()
    }

    /// The index of the next newline at or after `start`, or the end of `bytes`. memchr, because the files are
    /// 25 MB and this runs in debug builds (tests) too.
    private static func endOfLine(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        guard let base = bytes.baseAddress,
            let found = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start)
        else { return bytes.count }
        return UnsafeRawPointer(found) - base
    }

    /// `FROM,TO,CC` with FROM <= TO and CC two ASCII letters or "??" (code nil).
    private static func parseLine<Bound: Comparable>(
        _ line: UnsafeRawBufferPointer,
        bound: (UnsafeRawBufferPointer) -> Bound?
    ) -> (start: Bound, end: Bound, code: UInt16?)? {
        let comma = UInt8(ascii: ",")
        guard let first = line.firstIndex(of: comma),
            let second = line[(first + 1)...].firstIndex(of: comma),
            line.count - second == 3,  // exactly two bytes after the second comma, so no third field
            let start = bound(UnsafeRawBufferPointer(rebasing: line[..<first])),
            let end = bound(UnsafeRawBufferPointer(rebasing: line[(first + 1)..<second])),
            start <= end
        else { return nil }
        var high = line[second + 1]
        var low = line[second + 2]
        if high == UInt8(ascii: "?") && low == UInt8(ascii: "?") { return (start, end, nil) }
        high = uppercased(high)
        low = uppercased(low)
        guard isLetter(high) && isLetter(low) else { return nil }
        // IPFire writes the United Kingdom as "UK"; ISO 3166-1 says GB, as MaxMind and DB-IP do.
        if high == UInt8(ascii: "U") && low == UInt8(ascii: "K") {
            high = UInt8(ascii: "G")
            low = UInt8(ascii: "B")
        }
        return (start, end, UInt16(high) << 8 | UInt16(low))
    }

    private static func uppercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
    }

    private static func isLetter(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") }

    /// An IPv6 address in text (RFC 4291 §2.2 forms 1 and 2: hex groups, at most one "::"), straight from the
    /// bytes: the file has a quarter of a million of them. The dotted-quad tail (form 3) is not used there.
    static func ipv6(_ field: UnsafeRawBufferPointer) -> UInt128? {
        let colon = UInt8(ascii: ":")
        var index = 0
        var head: UInt128 = 0
        var headCount = 0
        var tail: UInt128 = 0
        var tailCount = 0
        var sawGap = false
        if field.count >= 2 && field[0] == colon && field[1] == colon {
            sawGap = true
            index = 2
        }
        while index < field.count {
            var group: UInt128 = 0
            var digits = 0
            while index < field.count, let nibble = hexValue(field[index]) {
                group = group << 4 | UInt128(nibble)
                digits += 1
                index += 1
            }
            guard (1...4).contains(digits) else { return nil }
            if sawGap {
                tail = tail << 16 | group
                tailCount += 1
            } else {
                head = head << 16 | group
                headCount += 1
            }
            guard index < field.count else { break }
            guard field[index] == colon, index + 1 < field.count else { return nil }
            index += 1
            if field[index] == colon {
                guard !sawGap else { return nil }
                sawGap = true
                index += 1
            }
        }
        if sawGap {
            // "::" stands for at least one zero group (RFC 4291 §2.2).
            guard headCount + tailCount < 8 else { return nil }
            return head << (16 * (8 - headCount)) | tail
        }
        guard headCount == 8 else { return nil }
        return head
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// A decimal UInt32 with no sign, no spaces and no overflow.
    private static func decimal(_ field: UnsafeRawBufferPointer) -> UInt32? {
        guard !field.isEmpty, field.count <= 10 else { return nil }
        var value: UInt64 = 0
        for byte in field {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
        }
        return UInt32(exactly: value)
    }

    private static func trimmed(_ line: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = 0
        var end = line.count
        while start < end && isSpace(line[start]) { start += 1 }
        while end > start && isSpace(line[end - 1]) { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: line[start..<end])
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    /// The start of a bad line, for the error message.
    private static func excerpt(_ line: UnsafeRawBufferPointer) -> String {
        let limit = 60
        let text = String(decoding: line.prefix(limit), as: UTF8.self)
        return line.count > limit ? text + "..." : text
    }
}
