import XCTest
@testable import FlashSaleCore

/// Organisations with many orders: once a lookup walks `OrderMemory.indexThreshold` of them, their orders
/// are found in `OrderMemory`'s hash index, not by walking their chain. A chain of 50 orders cost a LIMIT 50 cache misses (seckill-parity with
/// 62,500 organisations ran at 1.9M decisions/s instead of 17M). The index must answer exactly what the
/// chain answered: never another organisation's order, never another offer's, the newest of equal keys.
final class OrderIndexTests: XCTestCase {
    let open = CampaignFixtures.open

    func testTheIndexFindsExactlyWhatTheChainFinds() {
        var memory = OrderMemory(expected: 16)
        var heads = [UInt32](repeating: 0, count: 3)
        // Three organisations with the same 700 (request id, offer) keys: more than fill the first 1,024 slots.
        for org in 0..<3 {
            for id in UInt64(1)...700 {
                heads[org] = memory.append(head: heads[org], requestId: id, offer: UInt16(id % 5), state: .accepted,
                                           priceFen: Int64(org) * 1_000_000 + Int64(id), holdExpiryMillis: 0)
                if org == 1 && id > 8 { memory.index(Int(heads[org]) - 1, organisation: 1) }
                if org == 1 && id == 8 { memory.indexChain(head: heads[org], organisation: 1) }
            }
        }
        memory.indexChain(head: heads[0], organisation: 0)  // organisation 2 stays unindexed
        XCTAssertEqual(memory.indexedCount, 1400)
        for org in 0..<2 {
            for id in UInt64(1)...700 {
                let offer = UInt16(id % 5)
                guard let i = memory.findIndexed(organisation: UInt32(org), requestId: id, offer: offer) else {
                    return XCTFail("organisation \(org), id \(id): not in the index")
                }
                XCTAssertEqual(i, memory.find(head: heads[org], requestId: id, offer: offer), "organisation \(org), id \(id)")
                XCTAssertEqual(memory[i].priceFen, Int64(org) * 1_000_000 + Int64(id), "another organisation's order")
                XCTAssertNil(memory.findIndexed(organisation: UInt32(org), requestId: id, offer: offer + 1), "another offer's order")
            }
            XCTAssertNil(memory.findIndexed(organisation: UInt32(org), requestId: 701, offer: 701 % 5))
        }
        XCTAssertNil(memory.findIndexed(organisation: 2, requestId: 5, offer: 0), "organisation 2 was never indexed")
        // A newer entry of an existing key wins, as it does in a chain walked from its head.
        heads[0] = memory.append(head: heads[0], requestId: 10, offer: 0, state: .held, priceFen: 7, holdExpiryMillis: 9)
        memory.index(Int(heads[0]) - 1, organisation: 0)
        XCTAssertEqual(memory.findIndexed(organisation: 0, requestId: 10, offer: 0), Int(heads[0]) - 1)
        XCTAssertEqual(memory.indexedCount, 1400)
    }

    /// Two organisations' orders of the same request id and offer whose probes start at the same slot:
    /// each organisation finds its own, never the other's that lies first on its way.
    func testOrdersOfTwoOrganisationsInOneProbeAreToldApart() {
        var memory = OrderMemory(expected: 16)
        let colliding = (UInt64(1)...200_000).filter {
            OrderMemory.slotHash(organisation: 0, requestId: $0, offer: 3) & 1023
                == OrderMemory.slotHash(organisation: 1, requestId: $0, offer: 3) & 1023
        }.prefix(100)
        XCTAssertGreaterThan(colliding.count, 50)
        var heads: [UInt32] = [0, 0]
        for id in colliding {
            for org in 0..<2 {
                heads[org] = memory.append(head: heads[org], requestId: id, offer: 3, state: .accepted,
                                           priceFen: Int64(org), holdExpiryMillis: 0)
                memory.index(Int(heads[org]) - 1, organisation: UInt32(org))
            }
        }
        for id in colliding {
            for org in 0..<2 {
                guard let i = memory.findIndexed(organisation: UInt32(org), requestId: id, offer: 3) else {
                    return XCTFail("organisation \(org), id \(id): not found")
                }
                XCTAssertEqual(memory[i].priceFen, Int64(org), "organisation \(org), id \(id): another organisation's order")
            }
            XCTAssertNil(memory.findIndexed(organisation: 2, requestId: id, offer: 3))
        }
    }

    /// One organisation with 45 orders (limit 15 on each of three offers), another with the same request
    /// ids: every late retransmit gets its own original answer, a new id gets LIMIT, holds that ended are
    /// told apart, and a rebuild from the journal answers the same.
    func testAnOrganisationWithManyOrdersIsAnsweredLikeOneWithFew() throws {
        let campaign = CampaignFixtures.kickoff(organisations: 4, license: 10_000, machines: 1_000_000, subsidy: 1_000_000_000,
                                                hardware: 1_000, limit: 15, maxQuantity: 1)
        let (_, _, engines) = try CampaignFixtures.engines(campaign, lanes: 1)
        let e = engines[0]
        var journal: [Decision] = []
        var t = open
        func decide(_ r: OrderRequest, on engine: LaneEngine) -> Decision {
            var out: [Decision] = []
            engine.process(r, into: &out)
            if engine === e { journal += out }
            return out.last!
        }
        func send(_ id: UInt64, org: UInt32 = 0, offer: UInt16, kind: RequestKind = .buy, ref: UInt64 = 0,
                  on engine: LaneEngine? = nil) -> Decision {
            t += 1
            return decide(request(id, org: org, offer: offer, at: t, kind: kind, ref: ref), on: engine ?? e)
        }
        var price = [UInt64: Int64]()
        for id in UInt64(1)...15 { let d = send(id, offer: 0); XCTAssertEqual(d.outcome, .accepted); price[id] = d.priceFen }
        for id in UInt64(16)...30 { let d = send(id, offer: 2); XCTAssertEqual(d.outcome, .accepted); price[id] = d.priceFen }
        for id in UInt64(31)...45 { let d = send(id, offer: 1); XCTAssertEqual(d.outcome, .held); price[id] = d.priceFen }
        // The same ids from another organisation are other orders.
        for id in UInt64(1)...15 { XCTAssertEqual(send(id, org: 1, offer: 0).outcome, .accepted, "organisation 1, id \(id)") }

        XCTAssertEqual(send(100, offer: 0).outcome, .limit, "a new id over the limit")
        XCTAssertEqual(send(1, offer: 1).outcome, .limit, "id 1 under another offer is another order, over that offer's limit")
        // Out of the retransmit memory (which matches ids under any offer), so that the orders answer.
        for id in UInt64(101)...104 { XCTAssertEqual(send(id, offer: 9).outcome, .unknownOffer) }
        for id in UInt64(1)...45 {
            let offer: UInt16 = id <= 15 ? 0 : id <= 30 ? 2 : 1
            let d = send(id, offer: offer)
            XCTAssertEqual(d.outcome, .duplicate, "late retransmit of \(id)")
            XCTAssertEqual(d.originalOutcome, id <= 30 ? .accepted : .held, "late retransmit of \(id)")
            XCTAssertEqual(d.priceFen, price[id], "late retransmit of \(id) keeps its price")
        }
        XCTAssertGreaterThanOrEqual(e.orders.indexedCount, 45, "the long lookups must have put the organisation's orders in the index")
        // Hold 31 cancelled: a confirm of it (once out of the retransmit memory) learns how it ended.
        XCTAssertEqual(send(200, offer: 1, kind: .cancel, ref: 31).outcome, .released)
        for id in UInt64(201)...204 { XCTAssertEqual(send(id, offer: 9).outcome, .unknownOffer) }
        XCTAssertEqual(send(205, offer: 1, kind: .confirm, ref: 31).outcome, .holdCancelled)
        XCTAssertEqual(send(206, offer: 1, kind: .cancel, ref: 31).outcome, .duplicate)
        // The other holds expire; a confirm after that is HOLD_EXPIRED, and a new reservation holds again.
        t += 10 * 60_000
        XCTAssertEqual(send(207, offer: 1, kind: .confirm, ref: 32).outcome, .holdExpired)
        XCTAssertEqual(send(208, offer: 1).outcome, .held, "expired holds free the organisation's slots")

        // A restart rebuilds the index from the journal and answers the same.
        let (_, _, fresh) = try CampaignFixtures.engines(campaign, lanes: 1)
        for (i, d) in journal.enumerated() { XCTAssertTrue(fresh[0].replay(d), "journaled decision \(i) cannot be rebuilt") }
        XCTAssertEqual(fresh[0].orders.indexedCount, e.orders.indexedCount)
        XCTAssertEqual(send(5, offer: 0, on: fresh[0]).outcome, .duplicate)
        XCTAssertEqual(send(101, offer: 0, on: fresh[0]).outcome, .limit)
        XCTAssertEqual(send(209, offer: 1, kind: .confirm, ref: 33, on: fresh[0]).outcome, .holdExpired)
        XCTAssertEqual(send(210, offer: 1, kind: .confirm, ref: 31, on: fresh[0]).outcome, .holdCancelled)
        XCTAssertEqual(send(3, org: 1, offer: 0, on: fresh[0]).outcome, .duplicate)
    }
}
