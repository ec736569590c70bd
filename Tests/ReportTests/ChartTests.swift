import Foundation
import Report
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// An SVG document read back with Foundation's XML parser, so that tests look at elements and decoded text
/// rather than at strings.
final class ChartSVGNode {
    let name: String
    let attributes: [String: String]
    var children: [ChartSVGNode] = []
    var ownText = ""

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    /// This element and all below it, in document order.
    var all: [ChartSVGNode] { [self] + children.flatMap(\.all) }

    /// The text of this element and its descendants, `<title>` tooltips and the line breaks between elements
    /// left out.
    var text: String {
        (ownText + children.filter { $0.name != "title" }.map(\.text).joined()).trimmingCharacters(in: .newlines)
    }

    func elements(_ name: String? = nil, class className: String? = nil) -> [ChartSVGNode] {
        all.filter { node in
            guard name == nil || node.name == name else { return false }
            guard let className else { return true }
            let classes = node.attributes["class"]?.split(separator: " ").map(String.init) ?? []
            return classes.contains(className)
        }
    }

    /// Every `<text>`'s content.
    var texts: [String] { elements("text").map(\.text) }

    func number(_ attribute: String) -> Double? { attributes[attribute].flatMap(Double.init) }

    /// Parses `markup`; nil (with the parser's error recorded) when it is not well-formed XML.
    static func parse(_ markup: String) -> ChartSVGNode? {
        let builder = Builder()
        let parser = XMLParser(data: Data(markup.utf8))
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            Issue.record("not well-formed XML: \(String(describing: parser.parserError))")
            return nil
        }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: ChartSVGNode?
        var stack: [ChartSVGNode] = []

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            let node = ChartSVGNode(name: name, attributes: attributes)
            if let parent = stack.last { parent.children.append(node) } else { root = node }
            stack.append(node)
        }

        func parser(
            _ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?
        ) {
            stack.removeLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.ownText += string
        }
    }
}

/// Checks shared by the value axes of all charts: every tick a whole multiple of one round step
/// (1, 2 or 5 × 10ⁿ), in order, and together covering `low...high` without a spare step at either end.
func expectRoundTicks(
    _ ticks: [Double], cover low: Double, _ high: Double, sourceLocation: SourceLocation = #_sourceLocation
) {
    guard ticks.count >= 2 else {
        Issue.record("fewer than two ticks: \(ticks)", sourceLocation: sourceLocation)
        return
    }
    let step = ticks[1] - ticks[0]
    let exponent = floor(log10(step))
    let mantissa = step / pow(10, exponent)
    #expect(
        [1.0, 2, 5, 10].contains { abs(mantissa - $0) < 1e-6 }, "step \(step) is not 1, 2 or 5 × 10ⁿ",
        sourceLocation: sourceLocation)
    for (index, tick) in ticks.enumerated() {
        let multiple = tick / step
        #expect(
            abs(multiple - multiple.rounded()) < 1e-6, "tick \(tick) is not a multiple of \(step)",
            sourceLocation: sourceLocation)
        if index > 0 {
            #expect(
                abs(tick - ticks[index - 1] - step) < step * 1e-6, "uneven ticks \(ticks)",
                sourceLocation: sourceLocation)
        }
    }
    #expect(
        ticks[0] <= low + step * 1e-9 && ticks[0] > low - step, "first tick \(ticks[0]) vs \(low)",
        sourceLocation: sourceLocation)
    #expect(
        ticks[ticks.count - 1] >= high - step * 1e-9 && ticks[ticks.count - 1] < high + step,
        "last tick \(ticks[ticks.count - 1]) vs \(high)", sourceLocation: sourceLocation)
}

@Suite("charts as SVG")
struct ChartTests {
    static let t0 = 1_795_593_600.0  // 2026-11-25 08:00:00 UTC
    static let hostile = "<script>alert('x')</script> & \"quoted\""

    static func series(_ name: String, _ values: [Double], step: Double = 60) -> Chart.TimeSeries {
        Chart.TimeSeries(
            name: name, points: values.enumerated().map { (t: t0 + Double($0.offset) * step, value: $0.element) })
    }

    // MARK: traffic

    @Test("traffic: title, axis titles with units, a legend entry, line and point per series, markers with labels")
    func traffic() throws {
        let chart = Chart.Traffic(
            subtitle: "edge-1", unit: .bytesPerSecond,
            series: [
                Self.series("tcp", [1_200_000, 1_500_000, 4_100_000, 1_300_000, 900_000]),
                Self.series("udp", [200_000, 250_000, 210_000, 190_000, 300_000]),
            ],
            markers: [
                Chart.Marker(t: Self.t0 + 120, label: "bytes spike ×3", kind: .spike),
                Chart.Marker(t: Self.t0 + 60, label: "port-scan 10.0.0.66", kind: .alert),
                Chart.Marker(t: Self.t0 + 99_999, label: "outside the window", kind: .alert),
            ])
        let svg = try #require(ChartSVGNode.parse(chart.svg()))
        #expect(svg.name == "svg")
        #expect(svg.attributes["width"] == "960" && svg.attributes["height"] == "440")
        #expect(svg.elements(class: "title").map(\.text) == ["Traffic"])
        #expect(svg.elements(class: "subtitle").map(\.text) == ["edge-1"])
        #expect(svg.elements(class: "axis-label").map(\.text).sorted() == ["Throughput (MB/s)", "Time (UTC)"])
        #expect(svg.elements(class: "legend-item").map(\.text) == ["tcp", "udp", "spike", "alert"])

        let groups = svg.elements("g", class: "series")
        #expect(groups.map { $0.attributes["data-name"] } == ["tcp", "udp"])
        for group in groups {
            let line = try #require(group.elements("polyline").first)
            #expect(line.attributes["points"]?.split(separator: " ").count == 5)
            #expect(group.elements("circle", class: "point").count == 5)
        }
        // The highest point is drawn highest (smallest y), at the tick scale's 4.1 MB/s.
        let tcpPoints = groups[0].elements("circle", class: "point")
        let highest = try #require(tcpPoints.min { ($0.number("cy") ?? 0) < ($1.number("cy") ?? 0) })
        #expect(highest.attributes["data-value"] == "4100000")

        let markers = svg.elements("g", class: "marker")
        #expect(markers.map { $0.attributes["data-kind"] } == ["alert", "spike"])
        #expect(svg.elements(class: "marker-label").map(\.text) == ["port-scan 10.0.0.66", "bytes spike ×3"])
        #expect(!svg.texts.contains("outside the window"))

        let ticks = svg.elements("g", class: "y-tick").compactMap { $0.number("data-value") }
        expectRoundTicks(ticks, cover: 0, 4_100_000)
        let labels = svg.elements("g", class: "y-tick").map(\.text)
        #expect(labels.contains("0") && labels.contains("4"))
    }

    @Test(
        "traffic: the y axis's unit follows the magnitude and the kind of value",
        arguments: [
            (Chart.Unit.bytesPerSecond, 800.0, "Throughput (B/s)"),
            (.bytesPerSecond, 45_000, "Throughput (kB/s)"),
            (.bytesPerSecond, 3.2e9, "Throughput (GB/s)"),
            (.bitsPerSecond, 4.4e8, "Throughput (Mbit/s)"),
            (.packetsPerSecond, 640, "Packet rate (pkts/s)"),
            (.packetsPerSecond, 120_000, "Packet rate (k pkts/s)"),
            (.count("flows"), 35, "Flows"), (.count("flows"), 35_000, "Flows (thousands)"),
        ])
    func trafficUnits(unit: Chart.Unit, peak: Double, label: String) throws {
        let chart = Chart.Traffic(unit: unit, series: [Self.series("all", [peak / 4, peak, peak / 2])])
        let svg = try #require(ChartSVGNode.parse(chart.svg()))
        #expect(svg.elements(class: "axis-label").map(\.text).contains(label))
        let ticks = svg.elements("g", class: "y-tick").compactMap { $0.number("data-value") }
        expectRoundTicks(ticks, cover: 0, peak)
        #expect((3...12).contains(ticks.count))
    }

    @Test(
        "traffic: time ticks are whole UTC steps inside the data's range, a sensible number for seconds to days",
        arguments: [
            (20.0, "08:00:05"), (600.0, "08:02"), (21_600.0, "09:00"), (259_200.0, "12:00"),
            (5_184_000.0, "2026-12-07"),
        ])
    func trafficTimeTicks(span: Double, expectedLabel: String) throws {
        let chart = Chart.Traffic(
            series: [Chart.TimeSeries(name: "tcp", points: [(t: Self.t0, value: 1), (t: Self.t0 + span, value: 2)])])
        let svg = try #require(ChartSVGNode.parse(chart.svg()))
        let ticks = svg.elements("g", class: "x-tick")
        let instants = ticks.compactMap { $0.number("data-t") }
        #expect((3...11).contains(instants.count), "\(instants.count) ticks for \(span) s")
        #expect(instants.allSatisfy { $0 >= Self.t0 && $0 <= Self.t0 + span })
        let step = instants[1] - instants[0]
        #expect(instants.allSatisfy { $0.truncatingRemainder(dividingBy: step) == 0 || step >= 604_800 })
        #expect(instants.first.map { $0 - Self.t0 < step } == true, "ticks start within a step of the data")
        #expect(instants.last.map { Self.t0 + span - $0 < step } == true, "ticks reach within a step of the end")
        let labels = ticks.map { $0.elements("text").first?.text ?? "" }
        #expect(labels.contains(expectedLabel), "\(labels)")
        // The date is given under the first tick of a sub-day axis.
        if span < 86400 { #expect(ticks[0].texts.contains("2026-11-25")) }
    }

    @Test("traffic: NaN and infinite points are skipped, and the chart holds no NaN or inf coordinates")
    func trafficSkipsNonFinite() throws {
        let chart = Chart.Traffic(
            series: [
                Chart.TimeSeries(
                    name: "tcp",
                    points: [
                        (t: Self.t0, value: 10), (t: Self.t0 + 60, value: .nan), (t: Self.t0 + 120, value: .infinity),
                        (t: .nan, value: 5), (t: Self.t0 + 180, value: 30),
                    ])
            ])
        let markup = chart.svg()
        let svg = try #require(ChartSVGNode.parse(markup))
        #expect(svg.elements("g", class: "series").first?.attributes["data-points"] == "2")
        #expect(svg.elements("circle", class: "point").count == 2)
        #expect(!markup.lowercased().contains("nan") && !markup.lowercased().contains("inf"))
        let ticks = svg.elements("g", class: "y-tick").compactMap { $0.number("data-value") }
        expectRoundTicks(ticks, cover: 0, 30)
    }

    static let emptyCharts: [any SVGChart] = [
        Chart.Traffic(series: []),
        Chart.Traffic(
            series: [Chart.TimeSeries(name: "tcp", points: [(t: 1, value: .nan)])],
            markers: [Chart.Marker(t: 1, label: "alone", kind: .alert)]),
        Chart.Traffic(
            series: [Chart.TimeSeries(name: "tcp", points: [(t: 1, value: 5)])], timeRange: 100...200),
        Chart.ProtocolMix(slices: []),
        Chart.ProtocolMix(slices: [Chart.Slice(label: "tcp", value: 0), Chart.Slice(label: "udp", value: -3)]),
        Chart.TopTalkers(bars: []),
        Chart.TopTalkers(bars: [Chart.Bar(label: "10.0.0.1", value: .nan)]),
        Chart.ScanTimeline(events: []),
        Chart.ScanTimeline(events: [Chart.ScanEvent(t: .infinity, source: "a", target: "b", ports: 3)]),
    ]

    @Test("every chart without data says so instead of drawing empty axes", arguments: emptyCharts)
    func empty(chart: any SVGChart) throws {
        let svg = try #require(ChartSVGNode.parse(chart.svg()))
        #expect(svg.elements(class: "no-data").map(\.text) == ["No data"])
        #expect(svg.elements(class: "title").count == 1)
        #expect(svg.elements("polyline").isEmpty && svg.elements(class: "bar").isEmpty)
        #expect(svg.elements(class: "scan-event").isEmpty && svg.elements(class: "segment").isEmpty)
    }

    @Test("a chart drawn twice is the same bytes")
    func deterministic() {
        let chart = Chart.Traffic(series: [Self.series("tcp", [1, 2, 3])])
        #expect(chart.svg() == chart.svg())
    }

    // MARK: escaping

    @Test("labels hostile to XML are escaped in every chart and read back unchanged")
    func hostileLabels() throws {
        let hostile = Self.hostile + "\u{1}"
        let charts: [any SVGChart] = [
            Chart.Traffic(
                title: hostile, subtitle: hostile, series: [Self.series(hostile, [1, 2])],
                markers: [Chart.Marker(t: Self.t0 + 30, label: hostile, kind: .alert)]),
            Chart.ProtocolMix(title: hostile, slices: [Chart.Slice(label: hostile, value: 3)]),
            Chart.TopTalkers(title: hostile, bars: [Chart.Bar(label: hostile, value: 3, detail: hostile)]),
            Chart.ScanTimeline(
                title: hostile,
                events: [Chart.ScanEvent(t: Self.t0, source: hostile, target: hostile, ports: 5, label: hostile)]),
        ]
        for chart in charts {
            let markup = chart.svg()
            #expect(!markup.contains("<script"))
            #expect(!markup.contains("\u{1}"))
            let svg = try #require(ChartSVGNode.parse(markup))
            #expect(svg.elements(class: "title").first?.text == Self.hostile + "\\x01")
            #expect(svg.elements("script").isEmpty)
        }
    }

    @Test("escape replaces the five XML specials and characters XML forbids")
    func escape() {
        #expect(SVGMarkup.escape("a<b>&\"'c") == "a&lt;b&gt;&amp;&quot;&#39;c")
        #expect(SVGMarkup.escape("tab\tnew\nline\u{0}\u{1B}\u{FFFE}é😀") == "tab\tnew\nline\\x00\\x1B\u{FFFD}é😀")
    }

    // MARK: protocol mix

    @Test("protocol mix: one segment and one labelled bar per protocol, with shares and amounts")
    func protocolMix() throws {
        let chart = Chart.ProtocolMix(
            subtitle: "IP bytes",
            slices: [
                Chart.Slice(label: "udp", value: 200_000), Chart.Slice(label: "tcp", value: 750_000),
                Chart.Slice(label: "icmp", value: 50_000), Chart.Slice(label: "broken", value: .nan),
            ])
        let svg = try #require(ChartSVGNode.parse(chart.svg()))
        #expect(svg.elements(class: "title").map(\.text) == ["Protocol mix"])
        let segments = svg.elements("rect", class: "segment")
        #expect(segments.map { $0.attributes["data-label"] } == ["tcp", "udp", "icmp"])
        #expect(segments.map { $0.number("data-share") } == [75, 20, 5])
        let widths = segments.compactMap { $0.number("width") }
        let filled: Double = widths.reduce(0, +)
        #expect(abs(filled - 928) < 0.1, "segments fill the bar, 960 px less the margins")
        #expect(abs(widths[0] / widths[1] - 3.75) < 0.01)
        #expect(svg.elements(class: "legend-item").map { $0.elements("text").first?.text } == ["tcp", "udp", "icmp"])
        #expect(svg.elements(class: "bar-value").map(\.text) == ["75%  ·  750 kB", "20%  ·  200 kB", "5%  ·  50 kB"])
        #expect(svg.elements("rect", class: "bar").count == 3)
        #expect(svg.texts.contains("tcp 75%"), "the share is written inside a wide segment")
    }

    @Test("protocol mix: beyond maxSlices the smallest are summed as other, in grey")
    func protocolMixOther() throws {
        let slices = (1...10).map { Chart.Slice(label: "p\($0)", value: Double($0)) }
        let chart = Chart.ProtocolMix(unit: .packets, slices: slices, maxSlices: 4)
        #expect(chart.shownSlices.map(\.label) == ["p10", "p9", "p8", "other"])
        #expect(chart.shownSlices.last?.value == 28)
        let svg = try #require(ChartSVGNode.parse(chart.svg()))
        let segments = svg.elements("rect", class: "segment")
        #expect(segments.count == 4)
        #expect(segments.last?.attributes["fill"] == "#a0a4aa")
        #expect(svg.elements(class: "bar-value").last?.text == "50.9%  ·  28 pkts")
        #expect(Set(segments.dropLast().compactMap { $0.attributes["fill"] }).count == 3, "distinct colours")
    }

    // MARK: top talkers

    @Test("top talkers: a bar per host, largest first, labelled with its organisation and its amount")
    func topTalkers() throws {
        let chart = Chart.TopTalkers(
            bars: [
                Chart.Bar(label: "10.0.0.12", value: 1_700_000_000, detail: "private"),
                Chart.Bar(label: "172.217.14.206", value: 2_310_000_000, detail: "Google"),
                Chart.Bar(label: "192.168.1.1", value: 930_000),
                Chart.Bar(label: "10.9.9.9", value: .infinity),
            ])
        let svg = try #require(ChartSVGNode.parse(chart.svg()))
        #expect(svg.elements(class: "title").map(\.text) == ["Top talkers"])
        #expect(
            svg.elements(class: "bar-label").map(\.text) == [
                "172.217.14.206 (Google)", "10.0.0.12 (private)", "192.168.1.1",
            ])
        #expect(svg.elements(class: "bar-value").map(\.text) == ["2.31 GB", "1.7 GB", "930 kB"])
        let bars = svg.elements("rect", class: "bar")
        #expect(bars.count == 3)
        let widths = bars.compactMap { $0.number("width") }
        #expect(abs(widths[0] / widths[1] - 2.31 / 1.7) < 0.01, "lengths are proportional to the values")
        let ys = bars.compactMap { $0.number("y") }
        #expect(ys == ys.sorted(), "largest at the top")
        #expect(svg.elements(class: "axis-label").map(\.text) == ["Volume (bytes)"])
    }

    @Test("top talkers: bars that do not fit are counted, not squeezed")
    func topTalkersOverflow() throws {
        let bars = (1...40).map { Chart.Bar(label: "10.0.0.\($0)", value: Double($0) * 1000) }
        let svg = try #require(ChartSVGNode.parse(Chart.TopTalkers(bars: bars).svg(width: 800, height: 300)))
        let drawn = svg.elements("rect", class: "bar").count
        #expect((5..<40).contains(drawn))
        #expect(svg.elements(class: "axis-label").first?.text.hasSuffix("\(40 - drawn) more not shown") == true)
        #expect(svg.elements(class: "bar-label").first?.text == "10.0.0.40")
        let labels = svg.elements(class: "bar-label")
        let size = try #require(labels.first?.number("font-size"))
        #expect(size >= 10, "labels stay legible")
    }

    // MARK: scan timeline

    @Test("scan timeline: a row per source, a mark per probe group sized by ports, a legend of the classes")
    func scanTimeline() throws {
        let events = [
            Chart.ScanEvent(
                t: Self.t0, end: Self.t0 + 300, source: "10.0.0.66", target: "10.0.1.0/24", ports: 1,
                label: "tcp-syn horizontal"),
            Chart.ScanEvent(
                t: Self.t0 + 600, source: "203.0.113.9", target: "10.0.1.5", ports: 1024, label: "tcp-syn vertical"),
            Chart.ScanEvent(
                t: Self.t0 + 900, source: "10.0.0.66", target: "10.0.1.7", ports: 40, label: "udp vertical"),
            Chart.ScanEvent(t: Self.t0 + 1200, source: "10.0.0.66", target: "10.0.1.8", ports: 300),
            Chart.ScanEvent(t: .nan, source: "10.0.0.99", target: "10.0.1.8", ports: 300),
        ]
        let svg = try #require(ChartSVGNode.parse(Chart.ScanTimeline(events: events).svg()))
        #expect(svg.elements(class: "title").map(\.text) == ["Scans"])
        #expect(svg.elements(class: "axis-label").map(\.text).sorted() == ["Source", "Time (UTC)"])
        #expect(
            svg.elements(class: "legend-item").map(\.text) == [
                "1–9 ports", "10–99 ports", "100–999 ports", "1000+ ports",
            ])
        #expect(svg.elements(class: "row-label").map(\.text) == ["10.0.0.66", "203.0.113.9"])
        let marks = svg.elements("circle", class: "scan-event")
        #expect(marks.count == 4)
        let radius = Dictionary(
            uniqueKeysWithValues: marks.compactMap { mark in
                mark.attributes["data-ports"].map { ($0, mark.number("r") ?? 0) }
            })
        #expect(radius["1", default: 0] < radius["40", default: 0])
        #expect(radius["40", default: 0] < radius["300", default: 0])
        #expect(radius["300", default: 0] < radius["1024", default: 0])
        #expect(Set(marks.compactMap { $0.attributes["fill"] }).count == 4, "one colour per class")
        #expect(svg.elements("line", class: "scan-span").count == 1)
        // Marks sit in their source's row and left to right in time.
        let byPorts = Dictionary(uniqueKeysWithValues: marks.map { ($0.attributes["data-ports"] ?? "", $0) })
        #expect(byPorts["1"]?.number("cy") == byPorts["40"]?.number("cy"))
        #expect(byPorts["1"]?.number("cy") != byPorts["1024"]?.number("cy"))
        #expect((byPorts["1"]?.number("cx") ?? 0) < (byPorts["1024"]?.number("cx") ?? 0))
        let tooltip = marks.first { $0.attributes["data-ports"] == "1024" }?.elements("title").first?.text
        #expect(tooltip == "203.0.113.9 → 10.0.1.5: 1024 ports (tcp-syn vertical), 2026-11-25 08:10:00 UTC")
    }

    @Test("scan timeline by target, and a row limit that names how many were left out")
    func scanTimelineRows() throws {
        let events = (0..<30).map {
            Chart.ScanEvent(t: Self.t0 + Double($0) * 10, source: "10.0.0.66", target: "10.0.1.\($0)", ports: 3)
        }
        let chart = Chart.ScanTimeline(events: events, rows: .target)
        let svg = try #require(ChartSVGNode.parse(chart.svg(width: 900, height: 300)))
        #expect(svg.elements(class: "axis-label").map(\.text).contains("Target"))
        let rows = svg.elements(class: "row-label").count
        #expect((3..<30).contains(rows))
        #expect(svg.elements("circle", class: "scan-event").count == rows)
        #expect(svg.texts.contains("\(30 - rows) more targets not shown"))
    }
}
