/// An IPv4 or IPv6 address as a value type, printed the way Zeek and tshark print it
/// (dotted quad; RFC 5952 compressed lowercase hex for IPv6).
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    /// Reads 4 bytes (IPv4) from the cursor.
    @inlinable @inline(__always)
    public static func readV4(_ cursor: inout Cursor) throws(DecodeError) -> IPAddress {
        .v4(try cursor.readU32())
    }

    /// Reads 16 bytes (IPv6) from the cursor.
    @inlinable @inline(__always)
    public static func readV6(_ cursor: inout Cursor) throws(DecodeError) -> IPAddress {
        let high = try cursor.read(UInt64.self)
        let low = try cursor.read(UInt64.self)
        return .v6(high, low)
    }

    public var isV4: Bool { if case .v4 = self { return true } else { return false } }

    /// Hands the address's bytes in network order (4 or 16) to `body`, one at a time, without allocating.
    @inlinable
    public func forEachByte(_ body: (UInt8) -> Void) {
        switch self {
        case .v4(let a):
            for shift in stride(from: 24, through: 0, by: -8) { body(UInt8(truncatingIfNeeded: a >> UInt32(shift))) }
        case .v6(let h, let l):
            for shift in stride(from: 56, through: 0, by: -8) { body(UInt8(truncatingIfNeeded: h >> UInt64(shift))) }
            for shift in stride(from: 56, through: 0, by: -8) { body(UInt8(truncatingIfNeeded: l >> UInt64(shift))) }
        }
    }

    /// The address in network byte order: 4 or 16 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        forEachByte { out.append($0) }
        return out
    }

    public var description: String {
        switch self {
        case .v4(let a):
            return "\(a >> 24).\((a >> 16) & 0xFF).\((a >> 8) & 0xFF).\(a & 0xFF)"
        case .v6(let h, let l):
            let groups: [UInt16] = (0..<8).map { i in
                let word = i < 4 ? h : l
                return UInt16((word >> UInt64((3 - i % 4) * 16)) & 0xFFFF)
            }
            // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups, the first one on a tie.
            var bestStart = -1
            var bestLength = 0
            var i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > bestLength && j - i >= 2 {
                        bestStart = i
                        bestLength = j - i
                    }
                    i = j
                } else {
                    i += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                groups[range].map { String($0, radix: 16) }.joined(separator: ":")
            }
            if bestStart < 0 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }

    /// Parses a dotted quad or an IPv6 literal (with `::`); nil when the text is not an address.
    public init?(_ text: String) {
        if !text.contains(":") {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var value: UInt32 = 0
            for part in parts {
                guard !part.isEmpty, part.count <= 3, let octet = UInt8(part) else { return nil }
                value = value << 8 | UInt32(octet)
            }
            self = .v4(value)
            return
        }
        var halves: [String] = []
        if let range = text.firstRange(of: "::") {
            halves = [String(text[..<range.lowerBound]), String(text[range.upperBound...])]
            guard halves[1].firstRange(of: "::") == nil else { return nil }
        } else {
            halves = [text]
        }
        func groups(_ s: String) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out = [UInt16]()
            for part in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !part.isEmpty, part.count <= 4, let g = UInt16(part, radix: 16) else { return nil }
                out.append(g)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        var all = head
        if halves.count == 2 {
            guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
            all += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        }
        guard all.count == 8 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for i in 0..<4 { h = h << 16 | UInt64(all[i]) }
        for i in 4..<8 { l = l << 16 | UInt64(all[i]) }
        self = .v6(h, l)
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs, rhs) {
        case (.v4(let a), .v4(let b)): return a < b
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        case (.v6(let ah, let al), .v6(let bh, let bl)): return ah < bh || (ah == bh && al < bl)
        }
    }
}
