/// A detector's alert: one episode (a scan, a spike, a silent sensor), updated as it grows and re-stored under the same
/// `id`, so an episode is one alert, not one alert per packet (DESIGN.md "Detection semantics").
///
/// Times are event time (packet timestamps), epoch seconds. `ts` is when the episode was raised; `firstTS` and
/// `lastTS` bound the evidence seen so far.
public struct AlertRecord: Hashable, Sendable {
    public var ts: Double
    /// Stable for the whole episode: storing an alert with an existing id replaces that alert.
    public var id: String
    public var kind: AlertKind
    /// One of `kind.subtypes` (DESIGN.md's fixed strings); kept as text so a newer detector's subtype still stores.
    public var subtype: String
    public var severity: AlertSeverity
    /// The source address, "multiple" for a distributed episode, nil when the alert has none (sensor health).
    public var src: String?
    /// Addresses (or sensor names) the episode was aimed at.
    public var targets: [String]
    /// Ports involved, ascending and without repeats whatever order they are assigned in.
    public var ports: [UInt16] {
        didSet { ports = Self.normalized(ports) }
    }
    public var firstTS: Double
    public var lastTS: Double
    /// The sensors that saw the episode.
    public var sensors: [String]
    /// Probes or events counted in the episode.
    public var count: Int
    /// One line for people.
    public var message: String
    /// Kind-specific fields, such as a port scan's `scope`, `speed`, `rejected` and `filtered`, or a spike's
    /// `baseline` and `observed`.
    public var detail: [String: AlertValue]

    public init(
        ts: Double, id: String, kind: AlertKind, subtype: String, severity: AlertSeverity, src: String?,
        targets: [String], ports: [UInt16], firstTS: Double, lastTS: Double, sensors: [String], count: Int,
        message: String, detail: [String: AlertValue] = [:]
    ) {
        self.ts = ts
        self.id = id
        self.kind = kind
        self.subtype = subtype
        self.severity = severity
        self.src = src
        self.targets = targets
        self.ports = Self.normalized(ports)
        self.firstTS = firstTS
        self.lastTS = lastTS
        self.sensors = sensors
        self.count = count
        self.message = message
        self.detail = detail
    }

    private static func normalized(_ ports: [UInt16]) -> [UInt16] {
        var sorted = ports.sorted()
        var last: UInt16?
        sorted.removeAll { port in
            defer { last = port }
            return port == last
        }
        return sorted
    }

    /// The fields every alert has, by their JSON names; a detail key equal to one of them is written as `detail.KEY`.
    public static let fieldNames: Set<String> = [
        "type", "ts", "id", "kind", "subtype", "severity", "src", "targets", "ports", "first_ts", "last_ts", "sensors",
        "count", "message",
    ]

    /// One JSON object on one line (`"type":"alert"`): DESIGN.md's fields in its order, then the detail fields in key
    /// order at the same level, as Zeek's notice.log keeps its extra fields beside the fixed ones.
    public var jsonLine: String {
        var json = AlertJSON()
        json.raw("type", "\"alert\"")
        json.time("ts", ts)
        json.string("id", id)
        json.string("kind", kind.rawValue)
        json.string("subtype", subtype)
        json.string("severity", severity.rawValue)
        if let src { json.string("src", src) }
        json.raw("targets", "[" + targets.map(AlertJSON.quoted).joined(separator: ",") + "]")
        json.raw("ports", "[" + ports.map { String($0) }.joined(separator: ",") + "]")
        json.time("first_ts", firstTS)
        json.time("last_ts", lastTS)
        json.raw("sensors", "[" + sensors.map(AlertJSON.quoted).joined(separator: ",") + "]")
        json.raw("count", String(count))
        json.string("message", message)
        for key in detail.keys.sorted() {
            let name = Self.fieldNames.contains(key) ? "detail." + key : key
            switch detail[key] {
            case .string(let s): json.string(name, s)
            case .int(let i): json.raw(name, String(i))
            // Written with microsecond precision, as times are; JSON has no non-finite numbers, so those are left out.
            case .double(let d): json.time(name, d)
            case .bool(let b): json.raw(name, b ? "true" : "false")
            case nil: break
            }
        }
        return json.finish()
    }
}

/// Builds the alert's JSON line with the same escaping and time format as `JSONObjectWriter`, plus the integer list
/// (`ports`) that writer has no field for.
private struct AlertJSON {
    private var out = "{"
    private var first = true

    static func quoted(_ value: String) -> String {
        var out = ""
        JSONObjectWriter.appendEscaped(value, to: &out)
        return out
    }

    mutating func raw(_ name: String, _ value: String) {
        if first { first = false } else { out += "," }
        JSONObjectWriter.appendEscaped(name, to: &out)
        out += ":" + value
    }

    mutating func string(_ name: String, _ value: String) { raw(name, Self.quoted(value)) }

    mutating func time(_ name: String, _ value: Double) {
        guard value.isFinite else { return }
        raw(name, JSONObjectWriter.formatMicros(value))
    }

    mutating func finish() -> String { out + "}" }
}

/// The alert kinds of DESIGN.md, with their fixed subtypes.
public enum AlertKind: String, CaseIterable, Hashable, Sendable {
    case portScan = "port-scan"
    case trafficSpike = "traffic-spike"
    case unusualPort = "unusual-port"
    case protocolShift = "protocol-shift"
    case dnsSuspicious = "dns-suspicious"
    case sensorHealth = "sensor-health"

    /// The subtypes DESIGN.md fixes for this kind.
    public var subtypes: [String] {
        switch self {
        case .portScan: return ["tcp-syn", "tcp-connect", "udp", "tcp-fin", "tcp-null", "tcp-xmas", "tcp-ack"]
        case .trafficSpike: return ["packets", "bytes", "flows"]
        case .unusualPort: return ["rare-port", "new-service"]
        case .protocolShift: return ["distribution"]
        case .dnsSuspicious: return ["high-entropy", "tunneling", "nxdomain-burst", "long-name"]
        case .sensorHealth: return ["capture-loss", "silent", "spool-drops", "clock-skew"]
        }
    }
}

/// How urgent an alert is; ordered low < medium < high.
public enum AlertSeverity: String, CaseIterable, Hashable, Sendable, Comparable {
    case low, medium, high

    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool {
        guard let l = allCases.firstIndex(of: lhs), let r = allCases.firstIndex(of: rhs) else { return false }
        return l < r
    }
}

/// One kind-specific alert field: text, an integer, a number or a flag (what JSON can hold without nesting).
public enum AlertValue: Hashable, Sendable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral
{
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
