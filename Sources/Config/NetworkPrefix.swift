import Packets

/// An address block such as `10.0.0.0/8` or `2001:db8::/32` (a bare address is its own /32 or /128); used by
/// allow-lists and per-network baselines.
public struct NetworkPrefix: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    public let length: Int

    /// Parses `ADDRESS` or `ADDRESS/LENGTH`; nil when either part is not valid. The host bits are cleared.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { return nil }
        let maximum = address.isV4 ? 32 : 128
        var length = maximum
        if parts.count == 2 {
            guard let parsed = Int(parts[1]), (0...maximum).contains(parsed) else { return nil }
            length = parsed
        }
        self.init(address, length: length)
    }

    /// The block of `length` bits holding `address`.
    public init(_ address: IPAddress, length: Int) {
        switch address {
        case .v4(let value):
            let bits = max(0, min(32, length))
            let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
            network = .v4(value & mask)
            self.length = bits
        case .v6(let high, let low):
            let bits = max(0, min(128, length))
            let highMask: UInt64 = bits == 0 ? 0 : bits >= 64 ? ~0 : ~UInt64(0) << (64 - bits)
            let lowMask: UInt64 = bits <= 64 ? 0 : bits == 128 ? ~0 : ~UInt64(0) << (128 - bits)
            network = .v6(high & highMask, low & lowMask)
            self.length = bits
        }
    }

    public func contains(_ address: IPAddress) -> Bool {
        guard address.isV4 == network.isV4 else { return false }
        return NetworkPrefix(address, length: length).network == network
    }

    public var description: String { "\(network)/\(length)" }
}

extension IPAddress {
    var isV4: Bool {
        if case .v4 = self { return true }
        return false
    }
}

/// A list of prefixes (an allow-list); empty contains nothing.
public struct PrefixList: Hashable, Sendable {
    public var prefixes: [NetworkPrefix]

    public init(_ prefixes: [NetworkPrefix] = []) { self.prefixes = prefixes }

    public func contains(_ address: IPAddress) -> Bool { prefixes.contains { $0.contains(address) } }

    public var isEmpty: Bool { prefixes.isEmpty }
}
