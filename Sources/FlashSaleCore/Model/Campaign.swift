/// A whole flash-sale campaign: when it sells, what it sells, and to whom.
///
/// `validate()` checks the cross-references (component items, reservation models, regions);
/// the engine assumes a validated campaign.
public struct Campaign: Sendable {
    public var name: String
    public var window: SaleWindow
    public var regions: [String]
    public var items: [StockItem]
    public var offers: [Offer]
    public var population: Population

    public init(name: String, window: SaleWindow, regions: [String], items: [StockItem], offers: [Offer], population: Population) {
        self.name = name
        self.window = window
        self.regions = regions
        self.items = items
        self.offers = offers
        self.population = population
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
                if components.isEmpty { problems.append("offers[\(i)] \(offer.name): a bundle needs components") }
                for c in components where c.item < 0 || c.item >= items.count || c.quantityPerUnit < 1 {
                    problems.append("offers[\(i)] \(offer.name): bad component (item \(c.item), quantity \(c.quantityPerUnit))")
                }
                for c in components where c.quantityPerUnit.multipliedReportingOverflow(by: Int64(max(offer.maxQuantity, 1))).overflow {
                    problems.append("offers[\(i)] \(offer.name): \(c.quantityPerUnit) units × max quantity \(offer.maxQuantity) overflow 64 bits")
                }
            case .reservation(let model, let hold):
                if hold <= 0 { problems.append("offers[\(i)] \(offer.name): hold time must be positive") }
                let stocked = items.contains { if case .hardware(let m, _, _, _) = $0.kind { m == model } else { false } }
                if !stocked { problems.append("offers[\(i)] \(offer.name): no hardware item stocks model \(model)") }
            }
        }
        for (i, org) in population.organisations.enumerated() where Int(org.region) >= regions.count {
            problems.append("organisation \(i): unknown region index \(org.region)")
            break
        }
        return problems
    }
}
