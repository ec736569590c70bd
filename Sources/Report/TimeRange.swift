import Foundation

/// A query's time window in epoch seconds, `[from, to)`; either end may be open.
public struct TimeRange: Sendable, Hashable {
    public var from: Double?
    public var to: Double?

    public init(from: Double? = nil, to: Double? = nil) {
        self.from = from
        self.to = to
    }

    /// Why a time option could not be read: names the option and the text.
    public struct ParseError: Error, CustomStringConvertible, Hashable, Sendable {
        public var option: String
        public var text: String
        public var expected: String
        public var description: String { "\(option): '\(text)' is not \(expected)" }
    }

    /// `--since 15m` (s, m, h, d, w) counts back from `now`; `--from`/`--to` take epoch seconds or ISO 8601
    /// (`2026-11-25T10:00:00Z`, `2026-11-25 10:00`, `2026-11-25`; without a zone the time is UTC).
    public static func parse(since: String?, from: String?, to: String?, now: Double) throws(ParseError) -> TimeRange {
        var range = TimeRange()
        if let since {
            guard let seconds = duration(since) else {
                throw ParseError(option: "--since", text: since, expected: "a duration like 30s, 15m, 2h, 7d or 1w")
            }
            range.from = now - seconds
        }
        if let from {
            guard let value = instant(from) else {
                throw ParseError(option: "--from", text: from, expected: "epoch seconds or an ISO 8601 time")
            }
            range.from = value
        }
        if let to {
            guard let value = instant(to) else {
                throw ParseError(option: "--to", text: to, expected: "epoch seconds or an ISO 8601 time")
            }
            range.to = value
        }
        return range
    }

    /// `90`, `30s`, `15m`, `2h`, `7d`, `1w` in seconds.
    public static func duration(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        guard let last = text.last else { return nil }
        let (number, unit) = units[last].map { (text.dropLast(), $0) } ?? (Substring(text), 1)
        guard let value = Double(number), value.isFinite, value >= 0 else { return nil }
        return value * unit
    }

    static func instant(_ text: String) -> Double? {
        if let seconds = Double(text), seconds.isFinite { return seconds }
        var normalized = text.replacingOccurrences(of: " ", with: "T")
        if normalized.count == 10 { normalized += "T00:00:00" }
        if normalized.count == 16 { normalized += ":00" }
        let hasZone = normalized.hasSuffix("Z") || normalized.dropFirst(19).contains(where: { $0 == "+" || $0 == "-" })
        if !hasZone { normalized += "Z" }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: normalized) { return date.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: normalized)?.timeIntervalSince1970
    }

    /// `2026-11-25 10:00:00.123` (UTC), the form tables print.
    /// A time outside years 1-9999 (or not finite), which no record can really have, is written as its number.
    public static func format(_ seconds: Double, milliseconds: Bool = true) -> String {
        guard seconds.isFinite, seconds >= -62_135_596_800, seconds < 253_402_300_800 else { return "\(seconds)" }
        let whole = floor(seconds)
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        var text =
            "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        if milliseconds {
            let millis = min(999, Int(((seconds - whole) * 1000).rounded()))
            text += "." + String(repeating: "0", count: 3 - String(millis).count) + String(millis)
        }
        return text
    }
}
