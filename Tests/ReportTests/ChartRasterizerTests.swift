import Foundation
import Report
import Testing

/// PNG output through `rsvg-convert`: these tests need Debian's `librsvg2-bin` installed and fail, saying so,
/// without it.
@Suite("charts as PNG and files")
struct ChartRasterizerTests {
    /// A PNG's signature, its IHDR size and the summed length of its IDAT (pixel data) chunks.
    struct PNGInfo {
        var width: UInt32
        var height: UInt32
        var pixelBytes: Int

        init?(_ data: Data) {
            let bytes = [UInt8](data)
            guard bytes.count > 33, bytes.prefix(8) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
                return nil
            }
            func u32(_ offset: Int) -> UInt32 {
                bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
            }
            guard String(decoding: bytes[12..<16], as: UTF8.self) == "IHDR" else { return nil }
            width = u32(16)
            height = u32(20)
            pixelBytes = 0
            var offset = 8
            while offset + 12 <= bytes.count {
                let length = Int(u32(offset))
                if String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self) == "IDAT" { pixelBytes += length }
                offset += 12 + length
            }
        }
    }

    static func temporaryPath(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("wirewatch-\(UUID().uuidString)-\(name)").path
    }

    static let chart = Chart.TopTalkers(
        bars: [
            Chart.Bar(label: "172.217.14.206", value: 2.31e9, detail: "Google"),
            Chart.Bar(label: "10.0.0.12", value: 1.7e9),
            Chart.Bar(label: "151.101.1.69", value: 8.8e8, detail: "Fastly"),
        ])

    static func requireTool() throws {
        let found = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            .contains { FileManager.default.isExecutableFile(atPath: "\($0)/rsvg-convert") }
        try #require(found, "rsvg-convert is missing: apt-get install librsvg2-bin")
    }

    @Test("a chart becomes a PNG of the SVG's size with real content in it")
    func png() throws {
        try Self.requireTool()
        let path = Self.temporaryPath("talkers.png")
        let blankPath = Self.temporaryPath("blank.png")
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: blankPath)
        }
        try Rasterizer.png(svg: Self.chart.svg(width: 800, height: 260), to: path)
        let info = try #require(PNGInfo(try Data(contentsOf: URL(fileURLWithPath: path))))
        #expect(info.width == 800 && info.height == 260)

        // The same size, all white, compresses to almost nothing; bars and text do not.
        let blank =
            #"<svg xmlns="http://www.w3.org/2000/svg" width="800" height="260"><rect width="800" height="260" fill="white"/></svg>"#
        try Rasterizer.png(svg: blank, to: blankPath)
        let blankInfo = try #require(PNGInfo(try Data(contentsOf: URL(fileURLWithPath: blankPath))))
        #expect(blankInfo.width == 800)
        #expect(info.pixelBytes > 5 * blankInfo.pixelBytes, "\(info.pixelBytes) vs blank \(blankInfo.pixelBytes)")
        #expect(info.pixelBytes > 8000)
    }

    @Test("without rsvg-convert the error is one line naming the file and the package to install")
    func missingTool() throws {
        let path = Self.temporaryPath("chart.png")
        let error = try #require(throws: Rasterizer.Failure.self) {
            try Rasterizer.png(svg: Self.chart.svg(), to: path, tool: "rsvg-convert", searchPath: "/nonexistent")
        }
        #expect(error.code == .toolMissing)
        #expect(error.description.contains(path) && error.description.contains("librsvg2-bin"))
        #expect(!error.description.contains("\n"))
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a renderer failure is reported with its message, on one line")
    func renderFailure() throws {
        try Self.requireTool()
        let path = Self.temporaryPath("broken.png")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(throws: Rasterizer.Failure.self) {
            try Rasterizer.png(svg: "<svg xmlns=\"http://www.w3.org/2000/svg\"><unclosed>", to: path)
        }
        #expect(error.code == .renderFailed)
        #expect(error.description.hasPrefix("cannot write \(path): rsvg-convert failed: "))
        #expect(!error.description.contains("\n"))
    }

    @Test("Chart.write picks SVG or PNG by extension and rejects anything else")
    func writeByExtension() throws {
        try Self.requireTool()
        let svgPath = Self.temporaryPath("chart.svg")
        let pngPath = Self.temporaryPath("chart.PNG")
        defer {
            try? FileManager.default.removeItem(atPath: svgPath)
            try? FileManager.default.removeItem(atPath: pngPath)
        }
        let svg = Self.chart.svg()
        try Chart.write(svg: svg, to: svgPath)
        #expect(try String(contentsOfFile: svgPath, encoding: .utf8) == svg)
        try Chart.write(svg: svg, to: pngPath)
        let info = try #require(PNGInfo(try Data(contentsOf: URL(fileURLWithPath: pngPath))))
        #expect(Int(info.width) == Self.chart.preferredSize.width)

        let error = try #require(throws: Chart.FileError.self) { try Chart.write(svg: svg, to: "/tmp/chart.jpg") }
        #expect(error.code == .unknownFormat)
        #expect(error.description == "--output /tmp/chart.jpg: expected a file name ending in .svg or .png")
        #expect(Chart.FileFormat(path: "out/x.v1.Svg") == .svg)
        #expect(Chart.FileFormat(path: "dir.png/chart") == nil)
        #expect(Chart.FileFormat(path: ".png") == .png)
    }
}
