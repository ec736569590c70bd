import Flows

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a query's rows are written.
public enum OutputFormat: String, CaseIterable, Sendable {
    case table, json, csv, html
}

/// Where output goes and whether it may be coloured: colour only on a terminal, never with `NO_COLOR` set
/// (https://no-color.org) or `TERM=dumb`, never into a file.
public struct Terminal: Sendable {
    public var isTerminal: Bool
    public var color: Bool

    public init(isTerminal: Bool, color: Bool) {
        self.isTerminal = isTerminal
        self.color = color
    }

    /// Standard output (or a file, when `toFile`) as this process sees it.
    public static func standardOutput(toFile: Bool, environment: [String: String]) -> Terminal {
        let tty = !toFile && isatty(1) == 1
        let noColor = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        return Terminal(isTerminal: tty, color: tty && !noColor && environment["TERM"] != "dumb")
    }

    /// Standard error as a terminal, for progress lines.
    public static var standardErrorIsTerminal: Bool { isatty(2) == 1 }
}

/// ANSI styles, applied only when the terminal allows colour.
public enum Style: String, Sendable {
    case bold = "1"
    case dim = "2"
    case red = "31"
    case green = "32"
    case yellow = "33"
    case cyan = "36"

    public func apply(_ text: String, on terminal: Terminal) -> String {
        terminal.color ? "\u{1B}[\(rawValue)m\(text)\u{1B}[0m" : text
    }
}

/// A table of strings: aligned columns for people, RFC 4180 CSV for programs.
public struct Table: Sendable, Hashable {
    public enum Alignment: Sendable, Hashable { case left, right }

    public struct Column: Sendable, Hashable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    public var columns: [Column]
    public var rows: [[String]]

    public init(columns: [Column], rows: [[String]] = []) {
        self.columns = columns
        self.rows = rows
    }

    /// Columns padded to their widest cell (counted in characters), two spaces apart, the header in bold and
    /// a rule under it; `style` may colour a cell (by row and column) on a colour terminal. Control characters in
    /// cells are written visibly (`DisplayText`): cells hold captured text, and a terminal would act on them.
    public func render(on terminal: Terminal, style: ((Int, Int) -> Style?)? = nil) -> String {
        let columns = columns.map { Column(DisplayText.escape($0.title), $0.alignment) }
        let rows = rows.map { $0.map(DisplayText.escape) }
        var widths = columns.map { $0.title.count }
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String], styled: (Int, String) -> String) -> String {
            var parts: [String] = []
            for (index, column) in columns.enumerated() {
                let cell = index < cells.count ? cells[index] : ""
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                let last = index == columns.count - 1
                let padded =
                    column.alignment == .right
                    ? padding + styled(index, cell) : styled(index, cell) + (last ? "" : padding)
                parts.append(padded)
            }
            return parts.joined(separator: "  ")
        }
        var out = line(columns.map(\.title)) { _, text in Style.bold.apply(text, on: terminal) } + "\n"
        out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for (rowIndex, row) in rows.enumerated() {
            out +=
                line(row) { column, text in
                    guard let style = style?(rowIndex, column), !text.isEmpty else { return text }
                    return style.apply(text, on: terminal)
                } + "\n"
        }
        return out
    }

    /// A header row, then one row per line; fields with a comma or quote are quoted, quotes doubled. Control
    /// characters (CR and LF included) are written visibly, as in tables: a CSV file is read in terminals and
    /// spreadsheets as often as by programs, and the JSON output is the exact one.
    public func csv() -> String {
        var out = CSV.line(columns.map { DisplayText.escape($0.title) })
        for row in rows { out += CSV.line(row.map(DisplayText.escape)) }
        return out
    }
}

public enum CSV {
    /// One RFC 4180 record with its CRLF.
    public static func line(_ fields: [String]) -> String {
        fields.map(quote).joined(separator: ",") + "\r\n"
    }

    public static func quote(_ field: String) -> String {
        guard field.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
            return field
        }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Parses RFC 4180 text back into rows (for tests and for reading exports).
    public static func parse(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var iterator = Array(text).makeIterator()
        var pending: Character? = nil
        while let char = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if char == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" {
                            field.append("\"")
                        } else {
                            quoted = false
                            pending = next
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(char)
                }
                continue
            }
            switch char {
            case "\"": quoted = true
            case ",":
                row.append(field)
                field = ""
            case "\r\n", "\n", "\r":
                row.append(field)
                rows.append(row)
                row = []
                field = ""
            default: field.append(char)
            }
        }
        if !field.isEmpty || !row.isEmpty {
            row.append(field)
            rows.append(row)
        }
        return rows
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
