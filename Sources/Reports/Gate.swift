import Pipeline
import FlashSaleCore
import Foundation

/// What a gate compares a run against: the medians of earlier runs.
public struct GateBaseline: Codable, Sendable, Equatable {
    public var profile: String
    public var runs: Int
    /// Metric name (as `GateMetric.description`) → median value in the metric's base unit.
    public var metrics: [String: Double]
    /// What the latency figures measure ("acknowledgement" or "queueing"); nil in baselines written
    /// before it was recorded.
    public var latencyKind: String?
    /// The journal the runs wrote: durability ("none", "batch", "sync") and LZ4 acceleration; nil in
    /// baselines written before they were recorded.
    public var durability: String?
    public var lz4Acceleration: Int?
    /// The load: lanes, and the rate ("max", "profile" for the profile's phases, or "N/s"); nil in older baselines.
    public var lanes: Int?
    public var rate: String?
    /// The workload by content: a digest of the profile's text (and a replay's capture), so that a moved
    /// profile still matches and an edited one does not; nil in older baselines (compared by path then).
    public var workload: String?
    /// Every run's value of each metric (its spread shows in the comparison); nil in older baselines.
    public var values: [String: [Double]]?

    public init(profile: String, runs: Int, metrics: [String: Double], latencyKind: String? = nil,
                durability: String? = nil, lz4Acceleration: Int? = nil, lanes: Int? = nil, rate: String? = nil,
                workload: String? = nil, values: [String: [Double]]? = nil) {
        self.profile = profile
        self.runs = runs
        self.metrics = metrics
        self.latencyKind = latencyKind
        self.durability = durability
        self.lz4Acceleration = lz4Acceleration
        self.lanes = lanes
        self.rate = rate
        self.workload = workload
        self.values = values
    }

    /// Why runs of `profile` (latency of `latencyKind`, a journal of `durability` and `lz4Acceleration`)
    /// cannot be compared with this baseline, or nil: a baseline compares like with like.
    public func mismatch(profile: String, latencyKind: String?, durability: String? = nil, lz4Acceleration: Int? = nil,
                         lanes: Int? = nil, rate: String? = nil, workload: String? = nil) -> String? {
        if let mine = self.workload, let theirs = workload {
            // By content: the path may differ (a moved profile), the text may not.
            if mine != theirs {
                return "it was measured on a workload with other content (digest \(mine), \(self.profile)); this gate runs \(theirs) (\(profile)): the profile (or capture) changed"
            }
        } else if Self.normalisedLabel(profile) != Self.normalisedLabel(self.profile) {
            // "./P/x.yaml" and "P/x.yaml" are one profile.
            return "it was measured on \(self.profile), this gate runs \(profile)"
        }
        if let mine = self.latencyKind, let theirs = latencyKind, mine != theirs {
            return "its latency is \(mine) time, this gate measures \(theirs) time (--rate max measures queueing)"
        }
        if let mine = self.durability, let theirs = durability, mine != theirs {
            return "it was measured with --durability \(mine), this gate runs --durability \(theirs)"
        }
        if let mine = self.lz4Acceleration, let theirs = lz4Acceleration, mine != theirs {
            return "it was measured with --lz4-acceleration \(mine), this gate runs --lz4-acceleration \(theirs)"
        }
        if let mine = self.lanes, let theirs = lanes, mine != theirs {
            return "it was measured with --lanes \(mine), this gate runs --lanes \(theirs)"
        }
        if let mine = self.rate, let theirs = rate, mine != theirs {
            return "it was measured at rate \(mine), this gate runs at rate \(theirs)"
        }
        return nil
    }

    /// A gate's label with its paths made absolute: "P", "built-in:NAME" or "replay:CAPTURE on P".
    static func normalisedLabel(_ label: String) -> String {
        func one(_ p: String) -> String { p.hasPrefix("built-in:") ? p : Paths.absolute(p) }
        if label.hasPrefix("replay:"), let on = label.range(of: " on ") {
            return "replay:" + one(String(label[label.index(label.startIndex, offsetBy: 7)..<on.lowerBound]))
                + " on " + one(String(label[on.upperBound...]))
        }
        return one(label)
    }

    /// The metrics a baseline records and a comparison checks.
    public static let compared: [GateMetric] = [.decisionsPerSecond, .latencyPercentile(50), .latencyPercentile(99)]

    public static func load(_ path: String) throws(GateError) -> GateBaseline {
        let expected = "expected a baseline written by `flashsale gate --update-baseline`"
        // Why a file cannot be read, as `capture import` and profiles say it: a bare "cannot read it" hides the fix.
        if let why = unreadableReason(path) {
            throw GateError.badBaseline(path, "cannot read it: \(why) (\(expected))")
        }
        let data: Data
        do {
            // FileHandle, not FileManager.contents: the latter refuses character devices such as /dev/null.
            data = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)).readToEnd() ?? Data()
        } catch {
            throw GateError.badBaseline(path, "cannot read it: \(error.localizedDescription)")
        }
        guard !data.isEmpty else { throw GateError.badBaseline(path, "empty file; \(expected)") }
        guard (try? JSONSerialization.jsonObject(with: data)) != nil else {
            throw GateError.badBaseline(path, "not JSON; \(expected)")
        }
        let baseline: GateBaseline
        do { baseline = try ReportJSON.decoder().decode(GateBaseline.self, from: data).withCurrentNames() } catch {
            throw GateError.badBaseline(path, "not a baseline written by `flashsale gate --update-baseline` (\(error))")
        }
        if let why = baseline.unusableMetric() { throw GateError.badBaseline(path, why) }
        return baseline
    }

    /// Why a compared metric makes this baseline unusable (missing, negative, not finite, or 0), nil when
    /// every one is usable. Checked when a baseline is loaded and before one is written.
    public func unusableMetric() -> String? {
        // A metric missing or out of range would silently drop its check, or make it meaningless.
        for m in Self.compared {
            guard let v = metrics[m.description] else { return "metrics lacks \(m); write a new one with --update-baseline" }
            guard v.isFinite, v >= 0 else { return "\(m) is \(v); expected a finite value ≥ 0" }
            // Compared by a factor of (1 + tolerance), a zero is no baseline: a throughput floor of 0 passes
            // every run, a latency ceiling of 0 fails every run that measures any latency.
            guard v > 0 else {
                let why = m.higherIsBetter ? "its floor, 0 ÷ (1 + tolerance), would pass any run"
                                           : "its ceiling, 0 × (1 + tolerance), would fail any run that measures a latency"
                return "metrics.\(m) is 0: \(why); expected a value > 0 (write a new one with --update-baseline)"
            }
        }
        return nil
    }

    public func write(_ path: String) throws {
        try ReportJSON.encoder().encode(self).write(to: URL(fileURLWithPath: path))
    }

    /// The metrics under their current names (`p50`, `decisions_per_second`): a baseline written by 0.13
    /// keyed them `p(50)` and `decisions_per_s`.
    func withCurrentNames() -> GateBaseline {
        var b = self
        func renamed<V>(_ d: [String: V]) -> [String: V] {
            Dictionary(d.map { (GateMetric(name: $0.key)?.description ?? $0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        }
        b.metrics = renamed(metrics)
        b.values = values.map(renamed)
        return b
    }
}

/// One line of a gate's verdict table.
public struct GateCheckResult: Sendable, Equatable {
    public var check: String
    public var expected: String
    public var measured: String
    public var passed: Bool
}

/// Judges repeated runs against thresholds and a baseline, on the median of each metric.
public enum Gate {
    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    public static func median(_ metric: GateMetric, of reports: [RunReport], latencies: [LatencyRecorder]? = nil) -> Double {
        median(reports.indices.map { i in metric.value(in: reports[i], latency: latencies.flatMap { i < $0.count ? $0[i] : nil }) })
    }

    /// Parses a tolerance: `10%` or the fraction `0.1`; below 1000%.
    public static func parseTolerance(_ text: String) throws(GateError) -> Double {
        let t = text.trimmingCharacters(in: .whitespaces)
        let value: Double?
        // A bare number is a fraction, and only below 1: "1" could mean 1% or 100%, so it needs its "%".
        if t.hasSuffix("%") { value = Double(t.dropLast()).map { $0 / 100 } } else if let v = Double(t), v < 1 { value = v } else { value = nil }
        guard let v = value, v >= 0, v < 10 else { throw GateError.badTolerance(text) }
        return v
    }

    public static func baseline(from reports: [RunReport], profile: String, rate: String? = nil, workload: String? = nil) -> GateBaseline {
        var metrics: [String: Double] = [:]
        var values: [String: [Double]] = [:]
        for m in GateBaseline.compared {
            metrics[m.description] = median(m, of: reports)
            values[m.description] = reports.map { m.value(in: $0) }
        }
        return GateBaseline(profile: profile, runs: reports.count, metrics: metrics, latencyKind: reports.first?.latencyMicros.kind,
                            durability: reports.first?.segments.durability, lz4Acceleration: reports.first?.segments.lz4Acceleration,
                            lanes: reports.first?.lanes, rate: rate, workload: workload, values: values)
    }

    /// `latencies`: each run's histogram, for percentiles the reports do not keep (optional).
    public static func evaluate(thresholds: [GateThreshold], reports: [RunReport], latencies: [LatencyRecorder]? = nil,
                                baseline: GateBaseline?, tolerance: Double) -> [GateCheckResult] {
        var results: [GateCheckResult] = []
        if reports.contains(where: { $0.target != nil }) {
            // Against a server the invariants are the server's; what the client can hold it to is that
            // every request it sent was answered (no time-out, nothing lost with a connection).
            let unanswered = reports.map { r in r.target.map { $0.sent - $0.answered } ?? 0 }
            let failed = unanswered.filter { $0 > 0 }.count
            results.append(GateCheckResult(check: "answers", expected: "every request answered in every run",
                                           measured: failed == 0 ? "all in \(reports.count)/\(reports.count)"
                                               : "\(unanswered.reduce(0, +)) unanswered in \(failed)/\(reports.count)",
                                           passed: failed == 0))
        } else {
            let failedRuns = reports.filter { !$0.invariants.passed }.count
            results.append(GateCheckResult(check: "invariants", expected: "pass in every run",
                                           measured: failedRuns == 0 ? "pass in \(reports.count)/\(reports.count)" : "FAILED in \(failedRuns)/\(reports.count)",
                                           passed: failedRuns == 0))
        }
        // A run that offered nothing (too short, too slow a rate) would pass every latency bound with 0 µs.
        let emptyRuns = reports.filter { $0.requests == 0 }.count
        results.append(GateCheckResult(check: "runs offered requests", expected: "> 0 in every run",
                                       measured: emptyRuns == 0 ? "> 0 in \(reports.count)/\(reports.count)" : "0 in \(emptyRuns)/\(reports.count)",
                                       passed: emptyRuns == 0))
        for t in thresholds {
            let v = median(t.metric, of: reports, latencies: latencies)
            results.append(GateCheckResult(check: t.text, expected: "\(t.metric) \(t.comparison.rawValue) \(t.metric.format(t.limit))",
                                           measured: t.metric.format(v), passed: t.comparison.holds(v, t.limit)))
        }
        if let baseline {
            for m in GateBaseline.compared {
                guard let base = baseline.metrics[m.description] else { continue }
                let v = median(m, of: reports)
                let pct = SummaryFormatter.fixed(tolerance * 100, 1) + "%"
                // The baseline's own runs spread over [min…max]: a change inside it is noise.
                let spread = baseline.values?[m.description].flatMap { v in v.count > 1 ? "; its runs \(m.format(v.min()!))…\(m.format(v.max()!))" : nil } ?? ""
                if m.higherIsBetter {
                    // A factor of (1 + tolerance) worse, as for latency: a floor that never reaches zero, so a
                    // large tolerance (150% for a noisy p99) still leaves a throughput check that can fail.
                    let floor = base / (1 + tolerance)
                    results.append(GateCheckResult(check: "baseline \(m)", expected: "≥ \(m.format(floor)) (\(m.format(base)) ÷ (1 + \(pct))\(spread))",
                                                   measured: m.format(v) + change(v, base), passed: v >= floor))
                } else {
                    let ceiling = base * (1 + tolerance)
                    results.append(GateCheckResult(check: "baseline \(m)", expected: "≤ \(m.format(ceiling)) (\(m.format(base)) × (1 + \(pct))\(spread))",
                                                   measured: m.format(v) + change(v, base), passed: v <= ceiling))
                }
            }
        }
        return results
    }

    static func change(_ v: Double, _ base: Double) -> String {
        guard base != 0 else { return "" }
        let pct = (v - base) / base * 100
        return " (" + (pct >= 0 ? "+" : "") + SummaryFormatter.fixed(pct, 1) + "%)"
    }

    /// The verdict table: check, expected, measured (median), verdict.
    public static func table(_ results: [GateCheckResult]) -> String {
        let headers = ["check", "expected", "measured (median)", "verdict"]
        let rows = results.map { [$0.check, $0.expected, $0.measured, $0.passed ? "PASS" : "FAIL"] }
        var widths = headers.map(TerminalColumns.width(of:))
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], TerminalColumns.width(of: cell)) } }
        func render(_ row: [String]) -> String {
            row.enumerated().map { i, cell in i == row.count - 1 ? cell : TerminalColumns.padded(cell, to: widths[i]) }
                .joined(separator: "  ")
        }
        var out = render(headers) + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for row in rows { out += render(row) + "\n" }
        let failed = results.filter { !$0.passed }.count
        let checks = results.count == 1 ? "check" : "checks"
        out += failed == 0 ? "gate: PASS (\(results.count) \(checks))\n" : "gate: FAIL (\(failed) of \(results.count) \(checks) failed)\n"
        return out
    }
}
