/// The protocol layer a decoder was working on when it stopped.
public enum Layer: String, Sendable, Hashable, CaseIterable {
    case link, ethernet, vlan, sll, sll2, null, ipv4, ipv6, tcp, udp, icmp, icmpv6, dns, http, tls
}

/// Why a decoder stopped. The set of cases is closed; every value maps to a stable counter name
/// (like Zeek's "weird" names) so that the sensor counts problems instead of logging per packet.
public enum DecodeError: Error, Hashable, Sendable {
    /// The bytes end before a field that the header says is there.
    case truncated(Layer, needed: Int, available: Int)
    /// A field holds a value the protocol forbids; the reason is a short stable snake_case token.
    case malformed(Layer, String)
    /// A well-formed value this decoder does not handle (an unknown link type, say).
    case unsupported(Layer, Int)

    /// The stable counter name of this error, `layer.reason`, for example `ipv4.truncated`.
    public var counterName: String {
        switch self {
        case .truncated(let layer, _, _): return "\(layer.rawValue).truncated"
        case .malformed(let layer, let reason): return "\(layer.rawValue).\(reason)"
        case .unsupported(let layer, _): return "\(layer.rawValue).unsupported"
        }
    }

    /// The layer the error is about.
    public var layer: Layer {
        switch self {
        case .truncated(let layer, _, _), .malformed(let layer, _), .unsupported(let layer, _): return layer
        }
    }
}
