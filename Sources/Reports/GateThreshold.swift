import Pipeline
import FlashSaleCore

/// One k6-style threshold of a performance gate, such as `decisions_per_second>2000000`, `p99<5ms` or
/// `outcome.OVERLOAD==0`. Metric names are the run report's JSON names (docs/report.md); k6's `p(99)`
/// and the names of 0.13 (`decisions_per_s`) are accepted too.
///
/// Values are kept in the metric's base unit: latency in microseconds, memory in bytes, rates per
/// second, shares as fractions. Units and suffixes are accepted on the right-hand side:
/// `500us`, `5ms`, `1.5s`; `512MB`, `1GiB`; `2M`, `250k`; `5%` (for shares only, `outcome_share.*`).
public struct GateThreshold: Sendable, Equatable, CustomStringConvertible {
    public enum Comparison: String, Sendable, CaseIterable {
        case lessOrEqual = "<=", greaterOrEqual = ">=", equal = "==", notEqual = "!=", less = "<", greater = ">"

        public func holds(_ measured: Double, _ limit: Double) -> Bool {
            switch self {
            case .less: measured < limit
            case .lessOrEqual: measured <= limit
            case .greater: measured > limit
            case .greaterOrEqual: measured >= limit
            case .equal: measured == limit
            case .notEqual: measured != limit
            }
        }
    }

    public var metric: GateMetric
    public var comparison: Comparison
    public var limit: Double
    /// The threshold as written.
    public var text: String

    public var description: String { text }

    public init(parsing text: String) throws(GateError) {
        let trimmed = text.filter { !$0.isWhitespace }
        // Two-character operators first, so that `<=` is not read as `<`.
        let ordered: [Comparison] = [.lessOrEqual, .greaterOrEqual, .equal, .notEqual, .less, .greater]
        guard let (comparison, range) = ordered.lazy.compactMap({ c in trimmed.range(of: c.rawValue).map { (c, $0) } }).first
        else { throw GateError.badThreshold(text, "expected METRIC OP VALUE, e.g. p99<5ms or decisions_per_second>2000000") }
        let name = String(trimmed[..<range.lowerBound])
        let valueText = String(trimmed[range.upperBound...])
        guard let metric = GateMetric(name: name) else {
            throw GateError.badThreshold(text, "unknown metric '\(name)'\(GateMetric.hint(forUnknown: name)); known: \(GateMetric.catalogue)")
        }
        // Only a share is a fraction of something: on a count, rate, time or size "%" would quietly
        // divide the bound by 100 (`decisions_per_second>50%` read as "> 0.5/s", a check that cannot fail).
        if valueText.hasSuffix("%"), !metric.isShare {
            throw GateError.badThreshold(text, "a percentage applies only to outcome_share.* (a share of decisions); "
                                         + "\(metric) is \(metric.kindInWords): give \(metric.unitHelp)\(metric.shareHint)")
        }
        guard let limit = metric.parseValue(valueText) else {
            throw GateError.badThreshold(text, "cannot read '\(valueText)' as \(metric.unitHelp)")
        }
        // Every metric is a count, rate, time, share or size: a negative bound is a typo, not a check.
        guard limit >= 0, limit.isFinite else {
            throw GateError.badThreshold(text, "expected a value ≥ 0 (\(metric.unitHelp)), got '\(valueText)'")
        }
        self.metric = metric
        self.comparison = comparison
        self.limit = limit
        self.text = text
    }
}

/// A figure of a run that a gate can check.
public enum GateMetric: Sendable, Equatable, Hashable, CustomStringConvertible {
    case decisionsPerSecond
    case requestsPerSecond
    case requests
    case durationSeconds
    /// Latency at a percentile (0...100), microseconds.
    case latencyPercentile(Double)
    case latencyMax
    case latencyMin
    case latencyMean
    /// Count of an outcome (by its report name, e.g. `SOLD_OUT`).
    case outcome(String)
    /// Share of decisions with an outcome (0...1).
    case outcomeShare(String)
    case shed
    case peakRSS
    case oversold
    case conservationViolations
    case segmentMismatches

    /// The percentiles a report carries (and so a threshold may name).
    public static let reportedPercentiles: [Double] = [50, 90, 99, 99.9, 99.99]

    public static let catalogue = "decisions_per_second, requests_per_second, requests, duration_seconds, pN for any 0 < N < 100 (e.g. p95, p99.99; "
        + "k6's p(95) too), min, max, mean, outcome.NAME, outcome_share.NAME, shed, peak_rss, oversold, conservation_violations, segment_mismatches"

    public init?(name raw: String) {
        // Case and underscores do not matter (`decisions_per_second`, `decisionsPerSecond`); 0.13's
        // names (`decisions_per_s`, `duration_s`) stay accepted.
        let name = raw.lowercased()
        let folded = name.replacingOccurrences(of: "_", with: "")
        switch folded {
        case "decisionspersecond", "decisionspers", "decisions/s", "throughput": self = .decisionsPerSecond
        case "requestspersecond", "requestspers", "offeredpersecond", "offeredpers": self = .requestsPerSecond
        case "requests": self = .requests
        case "durationseconds", "durations", "duration": self = .durationSeconds
        case "max", "p(100)", "p100", "latency.max", "latencymicros.max": self = .latencyMax
        case "min", "p(0)", "p0", "latency.min", "latencymicros.min": self = .latencyMin
        case "mean", "avg", "latency.mean", "latencymicros.mean": self = .latencyMean
        case "shed": self = .shed
        case "peakrss", "peakrssbytes", "memory.peakrss", "memory.peakrssbytes": self = .peakRSS
        case "oversold": self = .oversold
        case "conservationviolations": self = .conservationViolations
        case "segmentmismatches": self = .segmentMismatches
        default:
            // Any percentile, `p99.9` or k6's `p(99.9)`: the gate reads it from each run's histogram (the
            // report keeps five of them).
            var digits = Substring(folded)
            if digits.hasPrefix("latencymicros.") { digits = digits.dropFirst(14) }
            let isPercentile = digits.hasPrefix("p")
            if digits.hasPrefix("p("), digits.hasSuffix(")") { digits = digits.dropFirst(2).dropLast() } else if isPercentile { digits = digits.dropFirst() }
            if isPercentile, !digits.isEmpty, let p = Double(digits), p > 0, p < 100 {
                self = .latencyPercentile(p)
            } else if name.hasPrefix("outcome."), let o = Self.outcomeName(String(raw.dropFirst(8))) {
                self = .outcome(o)
            } else if folded.hasPrefix("outcomeshare."), let dot = raw.firstIndex(of: "."),
                      let o = Self.outcomeName(String(raw[raw.index(after: dot)...])) {
                self = .outcomeShare(o)
            } else {
                return nil
            }
        }
    }

    /// A hint for a name that is not a metric but looks like one (`p999`: the percentile is p99.9).
    static func hint(forUnknown raw: String) -> String {
        let n = raw.lowercased()
        if n.hasPrefix("p"), let v = Double(n.dropFirst()), v >= 100, n.dropFirst().allSatisfy(\.isNumber) {
            let digits = String(n.dropFirst())
            return " (a percentile is written with its point: p\(digits.prefix(2)).\(digits.dropFirst(2)))"
        }
        return ""
    }

    /// An outcome's report name (`SOLD_OUT`) from any spelling `Outcome(name:)` accepts.
    static func outcomeName(_ s: String) -> String? { Outcome(name: s)?.name }

    public var description: String {
        switch self {
        case .decisionsPerSecond: "decisions_per_second"
        case .requestsPerSecond: "requests_per_second"
        case .requests: "requests"
        case .durationSeconds: "duration_seconds"
        case .latencyPercentile(let p): "p\(p == p.rounded() ? String(Int(p)) : String(p))"
        case .latencyMax: "max"
        case .latencyMin: "min"
        case .latencyMean: "mean"
        case .outcome(let o): "outcome.\(o)"
        case .outcomeShare(let o): "outcome_share.\(o)"
        case .shed: "shed"
        case .peakRSS: "peak_rss"
        case .oversold: "oversold"
        case .conservationViolations: "conservation_violations"
        case .segmentMismatches: "segment_mismatches"
        }
    }

    /// Whether a larger value is better (for baseline regressions).
    public var higherIsBetter: Bool {
        switch self {
        case .decisionsPerSecond, .requestsPerSecond: true
        default: false
        }
    }

    var isLatency: Bool {
        switch self {
        case .latencyPercentile, .latencyMax, .latencyMin, .latencyMean: true
        default: false
        }
    }

    /// Whether the metric is a fraction (0...1), the only kind of value a percentage can express.
    var isShare: Bool {
        if case .outcomeShare = self { return true }
        return false
    }

    /// What kind of figure the metric is, for messages ("a count", "a rate per second").
    var kindInWords: String {
        if isLatency { return "a latency" }
        switch self {
        case .decisionsPerSecond, .requestsPerSecond: return "a rate per second"
        case .durationSeconds: return "a time in seconds"
        case .peakRSS: return "a size"
        case .outcomeShare: return "a share"
        default: return "a count"
        }
    }

    /// Where a share of this metric's figure can be checked, if anywhere ("; for a share use outcome_share.…").
    var shareHint: String {
        switch self {
        case .outcome(let o): "; for a share use outcome_share.\(o)"
        case .shed: "; for a share use outcome_share.OVERLOAD (shed requests are OVERLOAD decisions)"
        default: ""
        }
    }

    var unitHelp: String {
        if isLatency { return "a duration with its unit (e.g. 800us, 5ms, 1.2s)" }
        if self == .peakRSS { return "a size (e.g. 512MB, 1GiB)" }
        if case .outcomeShare = self { return "a share from 0% to 100% (e.g. 5% or 0.05)" }
        return "a number (e.g. 2000000, 2M, 250k)"
    }

    /// The value of this metric in `report`; a percentile the report does not keep comes from `latency`
    /// (the run's histogram), or else from the report's next higher one.
    public func value(in r: RunReport, latency: LatencyRecorder? = nil) -> Double {
        if case .latencyPercentile(let p) = self, !Self.reportedPercentiles.contains(p) {
            if let latency { return Double(latency.micros(atPercentile: p)) }
            let l = r.latencyMicros
            return Double(p <= 50 ? l.p50 : p <= 90 ? l.p90 : p <= 99 ? l.p99 : p <= 99.9 ? l.p999 : l.p9999)
        }
        if case .latencyMin = self { return Double(latency.map { $0.minMicros } ?? r.latencyMicros.min ?? 0) }
        return switch self {
        case .decisionsPerSecond: r.decisionsPerSecond
        case .requestsPerSecond: r.load.offeredPerSecond
        case .requests: Double(r.requests)
        case .durationSeconds: r.durationSeconds
        case .latencyPercentile(let p):
            switch p {
            case 50: Double(r.latencyMicros.p50)
            case 90: Double(r.latencyMicros.p90)
            case 99: Double(r.latencyMicros.p99)
            case 99.9: Double(r.latencyMicros.p999)
            default: Double(r.latencyMicros.p9999)
            }
        case .latencyMax: Double(r.latencyMicros.max)
        case .latencyMin: Double(r.latencyMicros.min ?? 0)
        case .latencyMean: r.latencyMicros.mean
        case .outcome(let o): Double(r.outcomes[o] ?? 0)
        case .outcomeShare(let o): r.decisions > 0 ? Double(r.outcomes[o] ?? 0) / Double(r.decisions) : 0
        case .shed: Double(r.load.shed)
        case .peakRSS: Double(r.memory.peakRSSBytes)
        case .oversold: Double(r.invariants.oversold)
        case .conservationViolations: Double(r.invariants.conservationViolations)
        case .segmentMismatches: Double(r.invariants.segmentMismatches + r.invariants.outcomeMismatches)
        }
    }

    /// Reads a right-hand-side value in this metric's base unit.
    func parseValue(_ text: String) -> Double? {
        var t = text.lowercased()
        func number(_ s: Substring) -> Double? { Double(s).flatMap { $0.isFinite ? $0 : nil } }
        if isLatency {
            for (suffix, factor) in [("us", 1.0), ("µs", 1.0), ("ms", 1000.0), ("s", 1_000_000.0)] where t.hasSuffix(suffix) {
                return number(t.dropLast(suffix.count)).map { $0 * factor }
            }
            // No bare numbers: k6 reads `p(99)<200` as milliseconds, other tools as microseconds;
            // a check that silently means the other unit is worse than one that asks for a unit.
            return nil
        }
        if self == .peakRSS {
            for (suffix, factor) in [("kib", 1024.0), ("mib", 1048576.0), ("gib", 1073741824.0),
                                     ("kb", 1e3), ("mb", 1e6), ("gb", 1e9), ("b", 1.0)] where t.hasSuffix(suffix) {
                return number(t.dropLast(suffix.count)).map { $0 * factor }
            }
            return number(Substring(t))
        }
        if case .outcomeShare = self {
            let share = t.hasSuffix("%") ? number(t.dropLast()).map { $0 / 100 } : number(Substring(t))
            return share.flatMap { (0...1).contains($0) ? $0 : nil }
        }
        if t.hasSuffix("/s") { t.removeLast(2) }
        for (suffix, factor) in [("k", 1e3), ("m", 1e6), ("g", 1e9)] where t.hasSuffix(suffix) {
            return number(t.dropLast()).map { $0 * factor }
        }
        return number(Substring(t))
    }

    /// A measured value in words, with its unit.
    public func format(_ v: Double) -> String {
        // One latency unit in every output (summary, JSON, .hgrm, gate, baseline): µs.
        if isLatency { return SummaryFormatter.fixed(v, v == v.rounded() || v >= 100 ? 0 : 1) + " µs" }
        if self == .peakRSS { return SummaryFormatter.bytes(v) }
        if case .outcomeShare = self { return SummaryFormatter.fixed(v * 100, 3) + "%" }
        if self == .durationSeconds { return SummaryFormatter.fixed(v, 3) + " s" }
        let rate = self == .decisionsPerSecond || self == .requestsPerSecond
        if v == v.rounded() && abs(v) < 1e4 { return String(Int(v)) + (rate ? "/s" : "") }
        if abs(v) < 1e4 && !rate { return SummaryFormatter.fixed(v, 3) }   // 0.5 must not print as "0"
        return SummaryFormatter.human(v) + (rate ? "/s" : "")
    }
}

/// A gate that could not be set up (bad threshold, unreadable baseline).
public enum GateError: Error, CustomStringConvertible, Equatable {
    case badThreshold(String, String)
    case badBaseline(String, String)
    case badTolerance(String)

    public var description: String {
        switch self {
        case .badThreshold(let t, let why): "threshold '\(t)': \(why)"
        case .badBaseline(let path, let why): "baseline \(path): \(why)"
        case .badTolerance(let t): "tolerance '\(t)': expected a percentage such as 10% (or a fraction below 1 such as 0.1), below 1000%"
        }
    }
}
