/// Why a store operation failed: a stable code that callers and tests compare, the database path, and a one-line
/// detail naming what was being done and what SQLite said.
///
/// `constraint` means the batch itself can never be stored (a value the schema rejects), so retrying it is pointless;
/// `busy`, `diskFull` and `io` are conditions of the machine that may clear.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Code: String, Hashable, Sendable {
        /// The file could not be opened or created (missing directory, permissions, a directory at the path).
        case cannotOpen
        /// The file exists but is not an SQLite database.
        case notADatabase
        /// An SQLite database that some other program made (it has tables but no Wirewatch schema).
        case foreignDatabase
        /// The schema version is newer than this build knows; the file was left untouched.
        case schemaTooNew
        /// The schema version is older than this build and the store was opened read-only, so it cannot migrate.
        case schemaTooOld
        /// A value broke a constraint of the schema (NOT NULL, CHECK, UNIQUE); the transaction was rolled back.
        case constraint
        /// Another connection held a lock longer than the busy timeout.
        case busy
        /// The disk (or the database's size limit) is full.
        case diskFull
        /// An I/O error from the operating system.
        case io
        /// The database file is damaged, or a stored value cannot be decoded.
        case corrupt
        /// The store was closed.
        case closed
        /// The caller passed a value the store does not accept (such as a boot id that is not 16 bytes).
        case invalidArgument
        /// Any other SQLite failure.
        case sqlite
    }

    public var code: Code
    /// The database file the error is about.
    public var path: String
    /// What was being done and what went wrong, on one line.
    public var detail: String
    /// SQLite's extended result code, when the error came from SQLite.
    public var sqliteResult: Int32?

    public init(_ code: Code, path: String, detail: String, sqliteResult: Int32? = nil) {
        self.code = code
        self.path = path
        // One line, whatever SQLite or the caller put in the message.
        self.detail = detail.split(whereSeparator: \.isNewline).joined(separator: " ")
        self.sqliteResult = sqliteResult
    }

    public var description: String { "\(path): \(detail)" }
}
