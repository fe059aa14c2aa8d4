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
    var expired: Set<String> = []  // "org/ref" of expired holds still in the org's memory
    var sold: Set<String> = []     // "org/id" of every order sold (bundle accepted, reservation confirmed)
    var clock: Int64 = .min

    init(_ campaign: Campaign) {
        self.campaign = campaign
        for (i, item) in campaign.items.enumerated() { stock[i] = item.initial }
    }

    mutating func process(_ r: OrderRequest) -> [Outcome] {
        var out: [Outcome] = []
        // Holds expire against the latest campaign time seen (a hold decided after the clock passed its
        // expiry ends before the next request).
        if r.campaignTimeMillis > clock { clock = r.campaignTimeMillis }
        do {
            let due = holds.filter { $0.value.expiry <= clock }.sorted { ($0.value.expiry, $0.value.org) < ($1.value.expiry, $1.value.org) }
            for (ref, h) in due {
                for (item, q) in h.pieces { stock[item]! += q }
                accepted["\(h.org)/\(h.offer)", default: 0] -= 1
                holds[ref] = nil
                let id = UInt64(ref.split(separator: "/")[1])!
                if recent[h.org, default: []].contains(where: { $0.id == id }) { expired.insert(ref) }
                out.append(.released)
            }
        }
        let o = decide(r)
        if let o { out.append(o) }
        return out
    }

    private mutating func decide(_ r: OrderRequest) -> Outcome? {
        guard r.requestId != 0, let org = campaign.population[r.organisation] else { return .invalid }
        if let seen = recent[r.organisation, default: []].first(where: { $0.id == r.requestId }) {
            _ = seen
            return .duplicate
        }
        // A reservation whose hold is active, or an order sold, is a retransmit even when its id left the memory.
        if r.kind == .buy, Int(r.offer) < campaign.offers.count, case .reservation = campaign.offers[Int(r.offer)].kind,
           holds["\(r.organisation)/\(r.requestId)"] != nil {
            return .duplicate
        }
        // (With a limit of 1 the used slot refuses it as LIMIT instead, below.)
        if r.kind == .buy, Int(r.offer) < campaign.offers.count, campaign.offers[Int(r.offer)].limitPerOrganisation > 1,
           sold.contains("\(r.organisation)/\(r.requestId)") { return .duplicate }
        let outcome = fresh(r, org)
        var ring = recent[r.organisation, default: []]
        ring.append((r.requestId, outcome))
        if ring.count > LaneEngine.retransmitMemory {
            let dropped = ring.removeFirst()
            expired.remove("\(r.organisation)/\(dropped.id)")
        }
        recent[r.organisation] = ring
        return outcome
    }

    private mutating func fresh(_ r: OrderRequest, _ org: Organisation) -> Outcome {
        if r.kind == .confirm || r.kind == .cancel {
            guard Int(r.offer) < campaign.offers.count else { return .unknownOffer }
            let key = "\(r.organisation)/\(r.reference)"
            if let h = holds[key], h.offer == r.offer {
                holds[key] = nil
                if r.kind == .cancel {
                    for (item, q) in h.pieces { stock[item]! += q }
                    accepted["\(h.org)/\(h.offer)", default: 0] -= 1
                    return .released
                }
                sold.insert(key)
                return .confirmed
            }
            return expired.contains(key) && r.kind == .confirm ? .holdExpired : .noHold
        }
        guard campaign.window.contains(r.campaignTimeMillis) else { return .outsideWindow }
        guard Int(r.offer) < campaign.offers.count else { return .unknownOffer }
        let offer = campaign.offers[Int(r.offer)]
        guard r.quantity > 0, r.quantity <= offer.maxQuantity else { return .invalid }
        guard org.level >= offer.minimumLevel else { return .ineligible }
        let key = "\(r.organisation)/\(r.offer)"
        guard accepted[key, default: 0] < offer.limitPerOrganisation else { return .limit }
        let q = Int64(r.quantity)
        switch offer.kind {
        case .bundle(let components):
            guard components.allSatisfy({ stock[$0.item]! >= $0.quantityPerUnit * q }) else { return .soldOut }
            for c in components { stock[c.item]! -= c.quantityPerUnit * q }
            accepted[key, default: 0] += 1
            sold.insert("\(r.organisation)/\(r.requestId)")
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
            return .held
        }
    }
}

final class ReferenceModelTests: XCTestCase {
    /// One lane, 120,000 random requests of every kind: each decision equals the reference model's.
    func testDecisionsEqualThoseOfAPlainReferenceModel() throws {
        var campaign = CampaignFixtures.kickoff(organisations: 300, license: 400, machines: 3_000, subsidy: 5_000_000,
                                                hardware: 400, levels: [.basic, .none, .advanced, .intermediate],
                                                limit: 2, maxQuantity: 3)
        campaign.window.closesMillis = 48 * CampaignFixtures.hour  // room for the jumps past hold expiries
        let (_, ledger, engines) = try CampaignFixtures.engines(campaign, lanes: 1)
        let engine = engines[0]
        var model = ReferenceModel(campaign)
        var rng = SplitMix64(seed: 2026)
        var t = 10 * CampaignFixtures.hour - 60_000
        var issued: [OrderRequest] = []
        var bought: [OrderRequest] = []  // requests that were ACCEPTED or HELD
        var out: [Decision] = []
        var seen = [Outcome: Int]()
        var lateRetransmits = 0
        for n in 1...120_000 {
            t += Int64(rng.next() % 20)
            if rng.next() % 2000 == 0 { t += 300_001 }  // past every hold's expiry
            var r: OrderRequest
            let roll = rng.next() % 100
            if roll < 5, let p = issued.last {
                r = p
                r.campaignTimeMillis = t
            } else if roll < 8, let p = bought.randomElement(using: &rng) {
                r = p  // a late retransmit of an order that took stock: mostly out of its organisation's memory
                r.campaignTimeMillis = t
            } else if roll < 20, let p = issued.randomElement(using: &rng), p.kind == .buy {
                r = OrderRequest(requestId: UInt64(n), campaignTimeMillis: t,
                                 organisation: roll < 18 ? p.organisation : UInt32(rng.next() % 300),  // sometimes a stranger's hold
                                 offer: p.offer, kind: roll < 16 ? .confirm : .cancel, quantity: 1, reference: p.requestId)
            } else {
                r = OrderRequest(requestId: rng.next() % 500 == 0 ? 0 : UInt64(n), campaignTimeMillis: t,
                                 organisation: UInt32(rng.next() % 310), offer: UInt16(rng.next() % 4),
                                 quantity: Int32(rng.next() % 5) - 0)
            }
            issued.append(r)
            if issued.count > 50 { issued.removeFirst() }
            // Out of the organisation's retransmit memory before this request (the late retransmits counted below).
            let outOfMemory = !model.recent[r.organisation, default: []].contains { $0.id == r.requestId }
            out.removeAll(keepingCapacity: true)
            engine.process(r, into: &out)
            let expected = model.process(r)
            XCTAssertEqual(out.map(\.outcome), expected, "request #\(n): \(r)")
            if out.map(\.outcome) != expected { return }
            for d in out { seen[d.outcome, default: 0] += 1 }
            if let last = out.last, last.outcome == .accepted || last.outcome == .held { bought.append(r) }
            if outOfMemory, let last = out.last, last.outcome == .duplicate, bought.contains(where: { $0.requestId == r.requestId }) {
                lateRetransmits += 1
            }
        }
        for item in campaign.items.indices {
            XCTAssertEqual(ledger.remaining(item), model.stock[item]!, "stock of item \(item)")
        }
        XCTAssertGreaterThan(lateRetransmits, 100, "late retransmits of orders that took stock must be exercised")
        // The random mix must actually exercise every rule, or the comparison proves little.
        for o: Outcome in [.accepted, .held, .confirmed, .released, .soldOut, .limit, .duplicate, .ineligible,
                           .outsideWindow, .holdExpired, .unknownOffer, .invalid, .noHold] {
            XCTAssertGreaterThan(seen[o, default: 0], 0, "outcome \(o) never happened")
        }
    }
}
