import Flows

/// What makes a sensor's Hello unacceptable, before any session opens: the collector refuses with the code and
/// reason given; the wire fuzz target runs the same checks on whatever it decodes.
public enum HelloCheck {
    /// The longest Hello `source` and `software_version`, in UTF-8 bytes: both are stored in the sensors table and
    /// shown by the query tool, so they are labels, not payloads.
    public static let maxFieldBytes = 256

    /// The version both sides speak, or why the Hello is refused. `certifiedName` is the name in the sensor's
    /// client certificate, which the Hello must repeat.
    public static func negotiate(_ hello: Wirewatch_V1_Hello, certifiedName: String) -> Result<UInt32, Refusal> {
        let version = min(WireProtocol.version, hello.protocolVersion)
        guard version >= 1 else {
            return .failure(
                Refusal(
                    code: .unsupportedVersion,
                    reason:
                        "sensor speaks version \(hello.protocolVersion); this collector speaks 1...\(WireProtocol.version)"
                ))
        }
        guard hello.sensorName == certifiedName else {
            return .failure(
                Refusal(
                    code: .nameMismatch,
                    reason: "Hello names sensor \"\(shown(hello.sensorName))\" but the certificate is for "
                        + "\"\(certifiedName)\""))
        }
        guard hello.bootID.count == 16 else {
            return .failure(Refusal(code: .badFrame, reason: "boot id of \(hello.bootID.count) bytes, not 16"))
        }
        for (field, value) in [("source", hello.source), ("software_version", hello.softwareVersion)]
        where value.utf8.count > maxFieldBytes {
            return .failure(
                Refusal(code: .badFrame, reason: "Hello \(field) of \(value.utf8.count) bytes exceeds \(maxFieldBytes)")
            )
        }
        return .success(version)
    }

    /// Why a Hello is refused: the Error code sent and its message.
    public struct Refusal: Error, Hashable, Sendable {
        public var code: Wirewatch_V1_Error.Code
        public var reason: String
    }

    /// A peer's text as it goes into a log line or an Error: at most 128 characters, control characters escaped, so
    /// a sensor can neither flood the log nor write escape sequences to an operator's terminal.
    public static func shown(_ text: String) -> String {
        let limit = 128
        return DisplayText.escape(String(text.prefix(limit))) + (text.count > limit ? "…" : "")
    }
}
