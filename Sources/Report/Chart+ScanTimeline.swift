import Foundation

extension Chart {
    /// Scans over time: one row per source (or target), one mark per probe group at its start, a bar to its
    /// end when known, sized and coloured by how many ports it probed. Rows that do not fit are those with the
    /// fewest events, counted in a note; events with a NaN or infinite time are skipped.
    public struct ScanTimeline: SVGChart {
        /// Which end of a scan the rows stand for.
        public enum Rows: String, Sendable, Hashable {
            case source, target
        }

        public var title: String
        public var subtitle: String?
        public var events: [ScanEvent]
        public var rows: Rows
        /// The time axis's extent (e.g. the report's window); by default the events'.
        public var timeRange: ClosedRange<Double>?

        public init(
            title: String = "Scans", subtitle: String? = nil, events: [ScanEvent], rows: Rows = .source,
            timeRange: ClosedRange<Double>? = nil
        ) {
            self.title = title
            self.subtitle = subtitle
            self.events = events
            self.rows = rows
            self.timeRange = timeRange
        }

        public var preferredSize: (width: Int, height: Int) {
            let count = Set(events.map { rows == .source ? $0.source : $0.target }).count
            return (960, 150 + 28 * max(2, min(count, 20)))
        }

        /// Port-count classes: their lower bounds, legend text, and mark radius.
        static let buckets: [(floor: Int, label: String, radius: Double)] = [
            (0, "1–9 ports", 4), (10, "10–99 ports", 6), (100, "100–999 ports", 8.5), (1000, "1000+ ports", 11),
        ]

        static func bucket(ports: Int) -> Int {
            buckets.lastIndex { ports >= $0.floor } ?? 0
        }

        public func svg(width: Int, height: Int) -> String {
            let finite = events.filter { $0.t.isFinite }
            var svg = SVGWriter(
                width: width, height: height, title: title,
                description: "Timeline of \(finite.count) scans by \(rows.rawValue), marks sized by ports probed.")
            var top = svg.heading(title: title, subtitle: subtitle)
            let time = ChartPlot.timeDomain(finite.map(\.t), fixed: timeRange)
            let visible = time.map { time in finite.filter { time.contains($0.t) } } ?? []
            guard var time, !visible.isEmpty else {
                svg.noData(top: top)
                return svg.document()
            }
            if timeRange == nil {
                // Room for the first and last marks' circles.
                let pad = (time.upperBound - time.lowerBound) * 0.03
                time = (time.lowerBound - pad)...(time.upperBound + pad)
            }
            let legend = Self.buckets.enumerated().map { index, bucket in
                (
                    label: bucket.label,
                    swatch: { (svg: inout SVGWriter, x: Double, y: Double) in
                        svg.scanMark(x: x + 8, y: y, bucket: index, radius: min(bucket.radius, 8), className: "swatch")
                    }
                )
            }
            top = svg.legend(legend, x: 16, y: top + 2, maxX: svg.width - 16) + 18

            // Rows: the keys with the most events that fit, drawn in order of their first scan.
            func key(_ event: ScanEvent) -> String { rows == .source ? event.source : event.target }
            var counts: [String: (count: Int, first: Double)] = [:]
            for event in visible {
                let entry = counts[key(event)] ?? (0, event.t)
                counts[key(event)] = (entry.count + 1, min(entry.first, event.t))
            }
            let bottom = svg.height - 56
            let rowHeight = min(32, max(18, (bottom - top) / Double(counts.count)))
            let fitting = max(1, Int((bottom - top) / rowHeight))
            let ranked = counts.sorted {
                ($0.value.count, $1.value.first, $1.key) > ($1.value.count, $0.value.first, $0.key)
            }
            let kept = ranked.prefix(fitting).sorted { ($0.value.first, $0.key) < ($1.value.first, $1.key) }.map(\.key)
            let rowIndex = Dictionary(uniqueKeysWithValues: kept.enumerated().map { ($0.element, $0.offset) })

            let labelSize = 11.0
            let labels = kept.map { SVGWriter.truncate($0, width: svg.width * 0.3, size: labelSize) }
            let labelWidth = max(
                SVGWriter.textWidth(rows.rawValue.capitalized, size: labelSize),
                labels.map { SVGWriter.textWidth($0, size: labelSize) }.max() ?? 0)
            let plot = ChartPlot(
                left: 16 + labelWidth + 14, top: top, right: svg.width - 24,
                bottom: top + rowHeight * Double(kept.count), time: time)

            svg.open("g", ["class": "scan-rows"])
            for (index, label) in labels.enumerated() {
                let y = plot.top + Double(index) * rowHeight
                svg.open("g", ["class": "scan-row", "data-key": kept[index]])
                if index % 2 == 0 {
                    svg.element(
                        "rect",
                        [
                            "x": SVGWriter.number(plot.left), "y": SVGWriter.number(y),
                            "width": SVGWriter.number(plot.width), "height": SVGWriter.number(rowHeight),
                            "fill": "#f6f7f9",
                        ])
                }
                svg.text(
                    label, x: plot.left - 10, y: y + rowHeight / 2 + 4, size: labelSize, anchor: "end",
                    className: "row-label")
                svg.close("g")
            }
            svg.close("g")
            svg.text(
                rows.rawValue.capitalized, x: plot.left - 10, y: plot.top - 6, size: labelSize, anchor: "end",
                weight: "bold", className: "axis-label")
            svg.timeAxis(plot: plot)

            // Marks, largest first so that small ones stay visible on top; a target note where the row has room.
            let drawn = visible.filter { rowIndex[key($0)] != nil }
                .sorted { ($0.ports, $1.t) > ($1.ports, $0.t) }
            var noteEnds = [Double](repeating: -.infinity, count: kept.count)
            svg.open("g", ["class": "scan-events"])
            for event in drawn.sorted(by: { $0.t < $1.t }) {
                guard let row = rowIndex[key(event)] else { continue }
                let x = plot.x(event.t)
                let middle = plot.top + (Double(row) + 0.5) * rowHeight
                let bucket = Self.bucket(ports: event.ports)
                var noteX = x + Self.buckets[bucket].radius + 4
                if let end = event.end, end.isFinite, end > event.t {
                    let endX = plot.x(min(end, time.upperBound))
                    svg.element(
                        "line",
                        [
                            "class": "scan-span", "x1": SVGWriter.number(x), "y1": SVGWriter.number(middle),
                            "x2": SVGWriter.number(endX), "y2": SVGWriter.number(middle), "stroke": "#7a808a",
                            "stroke-width": "3", "stroke-linecap": "round", "stroke-opacity": "0.55",
                        ],
                        tooltip: "until \(TimeRange.format(end, milliseconds: false)) UTC")
                    noteX = max(noteX, endX + 5)
                }
                let other = rows == .source ? event.target : event.source
                let note = rows == .source ? "→ \(other)" : "← \(other)"
                if noteX > noteEnds[row], noteX + SVGWriter.textWidth(note, size: 10) < plot.right {
                    noteEnds[row] = noteX + SVGWriter.textWidth(note, size: 10) + 6
                    svg.text(
                        note, x: noteX, y: middle + 3.5, size: 10, color: SVGWriter.mutedColor, className: "scan-note")
                }
            }
            for event in drawn {
                guard let row = rowIndex[key(event)] else { continue }
                let middle = plot.top + (Double(row) + 0.5) * rowHeight
                let bucket = Self.bucket(ports: event.ports)
                let kind = event.label.isEmpty ? "" : " (\(event.label))"
                let when = TimeRange.format(event.t, milliseconds: false)
                svg.scanMark(
                    x: plot.x(event.t), y: middle, bucket: bucket,
                    radius: min(Self.buckets[bucket].radius, rowHeight / 2 - 1),
                    tooltip: "\(event.source) → \(event.target): \(event.ports) ports\(kind), \(when) UTC",
                    data: ["data-ports": String(event.ports), "data-t": SVGWriter.number(event.t)])
            }
            svg.close("g")

            if kept.count < counts.count {
                svg.text(
                    "\(counts.count - kept.count) more \(rows.rawValue)s not shown", x: svg.width - 24,
                    y: svg.height - 10, size: 11, anchor: "end", color: SVGWriter.mutedColor)
            }
            return svg.document()
        }
    }
}

extension SVGWriter {
    /// A scan's mark: a circle in its port-count class's colour with a dark rim.
    mutating func scanMark(
        x: Double, y: Double, bucket: Int, radius: Double, className: String = "scan-event", tooltip: String? = nil,
        data: KeyValuePairs<String, String> = [:]
    ) {
        var attributes = [
            ("class", className), ("cx", Self.number(x)), ("cy", Self.number(y)), ("r", Self.number(max(2, radius))),
            ("fill", ChartPalette.sequential[bucket]), ("stroke", "#4a0006"), ("stroke-width", "0.8"),
            ("fill-opacity", "0.9"),
        ]
        for (key, value) in data { attributes.append((key, value)) }
        element("circle", attributes, tooltip: tooltip)
    }
}
