/// A geolocation database that could not be loaded. Its description is one line that names the file and the
/// problem; tests compare `code`.
public struct GeoError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public enum Code: String, Hashable, Sendable {
        /// The file does not exist (or is not a regular file).
        case missingFile = "missing file"
        /// The file exists but could not be read.
        case unreadable = "unreadable"
        /// libmaxminddb refused the file; `detail` holds MMDB_open's error string.
        case notMMDB = "not a MaxMind DB"
        /// The MaxMind DB's `database_type` is neither a City/Country nor an ASN database.
        case unknownDatabaseType = "unknown database type"
        /// A line of a tor geoip range file is not `FROM,TO,CC`; `line` is its 1-based number.
        case malformedTorLine = "malformed tor geoip line"
    }

    public var code: Code
    /// The file that could not be loaded.
    public var path: String
    /// The 1-based line, for `malformedTorLine`.
    public var line: Int?
    /// What exactly was wrong, in a few words.
    public var detail: String

    public init(_ code: Code, path: String, line: Int? = nil, detail: String) {
        self.code = code
        self.path = path
        self.line = line
        self.detail = detail
    }

    public var description: String {
        let location = line.map { "\(path):\($0)" } ?? path
        let text = detail.isEmpty ? code.rawValue : "\(code.rawValue): \(detail)"
        return "geo: \(location): \(text)"
    }
}
