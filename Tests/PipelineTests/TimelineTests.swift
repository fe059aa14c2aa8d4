import Foundation
import XCTest
@testable import FlashSaleCore
@testable import LoadGen
@testable import OrderLog
@testable import Pipeline

/// The run's timeline (issue 14): interval by interval, adding up to the totals, and showing when a
/// stall happened (not only that the tail was long).
final class TimelineTests: XCTestCase {
    private func pacedRun(seconds: Double, interval: Double, stall: (atSeconds: Double, nanos: UInt64)? = nil) throws -> PipelineResult {
        let profile = try PipelineFixtures.profile("hardware-prestock")
        var writer = SegmentWriterOptions()
        writer.durability = .batch
        var options = PipelineOptions(lanes: 2, pace: .open, writer: writer)
        options.timelineInterval = interval
        options.injectedStall = stall
        let pipeline = OrderPipeline(rules: try CampaignRules(profile.campaign), options: options)
        return try pipeline.run(source: TrafficGenerator(profile: profile, durationSeconds: seconds, constantRate: 20_000))
    }

    func testAPacedRunsTimelineAddsUpToItsTotals() throws {
        let r = try pacedRun(seconds: 3, interval: 0.5)
        let t = r.timeline
        XCTAssertGreaterThanOrEqual(t.count, 6)
        XCTAssertLessThanOrEqual(t.count, 8)
        XCTAssertEqual(t.reduce(0) { $0 + $1.offered }, r.offered)
        XCTAssertEqual(t.reduce(0) { $0 + $1.acknowledged }, r.decisions)
        XCTAssertEqual(t.reduce(0) { $0 + $1.shed }, r.shed)
        for o in Outcome.allCases {
            XCTAssertEqual(t.reduce(0) { $0 + ($1.outcomes[o.name] ?? 0) }, r.outcomeCounts[Int(o.rawValue)], o.name)
        }
        // contiguous, and covering the run
        for (a, b) in zip(t, t.dropFirst()) { XCTAssertEqual(a.startSeconds + a.seconds, b.startSeconds, accuracy: 1e-6) }
        XCTAssertEqual(t.last!.startSeconds + t.last!.seconds, Double(r.wallNanos) / 1e9, accuracy: 0.05)
        // paced at 20k arrivals/s (plus their follow-ups): the full intervals offer about the same, at least 10k
        let full = t.dropLast()
        let mean = Double(full.reduce(0) { $0 + $1.offered }) / Double(full.count)
        XCTAssertGreaterThan(mean, 9_000)
        for i in full { XCTAssertEqual(Double(i.offered), mean, accuracy: mean * 0.3, "\(i)") }
        XCTAssertTrue(t.allSatisfy { $0.rssBytes > 0 })
    }

    /// A 400 ms stall of a lane 1.6 s into a 4 s run shows in the interval where it happened, and not
    /// in the ones before it.
    func testAStallShowsInTheIntervalWhereItHappened() throws {
        let r = try pacedRun(seconds: 4, interval: 0.5, stall: (atSeconds: 1.6, nanos: 400_000_000))
        let t = r.timeline
        let before = t.filter { $0.startSeconds + $0.seconds <= 1.55 }
        XCTAssertFalse(before.isEmpty)
        XCTAssertTrue(before.allSatisfy { $0.maxMicros < 150_000 }, "before the stall: \(before.map(\.maxMicros))")
        // The requests the stalled lane held are acknowledged once it resumes, ~2.0 s in.
        let hit = t.filter { $0.startSeconds < 2.3 && $0.startSeconds + $0.seconds > 1.6 }
        let worst = hit.map(\.maxMicros).max() ?? 0
        XCTAssertGreaterThan(worst, 300_000, "the stall is not in its intervals: \(t.map { ($0.startSeconds, $0.maxMicros) })")
        XCTAssertGreaterThan(hit.map(\.p99Micros).max() ?? 0, 100_000)
    }
}
