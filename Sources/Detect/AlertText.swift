import Flows

/// The collector's readable form of an alert, one block per alert (the seed's `[ALERT] Port scan detected! ...`):
/// a title line, then one indented line per field that the alert has.
public enum AlertText {
    public static func title(_ kind: AlertKind) -> String {
        switch kind {
        case .portScan: return "Port scan detected!"
        case .trafficSpike: return "Traffic spike detected!"
        case .unusualPort: return "Unusual port detected!"
        case .protocolShift: return "Protocol distribution shift detected!"
        case .dnsSuspicious: return "Suspicious DNS detected!"
        case .sensorHealth: return "Sensor health problem!"
        }
    }

    /// `updated` says the episode was reported before and grew.
    public static func block(_ alert: AlertRecord, updated: Bool = false) -> String {
        var lines: [String] = []
        var head = "[ALERT] \(title(alert.kind)) \(alert.kind.rawValue)/\(alert.subtype), \(alert.severity.rawValue)"
        if updated { head += " (updated)" }
        lines.append(head)
        if let src = alert.src { lines.append("  Source: \(src)") }
        if !alert.targets.isEmpty { lines.append("  Targets: \(list(alert.targets))") }
        if !alert.ports.isEmpty {
            let label = alert.kind == .portScan ? "Ports scanned" : "Ports"
            lines.append("  \(label): \(alert.ports.count) (\(portRanges(alert.ports)))")
        }
        lines.append("  Time window: \(seconds(alert.lastTS - alert.firstTS)) seconds")
        if !alert.sensors.isEmpty { lines.append("  Sensors: \(alert.sensors.joined(separator: ", "))") }
        lines.append("  Events: \(alert.count)")
        // The message repeats the fields above when it is the seed's one-line form; other messages add to them.
        if !alert.message.isEmpty && !alert.message.hasPrefix(title(alert.kind)) { lines.append("  \(alert.message)") }
        lines.append("  Id: \(alert.id)")
        // Sources, targets, sensors and messages can carry captured text; the block goes to a terminal or a log.
        return lines.map(DisplayText.escape).joined(separator: "\n") + "\n"
    }

    /// `20-30, 8080`: consecutive ports folded into ranges.
    public static func portRanges(_ ports: [UInt16]) -> String {
        var parts: [String] = []
        var index = 0
        let sorted = ports.sorted()
        while index < sorted.count {
            var end = index
            while end + 1 < sorted.count && sorted[end + 1] == sorted[end] &+ 1 && sorted[end] != .max { end += 1 }
            parts.append(end == index ? "\(sorted[index])" : "\(sorted[index])-\(sorted[end])")
            index = end + 1
        }
        return parts.joined(separator: ", ")
    }

    /// At most 10 items, then "and N more".
    static func list(_ items: [String]) -> String {
        guard items.count > 10 else { return items.joined(separator: ", ") }
        return items.prefix(10).joined(separator: ", ") + " and \(items.count - 10) more"
    }

    /// One decimal place: `2.3`.
    static func seconds(_ value: Double) -> String {
        guard value.isFinite, value >= 0 else { return "0.0" }
        return fixed(value, digits: 1)
    }
}
