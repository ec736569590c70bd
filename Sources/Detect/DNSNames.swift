#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Names as the DNS detector sees them: normalised (lower case, no trailing dot), split into the registered domain
/// (the label left of the public suffix, plus the suffix) and the subdomain part to its left.
///
/// The public suffix is the last label, or the last two when they form one of a small built-in list of common
/// two-part suffixes (`co.uk`, `com.au`, ...). That is not the Public Suffix List, and does not pretend to be: a
/// name under a suffix missing from the list is grouped one label too high (`example.gov.xx` as `gov.xx`), which for
/// the detector means a coarser tunnel key and the DGA score of the wrong label, never a crash or unbounded state.
public struct DNSName: Hashable, Sendable {
    /// The whole name, lower case, without the trailing dot.
    public let full: String
    /// The labels, left to right.
    public let labels: [Substring]
    /// The registered domain (`example.co.uk`), nil for single-label names.
    public let registeredDomain: String?
    /// The label left of the public suffix (`example`), nil for single-label names.
    public let registeredLabel: String?
    /// The text left of the registered domain (`a.b` in `a.b.example.com`), empty when there is none.
    public let subdomain: String

    public init(_ text: String) {
        var name = text.lowercased()
        while name.hasSuffix(".") { name.removeLast() }
        full = name
        labels = name.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else {
            registeredDomain = nil
            registeredLabel = nil
            subdomain = ""
            return
        }
        let lastTwo = labels[labels.count - 2] + "." + labels[labels.count - 1]
        let suffixLabels = labels.count >= 3 && Self.twoLabelSuffixes.contains(String(lastTwo)) ? 2 : 1
        let labelIndex = labels.count - suffixLabels - 1
        registeredLabel = String(labels[labelIndex])
        registeredDomain = labels[labelIndex...].joined(separator: ".")
        subdomain = labels[..<labelIndex].joined(separator: ".")
    }

    /// A reverse lookup (`*.in-addr.arpa`, `*.ip6.arpa`): its labels are address digits, never a DGA or tunnel.
    public var isReverseLookup: Bool {
        full == "in-addr.arpa" || full == "ip6.arpa" || full.hasSuffix(".in-addr.arpa") || full.hasSuffix(".ip6.arpa")
    }

    /// The longest label, in characters.
    public var longestLabel: Int { labels.map(\.count).max() ?? 0 }

    /// The longest label of the subdomain part, 0 when there is none.
    public var longestSubdomainLabel: Int {
        subdomain.split(separator: ".").map(\.count).max() ?? 0
    }

    /// `true` when the name is `domain` or a name under it (label boundaries respected: `badexample.com` is not
    /// under `example.com`).
    public func isUnder(_ domain: String) -> Bool {
        full == domain || full.hasSuffix("." + domain)
    }

    /// Two-label public suffixes common enough to matter: the second-level registries of the UK, Australia,
    /// New Zealand, Japan, Brazil, China, India, South Africa, ... (country code second-level domains).
    static let twoLabelSuffixes: Set<String> = [
        "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk", "nhs.uk", "sch.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au", "asn.au", "id.au",
        "co.nz", "org.nz", "net.nz", "ac.nz", "govt.nz",
        "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "gr.jp",
        "co.kr", "or.kr", "ne.kr", "ac.kr", "go.kr",
        "com.br", "net.br", "org.br", "gov.br", "edu.br",
        "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "ac.cn",
        "com.tw", "org.tw", "edu.tw", "gov.tw", "com.hk", "org.hk", "edu.hk", "gov.hk",
        "co.in", "net.in", "org.in", "gov.in", "ac.in", "edu.in",
        "co.za", "org.za", "gov.za", "ac.za",
        "com.mx", "org.mx", "gob.mx", "com.ar", "gob.ar", "com.co", "com.pe", "com.ve", "com.ec",
        "com.tr", "org.tr", "gov.tr", "com.sg", "edu.sg", "gov.sg", "com.my", "gov.my",
        "co.il", "org.il", "ac.il", "co.id", "or.id", "ac.id", "go.id", "co.th", "ac.th", "in.th",
        "com.ua", "org.ua", "com.pl", "com.ru", "org.ru", "com.vn", "com.ph", "com.pk", "com.eg", "com.sa",
        "com.ng", "co.ke", "com.bd", "com.np",
    ]
}

/// How much a label looks machine-generated, and why: each component normalised to 0...1 (1 = most
/// random-looking), and `total`, their weighted sum (the weights are `DGAScore.weights`, summing to 1).
///
/// No single measure separates generated names from real ones: entropy is high for long real names too, real
/// names contain digits (`office365`), and some families generate pronounceable names. So the score adds up
/// evidence:
/// - `entropy`: Shannon entropy of the label's characters in bits, 0 at 2.5 bits or less, 1 at 4 bits or more
///   (random 16-character labels reach 3.6-4; most real names stay under 3.3, `stackoverflow` has 3.55);
/// - `length`: 0 up to 8 characters, 1 from 20 (generated labels are long; popular ones short);
/// - `digits`: the share of digits, 1 from one half (hex strings);
/// - `consonants`: the longest run of consonants, 0 up to 3, 1 from 7 (`msftconnecttest` has 5);
/// - `vowels`: the lack of vowels (`aeiouy`) among the characters, 0 from 35 % up, 1 at 10 % or less;
/// - `bigrams`: how un-English the character pairs are: the mean log-likelihood of the label's character bigrams
///   (with start and end marks) under a table derived from a built-in list of common English words and domain
///   names, 0 at the level of ordinary words, 1 at the level of uniformly random letters.
/// Labels shorter than `DGAScore.minimumLength` score 0 (too little text to judge; `1e100`, `bbc`).
public struct DGAScore: Hashable, Sendable {
    /// The label scored (the registered-domain label), empty when the name has none or is excluded.
    public var label: String
    public var entropy: Double
    public var length: Double
    public var digits: Double
    public var consonants: Double
    public var vowels: Double
    public var bigrams: Double
    /// The weighted sum of the components, 0...1.
    public var total: Double
    /// The raw measures behind the components, for the docs and the alert detail.
    public var entropyBits: Double
    public var longestConsonantRun: Int
    public var bigramLogLikelihood: Double

    /// The weights of `total`: the bigram model carries most, since it is the measure that best separates the two
    /// kinds of name; the others shift borderline labels (short random, hex, long dictionary concatenations).
    public static let weights:
        (
            entropy: Double, length: Double, digits: Double, consonants: Double, vowels: Double, bigrams: Double
        ) = (entropy: 0.15, length: 0.10, digits: 0.10, consonants: 0.15, vowels: 0.15, bigrams: 0.35)

    /// Labels shorter than this score 0.
    public static let minimumLength = 8

    static let zero = DGAScore(
        label: "", entropy: 0, length: 0, digits: 0, consonants: 0, vowels: 0, bigrams: 0, total: 0,
        entropyBits: 0, longestConsonantRun: 0, bigramLogLikelihood: 0)

    /// Scores the registered-domain label of `name`; reverse lookups and names without one score 0, as do
    /// internationalised labels (`xn--`), whose punycode looks random by construction.
    public static func of(_ name: String) -> DGAScore {
        let parsed = DNSName(name)
        guard !parsed.isReverseLookup, let label = parsed.registeredLabel else { return .zero }
        return of(label: label)
    }

    /// Scores one label.
    public static func of(label: String) -> DGAScore {
        let chars = Array(label.lowercased().utf8)
        guard chars.count >= minimumLength, !label.hasPrefix("xn--") else {
            var zero = DGAScore.zero
            zero.label = label
            return zero
        }
        let n = Double(chars.count)
        var histogram = [Int](repeating: 0, count: 256)
        var digitCount = 0
        var vowelCount = 0
        var run = 0
        var longestRun = 0
        for c in chars {
            histogram[Int(c)] += 1
            let isLetter = c >= 97 && c <= 122
            let isVowel = Self.isVowel(c)
            if c >= 48 && c <= 57 { digitCount += 1 }
            if isVowel { vowelCount += 1 }
            if isLetter && !isVowel {
                run += 1
                longestRun = max(longestRun, run)
            } else {
                run = 0
            }
        }
        var bits = 0.0
        for count in histogram where count > 0 {
            let p = Double(count) / n
            bits -= p * log2(p)
        }
        let llh = DNSBigramModel.shared.meanLogLikelihood(chars)
        let model = DNSBigramModel.shared
        var score = DGAScore(
            label: label,
            entropy: clamp((bits - 2.5) / 1.5),
            length: clamp((n - 8) / 12),
            digits: clamp(Double(digitCount) / n / 0.5),
            consonants: clamp(Double(longestRun - 3) / 4),
            vowels: clamp((0.35 - Double(vowelCount) / n) / 0.25),
            bigrams: clamp((model.wordLevel - llh) / (model.wordLevel - model.randomLevel)),
            total: 0, entropyBits: bits, longestConsonantRun: longestRun, bigramLogLikelihood: llh)
        let w = weights
        score.total =
            w.entropy * score.entropy + w.length * score.length + w.digits * score.digits + w.consonants
            * score.consonants + w.vowels * score.vowels + w.bigrams * score.bigrams
        return score
    }

    static func isVowel(_ c: UInt8) -> Bool {
        c == 97 || c == 101 || c == 105 || c == 111 || c == 117 || c == 121
    }

    static func clamp(_ value: Double) -> Double { min(1, max(0, value)) }
}

/// A character-bigram model of "English-like" names: P(next | previous) over 26 letters, one class for digits and
/// one for everything else (`-`, `_`), with start and end marks, add-one smoothed, learned once from `corpus`.
struct DNSBigramModel: Sendable {
    static let shared = DNSBigramModel()

    static let classes = 28  // a-z, digit, other
    static let start = 28
    static let end = 28  // as a "next" class; the row index 28 is the start mark

    /// log P(next | previous): rows 0...28 (28 = start), columns 0...28 (28 = end).
    let table: [Double]
    /// The mean log-likelihood of the corpus words under the model (the level of ordinary names).
    let wordLevel: Double
    /// The mean log-likelihood of a uniformly random letter string (the level of random names).
    let randomLevel: Double

    init() {
        let width = Self.classes + 1
        var counts = [Double](repeating: 1, count: width * width)  // add-one smoothing
        let words = Self.corpus.split(whereSeparator: { $0 == " " || $0 == "\n" })
        for word in words {
            var previous = Self.start
            for c in word.utf8 {
                let next = Self.classOf(c)
                counts[previous * width + next] += 1
                previous = next
            }
            counts[previous * width + Self.end] += 1
        }
        var table = [Double](repeating: 0, count: width * width)
        for row in 0..<width {
            let total = counts[(row * width)..<(row * width + width)].reduce(0, +)
            for column in 0..<width {
                // A class of k characters gives each of them 1/k of its probability: a digit is one of ten, so
                // `7f3a90` is not made likely by the digit class being likely as a whole.
                let size: Double = column == 26 ? 10 : column == 27 ? 2 : 1
                table[row * width + column] = log(counts[row * width + column] / total / size)
            }
        }
        self.table = table
        var wordSum = 0.0
        var wordCount = 0
        for word in words where word.utf8.count >= 6 {
            wordSum += Self.meanLogLikelihood(Array(word.utf8), table: table)
            wordCount += 1
        }
        wordLevel = wordCount > 0 ? wordSum / Double(wordCount) : -2.5
        // Expected log-likelihood of a letter drawn uniformly after a letter drawn uniformly.
        var randomSum = 0.0
        for row in 0..<26 {
            for column in 0..<26 { randomSum += table[row * width + column] }
        }
        randomLevel = randomSum / (26 * 26)
    }

    static func classOf(_ c: UInt8) -> Int {
        switch c {
        case 97...122: return Int(c) - 97
        case 65...90: return Int(c) - 65
        case 48...57: return 26
        default: return 27
        }
    }

    /// The mean natural-log likelihood per transition (start and end included) of `chars`.
    func meanLogLikelihood(_ chars: [UInt8]) -> Double { Self.meanLogLikelihood(chars, table: table) }

    static func meanLogLikelihood(_ chars: [UInt8], table: [Double]) -> Double {
        let width = Self.classes + 1
        var previous = Self.start
        var sum = 0.0
        for c in chars {
            let next = Self.classOf(c)
            sum += table[previous * width + next]
            previous = next
        }
        sum += table[previous * width + Self.end]
        return sum / Double(chars.count + 1)
    }

    /// Common English words and the words popular domain names are made of: the model's only source of truth about
    /// what an ordinary name looks like. Plain text, so it can be read and extended.
    static let corpus = """
        the and that have for not with you this but his from they say her she will one all would there their what
        out about who get which when make can like time just him know take people into year your good some could
        them see other than then now look only come its over think also back after use two how our work first well
        way even new want because any these give day most find here thing many tell very through long little down
        world life hand part child woman place week case point group number company system program question
        government night home water room mother area money story fact month lot right study book eye job word
        business issue side kind head house service friend father power hour game line end member law car city
        community name president team minute idea kid body information school face others level office door
        health person art war history party result change morning reason research girl guy moment air teacher
        force education foot boy age policy music market sense nation plan college interest death experience effect
        class control care field development role effort rate heart drug show leader light voice wife police mind
        price report decision son view relationship town road arm difference value building action model season
        society tax director position player record paper space ground form event official matter center couple
        site project activity star table need court american oil situation cost industry figure street image phone
        data picture practice piece land product doctor wall patient worker news test movie north love support
        technology step baby computer type attention film tree source organization hair window evidence
        population floor network nature trade answer summer weather travel shopping store online cloud secure
        mail email search video media social photo free digital global local public private open mobile smart
        web net link page blog forum wiki pedia encyclopedia shop buy sell deal sale offer bank card pay credit
        finance insurance health medical clinic hospital weather sport sports football soccer league cinema
        stream streaming radio television channel daily times post journal herald tribune guardian telegraph
        google youtube facebook baidu wikipedia amazon twitter instagram yahoo linkedin netflix microsoft office
        live bing apple icloud github stackoverflow reddit twitch whatsapp zoom cloudflare cloudfront amazonaws
        akamai akamaiedge akamaihd googleapis gstatic googleusercontent doubleclick googlesyndication debian
        ubuntu mozilla firefox adobe dropbox spotify pinterest tiktok ebay paypal walmart nytimes wordpress tumblr
        imdb fbcdn windows update windowsupdate digicert letsencrypt sentry fastly edgecast azure azureedge
        outlook hotmail gmail skype teams sharepoint onedrive office365 msn live login account accounts auth
        connect api apis cdn static assets images img content storage download downloads update updates mirror
        mirrors security packages package registry docker npmjs python pypi rust crates golang java oracle
        intel nvidia samsung sony nokia huawei xiaomi lenovo dell cisco ibm redhat fedora centos arch gentoo
        kernel linux unix freebsd openbsd server servers client clients proxy gateway router firewall monitor
        metrics analytics tracking telemetry events logs status health check portal detect captive connectivity
        test example localdomain internal corp company enterprise business solutions services systems group
        holdings international global world national regional united states america europe asia africa london
        paris berlin tokyo sydney toronto chicago boston york angeles francisco seattle dallas houston miami
        university college institute academy school library museum foundation charity church council county
        department ministry agency bureau commission federal state city village valley river mountain lake ocean
        island garden forest park beach sunset sunrise morning evening winter spring autumn summer orange green
        blue black white silver golden purple yellow red brown happy lucky super mega ultra hyper best better
        great smart quick fast easy simple clean fresh pure true real first last next prime alpha beta gamma delta
        omega zero one two three four five six seven eight nine ten hundred thousand million web2 web3 mp3 mp4
        365 360 123 247 24x7 4you 2go online123 shop24 store1 news24 tv2 radio1 channel4 bbc cnn abc nbc cbs fox
        espn weather wired verge engadget techcrunch medium substack quora yelp tripadvisor booking expedia airbnb
        uber lyft doordash instacart shopify etsy alibaba aliexpress taobao tmall jd qq weibo sina sohu netease
        yandex mail ru vk ok naver daum kakao line rakuten yahoo fc2 nicovideo pixiv dmm hatena livedoor ameblo
        """
}
