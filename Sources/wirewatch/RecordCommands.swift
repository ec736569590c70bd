import ArgumentParser
import Flows
import Report
import Store

/// `wirewatch --db PATH flows|dns|http|tls`: stored records of one kind, newest filters applied in the store.
protocol RecordListCommand: ParsableCommand {
    var query: QueryOptions { get }
    static var kind: RecordKind { get }
    static func table(_ records: [Record]) -> Table
}

extension RecordListCommand {
    func run() throws {
        do {
            let store = try query.openStore()
            defer { store.close() }
            let progress = Progress(Self.configuration.commandName ?? "query")
            progress.step("reading \(Self.kind.rawValue) records")
            let records = query.protocolFiltered(try store.records(try query.recordQuery([Self.kind])))
            progress.done()
            switch query.format {
            case .html: throw QueryError.badInput("--format html is for report; use table, json or csv")
            case .json: try query.emit(RecordTables.json(records))
            case .csv: try query.emit(Self.table(records).csv())
            case .table: try query.emit(Self.table(records).render(on: query.terminal))
            }
        } catch {
            throw CommandFailure.exitCode(for: error, command: Self.configuration.commandName ?? "query")
        }
    }
}

struct FlowsCommand: RecordListCommand {
    static let configuration = CommandConfiguration(commandName: "flows", abstract: "List flow records.")
    @OptionGroup var query: QueryOptions
    static let kind = RecordKind.flow
    static func table(_ records: [Record]) -> Table {
        RecordTables.flows(records.compactMap { if case .flow(let r) = $0 { r } else { nil } })
    }
}

struct DNSCommand: RecordListCommand {
    static let configuration = CommandConfiguration(commandName: "dns", abstract: "List DNS transactions.")
    @OptionGroup var query: QueryOptions
    static let kind = RecordKind.dns
    static func table(_ records: [Record]) -> Table {
        RecordTables.dns(records.compactMap { if case .dns(let r) = $0 { r } else { nil } })
    }
}

struct HTTPCommand: RecordListCommand {
    static let configuration = CommandConfiguration(commandName: "http", abstract: "List HTTP transactions.")
    @OptionGroup var query: QueryOptions
    static let kind = RecordKind.http
    static func table(_ records: [Record]) -> Table {
        RecordTables.http(records.compactMap { if case .http(let r) = $0 { r } else { nil } })
    }
}

struct TLSCommand: RecordListCommand {
    static let configuration = CommandConfiguration(commandName: "tls", abstract: "List TLS handshakes.")
    @OptionGroup var query: QueryOptions
    static let kind = RecordKind.tls
    static func table(_ records: [Record]) -> Table {
        RecordTables.tls(records.compactMap { if case .tls(let r) = $0 { r } else { nil } })
    }
}
