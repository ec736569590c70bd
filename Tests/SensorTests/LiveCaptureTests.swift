import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
    private let datagramSocket = Int32(SOCK_DGRAM.rawValue)
#elseif canImport(Darwin)
    import Darwin
    private let datagramSocket = SOCK_DGRAM
#endif

// Linux only in practice: the capture interface is `lo` and readiness is read from /proc.

/// A UDP socket on 127.0.0.1 (closed on deinit).
final class LoopbackUDPSocket {
    let fd: Int32
    let port: UInt16

    /// Binds to 127.0.0.1 on a port the kernel picks.
    init() throws {
        let fd = socket(AF_INET, datagramSocket, 0)
        guard fd >= 0 else { throw HarnessError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(fd)
            throw HarnessError("bind 127.0.0.1:0: errno \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else {
            close(fd)
            throw HarnessError("getsockname: errno \(errno)")
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }

    func send(_ payload: [UInt8], toPort destination: UInt16) throws {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = destination.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let sent = payload.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        guard sent == payload.count else { throw HarnessError("sendto: \(sent), errno \(errno)") }
    }
}

/// Inodes of the packet sockets in /proc/net/packet (last column), to see when a capture is open.
private func packetSocketInodes() -> Set<String> {
    guard let table = try? String(contentsOfFile: "/proc/net/packet", encoding: .utf8) else { return [] }
    return Set(table.split(separator: "\n").dropFirst().compactMap { $0.split(separator: " ").last.map(String.init) })
}

/// Whether process `pid` holds an open AF_PACKET socket (libpcap has activated its capture).
private func hasPacketSocket(pid: Int32) -> Bool {
    let inodes = packetSocketInodes()
    let directory = "/proc/\(pid)/fd"
    guard let fds = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return false }
    for fd in fds {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\(fd)"),
            target.hasPrefix("socket:[")
        else { continue }
        if inodes.contains(String(target.dropFirst("socket:[".count).dropLast())) { return true }
    }
    return false
}

/// Starts the sensor with `arguments` and waits until it holds a packet socket, then half a second for libpcap to
/// attach the filter. Nil, with the failure recorded (and the sensor reaped), when it exits first or takes over 10 s.
private func startCapturing(_ arguments: [String]) async throws -> ChildProcess? {
    let sensor = try ChildProcess(try Harness.sensorBinary(), arguments)
    try sensor.start()
    let deadline = Date().addingTimeInterval(10)
    while !hasPacketSocket(pid: sensor.pid) {
        guard sensor.process.isRunning else {
            Issue.record("sensor exited before capturing: \(sensor.output())")
            return nil
        }
        guard Date() < deadline else {
            await sensor.killAndReap()
            Issue.record("sensor opened no packet socket on lo within 10 s: \(sensor.output())")
            return nil
        }
        try await Task.sleep(nanoseconds: 20_000_000)
    }
    try await Task.sleep(nanoseconds: 500_000_000)
    return sensor
}

/// Live capture on `lo` and shutdown by SIGTERM.
@Suite("Live capture")
struct LiveCaptureTests {
    // Capture: live, interface lo (needs root / CAP_NET_RAW; CI runs as root). The test's own UDP datagrams
    // to a port the kernel picked for a receiving socket, so nothing else matches the filter.
    @Test("SIGTERM flushes open flows: a UDP flow on lo has the datagrams the test sent", .timeLimit(.minutes(1)))
    func liveCaptureFlushesOnSIGTERM() async throws {
        let receiver = try LoopbackUDPSocket()
        let sender = try LoopbackUDPSocket()
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("live.jsonl")
        guard
            let sensor = try await startCapturing([
                "--interface", "lo", "--filter", "udp port \(receiver.port)", "--emit", "jsonl", "--output",
                output.path, "--uid-seed", "1",
            ])
        else { return }

        let datagrams = 5
        let payload = Array("wirewatch-live-test".utf8)
        for _ in 0..<datagrams {
            try sender.send(payload, toPort: receiver.port)
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        // Let libpcap's 200 ms read timeout hand the packets over before asking the sensor to stop.
        try await Task.sleep(nanoseconds: 700_000_000)

        sensor.signal(SIGTERM)
        let exited = await sensor.waitForExit(seconds: 10)
        if !exited {
            await sensor.killAndReap()
            Issue.record("sensor did not exit within 10 s of SIGTERM (killed it); stderr: \(sensor.output().stderr)")
            return
        }
        let result = sensor.output()
        #expect(result.status == 0, "exit status after SIGTERM; stderr: \(result.stderr)")

        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        let run = Sensor.parse(ProcessOutput(status: result.status, stdout: text, stderr: result.stderr))
        #expect(run.unparsedLines.isEmpty, "\(run.unparsedLines.prefix(3))")
        let flows = run.flows.filter { $0.string("proto") == "udp" && $0.int("id.resp_p") == Int(receiver.port) }
        try #require(flows.count == 1, "one UDP flow to port \(receiver.port) in \(text)")
        let flow = flows[0]
        #expect(flow.string("id.orig_h") == "127.0.0.1" && flow.int("id.orig_p") == Int(sender.port), "\(flow)")
        #expect(flow.int("orig_pkts") == datagrams, "\(flow)")
        #expect(flow.int("orig_ip_bytes") == datagrams * (20 + 8 + payload.count), "\(flow)")
        #expect(flow.int("orig_bytes") == datagrams * payload.count, "\(flow)")
        #expect(flow.int("resp_pkts") == 0, "\(flow)")
        #expect(flow.bool("final") == true, "\(flow)")
        #expect(flow.string("end_reason") == "end", "flushed at shutdown: \(flow)")
        let stats = try #require(run.finalStats, "a final stats record at shutdown")
        // A live capture reports libpcap's kernel and interface drop counters (pcap_stats); none on an idle lo.
        #expect(stats.int("packets_dropped_kernel") == 0, "\(stats)")
        #expect(stats.int("packets_dropped_interface") != nil, "\(stats)")
        #expect((stats.int("packets_received") ?? 0) >= datagrams, "\(stats)")
    }
}

extension LiveCaptureTests {
    // Capture: live, interface lo, the test's own UDP datagrams (as above). With nothing more to read, the capture
    // thread's idle notices carry the wall clock to the flow table, which expires the flow while the sensor runs.
    @Test("an idle live flow expires by the wall clock while the sensor keeps running", .timeLimit(.minutes(1)))
    func idleLiveFlowExpires() async throws {
        let receiver = try LoopbackUDPSocket()
        let sender = try LoopbackUDPSocket()
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("idle.jsonl")
        guard
            let sensor = try await startCapturing([
                "--interface", "lo", "--filter", "udp port \(receiver.port)", "--emit", "jsonl", "--output",
                output.path, "--udp-timeout", "1",
            ])
        else { return }
        for _ in 0..<3 { try sender.send(Array("idle".utf8), toPort: receiver.port) }

        // The flow's record shows up while the sensor still runs: idle for 1 s, swept, and the output flushed.
        var expired: JSONRecord?
        let wait = Date().addingTimeInterval(10)
        while expired == nil && Date() < wait && sensor.process.isRunning {
            try await Task.sleep(nanoseconds: 200_000_000)
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            expired = Sensor.parse(ProcessOutput(status: 0, stdout: text, stderr: "")).flows.first {
                $0.int("id.resp_p") == Int(receiver.port)
            }
        }
        let stillRunning = sensor.process.isRunning
        sensor.signal(SIGTERM)
        let exited = await sensor.waitForExit(seconds: 10)
        if !exited { await sensor.killAndReap() }
        #expect(stillRunning, "the sensor was still capturing when the record came out")
        let flow = try #require(expired, "no record for the idle flow within 10 s: \(sensor.output().stderr)")
        #expect(flow.string("end_reason") == "idle", "\(flow)")
        #expect(flow.bool("final") == true, "\(flow)")
        #expect(flow.int("orig_pkts") == 3, "\(flow)")
    }
}

/// `--config` and `--user` on a live capture.
@Suite("Live capture with a config file and --user")
struct PrivilegeDropTests {
    /// The uid the process runs as now, from /proc/PID/status ("Uid: real effective saved filesystem").
    static func uids(pid: Int32) -> [UInt32] {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return [] }
        let line = status.split(separator: "\n").first { $0.hasPrefix("Uid:") } ?? ""
        return line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().compactMap { UInt32($0) }
    }

    // Capture: live, interface lo, the test's own UDP datagrams (as above); interface and filter come from the
    // [sensor] section of a config file.
    @Test("the sensor opens lo as root, then runs as 'nobody' and still captures", .timeLimit(.minutes(1)))
    func dropsToNobodyAfterOpening() async throws {
        let receiver = try LoopbackUDPSocket()
        let sender = try LoopbackUDPSocket()
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("sensor.conf")
        try """
        # a sensor's configuration
        [sensor]
        interface = "lo"
        filter = "udp port \(receiver.port)"
        user = "nobody"
        """.write(to: config, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("live.jsonl")
        let sensor = try ChildProcess(
            try Harness.sensorBinary(), ["--config", config.path, "--emit", "jsonl", "--output", output.path])
        try sensor.start()
        guard getuid() == 0 else {
            // Without root the switch cannot happen, and the sensor says so and what to do.
            _ = await sensor.waitForExit(seconds: 10)
            #expect(sensor.output().status != 0)
            #expect(sensor.output().stderr.contains("--user nobody: switching users needs root"))
            return
        }
        let nobody = try #require(getpwnam("nobody")).pointee.pw_uid
        let deadline = Date().addingTimeInterval(10)
        while !(hasPacketSocket(pid: sensor.pid) && Self.uids(pid: sensor.pid).first == nobody) {
            guard sensor.process.isRunning, Date() < deadline else {
                await sensor.killAndReap()
                Issue.record("sensor did not capture as nobody within 10 s: \(sensor.output())")
                return
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        // Real, effective, saved and filesystem uid are all nobody's: root cannot come back.
        #expect(Self.uids(pid: sensor.pid) == [nobody, nobody, nobody, nobody])
        try await Task.sleep(nanoseconds: 500_000_000)
        for _ in 0..<3 {
            try sender.send(Array("after the drop".utf8), toPort: receiver.port)
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        try await Task.sleep(nanoseconds: 700_000_000)
        sensor.signal(SIGTERM)
        #expect(await sensor.waitForExit(seconds: 10))
        #expect(sensor.output().status == 0, "\(sensor.output().stderr)")
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        let run = Sensor.parse(ProcessOutput(status: 0, stdout: text, stderr: ""))
        let flows = run.flows.filter { $0.int("id.resp_p") == Int(receiver.port) }
        #expect(flows.count == 1 && flows.first?.int("orig_pkts") == 3, "\(text)")
    }

    @Test("a config file with a misspelt key or a bad value is refused with its file, line and key")
    func badConfigIsRefused() async throws {
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("sensor.conf")
        for (text, message) in [
            ("[sensor]\nsnapln = 96\n", "sensor.conf:2: [sensor] snapln: unknown key"),
            ("[sensor]\nsnaplen = 9\n", "sensor.conf:2: [sensor] snaplen: 9 is outside 64...262144"),
            ("[collector]\nlisten = \"x\"\n", "unknown section [collector] (known: [sensor])"),
            ("[sensor]\nuser = \"no-such-user-here\"\n", "--user: no such user 'no-such-user-here'"),
        ] {
            try text.write(to: config, atomically: true, encoding: .utf8)
            let run = try await Sensor.run([
                "--config", config.path, "--read", Harness.fixture("http.pcap"), "--emit", "none",
            ])
            #expect(run.output.status == 2, "\(text)")
            #expect(run.output.stderr.contains(message), "\(run.output.stderr)")
            #expect(run.output.stderr.split(separator: "\n").count == 1, "one line: \(run.output.stderr)")
        }
    }
}
