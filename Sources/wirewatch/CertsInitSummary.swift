import Certs

/// What `certs init` prints: the files it created, those it left alone, and how to use them.
struct CertsInitSummary {
    /// The collector's default port in the example command lines.
    static let examplePort = 7400

    var report: CertsInitReport

    var text: String {
        let layout = report.layout
        var lines: [String] = []
        let width = (report.created + report.existing).map(\.count).max() ?? 0
        func list(_ paths: [String]) {
            for path in paths {
                let padding = String(repeating: " ", count: max(0, width - path.count))
                lines.append("  \(path)\(padding)  \(role(of: path))")
            }
        }
        if !report.created.isEmpty {
            lines.append("Created:")
            list(report.created)
        }
        if !report.existing.isEmpty {
            lines.append("Already present, left unchanged:")
            list(report.existing)
        }
        if !report.revoked.isEmpty {
            lines.append("Revoked (re-issued):")
            for revoked in report.revoked {
                lines.append("  sensor \(revoked.name): certificate serial \(revoked.serialHex)")
            }
            lines.append(
                "  Collectors started with --revoked \(shellWord(layout.revocationList)) refuse it within seconds"
                    + " (copy the file to them if they run elsewhere)")
        }

        let ca = shellWord(layout.caCertificate)
        lines.append("")
        lines.append("Next steps:")
        lines.append(
            "  Collector: copy \(layout.caCertificate), \(layout.collectorCertificate) and "
                + "\(layout.collectorPrivateKey) to it, then run")
        lines.append(
            "    wirewatch-collector --listen 0.0.0.0:\(Self.examplePort) --tls-ca \(ca)"
                + " --tls-cert \(shellWord(layout.collectorCertificate))"
                + " --tls-key \(shellWord(layout.collectorPrivateKey)) --db /var/lib/wirewatch/wirewatch.db")
        for sensor in report.sensors {
            let certificate = layout.sensorCertificate(sensor)
            let key = layout.sensorPrivateKey(sensor)
            lines.append(
                "  Sensor \(sensor): copy \(layout.caCertificate), \(certificate) and \(key) to it, then run")
            lines.append(
                "    wirewatch-sensor --interface eth0 --collector HOST:\(Self.examplePort) --tls-ca \(ca)"
                    + " --tls-cert \(shellWord(certificate)) --tls-key \(shellWord(key))")
        }
        if report.sensors.isEmpty {
            lines.append("  Sensors: none requested; issue one certificate per sensor with")
            lines.append("    wirewatch certs init --out \(shellWord(layout.directory)) --sensor NAME")
        }
        let names = report.collectorNames + report.collectorAddresses
        lines.append(
            "  HOST must be one of the collector certificate's names: \(names.joined(separator: ", "))"
                + (report.collectorAddresses.contains { $0.contains(":") }
                    ? " (IPv6 as [::1]:\(Self.examplePort))" : ""))
        lines.append(
            "  Keep \(layout.caPrivateKey) off the collector and the sensors; it is needed only to add sensors:")
        lines.append("    wirewatch certs init --out \(shellWord(layout.directory)) --sensor NEW-NAME")
        return lines.joined(separator: "\n") + "\n"
    }

    private func role(of path: String) -> String {
        let layout = report.layout
        switch path {
        case layout.caCertificate: return "CA certificate (for the collector and every sensor)"
        case layout.caPrivateKey: return "CA private key (keep it safe)"
        case layout.collectorCertificate: return "collector certificate"
        case layout.collectorPrivateKey: return "collector private key"
        default:
            for sensor in report.sensors {
                if path == layout.sensorCertificate(sensor) { return "sensor \(sensor) certificate" }
                if path == layout.sensorPrivateKey(sensor) { return "sensor \(sensor) private key" }
            }
            return ""
        }
    }

    /// `path` as one POSIX shell word: unchanged when it needs no quoting, else in single quotes.
    func shellWord(_ path: String) -> String {
        let safe = path.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || "-_./:@%+=,".unicodeScalars.contains($0)
        }
        if safe, !path.isEmpty { return path }
        return "'" + path.map { $0 == "'" ? "'\\''" : String($0) }.joined() + "'"
    }
}
