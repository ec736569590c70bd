import Foundation
import Report
import Testing

@Suite("HTML report")
struct HTMLReportTests {
    static let hostile = "<script>alert('x')</script> & \"q\""

    static let talkers = Table(
        columns: [.init("host"), .init("organisation"), .init("bytes", .right)],
        rows: [
            ["172.217.14.206", "Google", "2310000000"],
            ["10.0.0.7", hostile, "12"],
        ])

    static let report = HTMLReport(
        title: "Wirewatch report", subtitle: "Sensors edge-1, edge-2",
        timeRange: TimeRange(from: 1_795_593_600, to: 1_795_597_200), generatedAt: 1_795_597_300,
        sections: [
            .init(
                title: "Traffic", summary: "Bytes per second by protocol.",
                chart: Chart.Traffic(
                    series: [
                        Chart.TimeSeries(
                            name: "tcp", points: [(t: 1_795_593_600, value: 5), (t: 1_795_593_660, value: 9)])
                    ]
                ).svg()),
            .init(
                title: "Top talkers", chart: Chart.TopTalkers(bars: [Chart.Bar(label: hostile, value: 3)]).svg(),
                tables: [.init(talkers, caption: "By bytes")], notes: ["Organisations from GeoIP.", hostile]),
            .init(
                title: "HTTP user agents \(hostile)",
                tables: [.init(Table(columns: [.init("agent"), .init("count", .right)]))]),
        ])

    /// Every `name="value"` attribute in the document.
    static func attributeValues(_ name: String, in html: String) -> [String] {
        html.components(separatedBy: " \(name)=\"").dropFirst().map { String($0.prefix { $0 != "\"" }) }
    }

    @Test("the document has the title, the range, the time it was made, and each section's heading")
    func structure() {
        let html = Self.report.render()
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        #expect(html.hasSuffix("</html>\n"))
        #expect(html.contains("<title>Wirewatch report</title>") && html.contains("<h1>Wirewatch report</h1>"))
        #expect(html.contains("<p class=\"subtitle\">Sensors edge-1, edge-2</p>"))
        #expect(html.contains("<dd>2026-11-25 08:00:00 – 2026-11-25 09:00:00 UTC</dd>"))
        #expect(html.contains("<dd>2026-11-25 09:01:40 UTC</dd>"))
        #expect(html.contains("<h2>Traffic</h2>") && html.contains("<h2>Top talkers</h2>"))
        #expect(
            html.contains(
                "<h2>HTTP user agents &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</h2>"))
        #expect(html.contains("<p class=\"summary\">Bytes per second by protocol.</p>"))
        #expect(html.contains("<li>Organisations from GeoIP.</li>"))
        // Contents links point at the sections' own ids.
        let links = Self.attributeValues("href", in: html)
        let ids = Self.attributeValues("id", in: html)
        #expect(links == ["#section-1", "#section-2", "#section-3"])
        #expect(links.map { String($0.dropFirst()) } == ids)
    }

    @Test("table cells are escaped, numeric columns right-aligned, an empty table says so")
    func tables() {
        let html = Self.report.render()
        #expect(html.contains("<caption>By bytes</caption>"))
        #expect(
            html.contains(
                "<thead><tr><th scope=\"col\">host</th><th scope=\"col\">organisation</th>"
                    + "<th scope=\"col\" class=\"num\">bytes</th></tr></thead>"))
        #expect(html.contains("<tr><td>172.217.14.206</td><td>Google</td><td class=\"num\">2310000000</td></tr>"))
        #expect(
            html.contains(
                "<tr><td>10.0.0.7</td><td>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</td>"
                    + "<td class=\"num\">12</td></tr>"))
        #expect(html.contains("<td class=\"empty\" colspan=\"2\">No rows</td>"))
    }

    @Test("a short row is padded and extra cells are dropped")
    func raggedRows() {
        let html = HTMLReport.render(Table(columns: [.init("a"), .init("b")], rows: [["1"], ["1", "2", "3"]]))
        #expect(html.contains("<tr><td>1</td><td></td></tr>"))
        #expect(html.contains("<tr><td>1</td><td>2</td></tr>"))
        #expect(!html.contains("<td>3</td>"))
    }

    @Test("charts are inline SVG that still parses as XML, hostile labels escaped inside them")
    func inlineCharts() throws {
        let html = Self.report.render()
        let charts = html.components(separatedBy: "<svg ").dropFirst().map {
            "<svg " + $0.components(separatedBy: "</svg>")[0] + "</svg>"
        }
        #expect(charts.count == 2)
        for chart in charts {
            let svg = try #require(ChartSVGNode.parse(chart))
            #expect(svg.elements(class: "title").count == 1)
        }
        #expect(ChartSVGNode.parse(charts[1])?.elements(class: "bar-label").first?.text == Self.hostile)
    }

    @Test("nothing in the report is fetched or run: no scripts, no external URLs, a policy that forbids both")
    func selfContained() {
        let html = Self.report.render()
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.contains("<link") && !html.contains("<img") && !html.contains("@import"))
        #expect(Self.attributeValues("src", in: html).isEmpty)
        #expect(Self.attributeValues("href", in: html).allSatisfy { $0.hasPrefix("#") })
        #expect(!html.contains("url(http") && !html.contains("url(file") && !html.contains("xlink:href"))
        #expect(
            html.contains(
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            ))
        #expect(html.contains("<style>"))
    }

    @Test("the report escapes its own title and subtitle, and open time ranges read naturally")
    func headerEscapingAndOpenRange() {
        let html = HTMLReport(
            title: Self.hostile, subtitle: Self.hostile, timeRange: TimeRange(from: 1_795_593_600), sections: []
        ).render()
        #expect(!html.contains("<script"))
        #expect(html.contains("<title>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</title>"))
        #expect(html.contains("<dd>2026-11-25 08:00:00 – now UTC</dd>"))
        #expect(!html.contains("Generated</dt>"))
        #expect(!html.contains("<nav"), "no contents for fewer than three sections")
        #expect(html.contains("This report has no sections."))
    }
}
