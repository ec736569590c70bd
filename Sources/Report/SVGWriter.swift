import Flows
import Foundation

/// Text made safe for XML and HTML, in content and in quoted attribute values.
public enum SVGMarkup {
    /// `&`, `<`, `>`, `"` and `'` as references; other control characters than tab, LF and CR (which XML 1.0
    /// forbids or a terminal showing the file would act on) written visibly as `DisplayText` writes them; U+FFFE and
    /// U+FFFF as U+FFFD; so that a hostile host name or user agent can neither break the document nor hide in it.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            case _ where DisplayText.needsEscape(scalar): out += DisplayText.escape(String(scalar))
            case "\u{20}"..."\u{D7FF}", "\u{E000}"..."\u{FFFD}", "\u{10000}"..."\u{10FFFF}":
                out.unicodeScalars.append(scalar)
            default: out += "\u{FFFD}"
            }
        }
        return out
    }
}

/// Builds one SVG document: elements with attributes, text always escaped, numbers with at most two decimals.
struct SVGWriter {
    /// Fonts installed nearly everywhere; DejaVu Sans is what `rsvg-convert` finds on Debian.
    static let fontFamily = "'DejaVu Sans', Verdana, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
    static let textColor = "#222222"
    static let mutedColor = "#5f6368"
    static let gridColor = "#e3e3e3"
    static let axisColor = "#444444"

    let width: Double
    let height: Double
    private var body = ""

    /// A document of `width` × `height` pixels on a white background; `title` is its accessible name.
    init(width: Int, height: Int, title: String, description: String? = nil) {
        self.width = Double(max(320, width))
        self.height = Double(max(200, height))
        body += "<title>\(SVGMarkup.escape(title))</title>\n"
        if let description { body += "<desc>\(SVGMarkup.escape(description))</desc>\n" }
        element(
            "rect",
            [
                "x": "0", "y": "0", "width": Self.number(self.width), "height": Self.number(self.height),
                "fill": "#ffffff",
            ])
    }

    /// `12`, `12.5`, `12.25`: no exponent, no trailing zeros, no negative zero.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return Chart.Unit.trimmed(String(format: "%.2f", value))
    }

    /// A rough width of `text` in pixels at `size` (DejaVu Sans averages about 0.6 em a character).
    static func textWidth(_ text: String, size: Double) -> Double {
        Double(text.count) * size * 0.62
    }

    /// `text` cut with an ellipsis to fit `width` pixels at `size`.
    static func truncate(_ text: String, width: Double, size: Double) -> String {
        guard textWidth(text, size: size) > width else { return text }
        let keep = max(1, Int(width / (size * 0.62)) - 1)
        return String(text.prefix(keep)) + "…"
    }

    mutating func open(_ name: String, _ attributes: KeyValuePairs<String, String> = [:]) {
        body += "<\(name)\(Self.attributes(attributes))>\n"
    }

    mutating func close(_ name: String) {
        body += "</\(name)>\n"
    }

    /// An empty element, or one holding `text`; `tooltip` becomes a `<title>` child, which viewers show on hover.
    mutating func element(
        _ name: String, _ attributes: KeyValuePairs<String, String>, text: String? = nil, tooltip: String? = nil
    ) {
        element(name, attributes.map { ($0.key, $0.value) }, text: text, tooltip: tooltip)
    }

    mutating func element(_ name: String, _ attributes: [(String, String)], text: String? = nil, tooltip: String? = nil)
    {
        let start = "<\(name)\(Self.attributes(attributes))"
        if text == nil, tooltip == nil {
            body += start + "/>\n"
            return
        }
        body += start + ">"
        if let tooltip { body += "<title>\(SVGMarkup.escape(tooltip))</title>" }
        if let text { body += SVGMarkup.escape(text) }
        body += "</\(name)>\n"
    }

    /// Text at (`x`, `y`), baseline-anchored; `anchor` is `start`, `middle` or `end`.
    mutating func text(
        _ text: String, x: Double, y: Double, size: Double = 12, anchor: String = "start", weight: String? = nil,
        color: String = SVGWriter.textColor, className: String? = nil, rotate: Double? = nil,
        data: KeyValuePairs<String, String> = [:]
    ) {
        var attributes: [(String, String)] = []
        if let className { attributes.append(("class", className)) }
        attributes += [
            ("x", Self.number(x)), ("y", Self.number(y)), ("font-size", Self.number(size)), ("fill", color),
        ]
        if anchor != "start" { attributes.append(("text-anchor", anchor)) }
        if let weight { attributes.append(("font-weight", weight)) }
        if let rotate {
            attributes.append(("transform", "rotate(\(Self.number(rotate)) \(Self.number(x)) \(Self.number(y)))"))
        }
        for (key, value) in data { attributes.append((key, value)) }
        body += "<text\(Self.attributes(attributes))>\(SVGMarkup.escape(text))</text>\n"
    }

    /// The title (bold, top left) and an optional subtitle under it; returns the y below them.
    mutating func heading(title: String, subtitle: String?) -> Double {
        text(title, x: 16, y: 26, size: 17, weight: "bold", className: "title")
        guard let subtitle, !subtitle.isEmpty else { return 38 }
        text(subtitle, x: 16, y: 45, size: 12, color: Self.mutedColor, className: "subtitle")
        return 56
    }

    /// The whole plot area saying "No data", so that an empty query still gives a readable file.
    mutating func noData(top: Double, message: String = "No data") {
        let box = (x: 16.0, y: top + 8, width: width - 32, height: max(40, height - top - 24))
        element(
            "rect",
            [
                "x": Self.number(box.x), "y": Self.number(box.y), "width": Self.number(box.width),
                "height": Self.number(box.height), "fill": "#f7f7f7", "stroke": Self.gridColor, "rx": "6",
            ])
        text(
            message, x: width / 2, y: box.y + box.height / 2 + 6, size: 16, anchor: "middle", color: Self.mutedColor,
            className: "no-data")
    }

    /// Legend entries in rows from (`x`, `y`), wrapping at `maxX`; each draws its own swatch at the given
    /// origin. Returns the y below the last row.
    mutating func legend(
        _ entries: [(label: String, swatch: (inout SVGWriter, Double, Double) -> Void)], x: Double, y: Double,
        maxX: Double
    ) -> Double {
        guard !entries.isEmpty else { return y }
        let size = 12.0
        let rowHeight = 18.0
        var cursor = (x: x, y: y)
        open("g", ["class": "legend"])
        for entry in entries {
            let label = Self.truncate(entry.label, width: 240, size: size)
            let itemWidth = 22 + Self.textWidth(label, size: size) + 18
            if cursor.x + itemWidth > maxX, cursor.x > x {
                cursor = (x, cursor.y + rowHeight)
            }
            open("g", ["class": "legend-item"])
            entry.swatch(&self, cursor.x, cursor.y + 9)
            text(label, x: cursor.x + 22, y: cursor.y + 13, size: size)
            close("g")
            cursor.x += itemWidth
        }
        close("g")
        return cursor.y + rowHeight
    }

    /// The finished document.
    func document() -> String {
        let size = "width=\"\(Self.number(width))\" height=\"\(Self.number(height))\""
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" \(size) viewBox=\"0 0 \(Self.number(width)) "
            + "\(Self.number(height))\" role=\"img\" font-family=\"\(SVGMarkup.escape(Self.fontFamily))\">\n"
            + body + "</svg>\n"
    }

    private static func attributes(_ pairs: KeyValuePairs<String, String>) -> String {
        attributes(pairs.map { ($0.key, $0.value) })
    }

    private static func attributes(_ pairs: [(String, String)]) -> String {
        pairs.map { " \($0.0)=\"\(SVGMarkup.escape($0.1))\"" }.joined()
    }
}
