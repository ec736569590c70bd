import Foundation

/// Colours with good contrast on white, told apart by people with the common colour-vision deficiencies
/// (Okabe–Ito and Tableau hues); red and orange are kept for alerts and spikes.
enum ChartPalette {
    static let series = [
        "#1f6fb4", "#2a9d5b", "#8e5bbf", "#00a3b8", "#8c5a3c", "#d4569e", "#6b7a8f", "#b59b00",
    ]
    static let other = "#a0a4aa"
    static let alert = "#d62728"
    static let spike = "#f28a17"
    /// Light to dark, for scan port counts: 1–9, 10–99, 100–999, 1000 or more.
    static let sequential = ["#fdcc8a", "#fc8d59", "#e34a33", "#99000d"]

    static func color(_ index: Int) -> String {
        series[index % series.count]
    }

    /// Black or white, whichever reads better on `background` (`#rrggbb`), by WCAG relative luminance.
    static func textColor(on background: String) -> String {
        let hex = background.dropFirst()
        guard hex.count == 6, let value = UInt32(hex, radix: 16) else { return "#000000" }
        func channel(_ shift: UInt32) -> Double {
            let c = Double((value >> shift) & 0xFF) / 255
            return c <= 0.039_28 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        let luminance = 0.2126 * channel(16) + 0.7152 * channel(8) + 0.0722 * channel(0)
        // Contrast with white is 1.05 / (L + 0.05), with black (L + 0.05) / 0.05: pick the larger.
        return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? "#ffffff" : "#000000"
    }
}
