import Foundation
import XCTest
@testable import FlashSaleCore
@testable import LoadGen
@testable import OrderLog
@testable import Pipeline

/// Requests from an array, in order.
final class ArraySource: RequestSource {
    var requests: [OrderRequest]
    var next = 0
    init(_ requests: [OrderRequest]) { self.requests = requests }
    func fill(_ buffer: UnsafeMutableBufferPointer<OrderRequest>) -> Int {
        let n = min(buffer.count, requests.count - next)
        for i in 0..<n { buffer[i] = requests[next + i] }
        next += n
        return n
    }
}

final class LateRetransmitPipelineTests: XCTestCase {
    /// End to end: a client retransmits a reservation after four newer requests of its organisation
    /// (its id left the retransmit memory) while the hold is active, then confirms it. The run used to
    /// hold twice, journal a RELEASED of a hold its own read-back audit no longer had (a segment
    /// problem: the run's checks fail), and a restart on that directory refused the campaign's own
    /// journal as another campaign's ("cannot be applied").
    func testARetransmitOutOfMemoryKeepsTheJournalReadableAndRestartable() throws {
        let profile = try PipelineFixtures.profile("ci-smoke")
        let rules = try CampaignRules(profile.campaign)
        let open = profile.campaign.window.opensMillis
        let reserve: UInt16 = 1  // m1-reserve: limit 2, hold 1 minute
        var requests = [OrderRequest(requestId: 100, campaignTimeMillis: open + 1, organisation: 0, offer: reserve)]
        for id in UInt64(101)...104 {
            requests.append(OrderRequest(requestId: id, campaignTimeMillis: open + 2, organisation: 0, offer: 99))
        }
        requests.append(OrderRequest(requestId: 100, campaignTimeMillis: open + 10_000, organisation: 0, offer: reserve))
        requests.append(OrderRequest(requestId: 105, campaignTimeMillis: open + 20_000, organisation: 0, offer: reserve,
                                     kind: .confirm, reference: 100))
        requests.append(OrderRequest(requestId: 1, campaignTimeMillis: open + 120_000, organisation: 1, offer: 99))
        let dir = PipelineFixtures.temporaryDirectory("retransmit-out-of-memory")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func pipeline() -> OrderPipeline {
            OrderPipeline(rules: rules, options: PipelineOptions(lanes: 1, pace: .max, segmentsDirectory: dir))
        }
        let result = try pipeline().run(source: ArraySource(requests))
        XCTAssertEqual(result.outcomeCounts[Int(Outcome.held.rawValue)], 1, "one reservation, one hold")
        XCTAssertEqual(result.soldUnits.reduce(0, +), 1)
        let audit = try SegmentAudit.read(directory: dir, rules: rules)
        XCTAssertEqual(audit.problems, [], "the run's own journal reads back with problems")
        XCTAssertNoThrow(try pipeline().run(source: ArraySource([])), "a restart refuses the campaign's own journal")
    }
}
