/// Something organisations can buy in the campaign.
public struct Offer: Sendable, Equatable {
    /// One stock item taken per unit of a bundle order.
    public struct Component: Sendable, Equatable {
        /// Index into `Campaign.items`.
        public var item: Int
        /// Units of `item` taken per unit ordered (e.g. 10 attendance machines, 20000 fen of subsidy).
        public var quantityPerUnit: Int64
        public init(item: Int, quantityPerUnit: Int64) {
            self.item = item
            self.quantityPerUnit = quantityPerUnit
        }
    }

    public enum Kind: Sendable, Equatable {
        /// All components are taken, or none.
        case bundle(components: [Component])
        /// Units of a hardware model, held for `holdMillis` of campaign time until confirmed.
        /// Units come from the organisation's own region first, then other regions, higher vendor
        /// tier first within a region group.
        case reservation(model: String, holdMillis: Int64)
    }

    /// Price rule: `listPriceFen × (100 − discountPercent − (activated ? activationExtraPercent : 0)) / 100` per unit.
    public struct PriceRule: Sendable, Equatable {
        public var listPriceFen: Int64
        public var discountPercent: Int
        public var activationExtraPercent: Int
        public init(listPriceFen: Int64, discountPercent: Int = 0, activationExtraPercent: Int = 0) {
            self.listPriceFen = listPriceFen
            self.discountPercent = discountPercent
            self.activationExtraPercent = activationExtraPercent
        }

        @inlinable
        public func unitPrice(activated: Bool) -> Int64 {
            let pct = max(0, 100 - discountPercent - (activated ? activationExtraPercent : 0))
            return listPriceFen * Int64(pct) / 100
        }
    }

    public var name: String
    public var kind: Kind
    public var minimumLevel: CertificationLevel
    /// Most accepted orders (or active-or-confirmed holds) one organisation may have on this offer.
    public var limitPerOrganisation: Int
    /// Largest quantity one request may ask for.
    public var maxQuantity: Int
    public var price: PriceRule

    public init(name: String, kind: Kind, minimumLevel: CertificationLevel = .none,
                limitPerOrganisation: Int = 1, maxQuantity: Int = 1, price: PriceRule = PriceRule(listPriceFen: 0)) {
        self.name = name
        self.kind = kind
        self.minimumLevel = minimumLevel
        self.limitPerOrganisation = limitPerOrganisation
        self.maxQuantity = maxQuantity
        self.price = price
    }
}
