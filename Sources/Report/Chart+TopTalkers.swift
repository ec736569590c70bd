import Foundation

extension Chart {
    /// Top talkers: one horizontal bar per host, largest first, labelled `address (organisation)` on the left
    /// and with its amount at the end. Bars that do not fit the height are left out and counted in a note;
    /// NaN and infinite values are skipped.
    public struct TopTalkers: SVGChart {
        public var title: String
        public var subtitle: String?
        public var unit: Unit
        public var bars: [Bar]
        /// What the lengths measure, under the bars; by default the unit's quantity (`Volume (bytes)`).
        public var valueLabel: String?

        public init(
            title: String = "Top talkers", subtitle: String? = nil, unit: Unit = .bytes, bars: [Bar],
            valueLabel: String? = nil
        ) {
            self.title = title
            self.subtitle = subtitle
            self.unit = unit
            self.bars = bars
            self.valueLabel = valueLabel
        }

        public var preferredSize: (width: Int, height: Int) { (960, 110 + 28 * max(1, min(bars.count, 25))) }

        public func svg(width: Int, height: Int) -> String {
            let valid = bars.enumerated().filter { $0.element.value.isFinite }
                .sorted { ($0.element.value, $1.offset) > ($1.element.value, $0.offset) }.map(\.element)
            var svg = SVGWriter(
                width: width, height: height, title: title,
                description: "Horizontal bar chart of \(valid.count) hosts by \(unit.quantity.lowercased()).")
            let top = svg.heading(title: title, subtitle: subtitle) + 8
            guard !valid.isEmpty else {
                svg.noData(top: top - 8)
                return svg.document()
            }
            let bottom = svg.height - 30
            let rowHeight = min(30, max(16, (bottom - top) / Double(valid.count)))
            let fitting = max(1, Int((bottom - top) / rowHeight))
            let shown = Array(valid.prefix(fitting))
            let fontSize = min(12, rowHeight - 4)
            let left = 16.0
            let right = svg.width - 16
            let labels = shown.map { SVGWriter.truncate($0.displayLabel, width: svg.width * 0.42, size: fontSize) }
            let labelWidth = labels.map { SVGWriter.textWidth($0, size: fontSize) }.max() ?? 0
            let values = shown.map { unit.format($0.value) }
            let valueWidth = values.map { SVGWriter.textWidth($0, size: fontSize) }.max() ?? 0
            let barLeft = left + labelWidth + 10
            let barSpan = max(20, right - valueWidth - 10 - barLeft)
            let largest = max(shown.map(\.value).max() ?? 1, 0)

            svg.open("g", ["class": "bars"])
            for (index, bar) in shown.enumerated() {
                let y = top + Double(index) * rowHeight
                let middle = y + rowHeight / 2
                let length = largest > 0 ? max(0, bar.value) / largest * barSpan : 0
                svg.open("g", ["class": "bar-row", "data-label": bar.displayLabel])
                if index % 2 == 1 {
                    svg.element(
                        "rect",
                        [
                            "x": SVGWriter.number(left - 4), "y": SVGWriter.number(y),
                            "width": SVGWriter.number(right - left + 8),
                            "height": SVGWriter.number(rowHeight), "fill": "#f6f7f9",
                        ])
                }
                svg.text(
                    labels[index], x: barLeft - 10, y: middle + fontSize / 3, size: fontSize, anchor: "end",
                    className: "bar-label")
                svg.element(
                    "rect",
                    [
                        "class": "bar", "x": SVGWriter.number(barLeft), "y": SVGWriter.number(y + rowHeight * 0.18),
                        "width": SVGWriter.number(max(1, length)), "height": SVGWriter.number(rowHeight * 0.64),
                        "rx": "2", "fill": ChartPalette.color(0), "data-value": SVGWriter.number(bar.value),
                    ],
                    tooltip: "\(bar.displayLabel): \(values[index])")
                svg.text(
                    values[index], x: barLeft + max(1, length) + 8, y: middle + fontSize / 3, size: fontSize,
                    className: "bar-value")
                svg.close("g")
            }
            svg.close("g")

            var caption = valueLabel ?? "\(unit.quantity) (\(unit.name))"
            if valid.count > shown.count { caption += "  ·  \(valid.count - shown.count) more not shown" }
            svg.text(
                caption, x: barLeft, y: svg.height - 10, size: 11, color: SVGWriter.mutedColor, className: "axis-label")
            return svg.document()
        }
    }
}
