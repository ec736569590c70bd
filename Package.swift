// swift-tools-version: 6.0
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The per-packet path is two threads, each owning its state: the capture reader's (libpcap, batches) and the
/// pipeline's (decode, flow table); on the collector, one ingest thread owns the database connection and the
/// detectors, and one event loop each connection. Dynamic exclusivity checks on class properties cost ~5% there, so release builds
/// of those modules skip them; debug builds and tests keep them.
let hotPath: [SwiftSetting] =
    strict + [
        .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))
    ]

let package = Package(
    name: "wirewatch",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wirewatch-sensor", targets: ["wirewatch-sensor"]),
        .executable(name: "wirewatch-collector", targets: ["wirewatch-collector"]),
        .executable(name: "wirewatch", targets: ["wirewatch"]),
        .library(name: "Packets", targets: ["Packets"]),
        .library(name: "Flows", targets: ["Flows"]),
        // for FuzzTesting's wire target (frames, envelopes, batches)
        .library(name: "Wire", targets: ["Wire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // libpcap from Debian's libpcap-dev; never vendored.
        .systemLibrary(name: "CPcap", pkgConfig: "libpcap", providers: [.apt(["libpcap-dev"])]),
        // glibc's mallopt, for the sensor's one-arena setting (see wirewatch-sensor's main)
        .systemLibrary(name: "CMalloc"),
        // geolocation: libmaxminddb from Debian's libmaxminddb-dev; never vendored
        .systemLibrary(name: "CMaxMindDB", pkgConfig: "libmaxminddb", providers: [.apt(["libmaxminddb-dev"])]),
        // SQLite from Debian's libsqlite3-dev.
        .systemLibrary(name: "CSQLite3", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // capture: libpcap handle -> CapturedPacket (timestamp, lengths, link type, bytes)
        .target(name: "Capture", dependencies: ["CPcap"], swiftSettings: hotPath),
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
        // wire: the protobuf schema's generated code (proto/), records <-> messages, length-prefixed framing, mTLS setup
        .target(
            name: "Wire",
            dependencies: [
                "Flows", "Packets",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: hotPath
        ),
        // sensor pipeline: Capture -> Packets -> Flows -> record sink
        .target(name: "Sensor", dependencies: ["Capture", "Packets", "Flows"], swiftSettings: hotPath),
        // the main of the sensor and collector programs: parse, run, exit codes, one-line errors
        .target(
            name: "ToolMain",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "wirewatch-sensor",
            dependencies: [
                "Sensor", "Shipper", "Spool", "Wire", "Certs", "Capture", "Flows", "ToolMain", "Config", "CMalloc",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // configuration files (one TOML-subset format for every program) and address prefixes for allow-lists
        .target(name: "Config", dependencies: ["Packets"], swiftSettings: strict),
        // detection: streaming detectors on event time over every sensor's records -> alerts
        .target(name: "Detect", dependencies: ["Config", "Flows", "Packets"], swiftSettings: hotPath),
        // storage: the RecordStore protocol and its SQLite implementation (records + per-sensor committed sequence)
        .target(name: "Store", dependencies: ["Flows", "Packets", "CSQLite3"], swiftSettings: hotPath),
        // certificates: a private CA, the collector's and each sensor's certificate (swift-certificates)
        .target(
            name: "Certs",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // spool: bounded, crash-safe on-disk queue of encoded batches awaiting acknowledgement
        .target(name: "Spool", swiftSettings: strict),
        // sensor -> collector: batcher, mTLS client with window, acks and reconnect
        .target(
            name: "Shipper",
            dependencies: [
                "Sensor", "Wire", "Flows", "Spool",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        // collector: mTLS server, per-connection protocol state, ingest into a RecordStore, acks after commit
        .target(
            name: "Collector",
            dependencies: [
                "Store", "Wire", "Flows", "Certs", "Detect",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: hotPath
        ),
        .executableTarget(
            name: "wirewatch-collector",
            dependencies: [
                "Collector", "Store", "Wire", "Report", "Geo", "ToolMain", "Detect", "Config", "Flows",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        // geolocation and address scopes: MaxMind/DB-IP .mmdb files, Debian's tor-geoipdb ranges as the default
        .target(name: "Geo", dependencies: ["CMaxMindDB", "Packets"], swiftSettings: strict),
        // reports: tables, CSV, JSON for the query tool
        .target(name: "Report", dependencies: ["Flows", "Packets", "Store"], swiftSettings: strict),
        .executableTarget(
            name: "wirewatch",
            dependencies: [
                "Certs", "Store", "Flows", "Packets", "Report", "Geo", "Detect", "Config", "Sensor", "Capture",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TestSupport", dependencies: ["Packets", "Flows", "Sensor"], path: "Tests/TestSupport",
            swiftSettings: strict),
        .testTarget(name: "PacketsTests", dependencies: ["Packets", "Flows", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "FlowsTests", dependencies: ["Flows", "Packets", "TestSupport", "CMalloc"], swiftSettings: strict),
        .testTarget(name: "CaptureTests", dependencies: ["Capture"], swiftSettings: strict),
        .testTarget(
            name: "WireTests",
            dependencies: [
                "Wire", "Flows", "Packets", "Sensor", "Capture", "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SensorTests",
            dependencies: ["Sensor", "Flows", "Capture", "Packets", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StoreTests", dependencies: ["Store", "Flows", "Packets", "TestSupport"], swiftSettings: strict),
        .testTarget(
            name: "ReportTests", dependencies: ["Report", "Store", "Flows", "Packets", "Sensor", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "DetectTests", dependencies: ["Detect", "Config", "Flows", "Packets", "Sensor", "TestSupport"],
            swiftSettings: strict),
        .testTarget(name: "GeoTests", dependencies: ["Geo", "Packets"], swiftSettings: strict),
        .testTarget(name: "SpoolTests", dependencies: ["Spool"], swiftSettings: strict),
        .testTarget(
            name: "CertsTests",
            dependencies: [
                "Certs",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TransportTests",
            dependencies: [
                "Collector", "Shipper", "Spool", "Certs", "Store", "Wire", "Sensor", "Flows", "Packets", "TestSupport",
                "Detect", "Config",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ],
            swiftSettings: strict
        ),
    ]
)
