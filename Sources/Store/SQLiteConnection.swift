import CSQLite3

/// SQLite's `SQLITE_TRANSIENT` destructor (a macro Swift cannot import): SQLite copies the bound bytes at once.
@inline(__always)
private var transient: sqlite3_destructor_type { unsafeBitCast(-1, to: sqlite3_destructor_type.self) }

/// `saturating_sum(x)`, the sum reports take of rollup counters: SQLite's `sum()` fails the whole query with "integer
/// overflow" once a total passes `Int64.max`, and `total()` is a double, inexact past 2^53. This one is exact below
/// `Int64.max` and stays there beyond; NULL and negative values (no rollup writes one) add nothing, a real adds its
/// integer part. The sum of no rows is NULL, as with `sum()`.
private func saturatingSumStep(
    _ context: OpaquePointer?, _ count: Int32, _ values: UnsafeMutablePointer<OpaquePointer?>?
) {
    guard count == 1, let value = values?[0],
        let raw = sqlite3_aggregate_context(context, Int32(MemoryLayout<Int64>.size))
    else { return }
    let sum = raw.assumingMemoryBound(to: Int64.self)
    let add: Int64
    switch sqlite3_value_type(value) {
    case SQLITE_INTEGER:
        add = sqlite3_value_int64(value)
    case SQLITE_FLOAT:
        let real = sqlite3_value_double(value)
        add = real.isNaN ? 0 : (real >= 9.2e18 ? .max : Int64(max(0, real)))
    default:
        return
    }
    guard add > 0 else { return }
    let (total, overflow) = sum.pointee.addingReportingOverflow(add)
    sum.pointee = overflow ? .max : total
}

private func saturatingSumFinal(_ context: OpaquePointer?) {
    guard let raw = sqlite3_aggregate_context(context, 0) else {
        sqlite3_result_null(context)
        return
    }
    sqlite3_result_int64(context, raw.assumingMemoryBound(to: Int64.self).pointee)
}

/// One open `sqlite3` handle with its cache of prepared statements. Not thread-safe: `SQLiteStore` serialises use.
final class SQLiteConnection {
    let handle: OpaquePointer
    let path: String
    private var statements: [String: OpaquePointer] = [:]

    init(path: String, flags: Int32) throws(StoreError) {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_close_v2(db)
            throw StoreError(
                Self.code(for: rc), path: path, detail: "cannot open database: \(message)", sqliteResult: rc)
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        let rc2 = sqlite3_create_function_v2(
            db, "saturating_sum", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nil, nil,
            saturatingSumStep, saturatingSumFinal, nil)
        guard rc2 == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(db))
            sqlite3_close_v2(db)
            throw StoreError(
                Self.code(for: rc2), path: path, detail: "cannot register saturating_sum: \(message)",
                sqliteResult: rc2)
        }
    }

    /// Finalizes every cached statement and closes the handle.
    func close() {
        for statement in statements.values { sqlite3_finalize(statement) }
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// The cached prepared statement for `sql` (one statement), prepared on first use.
    func statement(_ sql: String) throws(StoreError) -> Statement {
        if let cached = statements[sql] { return Statement(handle: cached, connection: self) }
        var prepared: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
        guard rc == SQLITE_OK, let prepared else { throw error(rc, "preparing \(Self.firstWords(sql))") }
        statements[sql] = prepared
        return Statement(handle: prepared, connection: self)
    }

    /// Runs one or more statements that return no rows (DDL, pragmas, transaction control).
    func execute(_ sql: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            throw StoreError(
                Self.code(for: rc), path: path, detail: "\(Self.firstWords(sql)): \(text)", sqliteResult: rc)
        }
    }

    /// The single integer a pragma or `SELECT` returns.
    func integer(_ sql: String) throws(StoreError) -> Int64 {
        let statement = try self.statement(sql)
        defer { statement.reset() }
        guard try statement.step() else { throw StoreError(.sqlite, path: path, detail: "\(sql): no row") }
        return statement.int64(0)
    }

    /// The single text a pragma returns.
    func text(_ sql: String) throws(StoreError) -> String {
        let statement = try self.statement(sql)
        defer { statement.reset() }
        guard try statement.step() else { throw StoreError(.sqlite, path: path, detail: "\(sql): no row") }
        return statement.text(0)
    }

    var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Rows the last INSERT, UPDATE or DELETE changed.
    var changes: Int64 { sqlite3_changes64(handle) }

    /// The rowid of the last row inserted.
    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rolls back an open transaction, keeping the first error.
    func rollbackQuietly() {
        if inTransaction { sqlite3_exec(handle, "ROLLBACK", nil, nil, nil) }
    }

    /// A `StoreError` from SQLite's result code and the connection's current message.
    func error(_ rc: Int32, _ action: String) -> StoreError {
        let message = String(cString: sqlite3_errmsg(handle))
        let code = Self.code(for: rc)
        let meaning = code == .notADatabase ? "not an SQLite database (\(message))" : message
        return StoreError(code, path: path, detail: "\(action): \(meaning)", sqliteResult: rc)
    }

    static func code(for rc: Int32) -> StoreError.Code {
        switch rc & 0xFF {
        case SQLITE_CONSTRAINT: return .constraint
        case SQLITE_BUSY, SQLITE_LOCKED: return .busy
        case SQLITE_FULL: return .diskFull
        case SQLITE_IOERR: return .io
        case SQLITE_CORRUPT: return .corrupt
        case SQLITE_NOTADB: return .notADatabase
        case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_AUTH: return .cannotOpen
        default: return .sqlite
        }
    }

    /// The start of a statement, for messages.
    private static func firstWords(_ sql: String) -> String {
        let words = sql.split(whereSeparator: { $0 == " " || $0 == "\n" }).prefix(4)
        return words.joined(separator: " ")
    }
}

/// A cached prepared statement: bind by 1-based index, step, read columns by 0-based index, reset.
struct Statement {
    let handle: OpaquePointer
    // Statements live in their connection's cache and are used only while it is open, under the store's lock; a
    // counted reference would cost an atomic increment each time a statement is copied, several times per row.
    unowned(unsafe) let connection: SQLiteConnection

    /// Steps once: true when a row is ready, false when done.
    @inline(__always)
    func step() throws(StoreError) -> Bool {
        let rc = sqlite3_step(handle)
        if rc == SQLITE_ROW { return true }
        if rc == SQLITE_DONE { return false }
        // sqlite3_step returns the specific code itself since SQLite 3.6.23 with prepare_v2/v3.
        throw connection.error(rc, "running \(statementName)")
    }

    /// Runs a statement that returns no rows, then resets it.
    @inline(__always)
    func run() throws(StoreError) {
        defer { reset() }
        _ = try step()
    }

    /// Makes the statement ready to run again; bindings stay until rebound.
    @inline(__always)
    func reset() { sqlite3_reset(handle) }

    /// Resets and clears every binding to NULL.
    func clear() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    private var statementName: String {
        guard let sql = sqlite3_sql(handle) else { return "statement" }
        return String(cString: sql).split(separator: " ").prefix(3).joined(separator: " ")
    }

    @inline(__always)
    private func check(_ rc: Int32, _ index: Int32) throws(StoreError) {
        guard rc == SQLITE_OK else { throw connection.error(rc, "binding parameter \(index) of \(statementName)") }
    }

    // MARK: binding

    @inline(__always)
    func bindNull(_ index: Int32) throws(StoreError) {
        try check(sqlite3_bind_null(handle, index), index)
    }

    @inline(__always)
    func bind(_ index: Int32, _ value: Int64) throws(StoreError) {
        try check(sqlite3_bind_int64(handle, index, value), index)
    }

    /// Unsigned 64-bit values keep their bit pattern (values above `Int64.max` read negative in SQL), so they come
    /// back exactly.
    @inline(__always)
    func bind(_ index: Int32, _ value: UInt64) throws(StoreError) {
        try bind(index, Int64(bitPattern: value))
    }

    @inline(__always)
    func bind<T: BinaryInteger>(_ index: Int32, _ value: T?) throws(StoreError) {
        // `truncatingIfNeeded` keeps a `UInt64`'s bit pattern and is exact for every narrower type.
        if let value { try bind(index, Int64(truncatingIfNeeded: value)) } else { try bindNull(index) }
    }

    @inline(__always)
    func bind(_ index: Int32, _ value: Bool) throws(StoreError) {
        try bind(index, Int64(value ? 1 : 0))
    }

    /// NaN binds as NULL (SQLite's rule), so a NOT NULL column refuses it.
    @inline(__always)
    func bind(_ index: Int32, _ value: Double) throws(StoreError) {
        try check(sqlite3_bind_double(handle, index, value), index)
    }

    @inline(__always)
    func bind(_ index: Int32, _ value: Double?) throws(StoreError) {
        if let value { try bind(index, value) } else { try bindNull(index) }
    }

    /// Binds the UTF-8 bytes with their length, so an empty string stays empty (not NULL) and NUL bytes survive.
    @inline(__always)
    func bind(_ index: Int32, _ value: String) throws(StoreError) {
        var value = value
        let rc = value.withUTF8 { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else {
                return sqlite3_bind_text(handle, index, "", 0, transient)
            }
            return sqlite3_bind_text64(handle, index, base, UInt64(bytes.count), transient, UInt8(SQLITE_UTF8))
        }
        try check(rc, index)
    }

    /// Binds `count` UTF-8 bytes at `bytes` without copying: they must stay valid until the statement is reset.
    @inline(__always)
    func bindStatic(_ index: Int32, _ bytes: UnsafePointer<UInt8>, count: Int) throws(StoreError) {
        try check(sqlite3_bind_text64(handle, index, bytes, UInt64(count), nil, UInt8(SQLITE_UTF8)), index)
    }

    @inline(__always)
    func bind(_ index: Int32, _ value: String?) throws(StoreError) {
        if let value { try bind(index, value) } else { try bindNull(index) }
    }

    /// Binds bytes as a BLOB; an empty array is an empty BLOB, not NULL.
    func bind(_ index: Int32, blob: [UInt8]) throws(StoreError) {
        let rc = blob.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return sqlite3_bind_zeroblob(handle, index, 0) }
            return sqlite3_bind_blob64(handle, index, base, UInt64(bytes.count), transient)
        }
        try check(rc, index)
    }

    // MARK: columns

    @inline(__always)
    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    @inline(__always)
    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    @inline(__always)
    func uint64(_ column: Int32) -> UInt64 { UInt64(bitPattern: int64(column)) }

    @inline(__always)
    func double(_ column: Int32) -> Double { sqlite3_column_double(handle, column) }

    @inline(__always)
    func bool(_ column: Int32) -> Bool { int64(column) != 0 }

    func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    func optionalUInt64(_ column: Int32) -> UInt64? { isNull(column) ? nil : uint64(column) }

    func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    func optionalDouble(_ column: Int32) -> Double? { isNull(column) ? nil : double(column) }

    func blob(_ column: Int32) -> [UInt8] {
        guard let bytes = sqlite3_column_blob(handle, column) else { return [] }
        let count = Int(sqlite3_column_bytes(handle, column))
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    /// An integer column as `T`, or a `corrupt` error when the stored value does not fit.
    func integer<T: FixedWidthInteger>(_ column: Int32, as _: T.Type = T.self) throws(StoreError) -> T {
        let raw = int64(column)
        guard let value = T(exactly: raw) else {
            throw StoreError(
                .corrupt, path: connection.path,
                detail: "column \(columnName(column)) holds \(raw), which is out of range for \(T.self)")
        }
        return value
    }

    func optionalInteger<T: FixedWidthInteger>(_ column: Int32, as _: T.Type = T.self) throws(StoreError) -> T? {
        isNull(column) ? nil : try integer(column, as: T.self)
    }

    func columnName(_ column: Int32) -> String {
        sqlite3_column_name(handle, column).map { String(cString: $0) } ?? "#\(column)"
    }
}
