import Detect
import Flows
import Testing

/// The collector's alert text goes to a terminal or a log: captured text in it is shown, never acted on.
@Suite("alert text escaping")
struct AlertTextEscapeTests {
    @Test("control characters in an alert's source, targets, sensors and message are escaped")
    func escaped() {
        let alert = AlertRecord(
            ts: 10, id: "A1", kind: .dnsSuspicious, subtype: "long-name", severity: .medium, src: "10.0.0.1\u{1B}[2K",
            targets: ["t\u{07}"], ports: [53], firstTS: 1, lastTS: 2, sensors: ["s\u{9B}1"], count: 1,
            message: "query \u{1B}]0;pwned\u{07} is long\nsecond line")
        let text = AlertText.block(alert)
        #expect(text.contains("Source: 10.0.0.1\\x1B[2K"))
        #expect(text.contains("Targets: t\\x07"))
        #expect(text.contains("Sensors: s\\x9B1"))
        #expect(text.contains("query \\x1B]0;pwned\\x07 is long\\x0Asecond line"))
        // Only the block's own line ends remain.
        #expect(!text.unicodeScalars.contains { DisplayText.needsEscape($0) && $0 != "\n" })
        #expect(text.split(separator: "\n").count == 9)
    }
}
