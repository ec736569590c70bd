import ArgumentParser
import Flows
import Foundation
import Packets
import Report
import Store

/// The options every query shares: the database, the time window, filters, the output.
struct QueryOptions: ParsableArguments {
    @Option(name: .long, help: "The collector's SQLite database.")
    var db: String

    @Option(name: .long, help: "Only the last DURATION (30s, 15m, 2h, 7d, 1w).")
    var since: String?

    @Option(name: .long, help: "From this time (epoch seconds or ISO 8601, UTC unless a zone is given).")
    var from: String?

    @Option(name: .long, help: "Up to this time (exclusive).")
    var to: String?

    @Option(name: .long, help: "Only records from this sensor.")
    var sensor: String?

    @Option(name: .long, help: "Only records with this address as originator or responder.")
    var host: String?

    @Option(name: .long, help: "Only records with this responder port.")
    var port: UInt16?

    @Option(name: .long, help: "Only this protocol: tcp, udp, icmp, icmpv6 or a number.")
    var proto: String?

    @Option(name: .long, help: "Most rows to print (default 100 for tables, all for json and csv).")
    var limit: Int?

    @Option(name: .long, help: "table, json or csv.")
    var format: OutputFormat = .table

    @Option(name: .long, help: "Write to this file instead of standard output.")
    var output: String?

    func validate() throws {
        if since != nil && from != nil { throw ValidationError("--since and --from exclude each other") }
        if let host, IPAddress(host) == nil { throw ValidationError("--host: '\(host)' is not an IP address") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if proto != nil && protoNumber == nil {
            throw ValidationError("--proto: '\(proto ?? "")' is not tcp, udp, icmp, icmpv6 or a number 0-255")
        }
        _ = try timeRange()
    }

    func timeRange() throws -> TimeRange {
        do {
            return try TimeRange.parse(since: since, from: from, to: to, now: Date().timeIntervalSince1970)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The limit a table gets when none is given; exports are complete unless limited.
    var effectiveLimit: Int? { limit ?? (format == .table ? 100 : nil) }

    /// The store's filters for `kinds`; `unlimited` reads every match (for totals computed from the records).
    func recordQuery(_ kinds: Set<RecordKind>, unlimited: Bool = false) throws -> RecordQuery {
        let range = try timeRange()
        // The store filters everything but the protocol; with --proto the limit applies after filtering.
        return RecordQuery(
            kinds: kinds, sensor: sensor, from: range.from, to: range.to, host: host.flatMap { IPAddress($0) },
            port: port, limit: protoNumber == nil && !unlimited ? effectiveLimit : nil)
    }

    /// The records of `--proto` (all when not given), at most `effectiveLimit` (all with `unlimited`).
    func protocolFiltered(_ records: [Record], unlimited: Bool = false) -> [Record] {
        guard let wanted = protoNumber else { return records }
        let kept = records.filter { record in
            switch record {
            case .flow(let r): return r.proto == wanted
            case .dns(let r): return r.proto == wanted
            case .http, .tls: return wanted == 6
            default: return true
            }
        }
        if unlimited { return kept }
        return effectiveLimit.map { Array(kept.prefix($0)) } ?? kept
    }

    /// The filters of a summary (rollup) query; `limit` defaults per command. The rollups have no responder
    /// port, so `--port` is refused rather than ignored.
    func reportQuery(defaultLimit: Int) throws -> ReportQuery {
        if port != nil {
            throw QueryError.badInput(
                "--port: summaries are kept per host and protocol, not per port; use flows --port")
        }
        let range = try timeRange()
        return ReportQuery(
            from: range.from, to: range.to, sensor: sensor, host: host.flatMap { IPAddress($0) }, proto: protoNumber,
            limit: limit ?? defaultLimit)
    }

    /// `--proto tcp|udp|icmp|icmpv6|N`.
    var protoNumber: UInt8? {
        guard let proto else { return nil }
        switch proto.lowercased() {
        case "tcp": return 6
        case "udp": return 17
        case "icmp": return 1
        case "icmpv6": return 58
        default: return UInt8(proto)
        }
    }

    /// Opens the database read-only; a missing file is bad input (exit 2), not an empty result.
    func openStore() throws -> SQLiteStore {
        guard FileManager.default.fileExists(atPath: db) else {
            throw QueryError.badInput("--db: \(db): no such file")
        }
        do {
            return try SQLiteStore(path: db, readOnly: true)
        } catch {
            throw QueryError.badInput("\(error)")
        }
    }

    var terminal: Terminal {
        Terminal.standardOutput(toFile: output != nil, environment: ProcessInfo.processInfo.environment)
    }

    /// Writes the text to `--output` or standard output.
    func emit(_ text: String) throws {
        if let output {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: output))
            } catch {
                throw QueryError.badInput("--output: \(output): \(error.localizedDescription)")
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

/// A query that cannot run: bad input exits 2, anything else 1; the message names what is at fault.
enum QueryError: Error, CustomStringConvertible {
    case badInput(String)
    case failed(String)

    var description: String {
        switch self {
        case .badInput(let message), .failed(let message): return message
        }
    }
}

extension OutputFormat: ExpressibleByArgument {}
