import Foundation
import XCTest
@testable import FlashSaleCore
@testable import LoadGen
@testable import OrderLog
@testable import Pipeline
import Reports

final class OrderPipelineTests: XCTestCase {
    /// Same profile + seed + one lane ⇒ the same journal, record for record.
    func testOneLaneRunsAreDeterministic() throws {
        let profile = try PipelineFixtures.profile("hardware-prestock")
        var journals: [[OrderRecord]] = []
        for run in 0..<2 {
            let dir = PipelineFixtures.temporaryDirectory("determinism\(run)")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            _ = try PipelineFixtures.run(profile, lanes: 1, dir: dir, duration: 4, requestLimit: 150_000)
            journals.append(try PipelineFixtures.records(dir))
        }
        XCTAssertGreaterThan(journals[0].count, 50_000)
        XCTAssertEqual(journals[0].count, journals[1].count)
        XCTAssertTrue(journals[0] == journals[1], "the two journals differ")
        let outcomes = Set(journals[0].map(\.outcome))
        for o: Outcome in [.held, .confirmed, .released] {
            XCTAssertTrue(outcomes.contains(o.rawValue), "the profile never produced \(o)")
        }
    }

    /// A pipeline given no directory journals into a temporary one and removes it before `run` returns
    /// (benchmarks and library callers used to leave a journal in /tmp per run).
    func testATemporaryJournalIsRemovedByTheRun() throws {
        let profile = try PipelineFixtures.profile("ci-smoke")
        let pipeline = OrderPipeline(rules: try CampaignRules(profile.campaign), options: PipelineOptions(lanes: 2, pace: .max))
        let result = try pipeline.run(source: TrafficGenerator(profile: profile, requestLimit: 20_000))
        XCTAssertEqual(result.offered, 20_000)
        XCTAssertFalse(result.segmentsDirectory.isEmpty)
        XCTAssertFalse(FileManager.default.fileExists(atPath: result.segmentsDirectory), "the temporary journal was left behind")
    }

    /// Queued lanes compress their own journal blocks (`LaneBlockEncoder`): the journal then holds exactly
    /// what it holds when it encodes every record itself (one lane, so the order is the same), holds,
    /// expiries and bundles included, and a restart on it continues as on the journal's own blocks.
    func testBlocksTheLanesCompressHoldTheSameJournalAsTheJournalsOwn() throws {
        var soldOutSomewhere = false
        for name in ["kaigong-opening", "hardware-prestock"] {
            let profile = try PipelineFixtures.profile(name)
            var journals: [[OrderRecord]] = []
            var results: [PipelineResult] = []
            for encodes in [true, false] {
                let dir = PipelineFixtures.temporaryDirectory("\(name)-\(encodes)")
                defer { try? FileManager.default.removeItem(atPath: dir) }
                results.append(try PipelineFixtures.run(profile, lanes: 1, dir: dir, requestLimit: 60_000, segmentBytes: 64 << 10, lanesEncodeBlocks: encodes).1)
                // The same campaign continued on the same directory, the other way round.
                _ = try PipelineFixtures.run(profile, lanes: 1, dir: dir, requestLimit: 90_000, segmentBytes: 64 << 10, lanesEncodeBlocks: !encodes)
                XCTAssertTrue(try SegmentReader(directory: dir).verify().ok, "\(name): every block verifies")
                journals.append(try PipelineFixtures.records(dir))
            }
            XCTAssertGreaterThanOrEqual(journals[0].count, 90_000, "\(name): the journal holds every request (and any expiry)")
            XCTAssertTrue(journals[0].contains { $0.pieceCount > 0 }, "\(name): holds with their pieces are journaled")
            XCTAssertEqual(journals[0].count, journals[1].count, name)
            XCTAssertTrue(journals[0] == journals[1], "\(name): the lanes' blocks hold other records than the journal's")
            XCTAssertEqual(journals[0].map(\.sequence), Array(1...UInt64(journals[0].count)), name)
            // What the lanes counted for the journal (`BatchSummary`) is what the journal counts itself.
            let (a, b) = (results[0], results[1])
            XCTAssertEqual(a.outcomeCounts, b.outcomeCounts, "\(name): outcome counts from the lanes' summaries")
            XCTAssertEqual(a.decisions, b.decisions, name)
            XCTAssertEqual(a.expiries, b.expiries, "\(name): hold expiries")
            XCTAssertEqual(a.soldOutAtNanos.map { $0 != nil }, b.soldOutAtNanos.map { $0 != nil }, "\(name): which offers sold out")
            XCTAssertEqual(a.latency.count, b.latency.count, "\(name): a latency per request")
            soldOutSomewhere = soldOutSomewhere || a.soldOutAtNanos.contains { $0 != nil }
            XCTAssertEqual(a.lastCampaignTimeMillis, b.lastCampaignTimeMillis, "\(name): the campaign's last time")
        }
        XCTAssertTrue(soldOutSomewhere, "a run sells an offer out (the sold-out times are compared)")
    }

    /// Every shipped profile, shortened, on several lanes: the invariants hold, and the outcome counts
    /// reported equal those read back from the segments.
    func testShippedProfilesKeepInvariantsAndReportWhatTheyJournaled() throws {
        for name in ["kaigong-opening", "hardware-prestock", "campaign-month", "ci-smoke", "seckill-parity"] {
            let profile = try PipelineFixtures.profile(name)
            let dir = PipelineFixtures.temporaryDirectory(name)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let (pipeline, result) = try PipelineFixtures.run(profile, lanes: 3, dir: dir, duration: 2, requestLimit: 200_000)
            let audit = try SegmentAudit.read(directory: dir, rules: pipeline.rules)
            let report = ReportBuilder.build(profile: name, seed: profile.seed, options: pipeline.options,
                                             rules: pipeline.rules, result: result, audit: audit, keepSegments: true)
            XCTAssertEqual(report.invariants.oversold, 0, name)
            XCTAssertEqual(report.invariants.conservationViolations, 0, name)
            XCTAssertEqual(report.invariants.segmentMismatches, 0, name)
            for o in Outcome.allCases where o != .overload {
                XCTAssertEqual(audit.outcomeCounts[Int(o.rawValue)], result.outcomeCounts[Int(o.rawValue)], "\(name): \(o)")
            }
            for (i, item) in profile.campaign.items.enumerated() {
                XCTAssertEqual(result.remainingUnits[i] + result.heldUnits[i] + result.soldUnits[i], item.initial, "\(name): \(item.name)")
                XCTAssertEqual(audit.soldUnits[i], result.soldUnits[i], "\(name): sold \(item.name) per segments")
                XCTAssertEqual(audit.heldUnits[i], result.heldUnits[i], "\(name): held \(item.name) per segments")
            }
            XCTAssertEqual(Int(result.writer.records), result.outcomeCounts.reduce(0, +) - result.outcomeCounts[Int(Outcome.overload.rawValue)])
            XCTAssertGreaterThan(result.offered, 1000, name)
        }
    }

    /// A restarted run on the same directory rebuilds the ledger from the journal and continues: the
    /// stock it starts with is what the first run left, and the invariants hold over both runs.
    func testRestartRebuildsTheCampaignFromItsSegments() throws {
        let profile = try PipelineFixtures.profile("ci-smoke")
        let dir = PipelineFixtures.temporaryDirectory("restart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (_, first) = try PipelineFixtures.run(profile, lanes: 2, dir: dir, requestLimit: 4_000)
        let firstRecords = try PipelineFixtures.records(dir).count
        let (second, result) = try PipelineFixtures.run(profile, lanes: 2, dir: dir)
        XCTAssertEqual(result.resumedRecords, firstRecords)
        XCTAssertEqual(result.resumedLastSequence, UInt64(firstRecords))
        let all = try PipelineFixtures.records(dir)
        XCTAssertEqual(all.map(\.sequence), Array(1...UInt64(all.count)), "sequences continue without a gap")
        XCTAssertTrue(all.prefix(firstRecords).last!.campaignTimeMillis <= all[firstRecords].campaignTimeMillis,
                      "the second run continues the campaign after the first one's last instant")
        let audit = try SegmentAudit.read(directory: dir, rules: second.rules)
        for (i, item) in profile.campaign.items.enumerated() {
            XCTAssertEqual(result.remainingUnits[i] + result.heldUnits[i] + result.soldUnits[i], item.initial)
            XCTAssertEqual(audit.soldUnits[i], result.soldUnits[i], "sold \(item.name): ledger rebuilt + second run = journal")
            XCTAssertGreaterThanOrEqual(result.soldUnits[i], first.soldUnits[i], "nothing sold in the first run was forgotten")
        }
    }

    /// A directory written by another campaign is refused, not silently mixed.
    func testRestartOnAnotherCampaignsLogIsRefused() throws {
        let dir = PipelineFixtures.temporaryDirectory("mismatch")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try PipelineFixtures.run(try PipelineFixtures.profile("kaigong-opening"), lanes: 1, dir: dir, requestLimit: 50_000)
        XCTAssertThrowsError(try PipelineFixtures.run(try PipelineFixtures.profile("ci-smoke"), lanes: 1, dir: dir)) { error in
            guard case PipelineError.logDoesNotMatchCampaign = error else { return XCTFail("\(error)") }
        }
    }

    /// A restart rebuilds stock from every decision since the sale opened. A journal whose first segment
    /// was removed, or whose segments were copied without their campaign fingerprint, used to be
    /// continued: the removed segment's units were sold again, or another campaign's sales were booked
    /// onto this campaign's items. Both are refused now, and nothing is appended.
    func testRestartRefusesAPrunedJournalAndOneWithoutItsFingerprint() throws {
        let profile = try PipelineFixtures.profile("ci-smoke")
        let dir = PipelineFixtures.temporaryDirectory("pruned")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try PipelineFixtures.run(profile, lanes: 1, dir: dir, requestLimit: 20_000, segmentBytes: 32 << 10)
        let segments = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".seg") }.sorted()
        XCTAssertGreaterThan(segments.count, 2, "the journal rolled")
        let copy = PipelineFixtures.temporaryDirectory("no-fingerprint")
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: true)
        for s in segments { try FileManager.default.copyItem(atPath: dir + "/" + s, toPath: copy + "/" + s) }

        try FileManager.default.removeItem(atPath: dir + "/" + segments[0])
        let before = try PipelineFixtures.records(dir).count
        let fingerprint = try String(contentsOfFile: dir + "/campaign.fingerprint", encoding: .utf8)
        XCTAssertThrowsError(try PipelineFixtures.run(profile, lanes: 2, dir: dir)) { error in
            guard case PipelineError.journalCannotBeResumed(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("were removed"), reason)
        }
        XCTAssertEqual(try PipelineFixtures.records(dir).count, before, "nothing appended")
        XCTAssertEqual(try String(contentsOfFile: dir + "/campaign.fingerprint", encoding: .utf8), fingerprint,
                       "a refused restart leaves the directory's record of lanes as it was")

        XCTAssertThrowsError(try PipelineFixtures.run(try PipelineFixtures.profile("kaigong-opening"), lanes: 1, dir: copy)) { error in
            guard case PipelineError.journalCannotBeResumed(_, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("no campaign.fingerprint"), reason)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: copy + "/campaign.fingerprint"), "not adopted")
    }

    /// Open model, overloaded on purpose with a tiny in-flight bound: the excess is shed as OVERLOAD,
    /// counted, and never journaled; stock stays conserved.
    func testOverloadIsShedExplicitly() throws {
        let profile = try PipelineFixtures.profile("ci-smoke")
        let rules = try CampaignRules(profile.campaign)
        let dir = PipelineFixtures.temporaryDirectory("overload")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var writer = SegmentWriterOptions()
        writer.durability = .sync
        let pipeline = OrderPipeline(rules: rules, options: PipelineOptions(
            lanes: 1, pace: .open, overloadPolicy: .shed, segmentsDirectory: dir, writer: writer,
            batchCapacity: 4, batchesPerLane: 1, flushMicros: 50))
        let result = try pipeline.run(source: TrafficGenerator(profile: profile, durationSeconds: 1, constantRate: 200_000))
        XCTAssertGreaterThan(result.shed, 0, "fsync per batch of 4 cannot keep up with 200k/s")
        XCTAssertEqual(result.outcomeCounts[Int(Outcome.overload.rawValue)], result.shed)
        XCTAssertEqual(Int(result.writer.records) + result.shed, result.outcomeCounts.reduce(0, +))
        for (i, item) in profile.campaign.items.enumerated() {
            XCTAssertEqual(result.remainingUnits[i] + result.heldUnits[i] + result.soldUnits[i], item.initial)
        }
    }
}

/// A disk that fills up after a given number of bytes.
private final class FillingDisk: @unchecked Sendable {  // counters behind a lock
    let lock = NSLock()
    var room: Int
    init(room: Int) { self.room = room }

    final class Sink: SegmentSink {
        let inner: PosixSegmentSink
        let disk: FillingDisk
        init(_ inner: PosixSegmentSink, _ disk: FillingDisk) { self.inner = inner; self.disk = disk }
        var path: String { inner.path }
        var position: Int64 { inner.position }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            disk.lock.lock()
            let allowed = min(disk.room, bytes.count)
            disk.room -= allowed
            disk.lock.unlock()
            try inner.write(UnsafeRawBufferPointer(rebasing: bytes[0..<allowed]))
            if allowed < bytes.count { throw SegmentError.io(file: path, offset: inner.position, operation: "write", errno: ENOSPC) }
        }
        func fsync() throws { try inner.fsync() }
        func truncate(to length: Int64) throws { try inner.truncate(to: length) }
        func close() throws { try inner.close() }
    }

    var factory: SegmentSinkFactory {
        SegmentSinkFactory(open: { path in Sink(try PosixSegmentSink(path: path), self) },
                           syncDirectory: SegmentSinkFactory.posix.syncDirectory)
    }
}

final class JournalFailureTests: XCTestCase {
    /// The disk fills up mid-run: the run fails with a clear error, nothing more is acknowledged, and
    /// every decision acknowledged before is read back (and rebuilds) after recovery.
    func testFullDiskStopsAcknowledgingAndLosesNothingAcknowledged() throws {
        let profile = try PipelineFixtures.profile("hardware-prestock")
        let rules = try CampaignRules(profile.campaign)
        let dir = PipelineFixtures.temporaryDirectory("fulldisk")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for durability in [Durability.sync, .batch] {
            try? FileManager.default.removeItem(atPath: dir)
            var writer = SegmentWriterOptions()
            writer.durability = durability
            var options = PipelineOptions(lanes: 2, pace: .max, segmentsDirectory: dir, writer: writer, batchCapacity: 512)
            options.segmentSink = FillingDisk(room: 300_000).factory
            let pipeline = OrderPipeline(rules: rules, options: options)
            var acknowledged = -1
            XCTAssertThrowsError(try pipeline.run(source: TrafficGenerator(profile: profile, requestLimit: 400_000))) { error in
                guard case PipelineError.journalFailed(let underlying, let acked) = error else { return XCTFail("\(error)") }
                XCTAssertTrue("\(underlying)".contains("write"), "\(underlying)")
                XCTAssertTrue("\(error)".contains("journal failed"), "\(error)")
                acknowledged = acked
            }
            XCTAssertGreaterThan(acknowledged, 0, "\(durability): some decisions were durable before the disk filled")
            XCTAssertLessThan(acknowledged, 400_000, "\(durability): the failure stopped acknowledging")
            // Recovery on a healthy disk: every acknowledged record is there, in order, and rebuilds.
            let reopened = try SegmentWriter(directory: dir)
            try reopened.close()
            let records = try PipelineFixtures.records(dir)
            XCTAssertGreaterThanOrEqual(records.count, acknowledged, "\(durability): an acknowledged record was lost")
            XCTAssertEqual(records.map(\.sequence), Array(1...UInt64(records.count)))
            let audit = try SegmentAudit.read(directory: dir, rules: rules)
            XCTAssertEqual(audit.problems, [])
            for (i, item) in profile.campaign.items.enumerated() {
                XCTAssertLessThanOrEqual(audit.soldUnits[i] + audit.heldUnits[i], item.initial, "\(item.name) oversold in the journal")
            }
        }
    }
}
