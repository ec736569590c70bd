import Flows

extension SQLiteStore {
    public func upsertAlert(_ alert: AlertRecord) throws(StoreError) {
        try upsertAlerts([alert])
    }

    public func upsertAlerts(_ alerts: [AlertRecord]) throws(StoreError) {
        try requireReports()
        for alert in alerts {
            guard !alert.id.isEmpty else {
                throw StoreError(.invalidArgument, path: path, detail: "alert id is empty (\(alert.kind.rawValue))")
            }
        }
        try withConnection { c throws(StoreError) in
            try transaction(c, immediate: true) { () throws(StoreError) in
                let upsert = try c.statement(
                    """
                    INSERT INTO alerts (id, ts, kind, subtype, severity, src, targets, ports, first_ts, last_ts,
                        sensors, count, message, detail)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                    ON CONFLICT (id) DO UPDATE SET ts = excluded.ts, kind = excluded.kind,
                        subtype = excluded.subtype, severity = excluded.severity, src = excluded.src,
                        targets = excluded.targets, ports = excluded.ports, first_ts = excluded.first_ts,
                        last_ts = excluded.last_ts, sensors = excluded.sensors, count = excluded.count,
                        message = excluded.message, detail = excluded.detail
                    """)
                for alert in alerts {
                    try upsert.bind(1, alert.id)
                    try upsert.bind(2, alert.ts)
                    try upsert.bind(3, alert.kind.rawValue)
                    try upsert.bind(4, alert.subtype)
                    try upsert.bind(5, alert.severity.rawValue)
                    try upsert.bind(6, alert.src)
                    try upsert.bind(7, JSONText.encode(alert.targets))
                    try upsert.bind(8, JSONText.encode(alert.ports))
                    try upsert.bind(9, alert.firstTS)
                    try upsert.bind(10, alert.lastTS)
                    try upsert.bind(11, JSONText.encode(alert.sensors))
                    try upsert.bind(12, Int64(alert.count))
                    try upsert.bind(13, alert.message)
                    try upsert.bind(14, JSONText.encode(alert.detail))
                    try upsert.run()
                }
            }
        }
    }

    public func alerts(_ query: AlertQuery) throws(StoreError) -> [AlertRecord] {
        try requireReports()
        if let limit = query.limit, limit <= 0 { return [] }
        var filter = SQLFilter()
        if let from = query.from { filter.add("last_ts >= ?", .double(from)) }
        if let to = query.to { filter.add("first_ts < ?", .double(to)) }
        if let kind = query.kind { filter.add("kind = ?", .text(kind.rawValue)) }
        if let subtype = query.subtype { filter.add("subtype = ?", .text(subtype)) }
        if let minimum = query.minimumSeverity {
            let levels = AlertSeverity.allCases.filter { $0 >= minimum }
            filter.add(
                "severity IN (" + levels.map { _ in "?" }.joined(separator: ", ") + ")",
                levels.map { .text($0.rawValue) })
        }
        if let host = query.host {
            filter.add(
                "(src = ? OR EXISTS (SELECT 1 FROM json_each(alerts.targets) WHERE value = ?))",
                [.text(host), .text(host)])
        }
        if let sensor = query.sensor {
            filter.add("EXISTS (SELECT 1 FROM json_each(alerts.sensors) WHERE value = ?)", .text(sensor))
        }
        let limit = query.limit.map { " LIMIT \(Int64($0))" } ?? ""
        return try withConnection { c throws(StoreError) in
            let select = try c.statement(
                """
                SELECT id, ts, kind, subtype, severity, src, targets, ports, first_ts, last_ts, sensors, count, message,
                    detail FROM alerts\(filter.whereClause) ORDER BY last_ts DESC, alert_id DESC\(limit)
                """)
            defer { select.clear() }
            try filter.bind(select)
            var alerts: [AlertRecord] = []
            while try select.step() {
                var row = RecordReader(statement: select)
                let id = row.text()
                let ts = row.double()
                let kindText = row.text()
                guard let kind = AlertKind(rawValue: kindText) else {
                    throw StoreError(.corrupt, path: path, detail: "alert \(id): unknown kind \"\(kindText)\"")
                }
                let subtype = row.text()
                let severityText = row.text()
                guard let severity = AlertSeverity(rawValue: severityText) else {
                    throw StoreError(.corrupt, path: path, detail: "alert \(id): unknown severity \"\(severityText)\"")
                }
                alerts.append(
                    AlertRecord(
                        ts: ts, id: id, kind: kind, subtype: subtype, severity: severity, src: row.optionalText(),
                        targets: try row.json(JSONText.strings), ports: try row.json(JSONText.ports),
                        firstTS: row.double(), lastTS: row.double(), sensors: try row.json(JSONText.strings),
                        count: try row.integer(), message: row.text(), detail: try row.json(JSONText.detail)))
            }
            return alerts
        }
    }

    /// Alerts, retention and reports need the version-2 tables.
    func requireReports() throws(StoreError) {
        guard fileVersion >= 2 else {
            throw StoreError(
                .schemaTooOld, path: path,
                detail: "database schema version \(fileVersion) has no alerts or rollups (version 2 adds them)")
        }
    }
}

/// The WHERE clause of a query built from optional filters, with its parameters in order (`?` placeholders).
struct SQLFilter {
    enum Value {
        case int(Int64)
        case double(Double)
        case text(String)
    }

    private(set) var clauses: [String] = []
    private(set) var values: [Value] = []

    mutating func add(_ clause: String, _ value: Value) {
        add(clause, [value])
    }

    mutating func add(_ clause: String, _ values: [Value]) {
        clauses.append(clause)
        self.values += values
    }

    /// " WHERE a AND b", or "" when there is no filter.
    var whereClause: String {
        clauses.isEmpty ? "" : " WHERE " + clauses.joined(separator: " AND ")
    }

    /// " AND a AND b" to follow a WHERE clause of the caller's.
    var andClause: String {
        clauses.isEmpty ? "" : " AND " + clauses.joined(separator: " AND ")
    }

    /// Binds the values from parameter `first` on; returns the next free parameter.
    @discardableResult
    func bind(_ statement: Statement, from first: Int32 = 1) throws(StoreError) -> Int32 {
        var index = first
        for value in values {
            switch value {
            case .int(let n): try statement.bind(index, n)
            case .double(let d): try statement.bind(index, d)
            case .text(let s): try statement.bind(index, s)
            }
            index += 1
        }
        return index
    }
}
