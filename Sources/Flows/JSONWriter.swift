/// Writes one JSON object with keys in the order they are added (Zeek's field order), without Foundation.
public struct JSONObjectWriter {
    private var out: String
    private var first = true

    public init(capacity: Int = 512) {
        out = "{"
        out.reserveCapacity(capacity)
    }

    private mutating func key(_ name: String) {
        if first { first = false } else { out += "," }
        out += "\""
        out += name
        out += "\":"
    }

    public mutating func string(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        JSONObjectWriter.appendEscaped(value, to: &out)
    }

    public mutating func int<T: BinaryInteger>(_ name: String, _ value: T?) {
        guard let value else { return }
        key(name)
        out += String(value)
    }

    public mutating func bool(_ name: String, _ value: Bool?) {
        guard let value else { return }
        key(name)
        out += value ? "true" : "false"
    }

    /// Epoch seconds or durations, with microseconds as Zeek writes them.
    public mutating func time(_ name: String, _ value: Double?) {
        guard let value, value.isFinite else { return }
        key(name)
        out += JSONObjectWriter.formatMicros(value)
    }

    public mutating func strings(_ name: String, _ values: [String]?) {
        guard let values else { return }
        key(name)
        out += "["
        for (i, v) in values.enumerated() {
            if i > 0 { out += "," }
            JSONObjectWriter.appendEscaped(v, to: &out)
        }
        out += "]"
    }

    public mutating func times(_ name: String, _ values: [Double]?) {
        guard let values else { return }
        key(name)
        out += "[" + values.map { JSONObjectWriter.formatMicros($0) }.joined(separator: ",") + "]"
    }

    /// A nested object of integer counters, keys in the given order.
    public mutating func counters(_ name: String, _ values: [(String, UInt64)]) {
        key(name)
        out += "{"
        for (i, (k, v)) in values.enumerated() {
            if i > 0 { out += "," }
            JSONObjectWriter.appendEscaped(k, to: &out)
            out += ":" + String(v)
        }
        out += "}"
    }

    /// An array of objects, each made with a writer of its own.
    public mutating func objects(_ name: String, _ values: [JSONObjectWriter]) {
        key(name)
        out += "["
        for (i, value) in values.enumerated() {
            if i > 0 { out += "," }
            var object = value
            out += object.finish()
        }
        out += "]"
    }

    public mutating func finish() -> String {
        out += "}"
        return out
    }

    /// `1732550000.123456`: fixed six decimals, no exponent.
    public static func formatMicros(_ value: Double) -> String {
        let micros = (value * 1_000_000).rounded()
        guard micros.magnitude < 9.0e18 else { return "0.000000" }
        let total = Int64(micros)
        let sign = total < 0 ? "-" : ""
        let magnitude = total.magnitude
        let whole = magnitude / 1_000_000
        let fraction = String(magnitude % 1_000_000)
        return sign + String(whole) + "." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    /// Appends `value` as a JSON string literal (quotes, escapes for `"`, `\\` and C0, DEL and C1 control characters).
    public static func appendEscaped(_ value: String, to out: inout String) {
        out += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                // DEL and C1 too: JSON allows them raw, but a terminal showing the line would act on them.
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
