// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The per-packet path (decode, flow table, pipeline) is single-threaded by design: one capture thread owns
/// the flow table. Dynamic exclusivity checks on its class properties cost ~5% there, so release builds of
/// those modules skip them; debug builds and tests keep them.
let hotPath: [SwiftSetting] =
    strict + [
        .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
    ]

let package = Package(
    name: "wirewatch",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "wirewatch-sensor", targets: ["wirewatch-sensor"]),
        .library(name: "Packets", targets: ["Packets"]),
        .library(name: "Flows", targets: ["Flows"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
    ],
    targets: [
        // libpcap from Debian's libpcap-dev; never vendored.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // capture: libpcap handle -> CapturedPacket (timestamp, lengths, link type, bytes)
        .target(name: "Capture", dependencies: ["CPcap"], swiftSettings: strict),
        // decode: bytes -> link/IP/transport headers, DNS, HTTP, TLS (pure, no allocation per packet on L2-L4)
        .target(
            name: "Packets",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: hotPath
        ),
        // flow: bidirectional flow table, Zeek history/conn_state, app events, records
        .target(
            name: "Flows",
            dependencies: ["Packets", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: hotPath
        ),
        // wire: the protobuf schema's generated code (proto/), records <-> messages, length-prefixed framing
        .target(
            name: "Wire",
            dependencies: [
                "Flows", "Packets",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // sensor pipeline: Capture -> Packets -> Flows -> record sink
        .target(name: "Sensor", dependencies: ["Capture", "Packets", "Flows"], swiftSettings: hotPath),
        .executableTarget(
            name: "wirewatch-sensor",
            dependencies: ["Sensor", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .target(name: "TestSupport", dependencies: ["Packets"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "PacketsTests", dependencies: ["Packets", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "FlowsTests", dependencies: ["Flows", "Packets", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "CaptureTests", dependencies: ["Capture"], swiftSettings: strict),
        .testTarget(
            name: "WireTests",
            dependencies: [
                "Wire", "Flows", "Packets", "Sensor", "Capture",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SensorTests",
            dependencies: ["Sensor", "Flows", "Capture", "Packets"],
            swiftSettings: strict
        ),
    ]
)
