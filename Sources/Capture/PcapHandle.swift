import CPcap

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One packet as libpcap delivered it. `bytes` is valid only during the callback that receives it.
public struct CapturedPacket {
    /// Seconds and nanoseconds since the epoch (the handle is opened with nanosecond precision).
    public var seconds: Int64
    public var nanoseconds: Int64
    /// Bytes captured (≤ snaplen) and the packet's length on the wire.
    public var capturedLength: Int
    public var wireLength: Int
    public var bytes: UnsafeRawBufferPointer

    /// Epoch seconds as a Double with microsecond resolution at least.
    public var timestamp: Double { Double(seconds) + Double(nanoseconds) / 1e9 }

    public init(seconds: Int64, nanoseconds: Int64, capturedLength: Int, wireLength: Int, bytes: UnsafeRawBufferPointer)
    {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
        self.capturedLength = capturedLength
        self.wireLength = wireLength
        self.bytes = bytes
    }

    /// No packet yet: a place for `PcapHandle.next(into:)` to write to.
    public static var none: CapturedPacket {
        CapturedPacket(
            seconds: 0, nanoseconds: 0, capturedLength: 0, wireLength: 0,
            bytes: UnsafeRawBufferPointer(start: nil, count: 0))
    }
}

/// Counters libpcap keeps for a live capture (pcap_stats).
public struct CaptureCounters: Sendable, Hashable {
    public var received: UInt64
    public var droppedByKernel: UInt64
    public var droppedByInterface: UInt64

    public init(received: UInt64, droppedByKernel: UInt64, droppedByInterface: UInt64) {
        self.received = received
        self.droppedByKernel = droppedByKernel
        self.droppedByInterface = droppedByInterface
    }
}

/// Options for a live capture.
public struct LiveOptions: Sendable {
    public var snaplen: Int32 = 262_144
    public var promiscuous = true
    /// Kernel ring buffer in bytes; nil keeps libpcap's default (2 MiB on Linux).
    public var bufferSize: Int32?
    /// How long a read may wait for packets before returning, so timers and stop requests run.
    public var readTimeoutMilliseconds: Int32 = 200
    public var immediate = false
    public init() {}
}

/// The result of one read.
public enum ReadResult: Sendable, Equatable {
    case packet
    /// A live capture's read timeout expired with no packet.
    case timeout
    case endOfFile
    /// The file ends inside a packet record: the packets before it were delivered.
    case truncatedFile(String)
    /// `breakLoop()` was called.
    case interrupted
}

/// A libpcap handle on a capture file (pcap or pcapng) or a live interface. Not thread-safe:
/// one thread reads it at a time (the capture reader's); only `breakLoop()` may be called from elsewhere.
public final class PcapHandle: @unchecked Sendable {
    private let handle: OpaquePointer
    /// The file path or interface name, for messages.
    public let source: String
    public let isLive: Bool
    public let linkTypeValue: Int32
    /// The stdio buffer of an offline handle's file, freed after `pcap_close` has closed the file.
    private let fileBuffer: UnsafeMutableRawPointer?
    /// What `counters()` subtracts (set by `resetCounters()`).
    private var countersBaseline: CaptureCounters?

    /// Bytes of stdio buffer for a capture file. libpcap reads a file with two `fread`s a packet (record header,
    /// then data) through stdio's default buffer of one block (4 KiB), so a 1 GB capture costs 250,000 `read` calls;
    /// with 256 KiB the same file takes 4,000 and reading it goes twice as fast (bench/sensor.sh, mixed capture).
    static let fileBufferSize = 1 << 18

    private init(handle: OpaquePointer, source: String, isLive: Bool, fileBuffer: UnsafeMutableRawPointer? = nil) {
        self.handle = handle
        self.source = source
        self.isLive = isLive
        self.linkTypeValue = pcap_datalink(handle)
        self.fileBuffer = fileBuffer
    }

    deinit {
        pcap_close(handle)
        fileBuffer?.deallocate()
    }

    /// Opens a pcap or pcapng file, timestamps in nanoseconds whatever the file's resolution.
    public static func openOffline(path: String) throws(CaptureError) -> PcapHandle {
        var info = stat()
        if stat(path, &info) != 0 {
            if errno == ENOENT { throw .fileNotFound(path: path) }
            throw .unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw .unreadableFile(path: path, reason: "is a directory") }
        if info.st_size == 0 { throw .notACapture(path: path, reason: "empty file") }
        // pcap_open_offline with a larger stdio buffer: the same fopen, then pcap_fopen_offline on the stream.
        guard let file = fopen(path, "rb") else {
            throw .unreadableFile(path: path, reason: "\(path): \(String(cString: strerror(errno)))")
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: fileBufferSize, alignment: 16)
        setvbuf(file, buffer.assumingMemoryBound(to: CChar.self), _IOFBF, fileBufferSize)
        #if canImport(Glibc)
            // Only one thread ever reads the stream (the capture reader's), so stdio need not lock it on each of
            // libpcap's two freads per packet: in a process with more than one thread, glibc otherwise takes and
            // releases the stream's lock every time (15 ms of CPU per million packets).
            __fsetlocking(file, Int32(FSETLOCKING_BYCALLER))
        #endif
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        let opened = pcap_fopen_offline_with_tstamp_precision(file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf)
        guard let opened else {
            // On failure libpcap leaves the stream to its caller.
            fclose(file)
            buffer.deallocate()
            let reason = Self.text(errbuf)
            if reason.contains("unknown file format") || reason.contains("truncated dump file")
                || reason.contains("bad dump file format") || reason.contains("version")
            {
                throw .notACapture(path: path, reason: reason)
            }
            throw .unreadableFile(path: path, reason: reason)
        }
        return PcapHandle(handle: opened, source: path, isLive: false, fileBuffer: buffer)
    }

    /// Opens a live interface. Errors distinguish a missing device from missing privileges.
    public static func openLive(interface: String, options: LiveOptions) throws(CaptureError) -> PcapHandle {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let created = pcap_create(interface, &errbuf) else {
            throw .cannotActivate(interface: interface, reason: Self.text(errbuf))
        }
        pcap_set_snaplen(created, options.snaplen)
        pcap_set_promisc(created, options.promiscuous ? 1 : 0)
        pcap_set_timeout(created, options.readTimeoutMilliseconds)
        if let size = options.bufferSize { pcap_set_buffer_size(created, size) }
        if options.immediate { pcap_set_immediate_mode(created, 1) }
        _ = pcap_set_tstamp_precision(created, Int32(PCAP_TSTAMP_PRECISION_NANO))
        let status = pcap_activate(created)
        if status < 0 {
            let detail = String(cString: pcap_geterr(created))
            pcap_close(created)
            switch status {
            case PCAP_ERROR_NO_SUCH_DEVICE: throw .noSuchInterface(interface: interface)
            case PCAP_ERROR_PERM_DENIED: throw .permissionDenied(interface: interface, reason: detail)
            default:
                if detail.contains("No such device") { throw .noSuchInterface(interface: interface) }
                if detail.contains("Operation not permitted") || detail.contains("ermission") {
                    throw .permissionDenied(interface: interface, reason: detail)
                }
                throw .cannotActivate(interface: interface, reason: detail)
            }
        }
        return PcapHandle(handle: created, source: interface, isLive: true)
    }

    /// Compiles and installs a BPF filter (tcpdump syntax).
    public func setFilter(_ expression: String) throws(CaptureError) {
        var program = bpf_program()
        if pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw .badFilter(expression: expression, reason: String(cString: pcap_geterr(handle)))
        }
        defer { pcap_freecode(&program) }
        if pcap_setfilter(handle, &program) != 0 {
            throw .badFilter(expression: expression, reason: String(cString: pcap_geterr(handle)))
        }
    }

    /// The link type's libpcap name, e.g. EN10MB.
    public var linkTypeName: String {
        guard let name = pcap_datalink_val_to_name(linkTypeValue) else { return "DLT \(linkTypeValue)" }
        return String(cString: name)
    }

    /// Reads one packet into `packet` when the result is `.packet`; its bytes are libpcap's and stay valid only
    /// until the next read.
    @inline(__always)
    public func next(into packet: inout CapturedPacket) throws(CaptureError) -> ReadResult {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap_next_ex(handle, &header, &data)
        switch status {
        case 1:
            guard let header, let data else { return .timeout }
            let caplen = Int(header.pointee.caplen)
            packet = CapturedPacket(
                seconds: Int64(header.pointee.ts.tv_sec), nanoseconds: Int64(header.pointee.ts.tv_usec),
                capturedLength: caplen, wireLength: Int(header.pointee.len),
                bytes: UnsafeRawBufferPointer(start: data, count: caplen))
            return .packet
        case 0:
            return .timeout
        case -2:  // end of file, or PCAP_ERROR_BREAK after breakLoop()
            return isLive ? .interrupted : .endOfFile
        default:
            let reason = String(cString: pcap_geterr(handle))
            if !isLive && (reason.contains("truncated") || reason.contains("only got")) {
                return .truncatedFile(reason)
            }
            throw .readFailed(source: source, reason: reason)
        }
    }

    /// Switches a live handle to non-blocking reads: `next` returns `.timeout` at once when no packet is ready,
    /// and `waitForPackets` sleeps until one is (libpcap's TPACKET_V3 reader otherwise polls without a timeout on an
    /// idle link, so neither timers nor a stop request would run).
    public func setNonBlocking() throws(CaptureError) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        if pcap_setnonblock(handle, 1, &errbuf) != 0 {
            throw .cannotActivate(interface: source, reason: Self.text(errbuf))
        }
    }

    /// Waits up to `milliseconds` for packets on a live handle; returns early on a signal.
    public func waitForPackets(milliseconds: Int32) {
        let fd = pcap_get_selectable_fd(handle)
        guard fd >= 0 else {
            usleep(UInt32(milliseconds) * 1000)
            return
        }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&descriptor, 1, milliseconds)
    }

    /// Makes a blocked `next` return `.interrupted`; safe to call from another thread or a signal handler.
    public func breakLoop() { pcap_breakloop(handle) }

    /// Kernel and interface drop counters of a live capture (since `resetCounters()`, if called); nil for files.
    public func counters() -> CaptureCounters? {
        guard isLive else { return nil }
        var stats = pcap_stat()
        guard pcap_stats(handle, &stats) == 0 else { return nil }
        var counters = CaptureCounters(
            received: UInt64(stats.ps_recv), droppedByKernel: UInt64(stats.ps_drop),
            droppedByInterface: UInt64(stats.ps_ifdrop))
        if let baseline = countersBaseline {
            // libpcap's counters are 32-bit on some platforms and wrap; subtract modulo 2^32 when they did.
            counters.received = Self.since(baseline.received, counters.received)
            counters.droppedByKernel = Self.since(baseline.droppedByKernel, counters.droppedByKernel)
            counters.droppedByInterface = Self.since(baseline.droppedByInterface, counters.droppedByInterface)
        }
        return counters
    }

    /// Makes `counters()` count from now: a fanout worker's socket received every packet of the interface until
    /// the group was complete, and those packets are not its share.
    public func resetCounters() {
        countersBaseline = nil
        countersBaseline = counters()
    }

    private static func since(_ start: UInt64, _ now: UInt64) -> UInt64 {
        now >= start ? now - start : (now &+ (1 << 32)) &- start
    }

    // MARK: Fanout (Linux PACKET_FANOUT, linux/if_packet.h)

    /// `SOL_PACKET`, `PACKET_FANOUT` and its mode and flags (linux/if_packet.h; Linux 3.1, the flags 4.3).
    enum PacketFanout {
        static let level: Int32 = 263
        static let option: Int32 = 18
        /// `PACKET_FANOUT_HASH`: the socket is chosen by the kernel's flow hash of the packet.
        static let hash: UInt32 = 0
        /// `PACKET_FANOUT_FLAG_UNIQUEID`: with group id 0, the kernel picks an id no other group uses.
        static let flagUniqueID: UInt32 = 0x2000
        /// `PACKET_FANOUT_FLAG_DEFRAG`: IP fragments are reassembled before hashing (their later fragments have
        /// no ports, so they would hash apart from the first).
        static let flagDefrag: UInt32 = 0x8000
    }

    /// Joins this live handle's socket to a `PACKET_FANOUT` group in hash mode with defragmentation, so the
    /// kernel spreads the interface's packets over the group's sockets by flow. `group` nil makes a new group
    /// whose id the kernel picks unique in the network namespace (so two sensors on one interface never share a
    /// group by accident); the other handles then join with the returned id. Call after activation (the socket must
    /// be bound); libpcap's memory-mapped ring (TPACKET_V3) is per socket and unaffected.
    ///
    /// The kernel's `PACKET_FANOUT_HASH` is `__skb_get_hash_symmetric` (net/packet/af_packet.c): the flow
    /// dissector's addresses and ports, each pair put in a fixed order before hashing, so both directions of a TCP
    /// or UDP conversation, and an ICMP echo and its reply, reach the same socket. Checked on Linux 6.18 (lo in a
    /// namespace, 2 and 4 sockets, TCP, UDP and ICMP echo over IPv4 and IPv6 between two addresses: no flow on two
    /// sockets; Tests/SensorTests/FanoutTests.swift checks it through the sensor). An ICMP error is hashed on its
    /// own header (its two addresses), not on the flow it quotes, so with N workers it reaches that flow's worker
    /// only one time in N; elsewhere it becomes an ICMP flow of its own.
    public func joinFanout(group: UInt16?) throws(CaptureError) -> UInt16 {
        let descriptor = pcap_fileno(handle)
        let mode = PacketFanout.hash | PacketFanout.flagDefrag
        var joined = group ?? 0
        var failure: Int32
        if let group {
            failure = setFanout(descriptor, UInt32(group) | mode << 16)
        } else {
            failure = setFanout(descriptor, (mode | PacketFanout.flagUniqueID) << 16)
            if failure == EINVAL {
                // A kernel without unique ids (before 4.3) refuses the flag: an id from the process id instead.
                joined = UInt16(truncatingIfNeeded: getpid())
                failure = setFanout(descriptor, UInt32(joined) | mode << 16)
            } else if failure == 0 {
                var value: UInt32 = 0
                var length = socklen_t(MemoryLayout<UInt32>.size)
                if getsockopt(descriptor, PacketFanout.level, PacketFanout.option, &value, &length) != 0 {
                    failure = errno
                }
                joined = UInt16(truncatingIfNeeded: value)
            }
        }
        guard failure == 0 else {
            throw .fanoutRefused(interface: source, reason: String(cString: strerror(failure)))
        }
        return joined
    }

    /// `setsockopt(PACKET_FANOUT)`: 0, or the errno.
    private func setFanout(_ descriptor: Int32, _ argument: UInt32) -> Int32 {
        var value = argument
        let status = setsockopt(
            descriptor, PacketFanout.level, PacketFanout.option, &value, socklen_t(MemoryLayout<UInt32>.size))
        return status == 0 ? 0 : errno
    }

    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
