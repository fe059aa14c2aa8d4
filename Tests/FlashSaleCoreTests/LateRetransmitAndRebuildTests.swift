import XCTest
@testable import FlashSaleCore

/// Late retransmits, out-of-order campaign times and rebuilds: specifications from the 2026-11-30 core
/// review (each failed on the code it was written against).
final class LateRetransmitAndRebuildTests: XCTestCase {
    let open = CampaignFixtures.open

    /// One lane that keeps what it journals, so that a rebuild can replay it.
    final class JournaledLane {
        let engine: LaneEngine
        var journal: [Decision] = []
        init(_ engine: LaneEngine) { self.engine = engine }
        /// One lane of `campaign`, with its ledger.
        static func make(_ campaign: Campaign) throws -> (StockLedger, JournaledLane) {
            let (_, ledger, engines) = try CampaignFixtures.engines(campaign, lanes: 1)
            return (ledger, JournaledLane(engines[0]))
        }
        /// Decides `r`; returns its decision (after any expiries it caused, which are journaled too).
        func decide(_ r: OrderRequest) -> Decision {
            var out: [Decision] = []
            engine.process(r, into: &out)
            journal += out
            return out.last!
        }
    }

    /// A retransmit of a reservation whose id left the organisation's retransmit memory (4 newer
    /// requests), while its hold is still active and the offer's limit is 2: it used to become a
    /// second hold under the same (organisation, request id). The retransmit bought twice, and the
    /// two holds shared one name, so one hold's end unmapped the other: the journal then held a
    /// RELEASED of a hold the rebuild no longer had, and a restart refused the campaign's own journal.
    func testARetransmitOfAnActiveReservationNeverHoldsTwiceAndTheJournalRebuilds() throws {
        let campaign = CampaignFixtures.kickoff(hardware: 20, limit: 2)
        let (ledger, lane) = try JournaledLane.make(campaign)
        let e = lane.engine, decide = lane.decide
        XCTAssertEqual(decide(request(100, org: 0, offer: 1, qty: 2)).outcome, .held)
        // Four newer requests push id 100 out of the organisation's retransmit memory.
        for id in UInt64(101)...104 { XCTAssertEqual(decide(request(id, org: 0, offer: 9, at: open + 1)).outcome, .unknownOffer) }
        let retransmit = decide(request(100, org: 0, offer: 1, qty: 2, at: open + 60_000))
        XCTAssertEqual(retransmit.outcome, .duplicate, "the hold of request 100 is active: its retransmit must not hold again")
        XCTAssertEqual(retransmit.originalOutcome, .held)
        XCTAssertEqual(e.heldUnits.reduce(0, +), 2, "one reservation of 2 units is held, not two")
        // Confirm before expiry sells the one hold once; nothing of request 100 remains to expire.
        XCTAssertEqual(decide(request(105, org: 0, offer: 1, at: open + 90_000, kind: .confirm, ref: 100)).outcome, .confirmed)
        _ = decide(request(106, org: 2, offer: 9, at: open + 3_600_000))
        XCTAssertEqual(e.soldUnits.reduce(0, +), 2)
        XCTAssertEqual(e.heldUnits.reduce(0, +), 0)
        for item in 3...6 { XCTAssertEqual(ledger.remaining(item) + e.heldUnits[item] + e.soldUnits[item], 20) }

        // A restart rebuilds the same state from what was journaled.
        let (_, _, fresh) = try CampaignFixtures.engines(campaign, lanes: 1)
        for (i, d) in lane.journal.enumerated() {
            XCTAssertTrue(fresh[0].replay(d), "journaled decision \(i) (\(d.outcome) of \(d.reference)) cannot be rebuilt")
        }
        XCTAssertEqual(fresh[0].soldUnits, e.soldUnits)
        XCTAssertEqual(fresh[0].heldUnits, e.heldUnits)
    }

    /// A bundle order retransmitted after its id left the retransmit memory, with a limit of 2: it used
    /// to be decided afresh and ACCEPTED a second time (the same click bought twice). Also late: a
    /// retransmit of a reservation that was confirmed. Both are DUPLICATEs with their original outcome,
    /// nothing is taken, and a rebuild from the journal knows them too.
    func testALateRetransmitOfASaleNeverBuysTwice() throws {
        let campaign = CampaignFixtures.kickoff(hardware: 20, limit: 2)
        let (ledger, lane) = try JournaledLane.make(campaign)
        let decide = lane.decide
        XCTAssertEqual(decide(request(200, org: 0, offer: 0)).outcome, .accepted)
        XCTAssertEqual(decide(request(300, org: 0, offer: 1)).outcome, .held)
        XCTAssertEqual(decide(request(301, org: 0, offer: 1, at: open + 10, kind: .confirm, ref: 300)).outcome, .confirmed)
        for id in UInt64(201)...204 { XCTAssertEqual(decide(request(id, org: 0, offer: 9, at: open + 20)).outcome, .unknownOffer) }
        let license = ledger.remaining(0)
        let bundle = decide(request(200, org: 0, offer: 0, at: open + 60_000))
        XCTAssertEqual(bundle.outcome, .duplicate, "a late retransmit of a sold bundle must not buy it again")
        XCTAssertEqual(bundle.originalOutcome, .accepted)
        let reservation = decide(request(300, org: 0, offer: 1, at: open + 60_000))
        XCTAssertEqual(reservation.outcome, .duplicate, "a late retransmit of a confirmed reservation must not hold again")
        XCTAssertEqual(reservation.originalOutcome, .held)
        XCTAssertEqual(ledger.remaining(0), license, "nothing taken")
        XCTAssertEqual(decide(request(205, org: 0, offer: 0, at: open + 60_001)).outcome, .accepted, "a new order within the limit still buys")

        let (_, _, fresh) = try CampaignFixtures.engines(campaign, lanes: 1)
        for d in lane.journal { XCTAssertTrue(fresh[0].replay(d)) }
        var out: [Decision] = []
        fresh[0].process(request(200, org: 0, offer: 0, at: open + 70_000), into: &out)
        XCTAssertEqual(out.last?.outcome, .duplicate, "after a restart too")
    }

    /// Campaign times need not arrive in order (captures, imported logs): a reservation decided after
    /// the lane's clock already passed its expiry must not stay confirmable. It used to remain active
    /// (and its units held) until some later request advanced the clock, so a confirm at a campaign
    /// time after the hold's expiry sold it.
    func testAHoldWhoseExpiryTheLaneClockAlreadyPassedCannotBeConfirmed() throws {
        let (_, ledger, engines) = try CampaignFixtures.engines(CampaignFixtures.kickoff(hardware: 3), lanes: 1)
        let e = engines[0]
        var out: [Decision] = []
        // The lane's clock reaches open + 400 s (another organisation's request).
        e.process(request(1, org: 2, offer: 2, at: open + 400_000), into: &out)
        // A late-arriving reservation stamped at `open`: its 5-minute hold expires at open + 300 s.
        out.removeAll()
        e.process(request(2, org: 0, offer: 1, qty: 3, at: open), into: &out)
        XCTAssertEqual(out.last?.outcome, .held)
        XCTAssertEqual(out.last?.holdExpiryMillis, open + 300_000)
        // A confirm at open + 350 s: after the hold's expiry, before the lane's clock.
        out.removeAll()
        e.process(request(3, org: 0, offer: 1, at: open + 350_000, kind: .confirm, ref: 2), into: &out)
        XCTAssertEqual(out.last?.outcome, .holdExpired, "the hold expired at open + 300 s")
        XCTAssertEqual(e.soldUnits[3], 0, "an expired hold sells nothing")
        XCTAssertEqual(ledger.remaining(3), 3, "its units went back")
    }

    /// Rebuild sums what the journal sold; a journal that sells more than the campaign has is refused
    /// (`StockLedger.restore`). The per-lane sums used to wrap silently past Int64, so four sales of
    /// 2^62 units (2^64 in all) rebuilt as "nothing sold" and the restart sold the item again.
    func testARebuildThatWouldWrapTheSoldCounterIsRefused() throws {
        var campaign = CampaignFixtures.kickoff(maxQuantity: 1)
        campaign.items[2].initial = Int64.max
        campaign.offers[2].kind = .bundle(components: [.init(item: 2, quantityPerUnit: 1 << 62)])
        let (_, ledger, engines) = try CampaignFixtures.engines(campaign, lanes: 1)
        var applied = true
        for id in UInt64(1)...4 {
            let d = Decision(requestId: id, campaignTimeMillis: open, organisation: UInt32(id * 3), offer: 2,
                             kind: .buy, outcome: .accepted, quantity: 1)
            applied = applied && engines[0].replay(d)
        }
        let impossible = ledger.restore(sold: engines[0].soldUnits, held: engines[0].heldUnits)
        XCTAssertTrue(!applied || impossible == [2], "4 × 2^62 units of an item of 2^63 − 1 were accepted as a rebuild (sold rebuilt as \(engines[0].soldUnits[2]))")
    }

    /// Clients cannot expire holds: a request of kind `expire` (a capture may hold one) is INVALID and
    /// remembered like any other request, so its retransmit is a DUPLICATE. The rebuild took every
    /// `expire` record for the lanes' own expiries and forgot it, so after a restart the same
    /// retransmit was decided afresh: the restarted campaign answered differently from the one it rebuilt.
    func testARebuildRemembersAClientRequestOfKindExpireLikeTheLiveLane() throws {
        let campaign = CampaignFixtures.kickoff()
        let (_, _, engines) = try CampaignFixtures.engines(campaign, lanes: 1)
        var out: [Decision] = []
        let bogus = request(40, org: 0, offer: 1, kind: .expire, ref: 7)
        engines[0].process(bogus, into: &out)
        XCTAssertEqual(out.map(\.outcome), [.invalid])
        let (_, _, rebuilt) = try CampaignFixtures.engines(campaign, lanes: 1)
        for d in out { XCTAssertTrue(rebuilt[0].replay(d)) }
        var live: [Decision] = [], restarted: [Decision] = []
        engines[0].process(bogus, into: &live)
        rebuilt[0].process(bogus, into: &restarted)
        XCTAssertEqual(live.map(\.outcome), [.duplicate])
        XCTAssertEqual(restarted.map(\.outcome), live.map(\.outcome), "the rebuilt lane decides a retransmit differently")
    }
}
