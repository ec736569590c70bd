import Foundation

extension Chart {
    /// What a chart's values measure, and how to print them: SI prefixes (k = 1000, as network rates count),
    /// three significant digits.
    public enum Unit: Sendable, Hashable {
        case bytes
        case bytesPerSecond
        case bitsPerSecond
        case packets
        case packetsPerSecond
        /// A plain count of `noun`s: `count("flows")` prints `12 flows`, `3.4 k flows`.
        case count(String)

        static let prefixes = ["", "k", "M", "G", "T", "P", "E"]

        /// What the axis measures, before its unit: `Throughput (MB/s)`.
        public var quantity: String {
            switch self {
            case .bytes: "Volume"
            case .bytesPerSecond, .bitsPerSecond: "Throughput"
            case .packets: "Packets"
            case .packetsPerSecond: "Packet rate"
            case .count(let noun): noun.prefix(1).uppercased() + noun.dropFirst()
            }
        }

        /// The unit in words, for captions: `bytes`, `packets/s`, `flows`.
        public var name: String {
            switch self {
            case .bytes: "bytes"
            case .bytesPerSecond: "bytes/s"
            case .bitsPerSecond: "bits/s"
            case .packets: "packets"
            case .packetsPerSecond: "packets/s"
            case .count(let noun): noun
            }
        }

        /// The symbol for values scaled by 1000^`power`: `B/s`, `kB/s`, `MB/s`; `pkts/s`, `k pkts/s`.
        public func symbol(power: Int) -> String {
            let prefix = Unit.prefixes[max(0, min(power, Unit.prefixes.count - 1))]
            switch self {
            case .bytes: return prefix + "B"
            case .bytesPerSecond: return prefix + "B/s"
            case .bitsPerSecond: return prefix + "bit/s"
            case .packets: return prefix.isEmpty ? "pkts" : "\(prefix) pkts"
            case .packetsPerSecond: return prefix.isEmpty ? "pkts/s" : "\(prefix) pkts/s"
            case .count(let noun): return prefix.isEmpty ? noun : "\(prefix) \(noun)"
            }
        }

        /// An axis title: `Throughput (MB/s)`, `Packet rate (pkts/s)`; counts need no unit (`Flows`) until
        /// scaled (`Flows (thousands)`).
        public func axisTitle(power: Int) -> String {
            guard case .count = self else { return "\(quantity) (\(symbol(power: power)))" }
            let scales = ["", "thousands", "millions", "billions", "trillions", "quadrillions", "quintillions"]
            let scale = scales[max(0, min(power, scales.count - 1))]
            return scale.isEmpty ? quantity : "\(quantity) (\(scale))"
        }

        /// The power of 1000 that brings `magnitude` into [1, 1000).
        static func power(for magnitude: Double) -> Int {
            let value = abs(magnitude)
            guard value.isFinite, value >= 1000 else { return 0 }
            var power = 0
            var scaled = value
            while scaled >= 1000, power < prefixes.count - 1 {
                scaled /= 1000
                power += 1
            }
            return power
        }

        /// `1.5 MB/s`, `512 B`, `3 pkts/s`, `12.3 k flows`; `–` for NaN or infinity.
        public func format(_ value: Double) -> String {
            guard value.isFinite else { return "–" }
            var power = Unit.power(for: value)
            var scaled = value / pow(1000, Double(power))
            var text = Unit.significant(scaled)
            // 999.7 rounds to "1000": say "1 k" instead.
            if abs(Double(text) ?? 0) >= 1000, power < Unit.prefixes.count - 1 {
                power += 1
                scaled = value / pow(1000, Double(power))
                text = Unit.significant(scaled)
            }
            return "\(text) \(symbol(power: power))"
        }

        /// Three significant digits, trailing zeros dropped: `1.5`, `12.3`, `512`, `0.25`.
        static func significant(_ value: Double) -> String {
            let magnitude = abs(value)
            let decimals = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 || magnitude == 0 ? 2 : 3
            return trimmed(String(format: "%.\(decimals)f", value))
        }

        static func trimmed(_ text: String) -> String {
            guard text.contains(".") else { return text == "-0" ? "0" : text }
            var result = Substring(text)
            while result.last == "0" { result = result.dropLast() }
            if result.last == "." { result = result.dropLast() }
            return result == "-0" ? "0" : String(result)
        }
    }
}
