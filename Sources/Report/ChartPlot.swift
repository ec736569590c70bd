import Foundation

/// The rectangle of a chart where data is drawn, with the maps from data to pixels.
struct ChartPlot {
    var left: Double
    var top: Double
    var right: Double
    var bottom: Double
    /// Time (epoch seconds) across.
    var time: ClosedRange<Double>
    /// Values up the side; unused by charts with rows.
    var values: ClosedRange<Double> = 0...1

    var width: Double { right - left }
    var height: Double { bottom - top }

    func x(_ t: Double) -> Double {
        let span = time.upperBound - time.lowerBound
        guard span > 0 else { return left + width / 2 }
        return left + (t - time.lowerBound) / span * width
    }

    func y(_ value: Double) -> Double {
        let span = values.upperBound - values.lowerBound
        guard span > 0 else { return bottom }
        return bottom - (value - values.lowerBound) / span * height
    }

    /// The time domain of `instants`, or `fixed`; a single instant (or none) gets a minute around it.
    static func timeDomain(_ instants: [Double], fixed: ClosedRange<Double>?) -> ClosedRange<Double>? {
        if let fixed, fixed.lowerBound.isFinite, fixed.upperBound.isFinite, fixed.upperBound > fixed.lowerBound {
            return fixed
        }
        guard let low = instants.min(), let high = instants.max() else { return nil }
        return high - low >= 1e-3 ? low...high : (low - 30)...(high + 30)
    }
}

extension SVGWriter {
    /// Vertical grid lines and labels under the plot at round UTC instants, and the axis title below them.
    mutating func timeAxis(plot: ChartPlot, label: String = "Time (UTC)") {
        let maxCount = max(2, Int(plot.width / 95))
        let (_, ticks) = Chart.Axis.timeTicks(
            from: plot.time.lowerBound, to: plot.time.upperBound, maxCount: maxCount)
        open("g", ["class": "x-axis"])
        for tick in ticks {
            let x = plot.x(tick.t)
            open("g", ["class": "x-tick", "data-t": Self.number(tick.t)])
            element(
                "line",
                [
                    "x1": Self.number(x), "y1": Self.number(plot.top), "x2": Self.number(x),
                    "y2": Self.number(plot.bottom + 4), "stroke": Self.gridColor, "stroke-width": "1",
                ])
            text(tick.label, x: x, y: plot.bottom + 17, size: 11, anchor: "middle", color: Self.mutedColor)
            if let date = tick.date {
                text(date, x: x, y: plot.bottom + 30, size: 10, anchor: "middle", color: Self.mutedColor)
            }
            close("g")
        }
        element(
            "line",
            [
                "x1": Self.number(plot.left), "y1": Self.number(plot.bottom), "x2": Self.number(plot.right),
                "y2": Self.number(plot.bottom), "stroke": Self.axisColor, "stroke-width": "1",
            ])
        text(
            label, x: (plot.left + plot.right) / 2, y: plot.bottom + 46, size: 12, anchor: "middle",
            className: "axis-label")
        close("g")
    }

    /// Horizontal grid lines and labels left of the plot at `ticks`, and the rotated axis title.
    mutating func valueAxis(plot: ChartPlot, ticks: Chart.Axis.ValueTicks, label: String) {
        open("g", ["class": "y-axis"])
        for value in ticks.values {
            let y = plot.y(value)
            open("g", ["class": "y-tick", "data-value": Self.number(value)])
            element(
                "line",
                [
                    "x1": Self.number(plot.left - 4), "y1": Self.number(y), "x2": Self.number(plot.right),
                    "y2": Self.number(y), "stroke": value == 0 ? Self.axisColor : Self.gridColor, "stroke-width": "1",
                ])
            text(ticks.label(value), x: plot.left - 8, y: y + 4, size: 11, anchor: "end", color: Self.mutedColor)
            close("g")
        }
        element(
            "line",
            [
                "x1": Self.number(plot.left), "y1": Self.number(plot.top), "x2": Self.number(plot.left),
                "y2": Self.number(plot.bottom), "stroke": Self.axisColor, "stroke-width": "1",
            ])
        text(
            label, x: 20, y: (plot.top + plot.bottom) / 2, size: 12, anchor: "middle", className: "axis-label",
            rotate: -90)
        close("g")
    }
}
