/// A whole flash-sale campaign: when it sells, what it sells, and to whom.
///
/// `validate()` checks the cross-references (component items, reservation models, regions);
/// the engine assumes a validated campaign.
public struct Campaign: Sendable {
    /// At most this many units of the cap's items, over all offers, per organisation (e.g. 50,000 fen
    /// of a subsidy pool however many bundles it buys). Units of ACCEPTED bundles count.
    public struct Cap: Sendable, Equatable {
        /// What the cap is on (the profile's item id).
        public var name: String
        public var perOrganisation: Int64
        public init(name: String, perOrganisation: Int64) {
            self.name = name
            self.perOrganisation = perOrganisation
        }
    }

    public var name: String
    public var window: SaleWindow
    public var regions: [String]
    public var items: [StockItem]
    public var offers: [Offer]
    public var population: Population
    /// Organisation tags (industry, size, …): bit `i` of `Organisation.tags` is `tags[i]`. At most 32.
    public var tags: [String]
    public var caps: [Cap]

    public init(name: String, window: SaleWindow, regions: [String], items: [StockItem], offers: [Offer],
                population: Population, tags: [String] = [], caps: [Cap] = []) {
        self.name = name
        self.window = window
        self.regions = regions
        self.items = items
        self.offers = offers
        self.population = population
        self.tags = tags
        self.caps = caps
    }

    /// The items a pick may take from (every region's candidates).
    public func candidates(of pick: Offer.Pick) -> [Int] { Self.candidates(of: pick, in: items) }

    /// What one unit of offer `o` takes, per component: the items it may take from (every region, every
    /// allotment) and the units per unit ordered. A reservation is one component: its model's items, 1 each.
    public func unitComponents(ofOffer o: Int) -> [(items: [Int], perUnit: Int64)] {
        let offer = offers[o]
        switch offer.kind {
        case .bundle(let cs):
            return cs.map { ([$0.item], $0.quantityPerUnit) } + offer.picks.map { (candidates(of: $0), $0.quantityPerUnit) }
        case .reservation(let model, _):
            return [(items.indices.filter { if case .hardware(model, _, _, _) = items[$0].kind { true } else { false } }, 1)]
        }
    }

    /// Whole units of offer `o` that `stock` (units per item) allows: the scarcest component decides.
    /// Sums saturate at 64 bits.
    public func wholeUnits(ofOffer o: Int, stock: (Int) -> Int64) -> Int64 {
        unitComponents(ofOffer: o).map { c in c.items.map(stock).saturatingSum() / max(1, c.perUnit) }.min() ?? 0
    }

    /// The items of `items` a pick may take from (every region's candidates).
    public static func candidates(of pick: Offer.Pick, in items: [StockItem]) -> [Int] {
        switch pick.source {
        case .items(let list): return list
        case .model(let model):
            return items.indices.filter { if case .hardware(model, _, _, _) = items[$0].kind { true } else { false } }
        }
    }

    /// The problems that make this campaign unusable, empty when it is sound.
    public func validate() -> [String] {
        var problems: [String] = []
        if window.closesMillis <= window.opensMillis { problems.append("window closes before it opens") }
        if regions.isEmpty || regions.count > 255 { problems.append("regions: need 1 to 255 regions") }
        if offers.count > Int(UInt16.max) { problems.append("offers: at most 65535 offers") }
        if items.count > Int(UInt16.max) { problems.append("items: at most 65535 items") }
        for (i, item) in items.enumerated() {
            if item.initial < 0 { problems.append("items[\(i)] \(item.name): negative initial stock") }
            if case .hardware(_, _, _, let r) = item.kind, Int(r) >= regions.count {
                problems.append("items[\(i)] \(item.name): unknown region index \(r)")
            }
            if let c = item.cap, c < 0 || c >= caps.count { problems.append("items[\(i)] \(item.name): unknown cap \(c)") }
            if item.sellableUntilMillis <= item.sellableFromMillis { problems.append("items[\(i)] \(item.name): never sellable") }
        }
        if tags.count > 32 { problems.append("tags: at most 32 organisation tags") }
        for (i, cap) in caps.enumerated() where cap.perOrganisation < 1 {
            problems.append("caps[\(i)] \(cap.name): the cap per organisation must be ≥ 1")
        }

        // A reservation's stock is the sum of its model's items: it must fit 64 bits.
        var modelStock: [String: Int64] = [:]
        for (i, item) in items.enumerated() {
            guard case .hardware(let model, _, _, _) = item.kind else { continue }
            let (sum, overflow) = modelStock[model, default: 0].addingReportingOverflow(max(0, item.initial))
            if overflow {
                problems.append("items[\(i)] \(item.name): the items of model \(model) stock more than 64 bits hold together")
                modelStock[model] = .max
            } else {
                modelStock[model] = sum
            }
        }
        for (i, offer) in offers.enumerated() {
            let (discount, extra) = (offer.price.discountPercent, offer.price.activationExtraPercent)
            if discount < 0 || extra < 0 || discount >= 100 || extra >= 100 - discount {   // no Int overflow either
                problems.append("offers[\(i)] \(offer.name): discounts must be ≥ 0 and below 100% together, got \(offer.price.discountPercent)% + \(offer.price.activationExtraPercent)%")
            }
            if offer.limitPerOrganisation < 1 || offer.limitPerOrganisation > 255 {
                problems.append("offers[\(i)] \(offer.name): limit per organisation must be 1...255")
            }
            if offer.maxQuantity < 1 { problems.append("offers[\(i)] \(offer.name): max quantity must be ≥ 1") }
            switch offer.kind {
            case .bundle(let components):
                if components.isEmpty && offer.picks.isEmpty { problems.append("offers[\(i)] \(offer.name): a bundle needs components") }
                for c in components where c.item >= 0 && c.item < items.count
                    && (items[c.item].sellableFromMillis != .min || items[c.item].sellableUntilMillis != .max) {
                    problems.append("offers[\(i)] \(offer.name): item \(items[c.item].name) is on sale only part of the campaign; take it with a pick, not a fixed component")
                }
                for c in components where c.item < 0 || c.item >= items.count || c.quantityPerUnit < 1 {
                    problems.append("offers[\(i)] \(offer.name): bad component (item \(c.item), quantity \(c.quantityPerUnit))")
                }
                for c in components where c.quantityPerUnit.multipliedReportingOverflow(by: Int64(max(offer.maxQuantity, 1))).overflow {
                    problems.append("offers[\(i)] \(offer.name): \(c.quantityPerUnit) units × max quantity \(offer.maxQuantity) overflow 64 bits")
                }
                for p in offer.picks {
                    let cands = candidates(of: p)
                    if cands.isEmpty || cands.contains(where: { $0 < 0 || $0 >= items.count }) || p.quantityPerUnit < 1 {
                        problems.append("offers[\(i)] \(offer.name): bad pick (\(p.source), quantity \(p.quantityPerUnit))")
                        continue
                    }
                    if p.quantityPerUnit.multipliedReportingOverflow(by: Int64(max(offer.maxQuantity, 1))).overflow {
                        problems.append("offers[\(i)] \(offer.name): \(p.quantityPerUnit) units × max quantity \(offer.maxQuantity) overflow 64 bits")
                    }
                    // A cap is checked before any stock is taken, so a pick's items must share one cap (or none).
                    if Set(cands.map { items[$0].cap }).count > 1 {
                        problems.append("offers[\(i)] \(offer.name): the items of pick \(p.source) are under different caps")
                    }
                }
                if offer.picks.count > HoldPieces.capacity {
                    problems.append("offers[\(i)] \(offer.name): at most \(HoldPieces.capacity) picked components")
                }
            case .reservation(let model, let hold):
                if hold <= 0 { problems.append("offers[\(i)] \(offer.name): hold time must be positive") }
                let stocked = items.contains { if case .hardware(let m, _, _, _) = $0.kind { m == model } else { false } }
                if !stocked { problems.append("offers[\(i)] \(offer.name): no hardware item stocks model \(model)") }
                if !offer.picks.isEmpty { problems.append("offers[\(i)] \(offer.name): a reservation has no picked components") }
                if items.contains(where: { if case .hardware(model, _, _, _) = $0.kind { $0.cap != nil } else { false } }) {
                    problems.append("offers[\(i)] \(offer.name): model \(model) has items under a per-organisation cap; caps apply to bundles only")
                }
            }
            if let regs = offer.eligibility.regions, regs.contains(where: { Int($0) >= regions.count }) {
                problems.append("offers[\(i)] \(offer.name): eligibility names an unknown region")
            }
            if tags.count < 32, (offer.eligibility.allTags | offer.eligibility.anyTags) >> tags.count != 0 {
                problems.append("offers[\(i)] \(offer.name): eligibility names an unknown tag")
            }
            if let list = offer.eligibility.organisations, let beyond = list.first(where: { Int($0.upperBound) >= population.count }) {
                problems.append("offers[\(i)] \(offer.name): the allow-list names organisation \(beyond.upperBound), beyond the \(population.count) organisations")
            }
            for w in offer.waves where w.endOfDayMillis <= w.startOfDayMillis {
                problems.append("offers[\(i)] \(offer.name): a wave ends before it starts")
            }
        }
        for (i, org) in population.organisations.enumerated() where Int(org.region) >= regions.count {
            problems.append("organisation \(i): unknown region index \(org.region)")
            break
        }
        return problems
    }
}
