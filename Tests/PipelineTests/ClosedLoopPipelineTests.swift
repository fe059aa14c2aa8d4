import Foundation
import XCTest
@testable import FlashSaleCore
@testable import LoadGen
@testable import OrderLog
@testable import Pipeline

/// In-process runs feed decisions back to the generator (issue 13): no confirm or cancel for a hold that
/// was never granted, whatever the durability, and one-lane runs stay deterministic.
final class ClosedLoopPipelineTests: XCTestCase {
    /// Every confirm and cancel in the journal names a reservation whose decision was HELD (or a
    /// DUPLICATE of a HELD): NO_HOLD never appears (it was a third of all outcomes before).
    func testNoFollowUpForAHoldThatWasNotGranted() throws {
        let profile = try PipelineFixtures.profile("hardware-prestock")
        for (lanes, durability) in [(2, Durability.batch), (1, Durability.none)] {
            let dir = PipelineFixtures.temporaryDirectory("closed-loop")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let (_, result) = try PipelineFixtures.run(profile, lanes: lanes, dir: dir, duration: 4, requestLimit: 150_000, durability: durability)
            let records = try PipelineFixtures.records(dir)
            var granted = Set<UInt64>(), refused = Set<UInt64>()
            var followUps = 0
            for r in records {
                let outcome = Outcome(rawValue: r.outcome)!, original = Outcome(rawValue: r.originalOutcome)!
                switch RequestKind(rawValue: r.kind)! {
                case .buy:
                    if outcome == .held || (outcome == .duplicate && original == .held) { granted.insert(r.requestId) } else { refused.insert(r.requestId) }
                case .confirm, .cancel:
                    followUps += 1
                    XCTAssertTrue(granted.contains(r.reference), "request \(r.requestId) follows up reservation \(r.reference), which was not granted (lanes \(lanes))")
                    XCTAssertNotEqual(outcome, .noHold)
                case .expire: break
                }
            }
            XCTAssertGreaterThan(followUps, 1_000, "the profile's follow-ups went missing")
            XCTAssertFalse(refused.isEmpty, "the run sold out nothing: the test proves nothing")
            XCTAssertEqual(result.outcomeCounts[Int(Outcome.noHold.rawValue)], 0)
        }
    }

    /// The answers come back at different times with `none` and `batch` durability, and in a different
    /// rhythm with paced arrivals: the one-lane journal is the same record for record.
    func testOneLaneClosedLoopJournalDoesNotDependOnTiming() throws {
        let profile = try PipelineFixtures.profile("hardware-prestock")
        var journals: [[OrderRecord]] = []
        for durability in [Durability.none, .batch] {
            let dir = PipelineFixtures.temporaryDirectory("closed-loop-timing")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            _ = try PipelineFixtures.run(profile, lanes: 1, dir: dir, duration: 4, requestLimit: 100_000, durability: durability)
            journals.append(try PipelineFixtures.records(dir))
        }
        XCTAssertGreaterThan(journals[0].count, 50_000)
        XCTAssertTrue(journals[0] == journals[1], "the journals differ with the answers' timing")
    }
}
