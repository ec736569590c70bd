import Collector
import Foundation
import NIOCore
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One sample of the Prometheus text exposition format (version 0.0.4).
struct PrometheusSample: Hashable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A strict reader of the Prometheus text format: every line is a `# HELP`, a `# TYPE` (once per family, before
/// its samples, of a known type) or a sample `name{label="value",...} number`; anything else fails.
func parsePrometheusText(_ text: String) throws -> (types: [String: String], samples: [PrometheusSample]) {
    var types: [String: String] = [:]
    var samples: [PrometheusSample] = []
    let nameRegex = try Regex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
        if line.hasPrefix("# HELP ") { continue }
        if line.hasPrefix("# TYPE ") {
            let parts = line.split(separator: " ")
            guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else {
                throw HarnessError("bad TYPE line: \(line)")
            }
            guard types[String(parts[2])] == nil else { throw HarnessError("TYPE twice: \(line)") }
            types[String(parts[2])] = String(parts[3])
            continue
        }
        guard !line.hasPrefix("#"), let space = line.lastIndex(of: " ") else { throw HarnessError("bad line: \(line)") }
        let series = line[..<space]
        guard let value = Double(line[line.index(after: space)...]) else { throw HarnessError("bad value: \(line)") }
        var name = String(series)
        var labels: [String: String] = [:]
        if let brace = series.firstIndex(of: "{") {
            guard series.hasSuffix("}") else { throw HarnessError("bad labels: \(line)") }
            name = String(series[..<brace])
            let body = series[series.index(after: brace)..<series.index(before: series.endIndex)]
            for pair in body.split(separator: ",") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, kv[1].hasPrefix("\""), kv[1].hasSuffix("\""), kv[1].count >= 2 else {
                    throw HarnessError("bad label: \(line)")
                }
                labels[String(kv[0])] = String(kv[1].dropFirst().dropLast())
            }
        }
        guard name.wholeMatch(of: nameRegex) != nil else { throw HarnessError("bad metric name: \(line)") }
        let family = types[name] != nil ? name : String(name.prefix { $0 != "{" })
        guard types[family] != nil else { throw HarnessError("sample before its TYPE: \(line)") }
        samples.append(PrometheusSample(name: name, labels: labels, value: value))
    }
    return (types, samples)
}

@Suite("the collector's metrics endpoint")
struct MetricsEndpointTests {
    @Test("/metrics parses as Prometheus text and counts what was stored; /health answers ok")
    func scrapeAfterDelivery() async throws {
        let pki = try PKI()
        var options = CollectorOptions()
        options.metricsAddress = ("127.0.0.1", 0)
        let collector = try TestCollector(pki: pki, options: options)
        defer { collector.stop() }
        let address = try #require(try collector.server.startMetrics())
        let base = "http://127.0.0.1:\(address.port ?? 0)"
        let expected = try expectedRecords(["http.pcap", "dns.pcap"], sensor: "edge-1")
        _ = try await shipInProcess(["http.pcap", "dns.pcap"], sensor: "edge-1", pki: pki, port: collector.port)

        let (body, response) = try await URLSession.shared.data(from: try #require(URL(string: base + "/metrics")))
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(
            (response as? HTTPURLResponse)?.value(forHTTPHeaderField: "Content-Type")?.hasPrefix("text/plain") == true)
        let (types, samples) = try parsePrometheusText(String(decoding: body, as: UTF8.self))
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        #expect(types["wirewatch_records_ingested_total"] == "counter")
        #expect(value("wirewatch_records_ingested_total") == Double(expected.count))
        #expect(value("wirewatch_batches_ingested_total") == Double(collector.server.metrics.batches))
        #expect(types["wirewatch_sensors_connected"] == "gauge")
        #expect(value("wirewatch_sensors_connected").map { $0 >= 0 } == true)
        #expect((value("wirewatch_database_size_bytes") ?? 0) > 0)
        #expect(value("wirewatch_alerts_total", ["kind": "port-scan"]) == 0)
        // Lag: the captures are from the past, so wall clock minus their newest packet time is positive.
        #expect((value("wirewatch_ingest_lag_seconds") ?? 0) > 0)

        let (health, healthResponse) = try await URLSession.shared.data(
            from: try #require(URL(string: base + "/health")))
        #expect((healthResponse as? HTTPURLResponse)?.statusCode == 200)
        #expect(String(decoding: health, as: UTF8.self) == "ok\n")
        let (_, missing) = try await URLSession.shared.data(from: try #require(URL(string: base + "/nothing")))
        #expect((missing as? HTTPURLResponse)?.statusCode == 404)
    }
}
