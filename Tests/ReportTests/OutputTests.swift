import Foundation
import Report
import Testing

@Suite("tables, CSV and times")
struct OutputTests {
    let table = Table(
        columns: [.init("host"), .init("bytes", .right), .init("note")],
        rows: [["10.0.0.1", "5", "plain"], ["192.168.100.200", "123456", "has, comma and \"quotes\""]])

    @Test("columns are padded to the widest cell, numbers right-aligned, no escape codes without colour")
    func plainTable() {
        let text = table.render(on: Terminal(isTerminal: false, color: false))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0] == "host              bytes  note")
        #expect(lines[1] == "---------------  ------  -----------------------")
        #expect(lines[2] == "10.0.0.1              5  plain")
        #expect(lines[3].hasPrefix("192.168.100.200  123456  has, comma"))
        #expect(!text.contains("\u{1B}"))
    }

    @Test("on a colour terminal the header is bold and styled cells are coloured")
    func colourTable() {
        let text = table.render(on: Terminal(isTerminal: true, color: true)) { row, column in
            row == 1 && column == 1 ? .red : nil
        }
        #expect(text.contains("\u{1B}[1mhost\u{1B}[0m"))
        #expect(text.contains("\u{1B}[31m123456\u{1B}[0m"))
        #expect(!text.contains("\u{1B}[31m5\u{1B}[0m"))
    }

    @Test("NO_COLOR, TERM=dumb and files turn colour off")
    func colourRules() {
        #expect(!Terminal.standardOutput(toFile: true, environment: [:]).color)
        #expect(!Terminal.standardOutput(toFile: false, environment: ["NO_COLOR": "1"]).color)
        #expect(!Terminal.standardOutput(toFile: false, environment: ["TERM": "dumb"]).color)
    }

    @Test("CSV quotes what needs quoting and parses back to the same rows")
    func csvRoundTrip() {
        let text = table.csv()
        #expect(text.hasPrefix("host,bytes,note\r\n"))
        #expect(text.contains("\"has, comma and \"\"quotes\"\"\""))
        #expect(CSV.parse(text) == [table.columns.map(\.title)] + table.rows)
        let tricky = [["a\nb", "", "x\"y", "line\r\nbreak"]]
        #expect(CSV.parse(CSV.line(tricky[0])) == tricky)
    }

    @Test("--since counts back from now; --from and --to take epoch seconds and ISO 8601")
    func times() throws {
        let now = 1_764_000_000.0
        #expect(try TimeRange.parse(since: "15m", from: nil, to: nil, now: now).from == now - 900)
        #expect(try TimeRange.parse(since: "2h", from: nil, to: nil, now: now).from == now - 7200)
        #expect(try TimeRange.parse(since: "7d", from: nil, to: nil, now: now).from == now - 7 * 86400)
        // 2026-11-25T10:00:00Z is 1,795,600,800 (python3: calendar.timegm((2026, 11, 25, 10, 0, 0))).
        let range = try TimeRange.parse(since: nil, from: "2026-11-25T10:00:00Z", to: "1795610000", now: now)
        #expect(range.from == 1_795_600_800)
        #expect(range.to == 1_795_610_000)
        #expect(try TimeRange.parse(since: nil, from: "2026-11-25", to: nil, now: now).from == 1_795_564_800)
        #expect(try TimeRange.parse(since: nil, from: "2026-11-25 10:00", to: nil, now: now).from == 1_795_600_800)
        #expect(
            try TimeRange.parse(since: nil, from: "2026-11-25T11:00:00+01:00", to: nil, now: now).from == 1_795_600_800)
        #expect(throws: TimeRange.ParseError.self) { try TimeRange.parse(since: "soon", from: nil, to: nil, now: now) }
        #expect(throws: TimeRange.ParseError.self) {
            try TimeRange.parse(since: nil, from: "yesterday", to: nil, now: now)
        }
        #expect(TimeRange.format(1_795_600_800.25) == "2026-11-25 10:00:00.250")
    }
}
