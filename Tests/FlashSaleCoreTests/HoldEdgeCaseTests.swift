import XCTest
@testable import FlashSaleCore

/// Every row of docs/profiles.md, "Holds: every edge case": one answer per situation, and the same
/// answer from a lane rebuilt from the journal (a restart must not change what a client is told).
final class HoldEdgeCaseTests: XCTestCase {
    let open = CampaignFixtures.open
    let holdMillis: Int64 = 5 * 60_000
    typealias Lane = LateRetransmitAndRebuildTests.JournaledLane

    /// A lane of the fixtures' campaign (hold 5 min, 20 units per hardware item, limit 2), and a hold of
    /// 2 units by organisation 0 as request 100.
    func laneWithHold() throws -> (StockLedger, Lane, Decision) {
        let (ledger, lane) = try Lane.make(CampaignFixtures.kickoff(hardware: 20, limit: 2))
        let held = lane.decide(request(100, org: 0, offer: 1, qty: 2))
        XCTAssertEqual(held.outcome, .held)
        return (ledger, lane, held)
    }

    /// Asks `r` of the lane and of a lane rebuilt from the lane's journal; both answers must agree.
    func ask(_ lane: Lane, _ r: OrderRequest, file: StaticString = #filePath, line: UInt = #line) throws -> Decision {
        let (_, _, fresh) = try CampaignFixtures.engines(CampaignFixtures.kickoff(hardware: 20, limit: 2), lanes: 1)
        for d in lane.journal { XCTAssertTrue(fresh[0].replay(d), "rebuild of \(d.outcome)", file: file, line: line) }
        var out: [Decision] = []
        fresh[0].process(r, into: &out)
        let live = lane.decide(r)
        XCTAssertEqual(out.last?.outcome, live.outcome, "rebuilt lane answers \(r.kind) differently", file: file, line: line)
        XCTAssertEqual(out.last?.originalOutcome, live.originalOutcome, file: file, line: line)
        XCTAssertEqual(out.last?.priceFen, live.priceFen, file: file, line: line)
        return live
    }

    func held(_ lane: Lane) -> Int64 { lane.engine.heldUnits.reduce(0, +) }
    func sold(_ lane: Lane) -> Int64 { lane.engine.soldUnits.reduce(0, +) }

    // Row: hold active, t < expires_at.
    func testActiveHoldConfirmsAndCancels() throws {
        var (_, lane, h) = try laneWithHold()
        let c = try ask(lane, request(101, org: 0, offer: 1, at: h.holdExpiryMillis - 1, kind: .confirm, ref: 100))
        XCTAssertEqual(c.outcome, .confirmed)
        XCTAssertEqual(c.priceFen, h.priceFen)
        XCTAssertEqual(sold(lane), 2)
        XCTAssertEqual(held(lane), 0)
        (_, lane, h) = try laneWithHold()
        let ledger = lane.engine.ledger
        let before = ledger.remaining(3) + ledger.remaining(4)
        XCTAssertEqual(try ask(lane, request(101, org: 0, offer: 1, at: h.holdExpiryMillis - 1, kind: .cancel, ref: 100)).outcome, .released)
        XCTAssertEqual(ledger.remaining(3) + ledger.remaining(4), before + 2, "units back to stock")
        XCTAssertEqual(held(lane) + sold(lane), 0)
    }

    // Row: t ≥ expires_at, exactly at expiry included, for confirm and for cancel.
    func testConfirmOrCancelAtOrAfterExpiryIsHoldExpired() throws {
        for (kind, offset) in [(RequestKind.confirm, Int64(0)), (.cancel, 0), (.confirm, 1), (.cancel, 3_600_000)] {
            let (ledger, lane, h) = try laneWithHold()
            let r = request(101, org: 0, offer: 1, at: h.holdExpiryMillis + offset, kind: kind, ref: 100)
            var out: [Decision] = []
            lane.engine.process(r, into: &out)
            lane.journal += out
            XCTAssertEqual(out.map(\.outcome), [.released, .holdExpired], "\(kind) at expiry + \(offset) ms")
            XCTAssertEqual(out.first?.kind, .expire)
            XCTAssertEqual(ledger.remaining(3) + ledger.remaining(4), 40, "units back once")
            XCTAssertEqual(held(lane) + sold(lane), 0)
            // Asked again (new ids), before and after a rebuild: still HOLD_EXPIRED, however many requests later.
            for id in UInt64(200)..<210 { _ = lane.decide(request(id, org: 0, offer: 9, at: r.campaignTimeMillis)) }
            XCTAssertEqual(try ask(lane, request(300, org: 0, offer: 1, at: r.campaignTimeMillis, kind: .confirm, ref: 100)).outcome, .holdExpired)
            XCTAssertEqual(try ask(lane, request(301, org: 0, offer: 1, at: r.campaignTimeMillis, kind: .cancel, ref: 100)).outcome, .holdExpired)
            XCTAssertEqual(ledger.remaining(3) + ledger.remaining(4), 40)
        }
    }

    // Row: hold already confirmed.
    func testConfirmedHoldConfirmIsDuplicateAndCancelIsHoldConfirmed() throws {
        let (_, lane, h) = try laneWithHold()
        XCTAssertEqual(lane.decide(request(101, org: 0, offer: 1, at: open + 10, kind: .confirm, ref: 100)).outcome, .confirmed)
        for id in UInt64(200)..<210 { _ = lane.decide(request(id, org: 0, offer: 9, at: open + 20)) }  // out of the ring
        let again = try ask(lane, request(102, org: 0, offer: 1, at: open + 30, kind: .confirm, ref: 100))
        XCTAssertEqual(again.outcome, .duplicate)
        XCTAssertEqual(again.originalOutcome, .confirmed)
        XCTAssertEqual(again.priceFen, h.priceFen)
        let cancel = try ask(lane, request(103, org: 0, offer: 1, at: open + 40, kind: .cancel, ref: 100))
        XCTAssertEqual(cancel.outcome, .holdConfirmed, "the sale stands")
        XCTAssertEqual(sold(lane), 2)
        // Long after the hold would have expired: still confirmed, nothing released.
        let late = try ask(lane, request(104, org: 0, offer: 1, at: h.holdExpiryMillis + 1, kind: .cancel, ref: 100))
        XCTAssertEqual(late.outcome, .holdConfirmed)
        XCTAssertFalse(lane.journal.contains { $0.outcome == .released })
        XCTAssertEqual(sold(lane), 2)
    }

    // Row: hold already cancelled.
    func testCancelledHoldConfirmIsHoldCancelledAndCancelIsDuplicate() throws {
        let (ledger, lane, _) = try laneWithHold()
        XCTAssertEqual(lane.decide(request(101, org: 0, offer: 1, at: open + 10, kind: .cancel, ref: 100)).outcome, .released)
        for id in UInt64(200)..<210 { _ = lane.decide(request(id, org: 0, offer: 9, at: open + 20)) }
        XCTAssertEqual(try ask(lane, request(102, org: 0, offer: 1, at: open + 30, kind: .confirm, ref: 100)).outcome, .holdCancelled)
        let again = try ask(lane, request(103, org: 0, offer: 1, at: open + 40, kind: .cancel, ref: 100))
        XCTAssertEqual(again.outcome, .duplicate)
        XCTAssertEqual(again.originalOutcome, .released)
        XCTAssertEqual(ledger.remaining(3) + ledger.remaining(4), 40, "released once")
        XCTAssertEqual(sold(lane), 0)
    }

    // Row: another organisation's hold, a hold that never existed, a refused reservation, another offer.
    func testNoHoldOnlyForHoldsTheOrganisationNeverHad() throws {
        let (_, lane, _) = try laneWithHold()
        for kind in [RequestKind.confirm, .cancel] {
            XCTAssertEqual(try ask(lane, request(kind == .confirm ? 110 : 111, org: 1, offer: 1, kind: kind, ref: 100)).outcome,
                           .noHold, "another organisation's hold")
            XCTAssertEqual(try ask(lane, request(kind == .confirm ? 112 : 113, org: 0, offer: 1, kind: kind, ref: 999)).outcome,
                           .noHold, "never existed")
            XCTAssertEqual(try ask(lane, request(kind == .confirm ? 114 : 115, org: 0, offer: 0, kind: kind, ref: 100)).outcome,
                           .noHold, "under another offer")
        }
        XCTAssertEqual(held(lane), 2, "strangers ended nothing")
        // A reservation refused (SOLD_OUT: 100 units asked of 78 left, max quantity 3 → use many orgs).
        let (_, small) = try Lane.make(CampaignFixtures.kickoff(hardware: 1, limit: 2))
        XCTAssertEqual(small.decide(request(1, org: 0, offer: 1, qty: 3)).outcome, .held)
        XCTAssertEqual(small.decide(request(2, org: 1, offer: 1, qty: 3)).outcome, .soldOut)
        XCTAssertEqual(small.decide(request(3, org: 1, offer: 1, kind: .confirm, ref: 2)).outcome, .noHold)
        XCTAssertEqual(small.decide(request(4, org: 1, offer: 1, kind: .cancel, ref: 2)).outcome, .noHold)
        // A bundle's request id is no hold either.
        XCTAssertEqual(small.decide(request(5, org: 1, offer: 2)).outcome, .accepted)
        XCTAssertEqual(small.decide(request(6, org: 1, offer: 2, kind: .confirm, ref: 5)).outcome, .noHold)
    }

    // Row: a retransmit of the confirm or cancel itself.
    func testRetransmitOfTheConfirmItselfIsItsOwnDuplicate() throws {
        let (_, lane, h) = try laneWithHold()
        XCTAssertEqual(lane.decide(request(101, org: 0, offer: 1, at: open + 10, kind: .confirm, ref: 100)).outcome, .confirmed)
        let again = try ask(lane, request(101, org: 0, offer: 1, at: open + 20, kind: .confirm, ref: 100))
        XCTAssertEqual(again.outcome, .duplicate)
        XCTAssertEqual(again.originalOutcome, .confirmed)
        XCTAssertEqual(again.priceFen, h.priceFen)
        XCTAssertEqual(sold(lane), 2)
    }

    // Notes under the table: the reservation's own retransmit, whatever became of its hold.
    func testRetransmitOfTheReservationGetsTheOriginalHoldWhateverItsEnd() throws {
        for end in ["active", "confirmed", "cancelled", "expired"] {
            let (ledger, lane, h) = try laneWithHold()
            var t = open + 10
            switch end {
            case "confirmed": _ = lane.decide(request(101, org: 0, offer: 1, at: t, kind: .confirm, ref: 100))
            case "cancelled": _ = lane.decide(request(101, org: 0, offer: 1, at: t, kind: .cancel, ref: 100))
            case "expired": t = h.holdExpiryMillis + 1
            default: break
            }
            for id in UInt64(200)..<210 { _ = lane.decide(request(id, org: 0, offer: 9, at: t)) }  // out of the ring
            let stock = ledger.remaining(3) + ledger.remaining(4)
            let r = try ask(lane, request(100, org: 0, offer: 1, qty: 2, at: t + 1))
            XCTAssertEqual(r.outcome, .duplicate, end)
            XCTAssertEqual(r.originalOutcome, .held, end)
            XCTAssertEqual(r.priceFen, h.priceFen, end)
            XCTAssertEqual(r.reference, 100, end)
            XCTAssertEqual(r.holdExpiryMillis, h.holdExpiryMillis, end)
            XCTAssertEqual(ledger.remaining(3) + ledger.remaining(4), stock, "\(end): nothing taken")
        }
    }

    /// Holds expiring in the same campaign millisecond are released in (organisation, hold id) order,
    /// whatever order they were made in.
    func testSameMillisecondExpiriesComeOutInOrganisationThenHoldIdOrder() throws {
        let (_, lane) = try Lane.make(CampaignFixtures.kickoff(hardware: 20, limit: 2))
        let made: [(org: UInt32, id: UInt64)] = [(4, 7), (0, 9), (3, 2), (0, 5), (1, 8)]
        for m in made { XCTAssertEqual(lane.decide(request(m.id, org: m.org, offer: 1)).outcome, .held) }
        var out: [Decision] = []
        lane.engine.advanceClock(to: open + holdMillis, into: &out)
        XCTAssertEqual(out.map { "\($0.organisation)/\($0.reference)" }, ["0/5", "0/9", "1/8", "3/2", "4/7"])
    }
}
