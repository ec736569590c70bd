import Flows
import Report
import Testing

/// `DisplayText.escape`, the one escaping every human-readable output applies to captured text.
@Suite("display text")
struct DisplayTextTests {
    @Test(
        "control characters are shown as \\xHH, reordering marks and separators as \\u{HHHH}",
        arguments: [
            ("\u{1B}]0;title\u{07}\u{1B}[2K", "\\x1B]0;title\\x07\\x1B[2K"),
            ("a\r\nb\tc\u{0}", "a\\x0D\\x0Ab\\x09c\\x00"),
            ("del\u{7F} csi\u{9B}2J nel\u{85}", "del\\x7F csi\\x9B2J nel\\x85"),
            ("user\u{202E}gpj.exe", "user\\u{202E}gpj.exe"),
            ("line\u{2028}para\u{2029}", "line\\u{2028}para\\u{2029}"),
            ("isolate\u{2066}x\u{2069}", "isolate\\u{2066}x\\u{2069}"),
        ])
    func escaped(input: String, shown: String) {
        #expect(DisplayText.escape(input) == shown)
        #expect(!DisplayText.escape(input).unicodeScalars.contains(where: DisplayText.needsEscape))
    }

    @Test(
        "printable text is unchanged: ASCII, backslashes (DNS presentation form), accents, CJK, emoji, NBSP",
        arguments: ["curl/8.0", "ex\\.ample\\032.com", "caf\u{E9}", "\u{4F8B}\u{5B50}", "\u{1F600}", "a\u{A0}b", ""])
    func unchanged(text: String) {
        #expect(DisplayText.escape(text) == text)
    }

    @Test("a table escapes its cells before measuring them, so columns stay aligned")
    func tableAlignment() {
        let table = Table(
            columns: [.init("agent"), .init("n", .right)], rows: [["\u{1B}[2Kx", "1"], ["plain", "22"]])
        let text = table.render(on: Terminal(isTerminal: false, color: false))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[2] == "\\x1B[2Kx   1")
        #expect(lines[3] == "plain     22")
        #expect(!text.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    @Test("a colour table keeps its own styles and escapes the cells' ESC")
    func colourTable() {
        let table = Table(columns: [.init("agent")], rows: [["\u{1B}]0;t\u{07}"]])
        let text = table.render(on: Terminal(isTerminal: true, color: true)) { _, _ in .red }
        #expect(text.contains("\u{1B}[31m\\x1B]0;t\\x07\u{1B}[0m"))
        #expect(!text.contains("\u{07}"))
    }

    @Test("CSV escapes control characters; quoting still guards commas and quotes")
    func csv() {
        let table = Table(columns: [.init("a"), .init("b")], rows: [["x\r\ny", "p,\"q\""]])
        let text = table.csv()
        #expect(text == "a,b\r\nx\\x0D\\x0Ay,\"p,\"\"q\"\"\"\r\n")
        #expect(CSV.parse(text) == [["a", "b"], ["x\\x0D\\x0Ay", "p,\"q\""]])
    }

    @Test("HTML report cells show control characters visibly; markup is still escaped")
    func html() {
        let table = Table(columns: [.init("agent")], rows: [["<b>\u{1B}[2K\r\n</b>"]])
        let html = HTMLReport.render(table)
        #expect(html.contains("<td>&lt;b&gt;\\x1B[2K\\x0D\\x0A&lt;/b&gt;</td>"))
    }
}
