import Foundation

/// `flashsale compare A B`: two runs (or two sets of runs) side by side, metric by metric, with the
/// absolute and relative difference; with several runs on a side, each metric is that side's median and
/// its spread (min…max), and a difference inside the spread of either side reads as noise.
public struct RunComparison: Sendable {
    public struct Row: Sendable, Equatable {
        public var metric: String
        /// "higher" is better (throughput) or "lower" (latency, memory); nil: neither (counts).
        public var better: Better?
        public var a: Double
        public var b: Double
        public var aSpread: ClosedRange<Double>?
        public var bSpread: ClosedRange<Double>?
        public var unit: String
        public var delta: Double { b - a }
        /// (b − a) / a; nil when a is 0.
        public var relative: Double? { a != 0 ? (b - a) / abs(a) : (b == 0 ? 0 : nil) }
        /// The difference lies within what either side's runs spread over.
        public var withinNoise: Bool {
            guard aSpread != nil || bSpread != nil else { return false }
            let width = max(aSpread.map { $0.upperBound - $0.lowerBound } ?? 0, bSpread.map { $0.upperBound - $0.lowerBound } ?? 0)
            return abs(delta) <= width
        }
        /// "within noise", "better", "worse" or "" (no difference, or a count that is neither).
        public var note: String {
            if withinNoise { return "within noise" }
            if let better, delta != 0 { return (delta > 0) == (better == .higher) ? "better" : "worse" }
            return ""
        }
    }
    public enum Better: String, Sendable { case higher, lower }

    public let rows: [Row]
    public let aRuns: Int
    public let bRuns: Int

    public init(a: [RunReport], b: [RunReport]) {
        aRuns = a.count
        bRuns = b.count
        var rows: [Row] = []
        func add(_ metric: String, _ better: Better?, _ unit: String, _ value: (RunReport) -> Double) {
            let av = a.map(value), bv = b.map(value)
            rows.append(Row(metric: metric, better: better, a: Gate.median(av), b: Gate.median(bv),
                            aSpread: av.count > 1 ? av.min()!...av.max()! : nil, bSpread: bv.count > 1 ? bv.min()!...bv.max()! : nil,
                            unit: unit))
        }
        add("decisions_per_second", .higher, "/s") { $0.decisionsPerSecond }
        add("requests", nil, "") { Double($0.requests) }
        add("duration_seconds", nil, "s") { $0.durationSeconds }
        add("p50", .lower, "µs") { Double($0.latencyMicros.p50) }
        add("p90", .lower, "µs") { Double($0.latencyMicros.p90) }
        add("p99", .lower, "µs") { Double($0.latencyMicros.p99) }
        add("p99.9", .lower, "µs") { Double($0.latencyMicros.p999) }
        add("p99.99", .lower, "µs") { Double($0.latencyMicros.p9999) }
        add("max", .lower, "µs") { Double($0.latencyMicros.max) }
        add("mean", .lower, "µs") { $0.latencyMicros.mean }
        let outcomes = Set(a.flatMap { $0.outcomes.filter { $0.value > 0 }.keys } + b.flatMap { $0.outcomes.filter { $0.value > 0 }.keys }).sorted()
        for o in outcomes { add("outcome.\(o)", nil, "") { Double($0.outcomes[o] ?? 0) } }
        add("peak_rss", .lower, "B") { Double($0.memory.peakRSSBytes) }
        add("journal_bytes", .lower, "B") { Double($0.segments.bytes) }
        add("journal_records", nil, "") { Double($0.segments.records) }
        self.rows = rows
    }

    /// The table `flashsale compare` prints.
    public func table(aName: String, bName: String) -> String {
        var lines: [[String]] = [["metric", aName + (aRuns > 1 ? " (median of \(aRuns))" : ""), bName + (bRuns > 1 ? " (median of \(bRuns))" : ""), "delta", "relative", ""]]
        for r in rows {
            lines.append([r.metric, Self.show(r.a, r.unit, r.aSpread), Self.show(r.b, r.unit, r.bSpread), Self.signed(r.delta, r.unit),
                          r.relative.map { Self.percent($0) } ?? "-", r.note])
        }
        let widths = (0..<6).map { c in lines.map { TerminalColumns.width(of: $0[c]) }.max() ?? 0 }
        return lines.enumerated().map { i, l in
            let row = (0..<6).map { c in c == 0 || c == 5 ? TerminalColumns.padded(l[c], to: widths[c]) : TerminalColumns.leftPadded(l[c], to: widths[c]) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
            return i == 0 ? row + "\n" + String(repeating: "-", count: widths.reduce(0, +) + 10) : row
        }.joined(separator: "\n") + "\n"
    }

    static func show(_ v: Double, _ unit: String, _ spread: ClosedRange<Double>?) -> String {
        let s = value(v, unit)
        guard let spread else { return s }
        return s + " [" + value(spread.lowerBound, unit) + "…" + value(spread.upperBound, unit) + "]"
    }

    static func value(_ v: Double, _ unit: String) -> String {
        switch unit {
        case "µs": return GateMetric.latencyPercentile(50).format(v)
        case "B": return SummaryFormatter.bytes(v)
        case "/s": return SummaryFormatter.human(v) + "/s"
        case "s": return SummaryFormatter.fixed(v, 2) + " s"
        default: return v == v.rounded() && abs(v) < 1e15 ? "\(Int64(v))" : SummaryFormatter.fixed(v, 2)
        }
    }

    static func signed(_ v: Double, _ unit: String) -> String { (v > 0 ? "+" : v < 0 ? "-" : "") + value(abs(v), unit) }
    static func percent(_ r: Double) -> String { (r > 0 ? "+" : "") + SummaryFormatter.fixed(r * 100, 1) + "%" }

    /// One side in words: profile, runs, and the first run's start, CPU and commit.
    public static func describe(_ runs: [RunReport]) -> String {
        guard let r = runs.first else { return "no run" }
        var s = "\(r.profile), \(runs.count == 1 ? "1 run" : "\(runs.count) runs")"
        if let m = r.metadata { s += ", \(m.startedAt), \(m.cpuModel)" + (m.commit.map { ", \($0.prefix(12))" } ?? "") }
        return s
    }

    /// Reads one report, or several (a JSON array of reports, e.g. several `--report` files put together).
    public static func load(_ path: String) throws -> [RunReport] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ComparisonError(message: "\(path): cannot read: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
        if let one = try? RunReport.decode(data) { return [one] }
        if let many = try? ReportJSON.decoder().decode([RunReport].self, from: data), !many.isEmpty { return many }
        // Say what is wrong with it as a single report.
        do { _ = try RunReport.decode(data) } catch let DecodingError.keyNotFound(key, ctx) {
            throw ComparisonError(message: "\(path): not a run report: missing \((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ComparisonError(message: "\(path): not a run report: \(ctx.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch {
            throw ComparisonError(message: "\(path): not a run report (written by run --report): \(error)")
        }
        throw ComparisonError(message: "\(path): not a run report")
    }
}

public struct ComparisonError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
