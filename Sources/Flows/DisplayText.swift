/// Text from captured traffic (HTTP hosts, URIs and user agents, TLS server names and ALPN, services, sensor sources)
/// made safe to show to a person: a terminal acts on control characters (`ESC ] 0 ;` retitles the window, `ESC [ 2 K`
/// erases a line, C1 `U+009B` is a one-character CSI on some terminals), so every human-readable rendering (tables,
/// CSV, the collector's alert text, HTML and SVG) passes captured strings through `escape`. JSON stays exact: its own
/// escapes (`JSONObjectWriter.appendEscaped`) carry every character and write no control character raw.
public enum DisplayText {
    /// `text` with each control character written visibly: C0 (U+0000-U+001F, tab, CR and LF included), DEL and C1
    /// (U+0080-U+009F) as `\xHH`; the Unicode line and paragraph separators and the bidirectional marks, embeddings,
    /// overrides and isolates (which reorder what is shown, CVE-2021-42574) as `\u{HHHH}`. Other text is unchanged,
    /// including `\`, so that DNS names, already in RFC 1035 presentation form (`\DDD`), read as the sensor wrote them.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count + 16)
        for scalar in text.unicodeScalars {
            guard needsEscape(scalar) else {
                out.unicodeScalars.append(scalar)
                continue
            }
            if scalar.value <= 0xFF {
                out += "\\x" + hex(scalar.value, digits: 2)
            } else {
                out += "\\u{" + hex(scalar.value, digits: 4) + "}"
            }
        }
        return out
    }

    /// Whether `escape` rewrites `scalar`.
    @inline(__always)
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F: return true
        case 0x20...0x7E, 0xA0...0x61B: return false
        // ALM; LRM, RLM; line and paragraph separators; LRE, RLE, PDF, LRO, RLO; LRI, RLI, FSI, PDI.
        case 0x61C, 0x200E, 0x200F, 0x2028...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }

    private static func hex(_ value: UInt32, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
