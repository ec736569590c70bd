import Capture
import Testing

/// The committed captures, found relative to this file.
enum Fixtures {
    static let directory: String = {
        let file = #filePath
        guard let slash = file.lastIndex(of: "/") else { return "Tests/Fixtures" }
        let testsDirectory = file[..<slash].dropLast("CaptureTests".count)
        return String(testsDirectory) + "Fixtures"
    }()

    static func path(_ name: String) -> String { directory + "/" + name }
}

/// Reads every packet of a capture and returns the results of each read.
func readAll(_ handle: PcapHandle) throws -> (packets: [CapturedPacketSummary], end: ReadResult) {
    var packets: [CapturedPacketSummary] = []
    var packet = CapturedPacket.none
    while true {
        let result = try handle.next(into: &packet)
        if result != .packet { return (packets, result) }
        packets.append(
            CapturedPacketSummary(
                seconds: packet.seconds, nanoseconds: packet.nanoseconds, captured: packet.capturedLength,
                wire: packet.wireLength))
    }
}

struct CapturedPacketSummary: Equatable {
    var seconds: Int64
    var nanoseconds: Int64
    var captured: Int
    var wire: Int
}

@Suite("libpcap capture")
struct CaptureTests {
    @Test("pcap and pcapng copies of one capture read the same packets")
    func pcapAndPcapng() throws {
        // http.pcap (tcpdump on lo) and http.pcapng (editcap -F pcapng of it).
        let pcap = try readAll(try PcapHandle.openOffline(path: Fixtures.path("http.pcap")))
        let pcapng = try readAll(try PcapHandle.openOffline(path: Fixtures.path("http.pcapng")))
        #expect(pcap.end == .endOfFile && pcapng.end == .endOfFile)
        #expect(pcap.packets.count == 51)
        #expect(pcap.packets == pcapng.packets)
    }

    @Test("nanosecond files keep their nanoseconds; microsecond files are scaled")
    func timestampPrecision() throws {
        // dns-nano.pcap was written with --time-stamp-precision=nano; dns.pcap with microseconds.
        let nano = try readAll(try PcapHandle.openOffline(path: Fixtures.path("dns-nano.pcap")))
        let micro = try readAll(try PcapHandle.openOffline(path: Fixtures.path("dns.pcap")))
        #expect(!nano.packets.isEmpty && !micro.packets.isEmpty)
        #expect(micro.packets.allSatisfy { $0.nanoseconds % 1000 == 0 })
        #expect(nano.packets.contains { $0.nanoseconds % 1000 != 0 })
    }

    @Test(
        "link types are reported as libpcap names them",
        arguments: [
            ("http.pcap", "EN10MB"), ("sll.pcap", "LINUX_SLL"), ("sll2.pcap", "LINUX_SLL2"), ("null.pcap", "NULL"),
            ("rawip.pcap", "RAW"),
        ])
    func linkTypes(file: String, name: String) throws {
        #expect(try PcapHandle.openOffline(path: Fixtures.path(file)).linkTypeName == name)
    }

    @Test("a capture cut mid-packet delivers the complete packets, then reports the cut")
    func truncatedFile() throws {
        // http-cut.pcap is http.pcap cut inside its last packet record.
        let cut = try readAll(try PcapHandle.openOffline(path: Fixtures.path("http-cut.pcap")))
        #expect(cut.packets.count == 50)
        guard case .truncatedFile(let reason) = cut.end else {
            Issue.record("expected truncatedFile, got \(cut.end)")
            return
        }
        #expect(reason.contains("truncated"))
    }

    @Test("snaplen-cut packets report captured < wire length")
    func snaplen() throws {
        let cut = try readAll(try PcapHandle.openOffline(path: Fixtures.path("http-snap96.pcap")))
        #expect(cut.packets.allSatisfy { $0.captured <= 96 })
        #expect(cut.packets.contains { $0.wire > $0.captured })
    }

    @Test("a BPF filter selects packets")
    func filter() throws {
        let handle = try PcapHandle.openOffline(path: Fixtures.path("mixed.pcap"))
        try handle.setFilter("udp port 53")
        let udp = try readAll(handle)
        #expect(udp.packets.count == 14)
    }

    @Test("bad inputs give errors that name the file or expression")
    func badInputs() throws {
        #expect(throws: CaptureError.fileNotFound(path: "/nonexistent/x.pcap")) {
            try PcapHandle.openOffline(path: "/nonexistent/x.pcap")
        }
        #expect(throws: CaptureError.notACapture(path: Fixtures.path("empty.pcap"), reason: "empty file")) {
            try PcapHandle.openOffline(path: Fixtures.path("empty.pcap"))
        }
        for name in ["bad-magic.pcap", "not-a-capture.bin"] {
            do {
                _ = try PcapHandle.openOffline(path: Fixtures.path(name))
                Issue.record("\(name) opened")
            } catch {
                guard case .notACapture(let path, _) = error else { Issue.record("\(name): \(error)"); continue }
                #expect(path.hasSuffix(name))
                #expect(error.description.contains(name))
            }
        }
        do {
            _ = try PcapHandle.openOffline(path: Fixtures.directory)
            Issue.record("a directory opened")
        } catch {
            #expect(error.description.contains("directory"))
        }
        let handle = try PcapHandle.openOffline(path: Fixtures.path("http.pcap"))
        do {
            try handle.setFilter("tcp port")
            Issue.record("a bad filter compiled")
        } catch {
            guard case .badFilter(let expression, let reason) = error else { Issue.record("\(error)"); return }
            #expect(expression == "tcp port" && !reason.isEmpty)
        }
    }

    @Test("an unknown interface is named in the error")
    func unknownInterface() {
        do {
            _ = try PcapHandle.openLive(interface: "nosuch0", options: LiveOptions())
            Issue.record("nosuch0 opened")
        } catch {
            #expect(error.description.contains("nosuch0"))
            switch error {
            case .noSuchInterface, .permissionDenied: break
            default: Issue.record("unexpected \(error)")
            }
        }
    }
}
