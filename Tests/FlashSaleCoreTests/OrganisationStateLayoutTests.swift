import XCTest
@testable import FlashSaleCore

/// The per-organisation record packs each offer's accepted count in as few bits as its limit needs:
/// counts of neighbouring offers must never leak into each other, every limit must still be reachable,
/// and a campaign of many offers of limit 1 must fit one cache line.
final class OrganisationStateLayoutTests: XCTestCase {
    func testRecordSizeFollowsTheLimits() {
        XCTAssertEqual(LaneEngine.stateBytesPerOrganisation(limits: Array(repeating: 1, count: 64)), 64,
                       "64 offers of limit 1: 8 bytes of counts after the 48-byte header")
        XCTAssertEqual(LaneEngine.stateBytesPerOrganisation(limits: Array(repeating: 1, count: 128)), 64)
        XCTAssertEqual(LaneEngine.stateBytesPerOrganisation(limits: Array(repeating: 1, count: 129)), 128)
        XCTAssertEqual(LaneEngine.stateBytesPerOrganisation(limits: Array(repeating: 3, count: 32)), 64)
        XCTAssertEqual(LaneEngine.stateBytesPerOrganisation(limits: Array(repeating: 255, count: 16)), 64)
        XCTAssertEqual(LaneEngine.stateBytesPerOrganisation(limits: Array(repeating: 255, count: 17)), 128)
        XCTAssertEqual(LaneEngine.stateBytesPerOrganisation(offerCount: 64), 128, "the upper bound: a byte per offer")
        let (offsets, bits) = LaneEngine.acceptedBitOffsets(limits: [1, 3, 1, 200, 15, 1])
        XCTAssertEqual(offsets, [0, 2, 4, 8, 16, 20], "each field aligned to its width, never across a byte")
        XCTAssertEqual(bits, 21)
    }

    /// Offers of limits 1, 3, 1, 200, 15 and 1 (mixed widths in shared bytes): each count climbs to its limit
    /// and refuses the next order as LIMIT while the others keep their own counts; a rebuild from the
    /// decisions gets the same counts and refuses one past a limit.
    func testPackedCountsReachTheirLimitsWithoutTouchingTheirNeighbours() throws {
        let limits = [1, 3, 1, 200, 15, 1]
        var campaign = CampaignFixtures.kickoff(organisations: 4, license: 10_000, machines: 100_000, limit: 1, maxQuantity: 1)
        let bundle = campaign.offers[2]  // license-only
        campaign.offers = limits.enumerated().map { i, limit in
            var o = bundle
            o.name = "offer-\(i)"
            o.limitPerOrganisation = limit
            return o
        }
        let (rules, _, engines) = try CampaignFixtures.engines(campaign, lanes: 1)
        let e = engines[0]
        XCTAssertEqual(e.orgStride, 64)
        var id: UInt64 = 0
        var journal: [Decision] = []
        func buy(_ org: UInt32, _ offer: Int) -> Outcome {
            id += 1
            var out: [Decision] = []
            e.process(request(id, org: org, offer: UInt16(offer)), into: &out)
            journal += out
            return out.last!.outcome
        }
        // Interleaved, so that every byte shared by two fields is written by both in turn.
        for round in 0..<201 {
            for (offer, limit) in limits.enumerated() {
                XCTAssertEqual(buy(1, offer), round < limit ? .accepted : .limit, "offer \(offer), order \(round + 1)")
            }
        }
        for (offer, limit) in limits.enumerated() {
            XCTAssertEqual(e.acceptedCount(organisation: 1, offer: offer), limit)
            XCTAssertEqual(e.acceptedCount(organisation: 0, offer: offer), 0, "another organisation's record")
            XCTAssertEqual(e.acceptedCount(organisation: 2, offer: offer), 0, "another organisation's record")
        }
        // A rebuild gets the same counts, and refuses an ACCEPTED past a limit (no field can hold it).
        let (_, _, rebuilt) = try CampaignFixtures.engines(campaign, lanes: 1)
        for d in journal { XCTAssertTrue(rebuilt[0].replay(d)) }
        for offer in limits.indices {
            XCTAssertEqual(rebuilt[0].acceptedCount(organisation: 1, offer: offer), limits[offer])
        }
        var extra = journal.first { $0.outcome == .accepted && $0.offer == 0 }!
        extra.requestId = 1_000_000
        XCTAssertFalse(rebuilt[0].replay(extra), "a second ACCEPTED of a limit-1 offer is not this campaign's journal")
        XCTAssertEqual(rebuilt[0].acceptedCount(organisation: 1, offer: 0), 1)
        XCTAssertEqual(rebuilt[0].acceptedCount(organisation: 1, offer: 1), 3, "the neighbouring field is untouched")
        _ = rules
    }
}
