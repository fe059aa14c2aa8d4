import XCTest
@testable import FlashSaleCore

/// A plain, obviously-correct model of the rules (dictionaries, no sharding, no rings of pointers),
/// against which the engine's decisions are compared one by one.
private struct ReferenceModel {
    let campaign: Campaign
    var stock: [Int: Int64] = [:]
    var recent: [UInt32: [(id: UInt64, outcome: Outcome)]] = [:]
    var accepted: [String: Int] = [:]
    var holds: [String: (org: UInt32, offer: UInt16, pieces: [(Int, Int64)], expiry: Int64, qty: Int32, price: Int64)] = [:]
    /// "org/id" of every order ACCEPTED or HELD: how it stands, its offer, price and hold expiry.
    var orders: [String: (state: String, offer: UInt16, price: Int64, expiry: Int64)] = [:]
    var clock: Int64 = .min

    init(_ campaign: Campaign) {
        self.campaign = campaign
        for (i, item) in campaign.items.enumerated() { stock[i] = item.initial }
    }

    /// The outcomes (expiries first), and for the request's own decision its original outcome and price.
    mutating func process(_ r: OrderRequest) -> [Outcome] { processDetailed(r).outcomes }

    mutating func processDetailed(_ r: OrderRequest) -> (outcomes: [Outcome], original: Outcome, price: Int64) {
        var out: [Outcome] = []
        // Holds expire against the latest campaign time seen (a hold decided after the clock passed its
        // expiry ends before the next request).
        if r.campaignTimeMillis > clock { clock = r.campaignTimeMillis }
        do {
            let due = holds.filter { $0.value.expiry <= clock }.sorted {
                ($0.value.expiry, $0.value.org, UInt64($0.key.split(separator: "/")[1])!)
                    < ($1.value.expiry, $1.value.org, UInt64($1.key.split(separator: "/")[1])!)
            }
            for (ref, h) in due {
                for (item, q) in h.pieces { stock[item]! += q }
                accepted["\(h.org)/\(h.offer)", default: 0] -= 1
                holds[ref] = nil
                orders[ref]!.state = "expired"
                out.append(.released)
            }
        }
        let (o, original, price) = decide(r)
        out.append(o)
        return (out, original, price)
    }

    private mutating func decide(_ r: OrderRequest) -> (Outcome, Outcome, Int64) {
        guard let org = campaign.population[r.organisation] else { return (.unknownOrganisation, .unknownOrganisation, 0) }
        guard r.requestId != 0 else { return (.invalid, .invalid, 0) }
        if let seen = recent[r.organisation, default: []].first(where: { $0.id == r.requestId }) {
            var price: Int64 = 0
            if seen.outcome == .accepted || seen.outcome == .held {
                price = orders["\(r.organisation)/\(r.requestId)"]?.price ?? 0
            } else if r.kind == .confirm || r.kind == .cancel,
                      [.confirmed, .released, .holdExpired, .holdCancelled, .holdConfirmed].contains(seen.outcome),
                      let o = orders["\(r.organisation)/\(r.reference)"], o.offer == r.offer, o.state != "accepted" {
                price = o.price
            }
            return (.duplicate, seen.outcome, price)
        }
        // An order ACCEPTED or HELD is a retransmit however late, whatever the limit: the original answer.
        if r.kind == .buy, let o = orders["\(r.organisation)/\(r.requestId)"] {
            return (.duplicate, o.state == "accepted" ? .accepted : .held, o.price)
        }
        var (outcome, original, price) = fresh(r, org)
        if outcome == .duplicate { return (outcome, original, price) }  // answered from the orders: not remembered
        original = outcome
        var ring = recent[r.organisation, default: []]
        ring.append((r.requestId, outcome))
        if ring.count > LaneEngine.retransmitMemory { ring.removeFirst() }
        recent[r.organisation] = ring
        return (outcome, original, price)
    }

    private mutating func fresh(_ r: OrderRequest, _ org: Organisation) -> (Outcome, Outcome, Int64) {
        let o = freshOutcome(r, org)
        let price = o == .accepted || o == .held ? orders["\(r.organisation)/\(r.requestId)"]!.price
            : (r.kind == .confirm || r.kind == .cancel) && o != .noHold && o != .unknownOffer
                ? orders["\(r.organisation)/\(r.reference)"]?.price ?? 0 : 0
        if o == .duplicate { return (o, r.kind == .confirm ? .confirmed : .released, price) }
        return (o, o, price)
    }

    private mutating func freshOutcome(_ r: OrderRequest, _ org: Organisation) -> Outcome {
        if r.kind == .confirm || r.kind == .cancel {
            guard Int(r.offer) < campaign.offers.count else { return .unknownOffer }
            let key = "\(r.organisation)/\(r.reference)"
            if let h = holds[key], h.offer == r.offer {
                holds[key] = nil
                if r.kind == .cancel {
                    for (item, q) in h.pieces { stock[item]! += q }
                    accepted["\(h.org)/\(h.offer)", default: 0] -= 1
                    orders[key]!.state = "cancelled"
                    return .released
                }
                orders[key]!.state = "confirmed"
                return .confirmed
            }
            guard let o = orders[key], o.offer == r.offer, o.state != "accepted" else { return .noHold }
            switch (o.state, r.kind) {
            case ("expired", _): return .holdExpired
            case ("confirmed", .confirm), ("cancelled", .cancel): return .duplicate
            case ("confirmed", _): return .holdConfirmed
            default: return .holdCancelled
            }
        }
        if r.kind == .expire { return .invalid }
        guard campaign.window.contains(r.campaignTimeMillis) else { return .outsideWindow }
        guard Int(r.offer) < campaign.offers.count else { return .unknownOffer }
        let offer = campaign.offers[Int(r.offer)]
        guard r.quantity > 0, r.quantity <= offer.maxQuantity else { return .invalid }
        guard org.level >= offer.minimumLevel else { return .ineligible }
        let key = "\(r.organisation)/\(r.offer)"
        guard accepted[key, default: 0] < offer.limitPerOrganisation else { return .limit }
        let q = Int64(r.quantity)
        let pct = max(0, 100 - offer.price.discountPercent - (org.activated ? offer.price.activationExtraPercent : 0))
        let price = offer.price.listPriceFen * Int64(pct) / 100 * q
        switch offer.kind {
        case .bundle(let components):
            guard components.allSatisfy({ stock[$0.item]! >= $0.quantityPerUnit * q }) else { return .soldOut }
            for c in components { stock[c.item]! -= c.quantityPerUnit * q }
            accepted[key, default: 0] += 1
            orders["\(r.organisation)/\(r.requestId)"] = ("accepted", r.offer, price, 0)
            return .accepted
        case .reservation(let model, let holdMillis):
            let candidates = campaign.items.indices.filter {
                if case .hardware(let m, _, _, _) = campaign.items[$0].kind { m == model } else { false }
            }.sorted { a, b in
                guard case .hardware(_, _, let ta, let ra) = campaign.items[a].kind,
                      case .hardware(_, _, let tb, let rb) = campaign.items[b].kind else { return false }
                let ownA = ra == org.region, ownB = rb == org.region
                if ownA != ownB { return ownA }
                if ta != tb { return ta > tb }
                return a < b
            }
            var need = q
            var pieces: [(Int, Int64)] = []
            for item in candidates where need > 0 && stock[item]! > 0 {
                let got = min(need, stock[item]!)
                pieces.append((item, got))
                need -= got
            }
            guard need == 0, pieces.count <= HoldPieces.capacity else { return .soldOut }
            for (item, got) in pieces { stock[item]! -= got }
            accepted[key, default: 0] += 1
            holds["\(r.organisation)/\(r.requestId)"] = (r.organisation, r.offer, pieces, r.campaignTimeMillis + holdMillis, r.quantity, 0)
            orders["\(r.organisation)/\(r.requestId)"] = ("held", r.offer, price, r.campaignTimeMillis + holdMillis)
            return .held
        }
    }
}

final class ReferenceModelTests: XCTestCase {
    struct Stats {
        var seen = [Outcome: Int]()
        /// Retransmits of an ACCEPTED or HELD order whose id had left the organisation's retransmit memory.
        var lateRetransmits = 0
        /// Of those, retransmits sent after ≥ 1,000 later requests of the same organisation.
        var oldRetransmits = 0
        /// Orders in the lane's hash index (of organisations whose lookups walked `OrderMemory.indexThreshold` orders).
        var indexedOrders = 0
    }

    /// One lane, `requests` random requests of every kind (retransmits recent and old, confirms and
    /// cancels of own and strangers' holds, jumps past hold expiries): each decision, its original
    /// outcome and its price equal the reference model's, and the stock left equals the model's.
    func compareWithModel(organisations: Int, limit: Int, requests: Int, seed: UInt64) throws -> Stats {
        var campaign = CampaignFixtures.kickoff(organisations: organisations, license: 400, machines: 3_000, subsidy: 5_000_000,
                                                hardware: 400, levels: [.basic, .none, .advanced, .intermediate],
                                                limit: limit, maxQuantity: 3)
        campaign.window.closesMillis = 48 * CampaignFixtures.hour  // room for the jumps past hold expiries
        let (_, ledger, engines) = try CampaignFixtures.engines(campaign, lanes: 1)
        let engine = engines[0]
        var model = ReferenceModel(campaign)
        var rng = SplitMix64(seed: seed)
        var t = 10 * CampaignFixtures.hour - 60_000
        var issued: [OrderRequest] = []
        // Requests that were ACCEPTED or HELD, with their price and the organisation's request count then.
        var bought: [(request: OrderRequest, price: Int64, sentAt: Int)] = []
        var sentBy = [UInt32: Int]()
        var out: [Decision] = []
        var stats = Stats()
        for n in 1...requests {
            t += Int64(rng.next() % 20)
            if rng.next() % 2000 == 0 { t += 300_001 }  // past every hold's expiry
            var r: OrderRequest
            var oldOriginal: (price: Int64, age: Int)?
            let roll = rng.next() % 100
            if roll < 5, let p = issued.last {
                r = p
                r.campaignTimeMillis = t
            } else if roll < 8, !bought.isEmpty {
                let p = bought[Int(rng.next() % UInt64(bought.count))]
                r = p.request  // a late retransmit of an order that took stock: mostly out of its organisation's memory
                r.campaignTimeMillis = t
                oldOriginal = (p.price, sentBy[r.organisation, default: 0] - p.sentAt)
            } else if roll < 20, let p = issued.randomElement(using: &rng), p.kind == .buy {
                r = OrderRequest(requestId: UInt64(n), campaignTimeMillis: t,
                                 organisation: roll < 18 ? p.organisation : UInt32(rng.next() % UInt64(organisations)),  // sometimes a stranger's hold
                                 offer: p.offer, kind: roll < 16 ? .confirm : .cancel, quantity: 1, reference: p.requestId)
            } else {
                r = OrderRequest(requestId: rng.next() % 500 == 0 ? 0 : UInt64(n), campaignTimeMillis: t,
                                 organisation: UInt32(rng.next() % UInt64(organisations + organisations / 30 + 1)),
                                 offer: UInt16(rng.next() % 4), quantity: Int32(rng.next() % 5) - 0)
            }
            issued.append(r)
            if issued.count > 50 { issued.removeFirst() }
            // Out of the organisation's retransmit memory before this request (the late retransmits counted below).
            let outOfMemory = !model.recent[r.organisation, default: []].contains { $0.id == r.requestId }
            sentBy[r.organisation, default: 0] += 1
            out.removeAll(keepingCapacity: true)
            engine.process(r, into: &out)
            let expected = model.processDetailed(r)
            XCTAssertEqual(out.map(\.outcome), expected.outcomes, "request #\(n): \(r)")
            guard out.map(\.outcome) == expected.outcomes, let last = out.last else { return stats }
            XCTAssertEqual(last.originalOutcome, expected.original, "request #\(n): \(r)")
            XCTAssertEqual(last.priceFen, expected.price, "price of request #\(n): \(r)")
            for d in out { stats.seen[d.outcome, default: 0] += 1 }
            if last.outcome == .accepted || last.outcome == .held {
                bought.append((r, last.priceFen, sentBy[r.organisation, default: 0]))
            }
            if let original = oldOriginal {
                // Idempotency: however old, a retransmit of a sale or a hold gets its original answer.
                XCTAssertEqual(last.outcome, .duplicate, "late retransmit #\(n): \(r)")
                XCTAssertTrue(last.originalOutcome == .accepted || last.originalOutcome == .held, "late retransmit #\(n)")
                XCTAssertEqual(last.priceFen, original.price, "late retransmit #\(n) keeps its price")
                if outOfMemory { stats.lateRetransmits += 1 }
                if original.age >= 1_000 { stats.oldRetransmits += 1 }
            }
        }
        for item in campaign.items.indices {
            XCTAssertEqual(ledger.remaining(item), model.stock[item]!, "stock of item \(item)")
        }
        stats.indexedOrders = engine.orders.indexedCount
        // Nothing bought twice: per organisation and offer, the orders holding slots stay within the limit.
        for org in 0..<organisations {
            for offer in 0..<campaign.offers.count {
                XCTAssertLessThanOrEqual(engine.acceptedCount(organisation: UInt32(org), offer: offer), limit)
            }
        }
        return stats
    }

    func testDecisionsEqualThoseOfAPlainReferenceModel() throws {
        let stats = try compareWithModel(organisations: 300, limit: 2, requests: 120_000, seed: 2026)
        XCTAssertGreaterThan(stats.lateRetransmits, 100, "late retransmits of orders that took stock must be exercised")
        // The random mix must actually exercise every rule, or the comparison proves little.
        for o: Outcome in [.accepted, .held, .confirmed, .released, .soldOut, .limit, .duplicate, .ineligible,
                           .outsideWindow, .holdExpired, .unknownOffer, .invalid, .noHold, .holdCancelled, .holdConfirmed,
                           .unknownOrganisation] {
            XCTAssertGreaterThan(stats.seen[o, default: 0], 0, "outcome \(o) never happened")
        }
    }

    /// Old retransmits (≥ 1,000 requests of the same organisation after the original) for limits 1, 2
    /// and 3: every one is DUPLICATE with the original outcome and price, and nothing is bought twice.
    func testOldRetransmitsAreDuplicatesForEveryLimit() throws {
        for limit in 1...3 {
            let stats = try compareWithModel(organisations: 24, limit: limit, requests: 90_000, seed: 77 + UInt64(limit))
            XCTAssertGreaterThan(stats.oldRetransmits, 200, "limit \(limit): old retransmits must be exercised")
        }
    }

    /// A few organisations with dozens of orders each (limit 12 on every offer, holds taken again after
    /// expiries): their orders are answered from the hash index, exactly as the model answers.
    func testOrganisationsWithManyOrdersAreDecidedLikeTheModel() throws {
        let stats = try compareWithModel(organisations: 6, limit: 12, requests: 60_000, seed: 4242)
        XCTAssertGreaterThan(stats.indexedOrders, 6 * OrderMemory.indexThreshold, "the index must be exercised")
        XCTAssertGreaterThan(stats.lateRetransmits, 100, "late retransmits must be exercised")
        XCTAssertGreaterThan(stats.seen[.limit, default: 0], 100, "LIMIT answers must be exercised")
    }
}
