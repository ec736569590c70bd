/// Charts as standalone SVG documents, drawn from plain values (no database access): the query tool's
/// `chart traffic|protocols|top-talkers|scans` and the figures of the HTML report.
///
/// Every chart is a pure function of its data: the same values give the same bytes. Text is escaped for XML,
/// non-finite values are skipped, and a chart without data says "No data" instead of drawing empty axes.
public enum Chart {
    /// The charts the command line names.
    public enum Kind: String, CaseIterable, Sendable, Hashable {
        case traffic
        case protocols
        case topTalkers = "top-talkers"
        case scans
    }

    /// One line of a time chart: values at instants (epoch seconds), e.g. bytes/s of one protocol.
    public struct TimeSeries: Sendable, Hashable {
        public struct Point: Sendable, Hashable {
            public var t: Double
            public var value: Double
            public init(t: Double, value: Double) {
                self.t = t
                self.value = value
            }
        }

        public var name: String
        public var points: [Point]

        public init(name: String, points: [Point]) {
            self.name = name
            self.points = points
        }

        public init(name: String, points: [(t: Double, value: Double)]) {
            self.init(name: name, points: points.map { Point(t: $0.t, value: $0.value) })
        }
    }

    /// An instant to point out on a time chart: a volume spike or an alert.
    public struct Marker: Sendable, Hashable {
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            case spike, alert
        }

        public var t: Double
        public var label: String
        public var kind: Kind

        public init(t: Double, label: String, kind: Kind) {
            self.t = t
            self.label = label
            self.kind = kind
        }
    }

    /// One bar: a host and its bytes; `detail` (organisation, country) is shown in parentheses after the label.
    public struct Bar: Sendable, Hashable {
        public var label: String
        public var value: Double
        public var detail: String?

        public init(label: String, value: Double, detail: String? = nil) {
            self.label = label
            self.value = value
            self.detail = detail
        }

        /// `172.217.14.206 (Google)`, or the bare label.
        public var displayLabel: String {
            guard let detail, !detail.isEmpty else { return label }
            return "\(label) (\(detail))"
        }
    }

    /// One part of a whole: a protocol and its bytes.
    public struct Slice: Sendable, Hashable {
        public var label: String
        public var value: Double

        public init(label: String, value: Double) {
            self.label = label
            self.value = value
        }
    }

    /// One group of probes from a source: when it started (and, if known, ended), whom it probed, how many ports.
    public struct ScanEvent: Sendable, Hashable {
        public var t: Double
        public var end: Double?
        public var source: String
        public var target: String
        public var ports: Int
        /// What kind of scan, e.g. `tcp-syn vertical`; shown in the mark's tooltip.
        public var label: String

        public init(t: Double, end: Double? = nil, source: String, target: String, ports: Int, label: String = "") {
            self.t = t
            self.end = end
            self.source = source
            self.target = target
            self.ports = ports
            self.label = label
        }
    }
}

/// A chart that draws itself as one self-contained SVG document (inline attributes, no scripts, no fonts to fetch).
public protocol SVGChart: Sendable {
    /// The size, in pixels, at which the chart reads well; `svg()` draws at this size.
    var preferredSize: (width: Int, height: Int) { get }
    /// The chart as an SVG document of `width` × `height` pixels (at least 320 × 200).
    func svg(width: Int, height: Int) -> String
}

extension SVGChart {
    /// The chart at its preferred size.
    public func svg() -> String {
        svg(width: preferredSize.width, height: preferredSize.height)
    }
}
