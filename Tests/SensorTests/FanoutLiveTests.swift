import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A network namespace of the test's own (`ip netns add`), with `lo` up and two addresses of each family on it,
/// deleted at the end. Needs root (CI runs as root); without it the test fails, naming what it needs.
final class TestNamespace {
    let name: String
    let ip: URL

    init() throws {
        guard getuid() == 0 else {
            throw HarnessError("needs root to create a network namespace (ip netns add); CI runs the suite as root")
        }
        ip = try Self.tool("ip")
        name = "wwfanout-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try run(["netns", "add", name])
        do {
            for command in [
                ["link", "set", "lo", "up"], ["addr", "add", "10.77.0.1/24", "dev", "lo"],
                ["addr", "add", "10.77.0.2/24", "dev", "lo"], ["addr", "add", "fd00:77::1/64", "dev", "lo", "nodad"],
                ["addr", "add", "fd00:77::2/64", "dev", "lo", "nodad"],
            ] {
                try run(["netns", "exec", name, ip.path] + command)
            }
        } catch {
            try? run(["netns", "del", name])
            throw error
        }
    }

    deinit { try? run(["netns", "del", name]) }

    /// `ip ARGUMENTS`, synchronously (also from deinit); a failure names the command and what it printed.
    private func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = ip
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw HarnessError("ip \(arguments.joined(separator: " ")): exit \(process.terminationStatus): \(text)")
        }
    }

    /// `program arguments` inside the namespace (`ip netns exec` execs it, so the pid is the program's).
    func child(_ program: URL, _ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(ip, ["netns", "exec", name, program.path] + arguments)
    }

    /// A program from PATH or the sbin directories.
    static func tool(_ name: String) throws -> URL {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw HarnessError("\(name) not found on PATH (see scripts/packages.txt)")
    }
}

/// The traffic: Python's HTTP servers answering curl over IPv4 and IPv6, a UDP echo exchange from fixed ports,
/// ping and ping -6; every client port is fixed, so the flows sent are known. Prints them as JSON lines.
private let trafficScript = #"""
    import http.server, json, socket, subprocess, sys, threading

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    class V6(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6

    servers = [http.server.ThreadingHTTPServer(("10.77.0.2", 8080), Quiet), V6(("fd00:77::2", 8081), Quiet)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    echo = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    echo.bind(("10.77.0.2", 5300))
    def answer():
        while True:
            data, peer = echo.recvfrom(2048)
            echo.sendto(data, peer)
    threading.Thread(target=answer, daemon=True).start()

    def sent(proto, orig, orig_port, resp, resp_port):
        print(json.dumps([proto, orig, orig_port, resp, resp_port]), flush=True)

    for i in range(40):
        port = 41000 + i
        subprocess.run(["curl", "-sf", "-o", "/dev/null", "--interface", "10.77.0.1", "--local-port", str(port),
                        "http://10.77.0.2:8080/"], check=True)
        sent("tcp", "10.77.0.1", port, "10.77.0.2", 8080)
    for i in range(20):
        port = 42000 + i
        subprocess.run(["curl", "-gsf", "-o", "/dev/null", "--interface", "fd00:77::1", "--local-port", str(port),
                        "http://[fd00:77::2]:8081/"], check=True)
        sent("tcp", "fd00:77::1", port, "fd00:77::2", 8081)
    for i in range(40):
        port = 43000 + i
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("10.77.0.1", port))
        client.settimeout(5)
        client.sendto(b"wirewatch fanout %d" % i, ("10.77.0.2", 5300))
        client.recvfrom(2048)
        client.close()
        sent("udp", "10.77.0.1", port, "10.77.0.2", 5300)
    subprocess.run(["ping", "-q", "-c", "3", "-i", "0.2", "-I", "10.77.0.1", "10.77.0.2"], check=True,
                   stdout=subprocess.DEVNULL)
    sent("icmp", "10.77.0.1", 8, "10.77.0.2", 0)
    subprocess.run(["ping", "-6", "-q", "-c", "3", "-i", "0.2", "-I", "fd00:77::1", "fd00:77::2"], check=True,
                   stdout=subprocess.DEVNULL)
    sent("icmpv6", "fd00:77::1", 128, "fd00:77::2", 129)
    """#

/// Datagrams from a new socket on the next port (so a new flow) every half millisecond while the sensor starts and its
/// handles join the group one by one, to 10.77.0.2:5400 where a socket drains them: a packet a handle received
/// before its join and also counted through the group would show as one of these flows twice.
private let startupScript = #"""
    import socket, time
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("10.77.0.2", 5400))
    sink.setblocking(False)
    port = 20000
    print("sending", flush=True)
    while True:
        # Ports in turn, not the kernel's pick: a port it picked twice would make one flow of two datagrams.
        port = 20000 if port == 60000 else port + 1
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.bind(("10.77.0.1", port))
        client.sendto(b"startup", ("10.77.0.2", 5400))
        client.close()
        try:
            while True:
                sink.recv(64)
        except BlockingIOError:
            pass
        time.sleep(0.0005)
    """#

extension FanoutTests {
    /// Packet sockets open in `pid`'s network namespace (/proc/PID/net/packet, one line each after the header).
    static func packetSockets(pid: Int32) -> Int {
        guard let table = try? String(contentsOfFile: "/proc/\(pid)/net/packet", encoding: .utf8) else { return 0 }
        return max(0, table.split(separator: "\n").count - 1)
    }

    /// One flow's 5-tuple as the records name it.
    struct FiveTuple: Hashable, CustomStringConvertible {
        var proto: String
        var orig: String
        var origPort: Int
        var resp: String
        var respPort: Int
        var description: String { "\(proto) \(orig):\(origPort) > \(resp):\(respPort)" }

        init(proto: String, orig: String, origPort: Int, resp: String, respPort: Int) {
            (self.proto, self.orig, self.origPort, self.resp, self.respPort) = (proto, orig, origPort, resp, respPort)
        }

        init(_ record: JSONRecord) {
            self.init(
                proto: record.string("proto") ?? "", orig: record.string("id.orig_h") ?? "",
                origPort: record.int("id.orig_p") ?? -1, resp: record.string("id.resp_h") ?? "",
                respPort: record.int("id.resp_p") ?? -1)
        }
    }

    // Capture: live, `lo` of a network namespace the test creates (root; CI runs as root), with traffic from curl
    // against Python's http.server (IPv4 and IPv6), UDP from Python sockets, ping and ping -6, all between two
    // addresses, so both directions of each flow must reach the same worker for it to be one flow.
    // Expected: every flow sent has exactly one final record with both directions, no 5-tuple or uid twice, one
    // series record per interval, per-worker kernel counters.
    @Test("two workers on lo in a namespace: every flow once, both directions on one worker", .timeLimit(.minutes(2)))
    func twoWorkersOnLoopback() async throws {
        let namespace = try TestNamespace()
        let python = try TestNamespace.tool("python3")
        let directory = try Harness.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("fanout.jsonl")
        let traffic = directory.appendingPathComponent("traffic.py")
        let startup = directory.appendingPathComponent("startup.py")
        try trafficScript.write(to: traffic, atomically: true, encoding: .utf8)
        try startupScript.write(to: startup, atomically: true, encoding: .utf8)

        let background = try namespace.child(python, [startup.path])
        try background.start()
        defer { background.signal(SIGKILL) }
        guard await background.waitForOutput(seconds: 20, { $0.stdout.contains("sending") }) else {
            Issue.record("the startup datagrams did not start within 20 s: \(background.output())")
            return
        }
        let sensor = try namespace.child(
            try Harness.sensorBinary(),
            [
                "--interface", "lo", "--workers", "2", "--emit", "jsonl", "--output", output.path, "--uid-seed", "1",
                "--series-interval", "1", "--stats-interval", "1",
                // The second handle receives the startup datagrams for 300 ms before it joins, as the group does.
                "--fanout-join-delay", "300",
            ])
        try sensor.start()
        defer { sensor.signal(SIGKILL) }
        let deadline = Date().addingTimeInterval(10)
        while Self.packetSockets(pid: sensor.pid) < 2 {
            guard sensor.isRunning, Date() < deadline else {
                Issue.record("the sensor did not open 2 packet sockets within 10 s: \(sensor.output())")
                return
            }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        // The startup datagrams go on while the second handle waits and joins and the readers start, then stop.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        background.signal(SIGKILL)
        _ = await background.waitForExit(seconds: 10)

        let generator = try namespace.child(python, [traffic.path])
        try generator.start()
        guard await generator.waitForExit(seconds: 60) else {
            await generator.killAndReap()
            Issue.record("the traffic did not finish within 60 s: \(generator.output())")
            return
        }
        let sentOutput = generator.output()
        try #require(sentOutput.status == 0, "traffic generator: \(sentOutput.stderr)")
        let sent = sentOutput.stdout.split(separator: "\n").compactMap { line -> FiveTuple? in
            guard let data = line.data(using: .utf8),
                let fields = try? JSONSerialization.jsonObject(with: data) as? [Any], fields.count == 5,
                let proto = fields[0] as? String, let orig = fields[1] as? String, let origPort = fields[2] as? Int,
                let resp = fields[3] as? String, let respPort = fields[4] as? Int
            else { return nil }
            return FiveTuple(proto: proto, orig: orig, origPort: origPort, resp: resp, respPort: respPort)
        }
        #expect(sent.count == 102, "flows the generator reports: \(sentOutput.stdout)")

        // Let the 200 ms read timeout hand the last packets over, then stop: every open flow is flushed.
        try await Task.sleep(nanoseconds: 1_000_000_000)
        sensor.signal(SIGTERM)
        guard await sensor.waitForExit(seconds: 15) else {
            await sensor.killAndReap()
            Issue.record("the sensor did not exit within 15 s of SIGTERM: \(sensor.output().stderr)")
            return
        }
        #expect(sensor.output().status == 0, "sensor: \(sensor.output().stderr)")
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        let run = Sensor.parse(ProcessOutput(status: 0, stdout: text, stderr: ""))
        #expect(run.unparsedLines.isEmpty, "\(run.unparsedLines.prefix(3))")

        // Every flow once: one final record per uid, one uid per 5-tuple.
        let finals = run.records(ofType: "flow").filter { $0.bool("final") == true }
        let uids = finals.compactMap { $0.string("uid") }
        #expect(Set(uids).count == uids.count && uids.count == finals.count, "a uid with two final records")
        var byTuple: [FiveTuple: [JSONRecord]] = [:]
        for record in finals { byTuple[FiveTuple(record), default: []].append(record) }
        let twice = byTuple.filter { $0.value.count > 1 }
        #expect(twice.isEmpty, "5-tuples with more than one final record: \(twice.values.flatMap { $0 })")

        // What was sent is exactly what was recorded, apart from the startup datagrams (and, if the kernel sent
        // any, ICMPv6 other than echo).
        let startupFlows = byTuple.keys.filter { $0.proto == "udp" && $0.respPort == 5400 }
        let recorded = Set(byTuple.keys).subtracting(startupFlows).filter {
            !($0.proto == "icmpv6" && $0.origPort != 128)
        }
        let missing = Set(sent).subtracting(recorded)
        #expect(recorded == Set(sent), "missing: \(missing); extra: \(recorded.subtracting(sent))")
        #expect(!startupFlows.isEmpty, "the startup datagrams were captured")
        for tuple in startupFlows {
            #expect(byTuple[tuple]?.first?.int("orig_pkts") == 1, "a startup datagram counted once: \(tuple)")
        }

        // Both directions of each flow reached the same worker: whole TCP conversations, answered datagrams and
        // echoes.
        for tuple in sent {
            guard let record = byTuple[tuple]?.first else { continue }
            switch tuple.proto {
            case "tcp": #expect(record.string("conn_state") == "SF", "\(record)")
            case "udp": #expect(record.int("orig_pkts") == 1 && record.int("resp_pkts") == 1, "\(record)")
            default: #expect(record.int("orig_pkts") == 3 && record.int("resp_pkts") == 3, "\(record)")
            }
        }

        // One series record per interval, and its packets are the stats' packets.
        let series = run.records(ofType: "series")
        let intervals = series.compactMap { $0.numbers["ts"] }
        #expect(Set(intervals).count == intervals.count, "two series records for one interval: \(intervals)")
        let stats = try #require(run.finalStats, "a final stats record")
        let seriesPackets = series.compactMap { $0.int("packets") }.reduce(0, +)
        #expect(seriesPackets == stats.int("packets_received"), "series \(seriesPackets) vs \(stats)")
        let flowPackets = finals.map { ($0.int("orig_pkts") ?? 0) + ($0.int("resp_pkts") ?? 0) }.reduce(0, +)
        #expect(flowPackets == stats.int("packets_received"), "packets in final flows vs stats: \(stats)")

        // Per-worker counters: both workers took part; each reports its socket's kernel counters; the sums match.
        let workers = try Self.workers(of: stats)
        try #require(workers.count == 2, "two workers in \(stats)")
        #expect(workers.map { $0["worker"] } == [0, 1])
        for worker in workers {
            #expect(worker["packets_dropped_kernel"] != nil && worker["kernel_received"] != nil, "\(worker)")
            #expect((worker["packets_received"] ?? 0) > 0, "every worker got a share: \(worker)")
        }
        // What the second handle received while it waited to join was discarded (the group counted it).
        #expect(workers[0]["discarded_before_join"] == 0, "\(workers)")
        #expect((workers[1]["discarded_before_join"] ?? 0) > 0, "\(workers)")
        #expect(workers.compactMap { $0["packets_received"] }.reduce(0, +) == stats.int("packets_received"))
        #expect(
            workers.compactMap { $0["packets_dropped_kernel"] }.reduce(0, +) == stats.int("packets_dropped_kernel"))
    }

    /// The `workers` array of a stats record: each worker's counters by name.
    static func workers(of stats: JSONRecord) throws -> [[String: Int]] {
        let data = try #require(stats.line.data(using: .utf8))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let list = try #require(object["workers"] as? [[String: Any]], "no workers array in \(stats)")
        return list.map { worker in worker.compactMapValues { ($0 as? NSNumber)?.intValue } }
    }
}
