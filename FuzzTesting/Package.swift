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
        .package(path: "..")
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
        )
    ]
)
