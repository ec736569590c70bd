import Foundation

extension Chart {
    /// What `chart … --output FILE` writes, by the file's extension.
    public enum FileFormat: String, Sendable, Hashable, CaseIterable {
        case svg, png

        /// `.svg` or `.png` (any case); nil for anything else.
        public init?(path: String) {
            let name = path.split(separator: "/").last ?? ""
            guard let dot = name.lastIndex(of: "."),
                let format = FileFormat(rawValue: name[dot...].dropFirst().lowercased())
            else { return nil }
            self = format
        }
    }

    /// Why a chart file could not be written: names the file.
    public struct FileError: Error, CustomStringConvertible, Hashable, Sendable {
        public enum Code: String, Sendable, Hashable {
            /// The extension is neither `.svg` nor `.png` (bad usage).
            case unknownFormat
            /// Writing failed.
            case writeFailed
        }

        public var code: Code
        public var path: String
        public var detail: String

        public var description: String {
            switch code {
            case .unknownFormat: "--output \(path): expected a file name ending in .svg or .png"
            case .writeFailed: "cannot write \(path): \(detail)"
            }
        }
    }

    /// Writes `svg` to `path` as SVG or, for `.png`, through `Rasterizer`; throws `FileError` or
    /// `Rasterizer.Failure`.
    public static func write(svg: String, to path: String) throws {
        switch FileFormat(path: path) {
        case .svg:
            do {
                try Data(svg.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw FileError(code: .writeFailed, path: path, detail: error.localizedDescription)
            }
        case .png: try Rasterizer.png(svg: svg, to: path)
        case nil: throw FileError(code: .unknownFormat, path: path, detail: "")
        }
    }
}
