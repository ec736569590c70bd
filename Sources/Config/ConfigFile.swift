/// The configuration file format of Wirewatch's programs: a small subset of TOML.
///
/// ```
/// # comment
/// [scan]
/// threshold = 10                     # integer
/// window = 60.0                      # number
/// enabled = true                     # flag
/// name = "text"                      # string
/// allow-sources = ["10.0.0.0/8", "192.0.2.7"]   # list of strings or numbers
/// ```
///
/// Every key belongs to a `[section]`. Unknown sections and keys are errors (a misspelt threshold must not be
/// silently ignored), and every error names the file, the line and the key.
public struct ConfigFile: Sendable {
    public let path: String
    private var sections: [String: ConfigSection] = [:]

    /// An empty configuration: every section reads its defaults.
    public init(path: String = "(defaults)") { self.path = path }

    /// Parses `text`, read from `path` (named in errors).
    public init(parsing text: String, path: String) throws(ConfigError) {
        self.path = path
        var current: String?
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let number = index + 1
            let line = Self.strippingComment(Substring(rawLine)).trimmingSpaces
            if line.isEmpty { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else {
                    throw ConfigError(path: path, line: number, "malformed section header '\(line)'")
                }
                let name = String(line.dropFirst().dropLast()).trimmingSpaces
                guard !name.isEmpty, name.allSatisfy(Self.isKeyCharacter) else {
                    throw ConfigError(path: path, line: number, "malformed section name '\(name)'")
                }
                guard sections[name] == nil else {
                    throw ConfigError(path: path, line: number, "section [\(name)] appears twice")
                }
                sections[name] = ConfigSection(name: name, path: path)
                current = name
                continue
            }
            guard let equals = line.firstIndex(of: "=") else {
                throw ConfigError(path: path, line: number, "expected 'key = value', found '\(line)'")
            }
            let key = String(line[..<equals]).trimmingSpaces
            guard !key.isEmpty, key.allSatisfy(Self.isKeyCharacter) else {
                throw ConfigError(path: path, line: number, "malformed key '\(key)'")
            }
            guard let section = current else {
                throw ConfigError(path: path, line: number, "key '\(key)' is outside any [section]")
            }
            let valueText = String(line[line.index(after: equals)...]).trimmingSpaces
            let value = try ConfigValue.parse(valueText, path: path, line: number, key: key)
            guard sections[section]?.entries[key] == nil else {
                throw ConfigError(path: path, line: number, "key '\(key)' appears twice in [\(section)]")
            }
            sections[section]?.entries[key] = ConfigSection.Entry(value: value, line: number)
        }
    }

    /// The named section; an empty one (all defaults) when the file has none.
    public func section(_ name: String) -> ConfigSection {
        sections[name] ?? ConfigSection(name: name, path: path)
    }

    /// Fails on a section none of the program's parts reads.
    public func checkSections(known: Set<String>) throws(ConfigError) {
        for name in sections.keys.sorted() where !known.contains(name) {
            let line = sections[name]?.entries.values.map(\.line).min()
            throw ConfigError(
                path: path, line: line,
                "unknown section [\(name)] (known: \(known.sorted().map { "[\($0)]" }.joined(separator: ", ")))")
        }
    }

    static func isKeyCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "-" || c == "_" || c == ".")
    }

    /// Drops a `#` comment that is not inside a string.
    private static func strippingComment(_ line: Substring) -> Substring {
        var inString = false
        var escaped = false
        for index in line.indices {
            let c = line[index]
            if escaped {
                escaped = false
            } else if c == "\\" && inString {
                escaped = true
            } else if c == "\"" {
                inString.toggle()
            } else if c == "#" && !inString {
                return line[..<index]
            }
        }
        return line
    }
}

/// One value of the file.
public enum ConfigValue: Hashable, Sendable {
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case string(String)
    case list([ConfigValue])

    static func parse(_ text: String, path: String, line: Int, key: String) throws(ConfigError) -> ConfigValue {
        var parser = ValueParser(chars: Array(text))
        do throws(ValueParser.Failure) {
            let value = try parser.value(nested: false)
            parser.skipSpaces()
            guard parser.atEnd else { throw ValueParser.Failure("unexpected text after the value") }
            return value
        } catch {
            throw ConfigError(path: path, line: line, "key '\(key)': \(error.message) in '\(text)'")
        }
    }

    public var typeName: String {
        switch self {
        case .int: return "an integer"
        case .double: return "a number"
        case .bool: return "true or false"
        case .string: return "a string"
        case .list: return "a list"
        }
    }
}

private struct ValueParser {
    struct Failure: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    let chars: [Character]
    var index = 0

    var atEnd: Bool { index >= chars.count }

    mutating func skipSpaces() {
        while index < chars.count, chars[index] == " " || chars[index] == "\t" { index += 1 }
    }

    mutating func value(nested: Bool) throws(Failure) -> ConfigValue {
        skipSpaces()
        guard index < chars.count else { throw Failure("missing value") }
        switch chars[index] {
        case "\"": return .string(try string())
        case "[":
            guard !nested else { throw Failure("lists inside lists are not supported") }
            return .list(try list())
        default: return try scalar()
        }
    }

    mutating func string() throws(Failure) -> String {
        index += 1
        var out = ""
        while index < chars.count {
            let c = chars[index]
            index += 1
            switch c {
            case "\"": return out
            case "\\":
                guard index < chars.count else { break }
                let escaped = chars[index]
                index += 1
                switch escaped {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\", "\"": out.append(escaped)
                default: throw Failure("unknown escape \\\(escaped)")
                }
            default: out.append(c)
            }
        }
        throw Failure("unterminated string")
    }

    mutating func list() throws(Failure) -> [ConfigValue] {
        index += 1
        var items: [ConfigValue] = []
        while true {
            skipSpaces()
            guard index < chars.count else { throw Failure("unterminated list") }
            if chars[index] == "]" {
                index += 1
                return items
            }
            items.append(try value(nested: true))
            skipSpaces()
            guard index < chars.count else { throw Failure("unterminated list") }
            if chars[index] == "," {
                index += 1
            } else if chars[index] != "]" {
                throw Failure("expected ',' or ']' in the list")
            }
        }
    }

    mutating func scalar() throws(Failure) -> ConfigValue {
        let start = index
        while index < chars.count, !" \t,]".contains(chars[index]) { index += 1 }
        let word = String(chars[start..<index])
        if word == "true" { return .bool(true) }
        if word == "false" { return .bool(false) }
        let digits = String(word.filter { $0 != "_" })
        if let int = Int64(digits) { return .int(int) }
        if let double = Double(digits), double.isFinite { return .double(double) }
        throw Failure(word.isEmpty ? "missing value" : "'\(word)' is not a number, true/false or a \"string\"")
    }
}

/// One `[section]`: typed getters with defaults and ranges. Reading a key marks it used; `checkUsed()` then
/// refuses the keys no part of the program read.
public struct ConfigSection: Sendable {
    struct Entry: Sendable {
        var value: ConfigValue
        var line: Int
    }

    public let name: String
    public let path: String
    var entries: [String: Entry] = [:]
    private var used: Set<String> = []

    init(name: String, path: String) {
        self.name = name
        self.path = path
    }

    public var isEmpty: Bool { entries.isEmpty }

    private func failure(_ key: String, _ message: String) -> ConfigError {
        ConfigError(path: path, line: entries[key]?.line, "[\(name)] \(key): \(message)")
    }

    private mutating func entry(_ key: String) -> ConfigValue? {
        used.insert(key)
        return entries[key]?.value
    }

    public mutating func int(_ key: String, default value: Int, in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let found = entry(key) else { return value }
        guard case .int(let int) = found, let result = Int(exactly: int) else {
            throw failure(key, "expected an integer, found \(found.typeName)")
        }
        guard range.contains(result) else {
            throw failure(key, "\(result) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return result
    }

    public mutating func double(_ key: String, default value: Double, in range: ClosedRange<Double>)
        throws(ConfigError) -> Double
    {
        guard let found = entry(key) else { return value }
        let result: Double
        switch found {
        case .double(let d): result = d
        case .int(let i): result = Double(i)
        default: throw failure(key, "expected a number, found \(found.typeName)")
        }
        guard range.contains(result) else {
            throw failure(key, "\(result) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return result
    }

    public mutating func bool(_ key: String, default value: Bool) throws(ConfigError) -> Bool {
        guard let found = entry(key) else { return value }
        guard case .bool(let flag) = found else {
            throw failure(key, "expected true or false, found \(found.typeName)")
        }
        return flag
    }

    public mutating func string(_ key: String, default value: String, oneOf choices: [String]? = nil)
        throws(ConfigError) -> String
    {
        guard let found = entry(key) else { return value }
        guard case .string(let text) = found else { throw failure(key, "expected a string, found \(found.typeName)") }
        if let choices, !choices.contains(text) {
            throw failure(key, "'\(text)' is not one of \(choices.joined(separator: ", "))")
        }
        return text
    }

    public mutating func strings(_ key: String, default value: [String]) throws(ConfigError) -> [String] {
        guard let found = entry(key) else { return value }
        guard case .list(let items) = found else { throw failure(key, "expected a list, found \(found.typeName)") }
        var out: [String] = []
        for item in items {
            guard case .string(let text) = item else {
                throw failure(key, "expected a list of strings, found \(item.typeName) in it")
            }
            out.append(text)
        }
        return out
    }

    /// A list of addresses and prefixes such as `["10.0.0.0/8", "192.0.2.7"]`.
    public mutating func prefixes(_ key: String, default value: PrefixList = PrefixList()) throws(ConfigError)
        -> PrefixList
    {
        guard entries[key] != nil else {
            used.insert(key)
            return value
        }
        var prefixes: [NetworkPrefix] = []
        for text in try strings(key, default: []) {
            guard let prefix = NetworkPrefix(text) else {
                throw failure(key, "'\(text)' is not an address or ADDRESS/LENGTH prefix")
            }
            prefixes.append(prefix)
        }
        return PrefixList(prefixes)
    }

    /// A list of port numbers such as `[53, 123, 443]`.
    public mutating func ports(_ key: String, default value: Set<UInt16> = []) throws(ConfigError) -> Set<UInt16> {
        guard let found = entry(key) else { return value }
        guard case .list(let items) = found else { throw failure(key, "expected a list, found \(found.typeName)") }
        var out: Set<UInt16> = []
        for item in items {
            guard case .int(let number) = item, let port = UInt16(exactly: number) else {
                throw failure(key, "expected port numbers 0...65535, found \(item)")
            }
            out.insert(port)
        }
        return out
    }

    // MARK: values that override nothing unless present (a program's options: the command line wins)

    /// The key's text, nil when the key is absent.
    public mutating func string(_ key: String, oneOf choices: [String]? = nil) throws(ConfigError) -> String? {
        guard entries[key] != nil else {
            used.insert(key)
            return nil
        }
        return try string(key, default: "", oneOf: choices)
    }

    public mutating func int(_ key: String, in range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard entries[key] != nil else {
            used.insert(key)
            return nil
        }
        return try int(key, default: range.lowerBound, in: range)
    }

    public mutating func bool(_ key: String) throws(ConfigError) -> Bool? {
        guard entries[key] != nil else {
            used.insert(key)
            return nil
        }
        return try bool(key, default: false)
    }

    public mutating func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard entries[key] != nil else {
            used.insert(key)
            return nil
        }
        return try strings(key, default: [])
    }

    /// The key's value whatever its type, nil when absent: for a key that takes more than one type, such as
    /// `workers = 4` or `workers = "auto"`; `error(_:_:)` then names the key and its line.
    public mutating func value(_ key: String) -> ConfigValue? { entry(key) }

    /// An error about `key`'s value, with the file, the key's line and the section.
    public func error(_ key: String, _ message: String) -> ConfigError { failure(key, message) }

    /// Fails on a key that no getter read (misspelt or unknown).
    public func checkUsed() throws(ConfigError) {
        let unknown = entries.keys.filter { !used.contains($0) }.sorted {
            (entries[$0]?.line ?? 0) < (entries[$1]?.line ?? 0)
        }
        if let key = unknown.first {
            throw failure(key, "unknown key (known: \(used.sorted().joined(separator: ", ")))")
        }
    }
}

/// A configuration error: the file, the line when known, and what is wrong.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let line: Int?
    public let message: String

    public init(path: String, line: Int?, _ message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" || first == "\r" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice = slice.dropLast() }
        return String(slice)
    }
}
