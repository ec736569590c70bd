/// Why a capture could not be opened or read. Each case names the file or interface at fault.
public enum CaptureError: Error, Sendable, Hashable, CustomStringConvertible {
    case fileNotFound(path: String)
    case notACapture(path: String, reason: String)
    case unreadableFile(path: String, reason: String)
    case noSuchInterface(interface: String)
    case permissionDenied(interface: String, reason: String)
    case cannotActivate(interface: String, reason: String)
    case badFilter(expression: String, reason: String)
    case unsupportedLinkType(source: String, linkType: Int32, name: String)
    case readFailed(source: String, reason: String)
    /// The kernel would not join a live handle to a `PACKET_FANOUT` group (`--workers N` above 1).
    case fanoutRefused(interface: String, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            return "\(path): no such file"
        case .notACapture(let path, let reason):
            return "\(path): not a pcap or pcapng capture (\(reason))"
        case .unreadableFile(let path, let reason):
            return "\(path): cannot read capture: \(reason)"
        case .noSuchInterface(let interface):
            return "interface \(interface): no such capture device (see `ip link` for the names)"
        case .permissionDenied(let interface, let reason):
            return "interface \(interface): permission denied (\(reason)); run as root or grant the binary "
                + "CAP_NET_RAW and CAP_NET_ADMIN (setcap cap_net_raw,cap_net_admin=eip wirewatch-sensor)"
        case .cannotActivate(let interface, let reason):
            return "interface \(interface): cannot start capture: \(reason)"
        case .badFilter(let expression, let reason):
            return "--filter '\(expression)': \(reason)"
        case .unsupportedLinkType(let source, let linkType, let name):
            return "\(source): unsupported link type \(linkType) (\(name))"
        case .readFailed(let source, let reason):
            return "\(source): read error: \(reason)"
        case .fanoutRefused(let interface, let reason):
            return "interface \(interface): the kernel refused PACKET_FANOUT for --workers (\(reason)); "
                + "use --workers 1"
        }
    }
}
