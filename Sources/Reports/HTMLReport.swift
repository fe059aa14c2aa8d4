import FlashSaleCore
import Foundation
import Pipeline

/// `--html FILE`: one self-contained page (no network, no script: inline SVG drawn here) with the run's
/// figures, throughput and percentiles over time, the outcome mix over time, the latency distribution
/// (percentile spectrum on a log axis), the remaining stock per item over time (the sell-out curve), a
/// table per traffic phase, when each offer sold out, every item's units, the invariants and the metadata.
/// Figures a test reads carry ids (`throughput`, `p99`, `outcome-SOLD_OUT`, …) and show the JSON report's
/// values exactly. About 150 bytes per timeline interval: a 10-minute run at 1 s stays well under 200 KB.
public enum HTMLReport {
    public static func render(_ r: RunReport, latency: LatencyRecorder) -> String {
        var h = """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>flashsale: \(esc(r.profile))</title>
        <style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
        table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #eee;text-align:right}th:first-child,td:first-child{text-align:left}
        .fig{font-size:22px;font-weight:600}.k{color:#666}svg{background:#fafafa;border:1px solid #ddd}.pass{color:#070}.fail{color:#b00}</style></head><body>
        """
        h += "<h1>flashsale run: \(esc(r.profile))</h1>"
        if let m = r.metadata {
            h += "<p class=\"k\">flashsale \(esc(m.version))\(m.commit.map { " (" + esc(String($0.prefix(12))) + ")" } ?? "") · started <span id=\"started\">\(esc(m.startedAt))</span> · \(esc(m.host)) · \(esc(m.cpuModel)), \(m.cores) cores · \(esc(m.kernel))\(m.interrupted ? " · <b>interrupted</b>" : "")</p>"
        }
        let l = r.latencyMicros
        h += "<p><span class=\"k\">decisions/s</span> <span class=\"fig\" id=\"throughput\">\(Int(r.decisionsPerSecond.rounded()))</span> &nbsp; "
        h += "<span class=\"k\">requests</span> <span class=\"fig\" id=\"requests\">\(r.requests)</span> &nbsp; "
        h += "<span class=\"k\">p50</span> <span class=\"fig\" id=\"p50\">\(l.p50)</span> µs &nbsp; <span class=\"k\">p99</span> <span class=\"fig\" id=\"p99\">\(l.p99)</span> µs &nbsp; "
        h += "<span class=\"k\">p99.9</span> <span class=\"fig\" id=\"p999\">\(l.p999)</span> µs &nbsp; <span class=\"k\">max</span> <span id=\"max\">\(l.max)</span> µs "
        h += "<span class=\"k\">(\(esc(l.kind)) latency, over \(l.count) requests; \(SummaryFormatter.fixed(r.durationSeconds, 2)) s, \(r.lanes) lanes, durability \(esc(r.segments.durability)))</span></p>"
        let inv = r.invariants
        h += "<p>Invariants: <b id=\"invariants\" class=\"\(inv.passed ? "pass" : "fail")\">\(inv.passed ? "PASS" : "FAIL")</b> <span class=\"k\">oversold items \(inv.oversold), conservation violations \(inv.conservationViolations), segment mismatches \(inv.segmentMismatches + inv.outcomeMismatches)\(inv.checkedSegments ? " (read back)" : "")</span></p>"

        let t = r.timeline ?? []
        if !t.isEmpty {
            h += "<h2>Throughput over time (acknowledged per second)</h2>"
            h += chart(t.map { $0.seconds > 0 ? Double($0.acknowledged) / $0.seconds : 0 }, starts: t.map { $0.startSeconds + $0.seconds / 2 },
                       end: runEnd(t), series: [("acknowledged/s", "#1f77b4")], unit: "/s")
            h += "<h2>Latency over time (µs, log scale)</h2>"
            h += multiChart(t, lines: [("p50", "#2ca02c", { $0.p50Micros }), ("p99", "#ff7f0e", { $0.p99Micros }), ("max", "#d62728", { $0.maxMicros })])
            h += "<h2>Outcome mix over time</h2>" + outcomeMix(t)
            if t.contains(where: { $0.remaining != nil }), !r.items.isEmpty {
                h += "<h2>Remaining stock over time (the sell-out curve, share of each item's initial stock)</h2>" + stockCurve(t, items: r.items)
            }
        }
        if let phases = r.phases, !phases.isEmpty {
            h += "<h2>Phases</h2><p class=\"k\">Offered by send time; acknowledged, outcomes and latency (µs) by acknowledgement time (the timeline is cut at each phase's start).</p>"
            h += "<table id=\"phases\"><tr><th>#</th><th>phase</th><th>from s</th><th>seconds</th><th>offered</th><th>acknowledged</th><th>shed</th><th>top outcome</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th></tr>"
            for p in phases {
                let top = p.outcomes.max { ($0.value, $1.key) < ($1.value, $0.key) }.map { "\(esc($0.key)) \($0.value)" } ?? "-"
                h += "<tr><td>\(p.index + 1)</td><td>\(esc(p.shape))</td><td>\(SummaryFormatter.fixed(p.startSeconds, 1))</td><td>\(SummaryFormatter.fixed(p.seconds, 1))</td>"
                h += "<td id=\"phase-\(p.index)-offered\">\(p.offered)</td><td id=\"phase-\(p.index)-acknowledged\">\(p.acknowledged)</td><td>\(p.shed)</td><td>\(top)</td>"
                h += "<td>\(p.latencyMicros.p50)</td><td id=\"phase-\(p.index)-p99\">\(p.latencyMicros.p99)</td><td>\(p.latencyMicros.p999)</td><td>\(p.latencyMicros.max)</td></tr>"
            }
            h += "</table>"
        }
        h += "<h2>Latency distribution (percentile spectrum)</h2>" + spectrum(latency)
        h += "<h2>Outcomes</h2><table><tr><th>outcome</th><th>count</th><th>share</th></tr>"
        for (name, count) in r.outcomes.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) where count > 0 {
            let pct = r.decisions > 0 ? 100.0 * Double(count) / Double(r.decisions) : 0
            h += "<tr><td>\(esc(name))</td><td id=\"outcome-\(esc(name))\">\(count)</td><td>\(SummaryFormatter.fixed(pct, 2))%</td></tr>"
        }
        h += "</table>"
        if !r.offers.isEmpty {
            h += "<h2>Offers: the sell-out</h2><table><tr><th>offer</th><th>kind</th><th>initial</th><th>sold</th><th>held</th><th>remaining</th><th>sold out at</th></tr>"
            for o in r.offers {
                h += "<tr><td>\(esc(o.id))</td><td>\(o.kind)</td><td>\(o.initial)</td><td>\(o.sold)</td><td>\(o.held)</td><td>\(o.remaining)</td><td>\(o.soldOutAtSeconds.map { SummaryFormatter.fixed($0, 3) + " s" } ?? "-")</td></tr>"
            }
            h += "</table>"
        }
        if !r.items.isEmpty {
            h += "<h2>Items: every unit accounted for</h2><table><tr><th>item</th><th>initial</th><th>sold</th><th>held</th><th>remaining</th></tr>"
            for i in r.items.prefix(200) {
                h += "<tr><td>\(esc(i.id))</td><td>\(i.initial)</td><td>\(i.sold)</td><td>\(i.held)</td><td id=\"remaining-\(esc(i.id))\">\(i.remaining)</td></tr>"
            }
            h += "</table>"
        }
        if !t.isEmpty {
            h += "<h2>Intervals</h2><table><tr><th>start s</th><th>offered</th><th>acknowledged</th><th>shed</th><th>p50 µs</th><th>p99 µs</th><th>max µs</th><th>in flight</th></tr>"
            // The table is for short runs; a long one keeps the charts and every 10th row.
            let step = t.count > 120 ? 10 : 1
            for (i, x) in t.enumerated() where i % step == 0 {
                h += "<tr><td>\(SummaryFormatter.fixed(x.startSeconds, 1))</td><td>\(x.offered)</td><td>\(x.acknowledged)</td><td>\(x.shed)</td><td>\(x.p50Micros)</td><td>\(x.p99Micros)</td><td>\(x.maxMicros)</td><td>\(x.inFlight)</td></tr>"
            }
            h += "</table>"
        }
        h += "<p class=\"k\">Segments: \(r.segments.records) records, \(SummaryFormatter.bytes(Double(r.segments.bytes))) on disk, \(r.segments.fsyncs) fsyncs. Memory: peak RSS \(SummaryFormatter.bytes(Double(r.memory.peakRSSBytes))).</p>"
        return h + "</body></html>\n"
    }

    static let width = 1000.0, height = 220.0, pad = 40.0

    /// A line chart of one series over the run.
    /// Where the run's last interval ends (the charts' right edge).
    static func runEnd(_ t: [TimelineInterval]) -> Double { max((t.last.map { $0.startSeconds + $0.seconds }) ?? 1, 0.01) }

    static func chart(_ values: [Double], starts: [Double], end: Double, series: [(String, String)], unit: String) -> String {
        let top = max(values.max() ?? 1, 1)
        var pts = ""
        for (v, s) in zip(values, starts) { pts += "\(n(x(s, end))),\(n(y(v / top))) " }
        var svg = axes(yLabel: SummaryFormatter.human(top) + unit, end: end)
        svg += "<polyline fill=\"none\" stroke=\"\(series[0].1)\" stroke-width=\"1.5\" points=\"\(pts)\"/>"
        return wrap(svg)
    }

    /// Several latency lines on a log axis.
    static func multiChart(_ t: [TimelineInterval], lines: [(String, String, (TimelineInterval) -> UInt64)]) -> String {
        let top = max(Double(t.map { $0.maxMicros }.max() ?? 1), 10)
        let end = runEnd(t)
        var svg = axes(yLabel: GateMetric.latencyMax.format(top), end: end)
        for (i, (name, color, value)) in lines.enumerated() {
            var pts = ""
            for x0 in t where value(x0) > 0 { pts += "\(n(x(x0.startSeconds + x0.seconds / 2, end))),\(n(y(log10(Double(value(x0))) / log10(top)))) " }
            svg += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"\(pts)\"/>"
            svg += "<text x=\"\(n(pad + 10 + Double(i) * 70))\" y=\"14\" fill=\"\(color)\" font-size=\"12\">\(name)</text>"
        }
        return wrap(svg)
    }

    /// Stacked shares of the commonest outcomes, per interval.
    static func outcomeMix(_ t: [TimelineInterval]) -> String {
        var totals: [String: Int] = [:]
        for i in t { for (k, v) in i.outcomes { totals[k, default: 0] += v } }
        let names = totals.sorted { $0.value > $1.value }.prefix(6).map(\.key)
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
        let end = runEnd(t)
        var svg = axes(yLabel: "100%", end: end)
        var lower = [Double](repeating: 0, count: t.count)
        for (k, name) in names.enumerated() {
            var upper = lower
            for (i, x0) in t.enumerated() {
                let all = x0.outcomes.values.reduce(0, +)
                upper[i] = lower[i] + (all > 0 ? Double(x0.outcomes[name] ?? 0) / Double(all) : 0)
            }
            var pts = ""
            for (i, x0) in t.enumerated() { pts += "\(n(x(x0.startSeconds + x0.seconds / 2, end))),\(n(y(upper[i]))) " }
            for (i, x0) in t.enumerated().reversed() { pts += "\(n(x(x0.startSeconds + x0.seconds / 2, end))),\(n(y(lower[i]))) " }
            svg += "<polygon fill=\"\(colors[k])\" fill-opacity=\"0.75\" points=\"\(pts)\"/>"
            svg += "<text x=\"\(n(pad + 10 + Double(k) * 140))\" y=\"14\" fill=\"\(colors[k])\" font-size=\"12\">\(esc(name))</text>"
            lower = upper
        }
        return wrap(svg)
    }

    /// Remaining stock per item over time, as a share of its initial stock (items of any size on one axis):
    /// the eight items that sold the most, at most ~300 points each (a long run stays small).
    static func stockCurve(_ t: [TimelineInterval], items: [RunReport.ItemLine]) -> String {
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
        let shown = items.indices.filter { items[$0].initial > 0 }
            .sorted { Double(items[$0].sold) / Double(items[$0].initial) > Double(items[$1].sold) / Double(items[$1].initial) }.prefix(8)
        let end = runEnd(t)
        let step = max(1, t.count / 300)
        var svg = axes(yLabel: "100%", end: end)
        var legend = "<p class=\"k\">"
        for (k, item) in shown.enumerated() {
            var pts = "\(n(x(0, end))),\(n(y(1))) "
            for (i, x0) in t.enumerated() where i % step == 0 || i == t.count - 1 {
                guard let rem = x0.remaining, item < rem.count else { continue }
                pts += "\(n(x(x0.startSeconds + x0.seconds, end))),\(n(y(Double(rem[item]) / Double(items[item].initial)))) "
            }
            svg += "<polyline fill=\"none\" stroke=\"\(colors[k])\" stroke-width=\"1.5\" points=\"\(pts)\"/>"
            // The legend below the chart: every curve starts at the top left, where labels would sit.
            legend += "<span style=\"color:\(colors[k])\">■ \(esc(items[item].id))</span> &nbsp; "
        }
        return wrap(svg) + legend + (items.count > shown.count ? "(the \(shown.count) items that sold the largest share)" : "") + "</p>"
    }

    /// Latency against percentile, the percentile on HdrHistogram's log axis (1/(1−p)).
    static func spectrum(_ latency: LatencyRecorder) -> String {
        guard latency.count > 0 else { return "<p class=\"k\">no latency recorded</p>" }
        let ps: [Double] = [0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999]
        let top = max(Double(latency.maxMicros), 1)
        let span = log10(1 / (1 - 0.99999))
        var pts = "", labels = ""
        for p in ps {
            let xv = pad + (width - 2 * pad) * log10(1 / (1 - p / 100)) / span
            pts += "\(n(xv)),\(n(y(Double(latency.micros(atPercentile: p)) / top))) "
            labels += "<text x=\"\(n(xv - 12))\" y=\"\(n(height - 8))\" font-size=\"10\">\(p == p.rounded() ? String(Int(p)) : String(p))</text>"
        }
        var svg = "<line x1=\"\(pad)\" y1=\"\(height - pad)\" x2=\"\(width - pad)\" y2=\"\(height - pad)\" stroke=\"#999\"/>"
        svg += "<text x=\"4\" y=\"\(n(pad))\" font-size=\"11\">\(GateMetric.latencyMax.format(top))</text>" + labels
        svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"\(pts)\"/>"
        return wrap(svg)
    }

    static func axes(yLabel: String, end: Double) -> String {
        var s = "<line x1=\"\(pad)\" y1=\"\(height - pad)\" x2=\"\(width - pad)\" y2=\"\(height - pad)\" stroke=\"#999\"/>"
        s += "<line x1=\"\(pad)\" y1=\"\(pad / 2)\" x2=\"\(pad)\" y2=\"\(height - pad)\" stroke=\"#999\"/>"
        s += "<text x=\"4\" y=\"\(n(pad / 2 + 10))\" font-size=\"11\">\(esc(yLabel))</text>"
        for k in 0...4 {
            let sec = end * Double(k) / 4
            s += "<text x=\"\(n(x(sec, end) - 10))\" y=\"\(n(height - pad + 16))\" font-size=\"11\">\(SummaryFormatter.fixed(sec, end < 10 ? 1 : 0)) s</text>"
        }
        return s
    }

    static func wrap(_ inner: String) -> String { "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">\(inner)</svg>" }
    static func x(_ seconds: Double, _ end: Double) -> Double { pad + (width - 2 * pad) * min(max(seconds / end, 0), 1) }
    static func y(_ fraction: Double) -> Double { (height - pad) - (height - 1.5 * pad) * min(max(fraction, 0), 1) }
    /// One decimal: SVG coordinates.
    static func n(_ v: Double) -> String { String(Int((v * 10).rounded()) / 10) + "." + String(abs(Int((v * 10).rounded()) % 10)) }

    /// Text and attribute escaping: the one the JUnit file uses (HTML shares XML's five entities).
    static func esc(_ s: String) -> String { GateVerdict.escape(s) }
}
