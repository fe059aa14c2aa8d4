import Foundation
import Pipeline

/// `flashsale compare A B --html FILE`: one self-contained page (inline SVG, no script, nothing loaded)
/// with the comparison table (each row's cells carry ids `<metric>-a`, `<metric>-b`, `<metric>-delta`,
/// `<metric>-note`, showing what the terminal table shows) and A's and B's charts overlaid: throughput
/// and p99 over time (the first run of each side), and the percentiles each side reports.
public enum ComparisonHTML {
    public static func render(_ c: RunComparison, a: [RunReport], b: [RunReport], aName: String, bName: String) -> String {
        let esc = HTMLReport.esc
        var h = """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>flashsale compare: \(esc(aName)) vs \(esc(bName))</title>
        <style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
        table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:right}th:first-child,td:first-child{text-align:left}
        .k{color:#666}svg{background:#fafafa;border:1px solid #ddd}.better{color:#070}.worse{color:#b00}.noise{color:#888}</style></head><body>
        """
        h += "<h1>flashsale compare</h1>"
        h += "<p><b style=\"color:\(colorA)\">A</b> \(esc(aName)): \(esc(RunComparison.describe(a)))<br><b style=\"color:\(colorB)\">B</b> \(esc(bName)): \(esc(RunComparison.describe(b)))</p>"
        h += "<table id=\"comparison\"><tr><th>metric</th><th>A\(c.aRuns > 1 ? " (median of \(c.aRuns))" : "")</th><th>B\(c.bRuns > 1 ? " (median of \(c.bRuns))" : "")</th><th>delta</th><th>relative</th><th></th></tr>"
        for r in c.rows {
            let note = r.note
            let id = esc(r.metric)
            h += "<tr><td>\(id)</td><td id=\"\(id)-a\">\(esc(RunComparison.show(r.a, r.unit, r.aSpread)))</td>"
            h += "<td id=\"\(id)-b\">\(esc(RunComparison.show(r.b, r.unit, r.bSpread)))</td>"
            h += "<td id=\"\(id)-delta\">\(esc(RunComparison.signed(r.delta, r.unit)))</td><td>\(r.relative.map { RunComparison.percent($0) } ?? "-")</td>"
            h += "<td id=\"\(id)-note\" class=\"\(note == "within noise" ? "noise" : note)\">\(note)</td></tr>"
        }
        h += "</table>"
        let ta = a.first?.timeline ?? [], tb = b.first?.timeline ?? []
        if !ta.isEmpty || !tb.isEmpty {
            h += "<h2>Throughput over time (acknowledged per second; first run of each side)</h2>"
            h += overlay([("A", colorA, ta.map { ($0.startSeconds + $0.seconds / 2, $0.seconds > 0 ? Double($0.acknowledged) / $0.seconds : 0) }),
                          ("B", colorB, tb.map { ($0.startSeconds + $0.seconds / 2, $0.seconds > 0 ? Double($0.acknowledged) / $0.seconds : 0) })],
                         log: false, unit: "/s")
            h += "<h2>p99 over time (µs, log scale)</h2>"
            h += overlay([("A", colorA, ta.filter { $0.p99Micros > 0 }.map { ($0.startSeconds + $0.seconds / 2, Double($0.p99Micros)) }),
                          ("B", colorB, tb.filter { $0.p99Micros > 0 }.map { ($0.startSeconds + $0.seconds / 2, Double($0.p99Micros)) })],
                         log: true, unit: " µs")
        }
        h += "<h2>Latency percentiles (µs, log scale; the median run of each side)</h2>" + percentiles(c)
        return h + "</body></html>\n"
    }

    static let colorA = "#1f77b4", colorB = "#d62728"

    /// Lines of (seconds, value) on one time axis (the longer run's), linear or log.
    static func overlay(_ series: [(String, String, [(Double, Double)])], log: Bool, unit: String) -> String {
        let all = series.flatMap { $0.2 }
        let end = max(all.map(\.0).max() ?? 1, 0.01)
        let top = max(all.map(\.1).max() ?? 1, log ? 10 : 1)
        func fy(_ v: Double) -> Double { log ? (v > 0 ? log10(v) / log10(top) : 0) : v / top }
        var svg = HTMLReport.axes(yLabel: SummaryFormatter.human(top) + unit, end: end)
        for (k, (name, color, points)) in series.enumerated() {
            let step = max(1, points.count / 600)
            var pts = ""
            for (i, p) in points.enumerated() where i % step == 0 { pts += "\(HTMLReport.n(HTMLReport.x(p.0, end))),\(HTMLReport.n(HTMLReport.y(fy(p.1)))) " }
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(pts)\"/>"
            svg += "<text x=\"\(HTMLReport.n(HTMLReport.pad + 10 + Double(k) * 60))\" y=\"14\" fill=\"\(color)\" font-size=\"12\">\(name)</text>"
        }
        return HTMLReport.wrap(svg)
    }

    /// The comparison's percentile rows (p50 … p99.99, max) of A and B, on a log latency axis.
    static func percentiles(_ c: RunComparison) -> String {
        let names = ["p50", "p90", "p99", "p99.9", "p99.99", "max"]
        let rows = names.compactMap { n in c.rows.first { $0.metric == n } }
        guard !rows.isEmpty else { return "" }
        let top = max(rows.map { max($0.a, $0.b) }.max() ?? 10, 10)
        let w = HTMLReport.width, pad = HTMLReport.pad
        var svg = "<line x1=\"\(pad)\" y1=\"\(HTMLReport.height - pad)\" x2=\"\(w - pad)\" y2=\"\(HTMLReport.height - pad)\" stroke=\"#999\"/>"
        svg += "<text x=\"4\" y=\"\(HTMLReport.n(pad))\" font-size=\"11\">\(SummaryFormatter.human(top)) µs</text>"
        for (side, color, value) in [("A", colorA, { (r: RunComparison.Row) in r.a }), ("B", colorB, { (r: RunComparison.Row) in r.b })] {
            var pts = ""
            for (i, r) in rows.enumerated() {
                let xv = pad + (w - 2 * pad) * Double(i) / Double(max(1, rows.count - 1))
                let v = value(r)
                pts += "\(HTMLReport.n(xv)),\(HTMLReport.n(HTMLReport.y(v > 0 ? log10(v) / log10(top) : 0))) "
            }
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(pts)\"/>"
            svg += "<text x=\"\(HTMLReport.n(pad + 10 + (side == "A" ? 0 : 60)))\" y=\"14\" fill=\"\(color)\" font-size=\"12\">\(side)</text>"
        }
        for (i, r) in rows.enumerated() {
            let xv = pad + (w - 2 * pad) * Double(i) / Double(max(1, rows.count - 1))
            svg += "<text x=\"\(HTMLReport.n(xv - 12))\" y=\"\(HTMLReport.n(HTMLReport.height - 8))\" font-size=\"11\">\(r.metric)</text>"
        }
        return HTMLReport.wrap(svg)
    }
}
