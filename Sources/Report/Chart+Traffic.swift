import Foundation

extension Chart {
    /// Traffic over time: one line per series (bytes/s per protocol, packets/s, …) against UTC time, with
    /// volume spikes and alerts as labelled vertical lines.
    ///
    /// Points are joined in time order; a bucket without traffic should be given as 0, not left out, or the
    /// line bridges the gap. Points with a NaN or infinite time or value are skipped.
    public struct Traffic: SVGChart {
        public var title: String
        public var subtitle: String?
        public var unit: Unit
        public var series: [TimeSeries]
        public var markers: [Marker]
        /// The time axis's extent (e.g. the report's window); by default the data's.
        public var timeRange: ClosedRange<Double>?

        public init(
            title: String = "Traffic", subtitle: String? = nil, unit: Unit = .bytesPerSecond, series: [TimeSeries],
            markers: [Marker] = [], timeRange: ClosedRange<Double>? = nil
        ) {
            self.title = title
            self.subtitle = subtitle
            self.unit = unit
            self.series = series
            self.markers = markers
            self.timeRange = timeRange
        }

        public var preferredSize: (width: Int, height: Int) { (960, 440) }

        public func svg(width: Int, height: Int) -> String {
            var svg = SVGWriter(
                width: width, height: height, title: title,
                description: "Line chart of \(unit.quantity.lowercased()) over time (UTC), "
                    + "\(series.count) series, \(markers.count) marked events.")
            var top = svg.heading(title: title, subtitle: subtitle)
            let lines = series.enumerated().map { index, series in
                let points = series.points.filter { $0.t.isFinite && $0.value.isFinite }.sorted { $0.t < $1.t }
                return (name: series.name, color: ChartPalette.color(index), points: points)
            }
            guard let time = ChartPlot.timeDomain(lines.flatMap { $0.points.map(\.t) }, fixed: timeRange) else {
                svg.noData(top: top)
                return svg.document()
            }
            let visible = lines.map { line in (line.name, line.color, line.points.filter { time.contains($0.t) }) }
            let values = visible.flatMap { $0.2.map(\.value) }
            guard let low = values.min(), let high = values.max() else {
                svg.noData(top: top)
                return svg.document()
            }
            let marks = markers.filter { $0.t.isFinite && time.contains($0.t) }.sorted { $0.t < $1.t }

            var legend: [(label: String, swatch: (inout SVGWriter, Double, Double) -> Void)] = visible.map { line in
                (line.0, { svg, x, y in svg.swatchLine(x: x, y: y, color: line.1) })
            }
            for kind in Marker.Kind.allCases where marks.contains(where: { $0.kind == kind }) {
                legend.append(
                    (kind.rawValue, { svg, x, y in svg.swatchLine(x: x, y: y, color: kind.color, dashed: true) }))
            }
            top = svg.legend(legend, x: 16, y: top + 2, maxX: svg.width - 16)

            let bottom = svg.height - 56
            let rowGuess = max(60, bottom - top)
            let ticks = Axis.valueTicks(low: min(0, low), high: max(0, high), count: max(3, Int(rowGuess / 45)))
            let labelWidth = ticks.values.map { SVGWriter.textWidth(ticks.label($0), size: 11) }.max() ?? 0
            let left = 36 + labelWidth + 8
            let right = svg.width - 24
            // Marker labels go in rows above the plot, each in the first row where it does not overlap.
            let timeOnly = ChartPlot(left: left, top: 0, right: right, bottom: 0, time: time)
            var rowEnds: [Double] = []
            var placed: [(marker: Marker, row: Int?, x: Double, text: String)] = []
            for marker in marks {
                let x = timeOnly.x(marker.t)
                let text = SVGWriter.truncate(marker.label, width: 180, size: 10)
                let textWidth = SVGWriter.textWidth(text, size: 10)
                let start = x + textWidth + 6 > right ? x - textWidth - 3 : x + 3
                let row = rowEnds.firstIndex { $0 < start } ?? (rowEnds.count < 3 ? rowEnds.count : nil)
                if let row {
                    if row == rowEnds.count { rowEnds.append(0) }
                    rowEnds[row] = start + textWidth + 6
                }
                placed.append((marker, row, x, text))
            }
            let band = rowEnds.isEmpty ? 0 : Double(rowEnds.count) * 13 + 4
            var plot = ChartPlot(
                left: left, top: top + 8 + band, right: right, bottom: bottom, time: time,
                values: (ticks.values.first ?? 0)...(ticks.values.last ?? 1))
            if plot.height < 40 { plot.top = plot.bottom - 40 }

            svg.valueAxis(plot: plot, ticks: ticks, label: unit.axisTitle(power: ticks.power))
            svg.timeAxis(plot: plot)

            let showPoints = visible.map(\.2.count).max() ?? 0 <= Int(plot.width / 12)
            for (name, color, points) in visible {
                svg.open("g", ["class": "series", "data-name": name, "data-points": String(points.count)])
                let coordinates = points.map {
                    "\(SVGWriter.number(plot.x($0.t))),\(SVGWriter.number(plot.y($0.value)))"
                }
                if visible.count == 1, points.count > 1 {
                    let baseline = SVGWriter.number(plot.y(max(plot.values.lowerBound, 0)))
                    let first = SVGWriter.number(plot.x(points[0].t))
                    let last = SVGWriter.number(plot.x(points[points.count - 1].t))
                    svg.element(
                        "polygon",
                        [
                            "points": "\(first),\(baseline) " + coordinates.joined(separator: " ")
                                + " \(last),\(baseline)",
                            "fill": color, "fill-opacity": "0.12", "stroke": "none",
                        ])
                }
                if points.count > 1 {
                    svg.element(
                        "polyline",
                        [
                            "class": "line", "points": coordinates.joined(separator: " "), "fill": "none",
                            "stroke": color,
                            "stroke-width": "2", "stroke-linejoin": "round", "stroke-linecap": "round",
                        ])
                }
                if showPoints || points.count == 1 {
                    for point in points {
                        svg.element(
                            "circle",
                            [
                                "class": "point", "cx": SVGWriter.number(plot.x(point.t)),
                                "cy": SVGWriter.number(plot.y(point.value)), "r": "2.5", "fill": color,
                                "data-t": SVGWriter.number(point.t), "data-value": SVGWriter.number(point.value),
                            ],
                            tooltip: "\(name) at \(TimeRange.format(point.t, milliseconds: false)) UTC: "
                                + unit.format(point.value))
                    }
                }
                svg.close("g")
            }

            for (index, mark) in placed.enumerated() {
                let color = mark.marker.kind.color
                svg.open(
                    "g",
                    [
                        "class": "marker", "data-kind": mark.marker.kind.rawValue,
                        "data-t": SVGWriter.number(mark.marker.t),
                    ])
                let lineTop = mark.row.map { top + 8 + Double($0) * 13 + 2 } ?? plot.top
                svg.element(
                    "line",
                    [
                        "x1": SVGWriter.number(mark.x), "y1": SVGWriter.number(lineTop), "x2": SVGWriter.number(mark.x),
                        "y2": SVGWriter.number(plot.bottom), "stroke": color, "stroke-width": "1.5",
                        "stroke-dasharray": "5 3",
                    ],
                    tooltip:
                        "\(mark.marker.kind.rawValue) at \(TimeRange.format(mark.marker.t, milliseconds: false)) UTC: "
                        + mark.marker.label)
                if let row = mark.row {
                    let start = mark.x + SVGWriter.textWidth(mark.text, size: 10) + 6 > right
                    svg.text(
                        mark.text, x: start ? mark.x - 3 : mark.x + 3, y: top + 8 + Double(row) * 13 + 10, size: 10,
                        anchor: start ? "end" : "start", color: color == ChartPalette.spike ? "#a35400" : color,
                        className: "marker-label", data: ["data-index": String(index)])
                }
                svg.close("g")
            }
            return svg.document()
        }
    }
}

extension Chart.Marker.Kind {
    var color: String {
        switch self {
        case .alert: ChartPalette.alert
        case .spike: ChartPalette.spike
        }
    }
}

extension SVGWriter {
    /// A short thick line, the legend's sample of a series (dashed for markers).
    mutating func swatchLine(x: Double, y: Double, color: String, dashed: Bool = false) {
        element(
            "line",
            [
                "x1": Self.number(x), "y1": Self.number(y), "x2": Self.number(x + 16), "y2": Self.number(y),
                "stroke": color, "stroke-width": dashed ? "2" : "3", "stroke-dasharray": dashed ? "4 2" : "none",
            ])
    }

    /// A small filled square, the legend's sample of a bar or segment.
    mutating func swatchBox(x: Double, y: Double, color: String) {
        element(
            "rect",
            [
                "x": Self.number(x + 2), "y": Self.number(y - 6), "width": "12", "height": "12", "rx": "2",
                "fill": color,
            ])
    }
}
