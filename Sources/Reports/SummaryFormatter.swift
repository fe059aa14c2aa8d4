import FlashSaleCore
import Foundation

/// Renders a `RunReport` as the human-readable end-of-run summary.
public enum SummaryFormatter {
    /// - Parameter replay: the run sent a capture (its traffic has no seed; `r.profile` is "replay:CAPTURE on PROFILE").
    public static func render(_ r: RunReport, replay: Bool = false) -> String {
        var s = ""
        func line(_ text: String = "") { s += text + "\n" }
        if let t = r.target { return renderTarget(r, t, replay: replay) }
        if replay {
            let what = r.profile.hasPrefix("replay:") ? String(r.profile.dropFirst(7)) : r.profile
            line("flashsale replay: \(what)  lanes \(r.lanes)  durability \(r.segments.durability)")
        } else {
            line("flashsale run: \(r.profile)  seed \(r.seed)  lanes \(r.lanes)  durability \(r.segments.durability)")
        }
        // What "decided" counts: answers to requests; hold expiries and requests shed are said apart.
        let shedCount = r.outcomes[Outcome.overload.name] ?? 0
        let expiries = r.expiries ?? 0
        let answered = max(0, r.decisions - shedCount - expiries)
        let seconds = max(r.durationSeconds, 1e-9)
        var extra: [String] = []
        if expiries > 0 { extra.append("\(expiries) hold expiries") }
        if shedCount > 0 { extra.append("\(shedCount) shed") }
        line("  \(r.load.mode) load: \(r.requests) requests in \(fixed(r.durationSeconds, 2)) s"
             + " (offered \(human(r.load.offeredPerSecond))/s); \(answered) decided (\(human(Double(answered) / seconds))/s)"
             + (extra.isEmpty ? "" : "; journaled too: " + extra.joined(separator: ", ")))
        if r.load.shed > 0 || r.load.sourceWaitSeconds > 0.001 {
            line("  overload policy \(r.load.overloadPolicy): \(r.load.shed) shed (OVERLOAD), source waited \(fixed(r.load.sourceWaitSeconds, 2)) s")
        }
        if r.resumedRecords > 0 { line("  resumed a campaign: \(r.resumedRecords) records rebuilt from the segments") }
        line()
        line("Outcomes")
        s += outcomeLines(r)
        line()
        let l = r.latencyMicros
        line("Latency (\(l.kind), µs) over \(l.count) requests" + (shedCount > 0 ? " (the \(shedCount) shed are not in it)" : ""))
        line("  p50 \(l.p50)  p90 \(l.p90)  p99 \(l.p99)  p99.9 \(l.p999)  p99.99 \(l.p9999)  max \(l.max)")
        line()
        if let phases = r.phases, phases.count > 1 {
            // Offered by send time, acknowledged and latency by acknowledgement time (the timeline is cut at each start).
            line("Phases (latency µs of the requests acknowledged in each)")
            line("  " + pad("#", 4) + pad("phase", 34) + pad("from", 10) + lpad("offered", 11) + lpad("acknowledged", 14)
                 + lpad("shed", 9) + lpad("p50", 9) + lpad("p99", 9) + lpad("max", 9))
            for p in phases {
                line("  " + pad("\(p.index + 1)", 4) + pad(p.shape, 34) + pad(fixed(p.startSeconds, 1) + " s", 10) + lpad("\(p.offered)", 11)
                     + lpad("\(p.acknowledged)", 14) + lpad("\(p.shed)", 9) + lpad("\(p.latencyMicros.p50)", 9)
                     + lpad("\(p.latencyMicros.p99)", 9) + lpad("\(p.latencyMicros.max)", 9))
            }
            line()
        }
        line("Offers (units of the offer)")
        line("  " + pad("offer", 22) + pad("kind", 12) + lpad("initial", 11) + lpad("sold", 11) + lpad("held", 11)
             + lpad("remaining", 11) + "  first sold out")
        var anyShared = false
        for o in r.offers {
            let at = o.soldOutAtSeconds.map { fixed($0, 3) + " s" } ?? "-"
            // An offer's items may also be taken by other offers (a bundle's hardware that a
            // reservation also draws on): its own columns then add up to less than its initial.
            // (Summed without trapping: a report read from a damaged run may hold any counts.)
            let (sh, o1) = o.sold.addingReportingOverflow(o.held)
            let (shr, o2) = sh.addingReportingOverflow(o.remaining)
            let mark = !o1 && !o2 && shr < o.initial ? "*" : ""
            if !mark.isEmpty { anyShared = true }
            line("  " + pad(o.id + mark, 22) + pad(o.kind, 12) + lpad("\(o.initial)", 11) + lpad("\(o.sold)", 11)
                 + lpad("\(o.held)", 11) + lpad("\(o.remaining)", 11) + "  " + at)
        }
        if anyShared {
            line("  * shares items with other offers: sold + held + remaining < initial; the units went to those")
            line("    offers (per item below, every unit is accounted for)")
        }
        line()
        // Per item, the conservation equation itself: initial = sold + held + remaining.
        if r.items.count <= 24 {
            line("Items (units)")
            line("  " + pad("item", 22) + lpad("initial", 11) + lpad("sold", 11) + lpad("held", 11) + lpad("remaining", 11))
            for i in r.items {
                line("  " + pad(i.id, 22) + lpad("\(i.initial)", 11) + lpad("\(i.sold)", 11) + lpad("\(i.held)", 11)
                     + lpad("\(i.remaining)", 11))
            }
        } else {
            line("Items: \(r.items.count) (per-item units in the JSON report, --report)")
        }
        line()
        let inv = r.invariants
        line("Invariants: \(inv.passed ? "PASS" : "FAIL")  oversold items \(inv.oversold), conservation violations \(inv.conservationViolations)"
             + (inv.checkedSegments ? ", segment mismatches \(inv.segmentMismatches + inv.outcomeMismatches) (read back)" : ", segments not checked"))
        let seg = r.segments
        line("Segments: \(seg.dir ?? "temporary, removed"): \(count(seg.files, "file")), \(bytes(Double(seg.bytes))) on disk,"
             + " \(count(seg.records, "record")), raw/on-disk \(fixed(seg.compressionRatio, 2))x (LZ4 and block framing), \(count(seg.fsyncs, "fsync"))"
             + (seg.io == "buffered" || seg.io == "server's" ? "" : ", \(seg.io) I/O"))
        let m = r.memory
        line("Memory: peak RSS \(bytes(Double(m.peakRSSBytes)))"
             + (m.jemallocAllocatedBytes.map { ", jemalloc allocated \(bytes(Double($0)))" } ?? ", jemalloc not active"))
        return s
    }

    /// A `--target` run: the client's view of the server.
    static func renderTarget(_ r: RunReport, _ t: RunReport.Target, replay: Bool) -> String {
        var s = ""
        func line(_ text: String = "") { s += text + "\n" }
        let what = r.profile.hasPrefix("replay:") ? String(r.profile.dropFirst(7)) : r.profile
        line("flashsale \(replay ? "replay" : "run"): \(what)  seed \(r.seed)  target \(t.url)  connections \(t.connections)  pipeline \(t.pipeline)")
        let requested = t.requestedPerSecond.map { "requested \(human($0))/s, " } ?? ""
        line("  \(r.load.mode) load: \(t.sent) requests sent in \(fixed(r.durationSeconds, 2)) s (\(requested)achieved \(human(t.achievedPerSecond))/s);"
             + " \(t.answered) answered, \(r.decisions) decided (\(human(r.decisionsPerSecond))/s)")
        if let want = t.requestedPerSecond, want > 0, t.achievedPerSecond < want * 0.98 {
            line("  the requested rate was not held: \(fixed(100 * t.achievedPerSecond / want, 1))% of it (latency includes the backlog; "
                 + (t.maxBacklog > 0 ? "every connection was busy: raise --connections or --pipeline)" : "the server or this client fell behind)"))
        }
        let lost = t.timeouts + t.connectionErrors
        line("  client: \(t.connectErrors) connect errors, \(t.timeouts) time-outs, \(t.connectionErrors) lost with a connection, "
             + "\(t.protocolErrors) unreadable answers, \(t.reconnects) reconnects, most waiting for a connection \(t.maxBacklog)")
        if lost > 0 { line("  \(lost) requests got no answer: their buys count as refused (no follow-up)") }
        line()
        line("Answers by status")
        for (name, count) in t.statuses.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
            line("  " + pad(name, 15) + lpad("\(count)", 12))
        }
        line()
        line("Outcomes (decided answers)")
        s += outcomeLines(r)
        line()
        let l = r.latencyMicros
        line("Latency (\(l.kind), µs) over \(l.count) answers")
        line("  p50 \(l.p50)  p90 \(l.p90)  p99 \(l.p99)  p99.9 \(l.p999)  p99.99 \(l.p9999)  max \(l.max)")
        line()
        line("Invariants, stock and segments: the server's (flashsale serve --report FILE)")
        let m = r.memory
        line("Memory (this client): peak RSS \(bytes(Double(m.peakRSSBytes)))")
        return s
    }

    /// One line per outcome that occurred, most frequent first: count and share of the decisions.
    static func outcomeLines(_ r: RunReport) -> String {
        var s = ""
        for (name, count) in r.outcomes.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) where count > 0 {
            let pct = r.decisions > 0 ? 100.0 * Double(count) / Double(r.decisions) : 0
            s += "  " + pad(name, 15) + lpad("\(count)", 12) + lpad(fixed(pct, 2) + "%", 9) + "\n"
        }
        return s
    }

    /// 1234567 → "1.23M".
    public static func human(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e9 { return fixed(v / 1e9, 2) + "G" }
        if a >= 1e6 { return fixed(v / 1e6, 2) + "M" }
        if a >= 1e4 { return fixed(v / 1e3, 1) + "k" }
        return fixed(v, 0)
    }

    /// A size in bytes with a binary unit, as sizes are written to flashsale (`1GiB`): "812 B",
    /// "56.6 MiB", "1.00 GiB".
    public static func bytes(_ v: Double) -> String {
        let a = abs(v)
        let kib = 1024.0, mib = kib * 1024, gib = mib * 1024
        if a >= gib { return fixed(v / gib, 2) + " GiB" }
        if a >= mib { return fixed(v / mib, 1) + " MiB" }
        if a >= kib { return fixed(v / kib, 1) + " KiB" }
        return fixed(v, 0) + " B"
    }

    /// `v` with `digits` decimals.
    public static func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    /// "1 file", "3 files": a count with its noun, singular for one.
    public static func count(_ n: Int, _ noun: String) -> String { "\(n) \(noun)\(n == 1 ? "" : "s")" }

    /// `s` in a column of `width` terminal columns (wide CJK and emoji ids count 2); one space after a longer `s`.
    static func pad(_ s: String, _ width: Int) -> String {
        TerminalColumns.width(of: s) >= width ? s + " " : TerminalColumns.padded(s, to: width)
    }
    static func lpad(_ s: String, _ width: Int) -> String {
        TerminalColumns.width(of: s) >= width ? " " + s : TerminalColumns.leftPadded(s, to: width)
    }
}
