import ArgumentParser
import Foundation
import Report
import Store

/// `wirewatch --db PATH sensors`: every sensor that ever connected, with when it was last heard from.
struct SensorsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sensors", abstract: "List the sensors.")
    @OptionGroup var query: QueryOptions

    func run() throws {
        do {
            let store = try query.openStore()
            defer { store.close() }
            let sensors = try store.sensors().filter { query.sensor == nil || $0.name == query.sensor }
            switch query.format {
            case .html: throw QueryError.badInput("--format html is for report; use table, json or csv")
            case .json:
                let rows = sensors.map {
                    SensorJSON(
                        name: $0.name, source: $0.source, software_version: $0.softwareVersion,
                        boot_id: $0.bootID.map { String(format: "%02x", $0) }.joined(), first_seen: $0.firstSeen,
                        last_seen: $0.lastSeen)
                }
                try query.emit(try JSONOutput.encode(rows))
            case .csv: try query.emit(Self.table(sensors).csv())
            case .table: try query.emit(Self.table(sensors).render(on: query.terminal))
            }
        } catch {
            throw CommandFailure.exitCode(for: error, command: "sensors")
        }
    }

    static func table(_ sensors: [SensorRow]) -> Table {
        Table(
            columns: [
                .init("sensor"), .init("source"), .init("version"), .init("first seen (UTC)"), .init("last seen (UTC)"),
            ],
            rows: sensors.map {
                [
                    $0.name, $0.source, $0.softwareVersion, TimeRange.format($0.firstSeen, milliseconds: false),
                    TimeRange.format($0.lastSeen, milliseconds: false),
                ]
            })
    }

    struct SensorJSON: Encodable {
        var name, source, software_version, boot_id: String
        var first_seen, last_seen: Double
    }
}
