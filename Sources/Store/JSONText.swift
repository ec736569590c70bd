import Flows

/// The compact JSON kept in list and map columns (`answers`, `ttls`, `alpn`, `per_protocol`, `weird`, and the alerts'
/// `targets`, `ports`, `sensors` and `detail`): exact both ways, readable by SQLite's `json_each`/`json_extract`.
/// Object keys are written sorted.
///
/// Doubles are written in Swift's shortest round-trip form (`300.0`, `1e-05`), which parses back to the same value;
/// the non-finite ones, which JSON cannot hold, as the strings `"inf"`, `"-inf"` and `"nan"`. Unsigned counters are
/// written as plain decimal digits and parsed back as `UInt64`, so no value is lost to a float.
enum JSONText {
    static func encode(_ strings: [String]) -> String {
        var out = "["
        for (i, s) in strings.enumerated() {
            if i > 0 { out += "," }
            appendString(s, to: &out)
        }
        return out + "]"
    }

    static func encode(_ doubles: [Double]) -> String {
        var out = "["
        for (i, d) in doubles.enumerated() {
            if i > 0 { out += "," }
            appendDouble(d, to: &out)
        }
        return out + "]"
    }

    static func encode(_ counters: [String: UInt64]) -> String {
        var out = "{"
        for (i, key) in counters.keys.sorted().enumerated() {
            if i > 0 { out += "," }
            appendString(key, to: &out)
            out += ":" + String(counters[key] ?? 0)
        }
        return out + "}"
    }

    /// `{"tcp":{"packets":1,"bytes":2,"flows":3},...}`
    static func encode(_ perProtocol: [String: ProtocolCounters]) -> String {
        var out = "{"
        for (i, key) in perProtocol.keys.sorted().enumerated() {
            if i > 0 { out += "," }
            appendString(key, to: &out)
            let c = perProtocol[key] ?? ProtocolCounters()
            out += ":{\"packets\":\(c.packets),\"bytes\":\(c.bytes),\"flows\":\(c.flows)}"
        }
        return out + "}"
    }

    /// `[22,80,443]`
    static func encode(_ ports: [UInt16]) -> String {
        "[" + ports.map { String($0) }.joined(separator: ",") + "]"
    }

    /// `{"filtered":3,"rate":0.5,"scope":"vertical","stealthy":false}`: an integer without a point, a double always
    /// with one (or an exponent), so each comes back as what it was; a non-finite double as the string "inf", "-inf"
    /// or "nan", which comes back as that string.
    static func encode(_ detail: [String: AlertValue]) -> String {
        var out = "{"
        for (i, key) in detail.keys.sorted().enumerated() {
            if i > 0 { out += "," }
            appendString(key, to: &out)
            out += ":"
            switch detail[key] {
            case .string(let s): appendString(s, to: &out)
            case .int(let n): out += String(n)
            case .double(let d): appendDouble(d, to: &out)
            case .bool(let b): out += b ? "true" : "false"
            case nil: out += "null"
            }
        }
        return out + "}"
    }

    private static func appendDouble(_ d: Double, to out: inout String) {
        if d.isNaN {
            out += "\"nan\""
        } else if d.isInfinite {
            out += d < 0 ? "\"-inf\"" : "\"inf\""
        } else {
            out += d.description
        }
    }

    private static func appendString(_ s: String, to out: inout String) {
        JSONObjectWriter.appendEscaped(s, to: &out)
    }

    // MARK: decoding

    /// Why a column's JSON could not be decoded.
    struct DecodeFailure: Error {
        var reason: String
    }

    static func strings(_ text: String) throws(DecodeFailure) -> [String] {
        guard case .array(let items) = try parse(text) else { throw DecodeFailure(reason: "not an array") }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .string(let s) = item else { throw DecodeFailure(reason: "array item is not a string") }
            out.append(s)
        }
        return out
    }

    static func doubles(_ text: String) throws(DecodeFailure) -> [Double] {
        guard case .array(let items) = try parse(text) else { throw DecodeFailure(reason: "not an array") }
        var out: [Double] = []
        out.reserveCapacity(items.count)
        for item in items { out.append(try double(item)) }
        return out
    }

    static func counters(_ text: String) throws(DecodeFailure) -> [String: UInt64] {
        guard case .object(let members) = try parse(text) else { throw DecodeFailure(reason: "not an object") }
        var out: [String: UInt64] = [:]
        for (key, value) in members { out[key] = try unsigned(value) }
        return out
    }

    static func perProtocol(_ text: String) throws(DecodeFailure) -> [String: ProtocolCounters] {
        guard case .object(let members) = try parse(text) else { throw DecodeFailure(reason: "not an object") }
        var out: [String: ProtocolCounters] = [:]
        for (key, value) in members {
            guard case .object(let fields) = value else { throw DecodeFailure(reason: "\(key) is not an object") }
            var c = ProtocolCounters()
            for (name, number) in fields {
                switch name {
                case "packets": c.packets = try unsigned(number)
                case "bytes": c.bytes = try unsigned(number)
                case "flows": c.flows = try unsigned(number)
                default: throw DecodeFailure(reason: "unknown counter \(name)")
                }
            }
            out[key] = c
        }
        return out
    }

    static func ports(_ text: String) throws(DecodeFailure) -> [UInt16] {
        guard case .array(let items) = try parse(text) else { throw DecodeFailure(reason: "not an array") }
        var out: [UInt16] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard case .number(let digits) = item, let port = UInt16(digits) else {
                throw DecodeFailure(reason: "not a port number")
            }
            out.append(port)
        }
        return out
    }

    static func detail(_ text: String) throws(DecodeFailure) -> [String: AlertValue] {
        guard case .object(let members) = try parse(text) else { throw DecodeFailure(reason: "not an object") }
        var out: [String: AlertValue] = [:]
        for (key, value) in members {
            switch value {
            case .string(let s): out[key] = .string(s)
            case .bool(let b): out[key] = .bool(b)
            case .number(let digits):
                if let n = Int64(digits) {
                    out[key] = .int(n)
                } else if let d = Double(digits) {
                    out[key] = .double(d)
                } else {
                    throw DecodeFailure(reason: "bad number \(digits) in \(key)")
                }
            case .array, .object, .null: throw DecodeFailure(reason: "\(key) is not a string, number or boolean")
            }
        }
        return out
    }

    private static func double(_ value: Value) throws(DecodeFailure) -> Double {
        switch value {
        case .number(let digits):
            guard let d = Double(digits) else { throw DecodeFailure(reason: "bad number \(digits)") }
            return d
        case .string("nan"): return .nan
        case .string("inf"): return .infinity
        case .string("-inf"): return -.infinity
        default: throw DecodeFailure(reason: "not a number")
        }
    }

    private static func unsigned(_ value: Value) throws(DecodeFailure) -> UInt64 {
        guard case .number(let digits) = value, let n = UInt64(digits) else {
            throw DecodeFailure(reason: "not an unsigned integer")
        }
        return n
    }

    /// A parsed JSON value; numbers keep their text so each caller converts exactly.
    enum Value {
        case string(String)
        case number(String)
        case array([Value])
        case object([(String, Value)])
        case bool(Bool)
        case null
    }

    /// Parses one JSON value (RFC 8259) that must fill the whole text.
    static func parse(_ text: String) throws(DecodeFailure) -> Value {
        var parser = Parser(bytes: Array(text.utf8))
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.offset == parser.bytes.count else { throw DecodeFailure(reason: "trailing bytes") }
        return value
    }

    private struct Parser {
        /// Deep enough for every column's shape; bounds recursion on damaged input.
        static let maxDepth = 16
        let bytes: [UInt8]
        var offset = 0

        mutating func skipSpace() {
            while offset < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[offset]) { offset += 1 }
        }

        mutating func expect(_ byte: UInt8) throws(DecodeFailure) {
            guard offset < bytes.count, bytes[offset] == byte else {
                throw DecodeFailure(reason: "expected \(Character(Unicode.Scalar(byte))) at byte \(offset)")
            }
            offset += 1
        }

        mutating func literal(_ word: String, _ value: Value) throws(DecodeFailure) -> Value {
            for byte in word.utf8 { try expect(byte) }
            return value
        }

        mutating func value(depth: Int) throws(DecodeFailure) -> Value {
            guard depth < Self.maxDepth else { throw DecodeFailure(reason: "nested too deeply") }
            guard offset < bytes.count else { throw DecodeFailure(reason: "unexpected end") }
            switch bytes[offset] {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                offset += 1
                var items: [Value] = []
                skipSpace()
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
                    offset += 1
                    return .array(items)
                }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    if offset < bytes.count, bytes[offset] == UInt8(ascii: ",") {
                        offset += 1
                        continue
                    }
                    try expect(UInt8(ascii: "]"))
                    return .array(items)
                }
            case UInt8(ascii: "{"):
                offset += 1
                var members: [(String, Value)] = []
                skipSpace()
                if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
                    offset += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    let key = try string()
                    skipSpace()
                    try expect(UInt8(ascii: ":"))
                    skipSpace()
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    if offset < bytes.count, bytes[offset] == UInt8(ascii: ",") {
                        offset += 1
                        continue
                    }
                    try expect(UInt8(ascii: "}"))
                    return .object(members)
                }
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            default:
                let start = offset
                while offset < bytes.count, "+-.eE0123456789".utf8.contains(bytes[offset]) { offset += 1 }
                guard offset > start else { throw DecodeFailure(reason: "unexpected byte at \(offset)") }
                return .number(String(decoding: bytes[start..<offset], as: UTF8.self))
            }
        }

        mutating func hex4() throws(DecodeFailure) -> UInt32 {
            guard bytes.count - offset >= 4,
                let v = UInt32(String(decoding: bytes[offset..<offset + 4], as: UTF8.self), radix: 16)
            else { throw DecodeFailure(reason: "bad \\u escape at byte \(offset)") }
            offset += 4
            return v
        }

        mutating func string() throws(DecodeFailure) -> String {
            try expect(UInt8(ascii: "\""))
            var out: [UInt8] = []
            while true {
                guard offset < bytes.count else { throw DecodeFailure(reason: "unterminated string") }
                let byte = bytes[offset]
                offset += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: out, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard offset < bytes.count else { throw DecodeFailure(reason: "unterminated escape") }
                    let escape = bytes[offset]
                    offset += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var code = try hex4()
                        // RFC 8259 §7: a character outside the BMP is a UTF-16 surrogate pair.
                        if (0xD800..<0xDC00).contains(code), bytes.count - offset >= 6,
                            bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u")
                        {
                            offset += 2
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw DecodeFailure(reason: "bad surrogate") }
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { throw DecodeFailure(reason: "bad \\u escape") }
                        out.append(contentsOf: Array(String(Character(scalar)).utf8))
                    default: throw DecodeFailure(reason: "bad escape at byte \(offset - 1)")
                    }
                default:
                    out.append(byte)
                }
            }
        }
    }
}
