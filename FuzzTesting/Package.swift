// swift-tools-version: 6.0
import Foundation
import PackageDescription

// A path dependency's identity is its directory's name (the checkout may be called anything, not "wirewatch").
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent

// The fuzz targets live in their own package so that a plain `swift build` of the root never compiles them and
// their sanitizer build (`--sanitize=fuzzer`, ASan) keeps its own `.build`. Build and run with `./run.sh`.
let package = Package(
    name: "FuzzTesting",
    dependencies: [
        .package(path: ".."),
        // the root's own dependency, named here for NIOCore's ByteBuffer in FuzzWire
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
    ],
    targets: [
        // libFuzzer entry point: one input = a link-type selector byte + one captured frame, through the
        // sensor's per-packet chain (decode -> fragment reassembly -> a persistent flow table) and the L7 parsers.
        .executableTarget(
            name: "FuzzPackets",
            dependencies: [
                .product(name: "Packets", package: root),
                .product(name: "Flows", package: root),
            ]
        ),
        // One input = a list of 4-byte fragment operations over 4 datagrams, through `PacketIntake` and the
        // reassembler with small caps; checks the byte bounds and that only bytes fragments carried come out.
        .executableTarget(
            name: "FuzzFragments",
            dependencies: [
                .product(name: "Packets", package: root),
                .product(name: "Flows", package: root),
            ]
        ),
        // One input = a read size + a byte stream from a sensor: FrameDecoder, EnvelopeCodec.decode, the Hello
        // checks, RecordBatch.records(sensor:) and a BatchBuilder round trip.
        .executableTarget(
            name: "FuzzWire",
            dependencies: [
                .product(name: "Flows", package: root),
                .product(name: "Wire", package: root),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
