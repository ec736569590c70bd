import Foundation

/// Writes a classic pcap file (microsecond timestamps, Ethernet link type) from frames built by `FrameBuilder`:
/// load for transport tests, where what matters is the number of records, not the traffic.
public enum PcapWriter {
    public static func write(path: String, frames: [(timestamp: Double, bytes: [UInt8])]) throws {
        var data = Data()
        func le32(_ value: UInt32) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        func le16(_ value: UInt16) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        le32(0xa1b2_c3d4)
        le16(2)
        le16(4)
        le32(0)
        le32(0)
        le32(65535)
        le32(1)
        for frame in frames {
            let seconds = frame.timestamp.rounded(.down)
            le32(UInt32(seconds))
            le32(UInt32(((frame.timestamp - seconds) * 1_000_000).rounded()) % 1_000_000)
            le32(UInt32(frame.bytes.count))
            le32(UInt32(frame.bytes.count))
            data.append(contentsOf: frame.bytes)
        }
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// `count` one-packet UDP flows from 127.0.0.1 (distinct source ports) to 127.0.0.2:9000, 1 ms apart.
    public static func udpFlows(path: String, count: Int, start: Double = 1_700_000_000) throws {
        let frames = (0..<count).map { index in
            (
                timestamp: start + Double(index) / 1000,
                bytes: FrameBuilder.udpFrame(
                    "127.0.0.1", UInt16(10_000 + index % 50_000), "127.0.0.2", 9000,
                    payload: Array(repeating: 0x61, count: 32))
            )
        }
        try write(path: path, frames: frames)
    }
}
