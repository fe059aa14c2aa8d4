import FlashSaleCore
import OrderLog
import Foundation
import Pipeline

/// Turns a run's result into its `RunReport`, checking the invariants from the ledger and from the
/// segments read back.
public enum ReportBuilder {
    public static func build(profile: String, seed: UInt64, options: PipelineOptions, rules: CampaignRules,
                             result: PipelineResult, audit: SegmentAudit?, keepSegments: Bool, phaseLabels: [String] = []) -> RunReport {
        let items = rules.campaign.items
        var invariants = RunReport.Invariants()
        for i in items.indices {
            let r = result.remainingUnits[i], s = result.soldUnits[i], h = result.heldUnits[i]
            if r < 0 || result.minShardUnits[i] < 0 || s > items[i].initial { invariants.oversold += 1 }
            // Checked: counts past 64 bits (a broken ledger) are a violation, not a trap.
            let (rh, o1) = r.addingReportingOverflow(h)
            let (rhs, o2) = rh.addingReportingOverflow(s)
            if o1 || o2 || rhs != items[i].initial { invariants.conservationViolations += 1 }
        }
        if let audit {
            invariants.checkedSegments = true
            for i in items.indices where audit.soldUnits[i] != result.soldUnits[i] || audit.heldUnits[i] != result.heldUnits[i] {
                invariants.segmentMismatches += 1
            }
            invariants.segmentMismatches += audit.problems.count
            for o in Outcome.allCases where o != .overload && audit.outcomeCounts[Int(o.rawValue)] != result.outcomeCounts[Int(o.rawValue)] {
                invariants.outcomeMismatches += 1
            }
        }
        var offers: [RunReport.OfferLine] = []
        for (o, offer) in rules.campaign.offers.enumerated() {
            // Whole units of the offer: the scarcest component decides (a picked component counts every
            // item it may take from). A reservation's remaining is not clamped at 0, so a broken ledger
            // shows; sums saturate rather than trap (the load refuses stocks that pass 64 bits).
            let isBundle = if case .bundle = offer.kind { true } else { false }
            let kind = isBundle ? "bundle" : "reservation"
            let initial = rules.campaign.wholeUnits(ofOffer: o) { items[$0].initial }
            let remaining = rules.campaign.wholeUnits(ofOffer: o) { isBundle ? max(0, result.remainingUnits[$0]) : result.remainingUnits[$0] }
            offers.append(.init(id: offer.name, kind: kind, initial: initial, sold: audit?.offerSold[o] ?? 0,
                                held: audit?.offerHeld[o] ?? 0, remaining: remaining,
                                soldOutAtSeconds: result.soldOutAtNanos[o].map { Double($0) / 1e9 }))
        }
        let itemLines = items.indices.map {
            RunReport.ItemLine(id: items[$0].name, initial: items[$0].initial, sold: result.soldUnits[$0],
                               held: result.heldUnits[$0], remaining: result.remainingUnits[$0])
        }
        var outcomes: [String: Int] = [:]
        for o in Outcome.allCases { outcomes[o.name] = result.outcomeCounts[Int(o.rawValue)] }
        let seconds = Double(result.wallNanos) / 1e9
        let decisions = result.outcomeCounts.reduce(0, +)
        let w = result.writer
        let onDisk = directoryUsage(result.segmentsDirectory)
        return RunReport(
            profile: profile, seed: seed, lanes: options.lanes, durationSeconds: seconds, requests: result.offered,
            decisionsPerSecond: seconds > 0 ? Double(decisions) / seconds : 0, decisions: decisions, outcomes: outcomes,
            latencyMicros: .init(kind: options.pace.latencyKind, recorder: result.latency),
            offers: offers, items: itemLines, invariants: invariants,
            segments: .init(dir: keepSegments ? result.segmentsDirectory : nil, files: onDisk.files, bytes: onDisk.bytes,
                            records: Int(w.records), rawBytes: Int(w.rawBytes),
                            compressionRatio: w.compressedBytes > 0 ? Double(w.rawBytes) / Double(w.compressedBytes) : 0,
                            durability: options.writer.durability.rawValue, lz4Acceleration: Int(options.writer.acceleration),
                            fsyncs: Int(w.fsyncs),
                            io: w.directSegments == 0 ? "buffered" : w.directSegments == w.segments ? "direct" : "mixed"),
            memory: MemoryStats.current(),
            load: .init(mode: options.pace.rawValue, overloadPolicy: options.overloadPolicy.rawValue, offered: result.offered,
                        offeredPerSecond: seconds > 0 ? Double(result.offered) / seconds : 0, shed: result.shed,
                        sourceWaitSeconds: Double(result.sourceWaitNanos) / 1e9),
            resumedRecords: result.resumedRecords, timeline: result.timeline, expiries: result.expiries,
            phases: phaseLines(options: options, result: result, labels: phaseLabels))
    }

    /// A line per traffic phase, from the timeline (cut at every phase start) and each phase's latency;
    /// nil for runs without phases (`--rate max`, replays).
    static func phaseLines(options: PipelineOptions, result: PipelineResult, labels: [String]) -> [RunReport.PhaseLine]? {
        let starts = options.timelinePhaseStartsSeconds
        guard !starts.isEmpty, result.phaseLatency.count == starts.count else { return nil }
        let end = result.timeline.last.map { $0.startSeconds + $0.seconds } ?? 0
        return starts.indices.map { k in
            let mine = result.timeline.filter { $0.phase == k }
            var outcomes: [String: Int] = [:]
            for i in mine { for (name, n) in i.outcomes { outcomes[name, default: 0] += n } }
            let until = k + 1 < starts.count ? starts[k + 1] : max(end, starts[k])
            return RunReport.PhaseLine(
                index: k, shape: k < labels.count ? labels[k] : "phase \(k + 1)", startSeconds: starts[k], seconds: max(0, until - starts[k]),
                offered: mine.reduce(0) { $0 + $1.offered }, acknowledged: mine.reduce(0) { $0 + $1.acknowledged },
                shed: mine.reduce(0) { $0 + $1.shed }, outcomes: outcomes,
                latencyMicros: .init(kind: options.pace.latencyKind, recorder: result.phaseLatency[k]))
        }
    }

    /// Segment files in `dir` and their total size.
    public static func directoryUsage(_ dir: String) -> (files: Int, bytes: Int) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: dir) else { return (0, 0) }
        var files = 0, bytes = 0
        for name in names where name.hasSuffix(".seg") {
            files += 1
            bytes += ((try? fm.attributesOfItem(atPath: dir + "/" + name))?[.size] as? Int) ?? 0
        }
        return (files, bytes)
    }
}
