@testable import FlashSaleCore

/// Small campaigns the specifications below run against.
enum CampaignFixtures {
    static let hour: Int64 = 3_600_000

    /// Items: 0 license, 1 attendance machine, 2 subsidy (fen), 3..6 hardware model "X1" by two vendors
    /// (tier 2 "deli", tier 1 "hik") in regions 0 and 1. Offers: 0 kickoff bundle (license + 10 machines
    /// + 20000 fen), 1 "X1" reservation (hold 5 min), 2 a single hot item bundle on the license.
    static func kickoff(organisations: Int = 1000, license: Int64 = 100, machines: Int64 = 1000,
                        subsidy: Int64 = 2_000_000, hardware: Int64 = 20, levels: [CertificationLevel] = [.basic, .advanced, .none],
                        limit: Int = 1, maxQuantity: Int = 3) -> Campaign {
        let items = [
            StockItem(name: "pro-license", kind: .license, initial: license),
            StockItem(name: "attendance-m1", kind: .license, initial: machines),
            StockItem(name: "subsidy", kind: .subsidy, initial: subsidy),
            StockItem(name: "x1-deli-east", kind: .hardware(model: "X1", vendor: "deli", vendorTier: 2, region: 0), initial: hardware),
            StockItem(name: "x1-hik-east", kind: .hardware(model: "X1", vendor: "hik", vendorTier: 1, region: 0), initial: hardware),
            StockItem(name: "x1-deli-north", kind: .hardware(model: "X1", vendor: "deli", vendorTier: 2, region: 1), initial: hardware),
            StockItem(name: "x1-hik-north", kind: .hardware(model: "X1", vendor: "hik", vendorTier: 1, region: 1), initial: hardware),
        ]
        let offers = [
            Offer(name: "kickoff-bundle",
                  kind: .bundle(components: [.init(item: 0, quantityPerUnit: 1), .init(item: 1, quantityPerUnit: 10),
                                             .init(item: 2, quantityPerUnit: 20000)]),
                  minimumLevel: .basic, limitPerOrganisation: limit, maxQuantity: maxQuantity,
                  price: .init(listPriceFen: 398_000, discountPercent: 50, activationExtraPercent: 5)),
            Offer(name: "x1-reserve", kind: .reservation(model: "X1", holdMillis: 5 * 60_000),
                  minimumLevel: .basic, limitPerOrganisation: limit, maxQuantity: maxQuantity,
                  price: .init(listPriceFen: 29_900)),
            Offer(name: "license-only", kind: .bundle(components: [.init(item: 0, quantityPerUnit: 1)]),
                  minimumLevel: .none, limitPerOrganisation: limit, maxQuantity: maxQuantity,
                  price: .init(listPriceFen: 100_000, discountPercent: 10)),
        ]
        var orgs: [Organisation] = []
        for i in 0..<organisations {
            orgs.append(Organisation(level: levels[i % levels.count], region: UInt8(i % 2), activated: i % 3 == 0))
        }
        return Campaign(name: "kickoff", window: SaleWindow(opensMillis: 10 * hour, closesMillis: 12 * hour),
                        regions: ["east", "north"], items: items, offers: offers, population: Population(orgs))
    }

    /// The fixtures' sale opens at 10:00; `open` is just after.
    static let open = 10 * hour + 1

    static func engines(_ campaign: Campaign, lanes: Int) throws -> (CampaignRules, StockLedger, [LaneEngine]) {
        let rules = try CampaignRules(campaign)
        let ledger = StockLedger(initial: campaign.items.map(\.initial), shardCount: lanes)
        let engines = (0..<lanes).map { LaneEngine(rules: rules, ledger: ledger, lane: $0, laneCount: lanes) }
        return (rules, ledger, engines)
    }
}

/// A request of the fixtures' campaign (a buy just after the sale opens unless told otherwise).
func request(_ id: UInt64, org: UInt32, offer: UInt16, qty: Int32 = 1, at t: Int64? = nil,
             kind: RequestKind = .buy, ref: UInt64 = 0) -> OrderRequest {
    OrderRequest(requestId: id, campaignTimeMillis: t ?? CampaignFixtures.open, organisation: org, offer: offer,
                 kind: kind, quantity: qty, reference: ref)
}
