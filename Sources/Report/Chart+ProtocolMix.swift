import Foundation

extension Chart {
    /// The protocol mix: one 100 % stacked bar, then a labelled bar per protocol with its share and amount
    /// (bars, not a pie: lengths compare better than angles). Beyond `maxSlices`, the smallest are summed as
    /// "other"; negative, NaN and infinite values are skipped.
    public struct ProtocolMix: SVGChart {
        public var title: String
        public var subtitle: String?
        public var unit: Unit
        public var slices: [Slice]
        public var maxSlices: Int

        public init(
            title: String = "Protocol mix", subtitle: String? = nil, unit: Unit = .bytes, slices: [Slice],
            maxSlices: Int = 8
        ) {
            self.title = title
            self.subtitle = subtitle
            self.unit = unit
            self.slices = slices
            self.maxSlices = maxSlices
        }

        public var preferredSize: (width: Int, height: Int) {
            (960, 150 + 30 * min(max(1, slices.count), max(2, maxSlices)))
        }

        /// The slices drawn: finite and positive, largest first, the tail beyond `maxSlices` summed as "other".
        public var shownSlices: [Slice] {
            let valid = slices.filter { $0.value.isFinite && $0.value > 0 }
            let sorted = valid.enumerated().sorted { ($0.element.value, $1.offset) > ($1.element.value, $0.offset) }
                .map(\.element)
            let keep = max(1, maxSlices)
            guard sorted.count > keep else { return sorted }
            let rest = sorted[(keep - 1)...].reduce(0) { $0 + $1.value }
            return Array(sorted.prefix(keep - 1)) + [Slice(label: "other", value: rest)]
        }

        /// `72.4%`, `5%`, `<0.1%`.
        static func percent(_ share: Double) -> String {
            let value = share * 100
            if value > 0, value < 0.05 { return "<0.1%" }
            return Unit.trimmed(String(format: "%.1f", value)) + "%"
        }

        public func svg(width: Int, height: Int) -> String {
            let shown = shownSlices
            let total = shown.reduce(0) { $0 + $1.value }
            var svg = SVGWriter(
                width: width, height: height, title: title,
                description: "Share of \(unit.quantity.lowercased()) by protocol: "
                    + shown.map { "\($0.label) \(Self.percent($0.value / total))" }.joined(separator: ", "))
            let top = svg.heading(title: title, subtitle: subtitle)
            guard total > 0, total.isFinite else {
                svg.noData(top: top)
                return svg.document()
            }
            let colors = shown.enumerated().map { index, slice in
                slice.label == "other" ? ChartPalette.other : ChartPalette.color(index)
            }

            // The whole as one bar: each protocol's segment, its share written inside where it fits.
            let left = 16.0
            let right = svg.width - 16
            let barTop = top + 10
            let barHeight = 30.0
            var x = left
            svg.open("g", ["class": "stacked"])
            for (index, slice) in shown.enumerated() {
                let share = slice.value / total
                let segment = share * (right - left)
                let percent = Self.percent(share)
                svg.element(
                    "rect",
                    [
                        "class": "segment", "x": SVGWriter.number(x), "y": SVGWriter.number(barTop),
                        "width": SVGWriter.number(segment), "height": SVGWriter.number(barHeight),
                        "fill": colors[index], "stroke": "#ffffff", "stroke-width": "1", "data-label": slice.label,
                        "data-share": SVGWriter.number(share * 100),
                    ],
                    tooltip: "\(slice.label): \(percent) (\(unit.format(slice.value)))")
                let inside = "\(slice.label) \(percent)"
                let fits = [inside, percent].first { SVGWriter.textWidth($0, size: 11) + 8 <= segment }
                if let fits {
                    svg.text(
                        fits, x: x + segment / 2, y: barTop + barHeight / 2 + 4, size: 11, anchor: "middle",
                        color: ChartPalette.textColor(on: colors[index]))
                }
                x += segment
            }
            svg.close("g")

            // One row per protocol (the legend): swatch, name, a bar as long as its share of the largest, the
            // share and the amount.
            let rowsTop = barTop + barHeight + 18
            let rowHeight = min(30, max(14, (svg.height - rowsTop - 12) / Double(shown.count)))
            let fontSize = min(12, rowHeight - 3)
            let labels = shown.map { SVGWriter.truncate($0.label, width: 200, size: fontSize) }
            let labelWidth = labels.map { SVGWriter.textWidth($0, size: fontSize) }.max() ?? 0
            let values = shown.map { "\(Self.percent($0.value / total))  ·  \(unit.format($0.value))" }
            let valueWidth = values.map { SVGWriter.textWidth($0, size: fontSize) }.max() ?? 0
            let barLeft = left + 22 + labelWidth + 10
            let barSpan = max(20, right - valueWidth - 10 - barLeft)
            let largest = shown.map(\.value).max() ?? total
            svg.open("g", ["class": "legend"])
            for (index, slice) in shown.enumerated() {
                let y = rowsTop + Double(index) * rowHeight
                let middle = y + rowHeight / 2
                svg.open("g", ["class": "legend-item", "data-label": slice.label])
                svg.swatchBox(x: left, y: middle, color: colors[index])
                svg.text(labels[index], x: left + 22, y: middle + fontSize / 3, size: fontSize)
                let length = slice.value / largest * barSpan
                svg.element(
                    "rect",
                    [
                        "class": "bar", "x": SVGWriter.number(barLeft), "y": SVGWriter.number(y + rowHeight * 0.2),
                        "width": SVGWriter.number(max(1, length)), "height": SVGWriter.number(rowHeight * 0.6),
                        "fill": colors[index], "data-value": SVGWriter.number(slice.value),
                    ],
                    tooltip: "\(slice.label): \(values[index])")
                svg.text(
                    values[index], x: barLeft + max(1, length) + 8, y: middle + fontSize / 3, size: fontSize,
                    className: "bar-value")
                svg.close("g")
            }
            svg.close("g")
            return svg.document()
        }
    }
}
