// DNS message decoding (RFC 1035 §4.1) for the sensor's dns log, rendered the way Zeek's dns.log renders it.

/// Sizes and limits from the DNS RFCs, named so that every check in the decoder cites its source.
public enum DNSLimits {
    /// RFC 1035 §4.1.1: the header is six 16-bit fields.
    public static let headerLength = 12
    /// RFC 1035 §2.3.4: a label is 63 octets or less (a length octet with the top two bits clear).
    public static let maxLabelLength = 63
    /// RFC 1035 §2.3.4: a name is 255 octets or less, counting every length octet and the final root label.
    public static let maxNameLength = 255
    /// Compression pointers (RFC 1035 §4.1.4) followed while reading one name. A name of at most
    /// `maxNameLength` octets has at most 127 labels, and an encoder emits at most one pointer per label run,
    /// so a longer chain can only be crafted (pointer-to-pointer chains cost work without adding labels).
    public static let maxPointerHops = 127
    /// RFC 1035 §4.2.2, RFC 7766 §8: a message over TCP is preceded by a two-octet length.
    public static let tcpLengthPrefix = 2
}

/// RR TYPE values (IANA "Resource Record (RR) TYPEs") that the decoder renders specially.
public enum DNSType {
    public static let a: UInt16 = 1  // RFC 1035 §3.4.1
    public static let ns: UInt16 = 2  // RFC 1035 §3.3.11
    public static let cname: UInt16 = 5  // RFC 1035 §3.3.1
    public static let soa: UInt16 = 6  // RFC 1035 §3.3.13
    public static let ptr: UInt16 = 12  // RFC 1035 §3.3.12
    public static let mx: UInt16 = 15  // RFC 1035 §3.3.9
    public static let txt: UInt16 = 16  // RFC 1035 §3.3.14
    public static let aaaa: UInt16 = 28  // RFC 3596 §2.2
    public static let srv: UInt16 = 33  // RFC 2782
    public static let dname: UInt16 = 39  // RFC 6672 §2.1
    public static let opt: UInt16 = 41  // RFC 6891 §6.1.2
    public static let ds: UInt16 = 43  // RFC 4034 §5.1
    public static let rrsig: UInt16 = 46  // RFC 4034 §3.1
    public static let nsec: UInt16 = 47  // RFC 4034 §4.1
    public static let dnskey: UInt16 = 48  // RFC 4034 §2.1
    public static let nsec3: UInt16 = 50  // RFC 5155 §3.2
    public static let nsec3param: UInt16 = 51  // RFC 5155 §4.2
    public static let spf: UInt16 = 99  // RFC 7208 §3.1 (obsolete, still seen)
}

/// One entry of the question section (RFC 1035 §4.1.2).
///
/// `name` is in presentation form (see `DNSName`): labels joined by ".", no trailing dot, the case as sent,
/// and the root name as the empty string, which is what Zeek's analyzer produces.
public struct DNSQuestion: Sendable, Hashable {
    public var name: String
    public var type: UInt16
    public var klass: UInt16

    public init(name: String, type: UInt16, klass: UInt16) {
        self.name = name
        self.type = type
        self.klass = klass
    }

    /// The name with ASCII letters lowercased, as Zeek logs `query` (RFC 4343 §3: names compare case-insensitively).
    public var normalizedName: String { DNSName.lowercased(name) }
}

/// One resource record of the answer section (RFC 1035 §4.1.3), its RDATA rendered as text in `data`.
///
/// `data` follows Zeek's dns.log `answers`: the address for A/AAAA, the target name for NS/CNAME/PTR/DNAME,
/// MX (exchange), SRV (target) and SOA (MNAME), `TXT <length> <text>` per character-string for TXT (`SPF ...`
/// for SPF), `RRSIG`/`DNSKEY`/`DS`/`NSEC` summaries, and `<unknown type=N>` for everything else.
public struct DNSResourceRecord: Sendable, Hashable {
    public var name: String
    public var type: UInt16
    public var klass: UInt16
    public var ttl: UInt32
    public var data: String

    public init(name: String, type: UInt16, klass: UInt16, ttl: UInt32, data: String) {
        self.name = name
        self.type = type
        self.klass = klass
        self.ttl = ttl
        self.data = data
    }
}

/// The EDNS(0) parameters carried by an OPT pseudo-record in the additional section (RFC 6891 §6.1).
public struct DNSEDNS: Sendable, Hashable {
    /// The requestor's UDP payload size (the OPT record's CLASS field, RFC 6891 §6.1.2).
    public var udpPayloadSize: UInt16
    /// The upper 8 bits of the 12-bit RCODE (RFC 6891 §6.1.3).
    public var extendedRcode: UInt8
    public var version: UInt8
    /// The DO bit: the sender can handle DNSSEC records (RFC 3225 §3).
    public var dnssecOK: Bool

    public init(udpPayloadSize: UInt16, extendedRcode: UInt8, version: UInt8, dnssecOK: Bool) {
        self.udpPayloadSize = udpPayloadSize
        self.extendedRcode = extendedRcode
        self.version = version
        self.dnssecOK = dnssecOK
    }
}

/// A decoded DNS message (RFC 1035 §4.1): the header, every question and answer, and the counts of the
/// authority and additional sections, whose records are walked (bounds and names checked) but not kept.
///
/// Decoding a UDP payload or one TCP-framed message: short input throws `.truncated(.dns, ...)`; bytes the
/// protocol forbids throw `.malformed(.dns, reason)` with a stable reason such as `name_pointer_forward`.
/// Bytes after the last counted record are ignored, as Zeek does.
public struct DNSMessage: Sendable, Hashable {
    public var id: UInt16
    public var isResponse: Bool
    public var opcode: UInt8
    /// The response code; 12 bits wide when an OPT record supplies the upper 8 (RFC 6891 §6.1.3).
    public var rcode: UInt16
    public var authoritative: Bool
    public var truncated: Bool
    public var recursionDesired: Bool
    public var recursionAvailable: Bool
    /// The three bits after RA (Z, AD, CD since RFC 4035 §3.2), logged by Zeek as `Z`.
    public var z: UInt8
    public var questions: [DNSQuestion]
    public var answers: [DNSResourceRecord]
    public var authorityCount: Int
    public var additionalCount: Int
    /// The first OPT record of the additional section, if any.
    public var edns: DNSEDNS?

    /// Decodes one whole message; `bytes` must start at the DNS header (compression offsets count from there).
    public init(parsing bytes: UnsafeRawBufferPointer) throws(DecodeError) {
        var cursor = Cursor(bytes, layer: .dns)
        id = try cursor.readU16()
        let flags = try cursor.readU16()
        // RFC 1035 §4.1.1: QR(1) OPCODE(4) AA(1) TC(1) RD(1) RA(1) Z(3) RCODE(4).
        isResponse = flags & 0x8000 != 0
        opcode = UInt8((flags >> 11) & 0x0F)
        authoritative = flags & 0x0400 != 0
        truncated = flags & 0x0200 != 0
        recursionDesired = flags & 0x0100 != 0
        recursionAvailable = flags & 0x0080 != 0
        z = UInt8((flags >> 4) & 0x07)
        rcode = flags & 0x000F
        let questionCount = Int(try cursor.readU16())
        let answerCount = Int(try cursor.readU16())
        authorityCount = Int(try cursor.readU16())
        additionalCount = Int(try cursor.readU16())
        edns = nil

        // The counts come from the wire: never reserve by them, the bytes bound the loops instead.
        questions = []
        for _ in 0..<questionCount {
            let name = try DNSName.read(&cursor, message: bytes, base: 0)
            let type = try cursor.readU16()
            let klass = try cursor.readU16()
            questions.append(DNSQuestion(name: name, type: type, klass: klass))
        }

        answers = []
        for _ in 0..<answerCount {
            var header = try DNSRecordHeader(parsing: &cursor, message: bytes)
            let data = try DNSRData.render(type: header.type, owner: header.name, rdata: &header.rdata, message: bytes)
            let record = DNSResourceRecord(
                name: header.name,
                type: header.type,
                klass: header.klass,
                ttl: header.ttl,
                data: data
            )
            answers.append(record)
        }

        for _ in 0..<authorityCount {
            _ = try DNSRecordHeader(parsing: &cursor, message: bytes)
        }

        for _ in 0..<additionalCount {
            let record = try DNSRecordHeader(parsing: &cursor, message: bytes)
            // RFC 6891 §6.1.1: at most one OPT; a second one is the sender's error, the first one is used.
            if record.type == DNSType.opt, edns == nil {
                // RFC 6891 §6.1.3: TTL = EXTENDED-RCODE(8) VERSION(8) DO(1) Z(15).
                let extended = UInt8(truncatingIfNeeded: record.ttl >> 24)
                edns = DNSEDNS(
                    udpPayloadSize: record.klass,
                    extendedRcode: extended,
                    version: UInt8(truncatingIfNeeded: record.ttl >> 16),
                    dnssecOK: record.ttl & 0x8000 != 0
                )
                rcode = UInt16(extended) << 4 | rcode
            }
        }
    }

    /// Decodes the rest of `cursor` as one message (the cursor must sit at the DNS header) and consumes it.
    public init(parsing cursor: inout Cursor) throws(DecodeError) {
        try self.init(parsing: cursor.readRest())
    }
}

/// The fixed part of a resource record and a cursor over its RDATA (bounded by RDLENGTH).
struct DNSRecordHeader {
    var name: String
    var type: UInt16
    var klass: UInt16
    var ttl: UInt32
    /// The RDATA, bounded by RDLENGTH.
    var rdata: DNSRData

    init(parsing cursor: inout Cursor, message: UnsafeRawBufferPointer) throws(DecodeError) {
        name = try DNSName.read(&cursor, message: message, base: 0)
        type = try cursor.readU16()
        klass = try cursor.readU16()
        ttl = try cursor.readU32()
        let length = Int(try cursor.readU16())
        let base = cursor.offset
        rdata = DNSRData(cursor: try cursor.subCursor(length: length), base: base)
    }
}

/// Reads domain names (RFC 1035 §3.1, §4.1.4) into presentation form.
///
/// Form: labels joined by "."; no trailing dot; case preserved; the root name is "" (Zeek's convention, where
/// tshark prints `<Root>`). Label bytes other than printable ASCII, and the space, are written `\DDD` (three
/// decimal digits), and a "." or "\" inside a label is written `\.` or `\\` (RFC 1035 §5.1, RFC 4343 §2.1), so
/// distinct names never print alike.
///
/// Compression: a pointer must point strictly backwards (`name_pointer_forward`), and strictly before the run
/// of labels that contains it (`name_pointer_loop`: into its own run it would repeat forever), and the labels it
/// leads to must end before that run begins (`name_pointer_overlap`). Every hop therefore moves to a run that
/// starts strictly earlier, so no loop is possible; `DNSLimits.maxPointerHops` also caps the work per name.
public enum DNSName {
    /// Reads a name at the cursor and moves the cursor past it (past the first pointer, if compressed).
    /// `message` is the whole message, `base` the offset of `cursor.bytes` in it (non-zero for RDATA).
    public static func read(
        _ cursor: inout Cursor,
        message: UnsafeRawBufferPointer,
        base: Int
    ) throws(DecodeError) -> String {
        guard base >= 0, message.count - base >= cursor.bytes.count else {
            throw .malformed(.dns, "name_region")
        }
        let start = base + cursor.offset
        var position = start
        var limit = base + cursor.bytes.count  // reads in the current run stay below this
        var runStart = start
        var resume: Int? = nil  // where the cursor continues after the first pointer
        var hops = 0
        var wireLength = 1  // the root label's length octet
        var text: [UInt8] = []

        while true {
            guard position < limit else { throw overrun(jumped: resume != nil, needed: 1, available: 0) }
            let length = message[position]
            switch length & 0xC0 {
            case 0x00:
                if length == 0 {
                    position += 1
                    let end = resume ?? position
                    try cursor.skip(end - start)
                    return String(decoding: text, as: UTF8.self)
                }
                let labelLength = Int(length)
                // Unreachable with two clear top bits, but it is the rule the bits encode.
                guard labelLength <= DNSLimits.maxLabelLength else { throw .malformed(.dns, "label_too_long") }
                wireLength += 1 + labelLength
                guard wireLength <= DNSLimits.maxNameLength else { throw .malformed(.dns, "name_too_long") }
                guard limit - position - 1 >= labelLength else {
                    throw overrun(jumped: resume != nil, needed: 1 + labelLength, available: limit - position)
                }
                if !text.isEmpty { text.append(UInt8(ascii: ".")) }
                appendLabel(message, from: position + 1, count: labelLength, to: &text)
                position += 1 + labelLength
            case 0xC0:
                guard limit - position >= 2 else {
                    throw overrun(jumped: resume != nil, needed: 2, available: limit - position)
                }
                let target = Int(length & 0x3F) << 8 | Int(message[position + 1])
                // RFC 1035 §4.1.4: a pointer refers to a prior occurrence of a name.
                guard target < position else { throw .malformed(.dns, "name_pointer_forward") }
                guard target < runStart else { throw .malformed(.dns, "name_pointer_loop") }
                guard target >= DNSLimits.headerLength else { throw .malformed(.dns, "name_pointer_into_header") }
                hops += 1
                guard hops <= DNSLimits.maxPointerHops else { throw .malformed(.dns, "name_pointer_hops") }
                if resume == nil { resume = position + 2 }
                limit = runStart
                runStart = target
                position = target
            default:
                // 0x40 and 0x80: extended label types (RFC 6891 §5, RFC 2673 bit-string labels, obsolete).
                throw .malformed(.dns, "name_label_type")
            }
        }
    }

    /// Running off the cursor's region is truncation; running past the run a pointer came from is malformed,
    /// because those bytes are all present.
    private static func overrun(jumped: Bool, needed: Int, available: Int) -> DecodeError {
        jumped ? .malformed(.dns, "name_pointer_overlap") : .truncated(.dns, needed: needed, available: available)
    }

    private static func appendLabel(
        _ message: UnsafeRawBufferPointer,
        from start: Int,
        count: Int,
        to text: inout [UInt8]
    ) {
        for index in start..<(start + count) {
            let byte = message[index]
            switch byte {
            case UInt8(ascii: "."), UInt8(ascii: "\\"):
                text.append(UInt8(ascii: "\\"))
                text.append(byte)
            case 0x21...0x7E:
                text.append(byte)
            default:
                appendDecimalEscape(byte, to: &text)
            }
        }
    }

    /// Appends `\DDD`, the RFC 1035 §5.1 escape for an octet.
    static func appendDecimalEscape(_ byte: UInt8, to text: inout [UInt8]) {
        text.append(UInt8(ascii: "\\"))
        text.append(UInt8(ascii: "0") + byte / 100)
        text.append(UInt8(ascii: "0") + (byte / 10) % 10)
        text.append(UInt8(ascii: "0") + byte % 10)
    }

    /// Lowercases the ASCII letters of a presentation-form name (escapes contain only digits and punctuation).
    public static func lowercased(_ name: String) -> String {
        var bytes = Array(name.utf8)
        for index in bytes.indices where bytes[index] >= UInt8(ascii: "A") && bytes[index] <= UInt8(ascii: "Z") {
            bytes[index] += 0x20
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The RDATA of one record: a cursor bounded by RDLENGTH plus its offset in the message, so that names
/// inside it can follow compression pointers into earlier parts of the message.
struct DNSRData {
    var cursor: Cursor
    let base: Int

    /// Renders the RDATA as Zeek's dns.log `answers` entry and checks that it is consumed exactly.
    /// Running out of bytes inside a complete RDATA is `rdata_overrun`, not truncation.
    static func render(
        type: UInt16,
        owner: String,
        rdata: inout DNSRData,
        message: UnsafeRawBufferPointer
    ) throws(DecodeError) -> String {
        let text: String
        do {
            text = try rdata.renderFields(type: type, owner: owner, message: message)
        } catch {
            if case .truncated = error { throw .malformed(.dns, "rdata_overrun") }
            throw error
        }
        guard rdata.cursor.isAtEnd else { throw .malformed(.dns, "rdata_length_mismatch") }
        return text
    }

    private mutating func name(_ message: UnsafeRawBufferPointer) throws(DecodeError) -> String {
        try DNSName.read(&cursor, message: message, base: base)
    }

    private mutating func renderFields(
        type: UInt16,
        owner: String,
        message: UnsafeRawBufferPointer
    ) throws(DecodeError) -> String {
        switch type {
        case DNSType.a:
            guard cursor.bytes.count == 4 else { throw .malformed(.dns, "rdata_length_a") }
            return try IPAddress.readV4(&cursor).description
        case DNSType.aaaa:
            guard cursor.bytes.count == 16 else { throw .malformed(.dns, "rdata_length_aaaa") }
            return try IPAddress.readV6(&cursor).description
        case DNSType.ns, DNSType.cname, DNSType.ptr, DNSType.dname:
            return try name(message)
        case DNSType.mx:
            try cursor.skip(2)  // PREFERENCE
            return try name(message)
        case DNSType.srv:
            try cursor.skip(6)  // PRIORITY, WEIGHT, PORT
            return try name(message)
        case DNSType.soa:
            let mname = try name(message)
            _ = try name(message)  // RNAME
            try cursor.skip(20)  // SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM
            return mname
        case DNSType.txt:
            return try characterStrings(prefix: "TXT")
        case DNSType.spf:
            return try characterStrings(prefix: "SPF")
        case DNSType.rrsig:
            let covered = try cursor.readU16()
            try cursor.skip(16)  // algorithm, labels, original TTL, expiration, inception, key tag
            let signer = try name(message)
            _ = cursor.readRest()  // signature
            return "RRSIG \(covered) \(signer.isEmpty ? "<Root>" : signer)"
        case DNSType.dnskey:
            try cursor.skip(3)  // flags, protocol
            let algorithm = try cursor.readU8()
            _ = cursor.readRest()  // public key
            return "DNSKEY \(algorithm)"
        case DNSType.ds:
            try cursor.skip(2)  // key tag
            let algorithm = try cursor.readU8()
            let digestType = try cursor.readU8()
            _ = cursor.readRest()  // digest
            return "DS \(algorithm) \(digestType)"
        case DNSType.nsec:
            let next = try name(message)
            _ = cursor.readRest()  // type bitmaps
            return "NSEC \(owner) \(next)"
        case DNSType.nsec3:
            _ = cursor.readRest()
            return "NSEC3"
        case DNSType.nsec3param:
            _ = cursor.readRest()
            return "NSEC3PARAM"
        default:
            _ = cursor.readRest()
            return "<unknown type=\(type)>"
        }
    }

    /// RFC 1035 §3.3.14: one or more <character-string>s, each a length octet and that many octets.
    /// Zeek writes each as `TXT <length> <text>`, joined by spaces. Octets outside printable ASCII are `\DDD`
    /// and "\" is `\\`; the length counts the octets on the wire.
    private mutating func characterStrings(prefix: String) throws(DecodeError) -> String {
        var text: [UInt8] = []
        while !cursor.isAtEnd {
            let length = Int(try cursor.readU8())
            let string = try cursor.readBytes(length)
            if !text.isEmpty { text.append(UInt8(ascii: " ")) }
            text.append(contentsOf: "\(prefix) \(length) ".utf8)
            for byte in string {
                switch byte {
                case UInt8(ascii: "\\"):
                    text.append(UInt8(ascii: "\\"))
                    text.append(byte)
                case 0x20...0x7E:
                    text.append(byte)
                default:
                    DNSName.appendDecimalEscape(byte, to: &text)
                }
            }
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// Human-readable names for DNS codes, copied from Zeek's `base/protocols/dns/consts.zeek` so that values
/// match Zeek's dns.log (`qtype_name`, `rcode_name`, `qclass_name`); unknown values use Zeek's `&default`.
public enum DNSNames {
    /// Zeek's `DNS::query_types`; unknown values are `query-N`.
    public static func typeName(_ t: UInt16) -> String {
        switch t {
        case 1: return "A"
        case 2: return "NS"
        case 3: return "MD"
        case 4: return "MF"
        case 5: return "CNAME"
        case 6: return "SOA"
        case 7: return "MB"
        case 8: return "MG"
        case 9: return "MR"
        case 10: return "NULL"
        case 11: return "WKS"
        case 12: return "PTR"
        case 13: return "HINFO"
        case 14: return "MINFO"
        case 15: return "MX"
        case 16: return "TXT"
        case 17: return "RP"
        case 18: return "AFSDB"
        case 19: return "X25"
        case 20: return "ISDN"
        case 21: return "RT"
        case 22: return "NSAP"
        case 23: return "NSAP-PTR"
        case 24: return "SIG"
        case 25: return "KEY"
        case 26: return "PX"
        case 27: return "GPOS"
        case 28: return "AAAA"
        case 29: return "LOC"
        case 30: return "NXT"
        case 31: return "EID"
        case 32: return "NIMLOC"
        case 33: return "SRV"
        case 34: return "ATMA"
        case 35: return "NAPTR"
        case 36: return "KX"
        case 37: return "CERT"
        case 38: return "A6"
        case 39: return "DNAME"
        case 40: return "SINK"
        case 41: return "OPT"
        case 42: return "APL"
        case 43: return "DS"
        case 44: return "SSHFP"
        case 45: return "IPSECKEY"
        case 46: return "RRSIG"
        case 47: return "NSEC"
        case 48: return "DNSKEY"
        case 49: return "DHCID"
        case 50: return "NSEC3"
        case 51: return "NSEC3PARAM"
        case 52: return "TLSA"
        case 53: return "SMIMEA"
        case 55: return "HIP"
        case 56: return "NINFO"
        case 57: return "RKEY"
        case 58: return "TALINK"
        case 59: return "CDS"
        case 60: return "CDNSKEY"
        case 61: return "OPENPGPKEY"
        case 62: return "CSYNC"
        case 63: return "ZONEMD"
        case 64: return "SVCB"
        case 65: return "HTTPS"
        case 99: return "SPF"
        case 100: return "UINFO"
        case 101: return "UID"
        case 102: return "GID"
        case 103: return "UNSPEC"
        case 104: return "NID"
        case 105: return "L32"
        case 106: return "L64"
        case 107: return "LP"
        case 108: return "EUI48"
        case 109: return "EUI64"
        case 249: return "TKEY"
        case 250: return "TSIG"
        case 251: return "IXFR"
        case 252: return "AXFR"
        case 253: return "MAILB"
        case 254: return "MAILA"
        case 255: return "*"
        case 256: return "URI"
        case 257: return "CAA"
        case 32768: return "TA"
        case 32769: return "DLV"
        case 65281: return "WINS"
        case 65282: return "WINS-R"
        case 65422: return "XPF"
        case 65521: return "INTEGRITY"
        default: return "query-\(t)"
        }
    }

    /// Zeek's `DNS::base_errors` (RFC 1035 §4.1.1, RFC 6895 §2.3); unknown values are `rcode-N`.
    public static func rcodeName(_ r: UInt16) -> String {
        switch r {
        case 0: return "NOERROR"
        case 1: return "FORMERR"
        case 2: return "SERVFAIL"
        case 3: return "NXDOMAIN"
        case 4: return "NOTIMP"
        case 5: return "REFUSED"
        case 6: return "YXDOMAIN"
        case 7: return "YXRRSET"
        case 8: return "NXRRSet"  // sic, as Zeek spells it
        case 9: return "NOTAUTH"
        case 10: return "NOTZONE"
        case 11...15: return "unassigned-\(r)"
        case 16: return "BADVERS"
        case 17: return "BADKEY"
        case 18: return "BADTIME"
        case 19: return "BADMODE"
        case 20: return "BADNAME"
        case 21: return "BADALG"
        case 22: return "BADTRUNC"
        case 23: return "BADCOOKIE"
        case 3842: return "BADSIG"
        default: return "rcode-\(r)"
        }
    }

    /// Zeek's `DNS::classes`; unknown values are `qclass-N`.
    public static func className(_ c: UInt16) -> String {
        switch c {
        case 1: return "C_INTERNET"
        case 2: return "C_CSNET"
        case 3: return "C_CHAOS"
        case 4: return "C_HESIOD"
        case 254: return "C_NONE"
        case 255: return "C_ANY"
        default: return "qclass-\(c)"
        }
    }

    /// Zeek's `DNS::opcodes`; unknown values are `opcode-N`.
    public static func opcodeName(_ o: UInt8) -> String {
        switch o {
        case 0: return "query"
        case 1: return "iquery"
        case 2: return "server-status"
        case 4: return "notify"
        case 5: return "dynamic-update"
        case 6: return "dso"
        default: return "opcode-\(o)"
        }
    }
}

/// DNS over TCP (RFC 1035 §4.2.2 / RFC 7766): 2-byte length prefix; feed stream bytes in order, get whole messages.
///
/// A length below `DNSLimits.headerLength` cannot frame a DNS message, so the stream is not DNS (or is out
/// of sync): the framer sets `failed`, drops what it holds and ignores everything after. The 16-bit length
/// bounds the buffer at `tcpLengthPrefix + 65535` bytes.
public struct DNSTCPFramer: Sendable {
    public private(set) var failed = false
    private var buffer: [UInt8] = []
    private var readIndex = 0

    public init() {}

    /// Bytes received but not yet returned as a message.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [[UInt8]] {
        guard !failed else { return [] }
        buffer.append(contentsOf: bytes)
        var messages: [[UInt8]] = []
        while buffer.count - readIndex >= DNSLimits.tcpLengthPrefix {
            let length = Int(buffer[readIndex]) << 8 | Int(buffer[readIndex + 1])
            guard length >= DNSLimits.headerLength else {
                failed = true
                buffer = []
                readIndex = 0
                return messages
            }
            let start = readIndex + DNSLimits.tcpLengthPrefix
            guard buffer.count - start >= length else { break }
            messages.append(Array(buffer[start..<(start + length)]))
            readIndex = start + length
        }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
        } else if readIndex > 0 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        return messages
    }
}
