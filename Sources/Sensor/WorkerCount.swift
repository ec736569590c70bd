/// How many capture workers a live capture runs (`--workers`, `[sensor] workers`): a number, or `auto` for the
/// cores the process may run on less one (left for the other threads: the readers, output and shipping), at least 1.
public enum WorkerCount: Hashable, Sendable, CustomStringConvertible {
    case count(Int)
    case auto

    /// The allowed numbers, and what a message about a bad one says.
    public static let range = 1...FanoutPipeline.maxWorkers
    static let expected = "a number of workers from 1 to \(FanoutPipeline.maxWorkers), or 'auto'"

    /// Parses `text` ("4", "auto"); the error is the reason, for the caller to put after the option's name.
    public init(parsing text: String) throws(WorkerCountError) {
        if text == "auto" {
            self = .auto
            return
        }
        guard let number = Int(text) else { throw WorkerCountError("'\(text)' is not \(Self.expected)") }
        self = try Self(number)
    }

    /// A number of workers, checked.
    public init(_ number: Int) throws(WorkerCountError) {
        guard Self.range.contains(number) else { throw WorkerCountError("\(number) is not \(Self.expected)") }
        self = .count(number)
    }

    /// The number of workers on a machine with `cores` usable cores.
    public func resolved(cores: Int) -> Int {
        switch self {
        case .count(let number): return number
        case .auto: return min(max(1, cores - 1), Self.range.upperBound)
        }
    }

    public var description: String {
        switch self {
        case .count(let number): return String(number)
        case .auto: return "auto"
        }
    }
}

/// Why a `--workers` value was refused.
public struct WorkerCountError: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension WorkerCountError {
    /// A configuration value of the wrong type.
    public static func expected(found type: String) -> WorkerCountError {
        WorkerCountError("expected \(WorkerCount.expected), found \(type)")
    }
}
