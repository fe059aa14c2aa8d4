import Dispatch
import XCTest
@testable import FlashSaleCore

final class LaneEngineTests: XCTestCase {
    let open = CampaignFixtures.open

    func decide(_ engine: LaneEngine, _ r: OrderRequest) -> [Decision] {
        var out: [Decision] = []
        engine.process(r, into: &out)
        return out
    }

    func testRulesApplyInOrderAndRefusalsNeverTouchStock() throws {
        let (_, ledger, engines) = try CampaignFixtures.engines(CampaignFixtures.kickoff(), lanes: 1)
        let e = engines[0]
        // org 2 has level none (ineligible for the bundle), org 0 basic, org 1 advanced.
        XCTAssertEqual(decide(e, request(1, org: 0, offer: 0, at: 0)).last?.outcome, .outsideWindow)
        XCTAssertEqual(decide(e, request(1, org: 0, offer: 0)).last?.outcome, .duplicate,
                       "retransmit is checked before the window")
        XCTAssertEqual(decide(e, request(1, org: 0, offer: 0)).last?.originalOutcome, .outsideWindow)
        XCTAssertEqual(decide(e, request(2, org: 0, offer: 9)).last?.outcome, .unknownOffer)
        XCTAssertEqual(decide(e, request(3, org: 0, offer: 0, qty: 0)).last?.outcome, .invalid)
        XCTAssertEqual(decide(e, request(4, org: 0, offer: 0, qty: 4)).last?.outcome, .invalid, "over max quantity")
        XCTAssertEqual(decide(e, request(5, org: 2, offer: 0)).last?.outcome, .ineligible)
        XCTAssertEqual(decide(e, request(6, org: 99_999, offer: 0)).last?.outcome, .unknownOrganisation)
        XCTAssertEqual(decide(e, request(0, org: 0, offer: 0)).last?.outcome, .invalid, "request id 0")
        XCTAssertEqual([ledger.remaining(0), ledger.remaining(1), ledger.remaining(2)], [100, 1000, 2_000_000])
        let accepted = decide(e, request(7, org: 0, offer: 0, qty: 2)).last!
        XCTAssertEqual(accepted.outcome, .accepted)
        XCTAssertEqual(accepted.priceFen, 2 * 398_000 * 45 / 100, "org 0 is activated: 50% + 5% off")
        XCTAssertEqual(decide(e, request(8, org: 0, offer: 0)).last?.outcome, .limit)
        let dup = decide(e, request(7, org: 0, offer: 0, qty: 2)).last!
        XCTAssertEqual(dup.outcome, .duplicate)
        XCTAssertEqual(dup.originalOutcome, .accepted)
        XCTAssertEqual([ledger.remaining(0), ledger.remaining(1), ledger.remaining(2)], [98, 980, 1_960_000],
                       "only the one accepted order took stock")
    }

    /// Units per order are 64-bit: a bundle whose order of max-quantity would overflow them is not a
    /// campaign (it used to wrap to a negative take that "succeeded" and sold beyond stock), and a
    /// rebuild refuses a journaled ACCEPTED whose quantity the offer does not allow.
    func testUnitsPerOrderCannotOverflowAndRebuildChecksQuantities() throws {
        var huge = CampaignFixtures.kickoff(maxQuantity: 2)
        huge.offers[0].kind = .bundle(components: [.init(item: 2, quantityPerUnit: 5_000_000_000_000_000_000)])
        XCTAssertThrowsError(try CampaignRules(huge)) { error in
            XCTAssertTrue("\(error)".contains("5000000000000000000 units × max quantity 2 overflow 64 bits"), "\(error)")
        }
        huge.offers[0].maxQuantity = 1
        XCTAssertNoThrow(try CampaignRules(huge), "one unit of the bundle fits")

        let (_, _, engines) = try CampaignFixtures.engines(CampaignFixtures.kickoff(), lanes: 1)
        var d = decide(engines[0], request(7, org: 0, offer: 0, qty: 1)).last!
        XCTAssertEqual(d.outcome, .accepted)
        let (_, _, fresh) = try CampaignFixtures.engines(CampaignFixtures.kickoff(), lanes: 1)
        XCTAssertTrue(fresh[0].replay(d))
        d.requestId = 8
        d.quantity = 4
        XCTAssertFalse(fresh[0].replay(d), "max quantity is 3")
        d.quantity = 0
        XCTAssertFalse(fresh[0].replay(d))
    }

    func testHoldExpiresAndItsUnitsComeBack() throws {
        let (_, ledger, engines) = try CampaignFixtures.engines(CampaignFixtures.kickoff(hardware: 3), lanes: 1)
        let e = engines[0]
        let held = decide(e, request(10, org: 0, offer: 1, qty: 3)).last!
        XCTAssertEqual(held.outcome, .held)
        XCTAssertEqual(held.holdExpiryMillis, open + 5 * 60_000)
        XCTAssertEqual(held.pieces.count, 1)
        XCTAssertEqual(held.pieces[0].item, 3, "org 0 is in region 0: the tier-2 vendor there first")
        XCTAssertEqual(ledger.remaining(3), 0)
        XCTAssertEqual(e.heldUnits[3], 3)
        // A request at the expiry instant releases the hold first.
        let later = decide(e, request(11, org: 4, offer: 2, at: held.holdExpiryMillis))
        XCTAssertEqual(later.first?.outcome, .released)
        XCTAssertEqual(later.first?.kind, .expire)
        XCTAssertEqual(later.first?.reference, 10)
        XCTAssertEqual(ledger.remaining(3), 3, "expired units are back")
        XCTAssertEqual(e.heldUnits[3], 0)
        let confirm = decide(e, request(12, org: 0, offer: 1, at: held.holdExpiryMillis + 1, kind: .confirm, ref: 10)).last!
        XCTAssertEqual(confirm.outcome, .holdExpired, "a confirm after expiry never sells the returned units")
        XCTAssertEqual(ledger.remaining(3), 3)
        XCTAssertEqual(e.soldUnits[3], 0)
        // The limit slot came back with the units: the organisation may reserve again.
        XCTAssertEqual(decide(e, request(13, org: 0, offer: 1, qty: 1, at: held.holdExpiryMillis + 2)).last?.outcome, .held)
    }

    func testConfirmBeforeExpirySellsOnce() throws {
        let (_, ledger, engines) = try CampaignFixtures.engines(CampaignFixtures.kickoff(hardware: 2), lanes: 1)
        let e = engines[0]
        // 3 units: 2 from the tier-2 vendor in the org's region, 1 from the tier-1 vendor there.
        let held = decide(e, request(20, org: 1, offer: 1, qty: 3)).last!
        XCTAssertEqual(held.outcome, .held)
        XCTAssertEqual(held.pieces.count, 2)
        XCTAssertEqual(held.pieces[0].item, 5)
        XCTAssertEqual(held.pieces[0].quantity, 2)
        XCTAssertEqual(held.pieces[1].item, 6)
        let c1 = decide(e, request(21, org: 1, offer: 1, at: open + 1000, kind: .confirm, ref: 20)).last!
        XCTAssertEqual(c1.outcome, .confirmed)
        let c2 = decide(e, request(22, org: 1, offer: 1, at: open + 2000, kind: .confirm, ref: 20)).last!
        XCTAssertEqual(c2.outcome, .duplicate, "a second confirm (new request id) sells nothing")
        XCTAssertEqual(c2.originalOutcome, .confirmed)
        XCTAssertEqual(decide(e, request(21, org: 1, offer: 1, at: open + 3000, kind: .confirm, ref: 20)).last?.outcome, .duplicate)
        // Nothing expires later: the hold is gone.
        let after = decide(e, request(23, org: 3, offer: 2, at: open + 3_600_000))
        XCTAssertFalse(after.contains { $0.outcome == .released })
        XCTAssertEqual(e.soldUnits[5] + e.soldUnits[6], 3)
        XCTAssertEqual(ledger.remaining(5) + ledger.remaining(6), 1)
        XCTAssertEqual(e.heldUnits.reduce(0, +), 0)
    }

    func testCancelReturnsUnitsAndAnotherOrganisationCannotEndTheHold() throws {
        let (_, ledger, engines) = try CampaignFixtures.engines(CampaignFixtures.kickoff(hardware: 2), lanes: 1)
        let e = engines[0]
        XCTAssertEqual(decide(e, request(30, org: 0, offer: 1, qty: 2)).last?.outcome, .held)
        XCTAssertEqual(decide(e, request(31, org: 1, offer: 1, kind: .confirm, ref: 30)).last?.outcome, .noHold)
        XCTAssertEqual(decide(e, request(32, org: 0, offer: 1, kind: .cancel, ref: 30)).last?.outcome, .released)
        XCTAssertEqual(ledger.remaining(3), 2)
        XCTAssertEqual(decide(e, request(33, org: 0, offer: 1, kind: .confirm, ref: 30)).last?.outcome, .holdCancelled,
                       "a cancelled hold cannot be confirmed")
        XCTAssertEqual(ledger.remaining(3), 2)
    }

    /// The flash-sale nightmare: many threads, one hot item and a bundle, retransmits, limits.
    func testHammeredHotItemNeverOversellsAndConservesStock() throws {
        let lanes = 4
        let campaign = CampaignFixtures.kickoff(organisations: 20_000, license: 5_000, machines: 30_000,
                                                subsidy: 60_000_000, hardware: 500, levels: [.basic, .advanced], limit: 2)
        let (rules, ledger, engines) = try CampaignFixtures.engines(campaign, lanes: lanes)
        let attemptsPerLane = 260_000  // > 1,000,000 in total
        struct Tally { var acceptedUnits = [Int64](repeating: 0, count: 7); var perOrgOffer: [Int: Int] = [:]; var duplicates = 0 }
        var tallies = [Tally](repeating: Tally(), count: lanes)
        tallies.withUnsafeMutableBufferPointer { tp in
            DispatchQueue.concurrentPerform(iterations: lanes) { lane in
                let e = engines[lane]
                var rng = SplitMix64(seed: UInt64(lane) &* 7919)
                var out: [Decision] = []
                out.reserveCapacity(64)
                var tally = Tally()
                var previous: OrderRequest?
                var nextId = UInt64(lane + 1)
                var t = self.open
                for _ in 0..<attemptsPerLane {
                    out.removeAll(keepingCapacity: true)
                    t += Int64(rng.next() % 3)
                    var r: OrderRequest
                    if let p = previous, rng.next() % 20 == 0 {
                        r = p  // retransmit
                        r.campaignTimeMillis = t
                    } else {
                        let org = UInt32(Int(rng.next() % UInt64(campaign.population.count / lanes)) * lanes + lane)
                        let roll = rng.next() % 10
                        let offer: UInt16 = roll < 6 ? 2 : (roll < 9 ? 0 : 1)
                        r = OrderRequest(requestId: nextId, campaignTimeMillis: t, organisation: org, offer: offer,
                                         quantity: Int32(rng.next() % 3 + 1))
                        nextId += UInt64(lanes)
                        if offer == 1, let p = previous, p.offer == 1, rng.next() % 2 == 0 {
                            r.kind = .confirm
                            r.organisation = p.organisation
                            r.reference = p.requestId
                        }
                    }
                    previous = r
                    e.process(r, into: &out)
                    for d in out {
                        switch d.outcome {
                        case .accepted:
                            for c in rules.bundleComponents(Int(d.offer)) { tally.acceptedUnits[c.item] += c.quantityPerUnit * Int64(d.quantity) }
                            tally.perOrgOffer[Int(d.organisation) * 8 + Int(d.offer), default: 0] += 1
                        case .held:
                            tally.perOrgOffer[Int(d.organisation) * 8 + Int(d.offer), default: 0] += 1
                        case .released:
                            tally.perOrgOffer[Int(d.organisation) * 8 + Int(d.offer), default: 0] -= 1
                        case .duplicate: tally.duplicates += 1
                        default: break
                        }
                    }
                }
                tp[lane] = tally
            }
        }
        var soldByDecisions = [Int64](repeating: 0, count: 7)
        for tally in tallies { for i in 0..<7 { soldByDecisions[i] += tally.acceptedUnits[i] } }
        for item in 0..<7 {
            let sold = engines.reduce(0) { $0 + $1.soldUnits[item] }
            let held = engines.reduce(0) { $0 + $1.heldUnits[item] }
            let remaining = ledger.remaining(item)
            XCTAssertGreaterThanOrEqual(remaining, 0, "item \(item) oversold")
            XCTAssertEqual(remaining + held + sold, campaign.items[item].initial, "item \(item): initial = remaining + held + sold")
            if item < 3 {
                XCTAssertEqual(soldByDecisions[item], engines.reduce(0) { $0 + $1.soldUnits[item] },
                               "item \(item): units sold equal the ACCEPTED decisions — retransmits took nothing")
            }
        }
        XCTAssertEqual(ledger.remaining(0), 0, "demand far above stock: the hot item sells out")
        for tally in tallies {
            for (_, n) in tally.perOrgOffer { XCTAssertLessThanOrEqual(n, 2, "an organisation went over its limit") }
            XCTAssertGreaterThan(tally.duplicates, 0)
        }
    }
}
