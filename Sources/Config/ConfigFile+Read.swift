import Foundation

extension ConfigFile {
    /// Reads and parses the file at `path`; a missing, unreadable or non-UTF-8 file fails naming it.
    public init(contentsOf path: String) throws(ConfigError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let reason =
                FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw ConfigError(path: path, line: nil, "configuration file \(reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(path: path, line: nil, "configuration file is not UTF-8 text")
        }
        try self.init(parsing: text, path: path)
    }
}
