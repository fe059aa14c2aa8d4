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

    /// A bundle component whose item is chosen when the order is decided: "N units of model M"
    /// (allocated like a reservation: own region first, then the others, higher vendor tier first), or
    /// an item whose stock is released in allotments (the allotment on sale at the order's time; with
    /// carry-over, the earliest one with units left). The items taken are journaled as the decision's pieces.
    public struct Pick: Sendable, Equatable {
        public enum Source: Sendable, Equatable {
            /// Any hardware item of this model.
            case model(String)
            /// These items, in this order (an allotted item's allotments).
            case items([Int])
        }
        public var source: Source
        /// Units taken per unit ordered.
        public var quantityPerUnit: Int64
        public init(source: Source, quantityPerUnit: Int64) {
            self.source = source
            self.quantityPerUnit = quantityPerUnit
        }
    }

    /// Who may order, beyond the certification level. Every rule given must hold.
    public struct Eligibility: Sendable, Equatable {
        /// Region indices allowed; nil: every region.
        public var regions: [UInt8]?
        /// Tags (bits of `Organisation.tags`) the organisation must all have.
        public var allTags: UInt32
        /// Tags of which the organisation must have at least one (0: no such rule).
        public var anyTags: UInt32
        /// Organisation ids allowed (an allow-list, as ranges); nil: no allow-list.
        public var organisations: [ClosedRange<UInt32>]?

        public init(regions: [UInt8]? = nil, allTags: UInt32 = 0, anyTags: UInt32 = 0,
                    organisations: [ClosedRange<UInt32>]? = nil) {
            self.regions = regions
            self.allTags = allTags
            self.anyTags = anyTags
            self.organisations = organisations
        }

        public static let everyone = Eligibility()
        public var isEveryone: Bool { regions == nil && allTags == 0 && anyTags == 0 && organisations == nil }

        /// Whether `org` (of id `id`) passes these rules (the certification level is checked apart).
        public func admits(_ org: Organisation, id: UInt32) -> Bool {
            if let regions, !regions.contains(org.region) { return false }
            if org.tags & allTags != allTags { return false }
            if anyTags != 0 && org.tags & anyTags == 0 { return false }
            if let organisations, !organisations.contains(where: { $0.contains(id) }) { return false }
            return true
        }
    }

    public enum Kind: Sendable, Equatable {
        /// All components are taken, or none: the fixed `components`, and the offer's `picks`.
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
    /// Bundles: components whose item is chosen at decision time (models, allotted items).
    public var picks: [Pick]
    /// Eligibility beyond `minimumLevel`.
    public var eligibility: Eligibility
    /// The offer's own daily waves (inside the campaign window); empty: the campaign's waves apply.
    public var waves: [SaleWindow.Wave]

    public init(name: String, kind: Kind, minimumLevel: CertificationLevel = .none,
                limitPerOrganisation: Int = 1, maxQuantity: Int = 1, price: PriceRule = PriceRule(listPriceFen: 0),
                picks: [Pick] = [], eligibility: Eligibility = .everyone, waves: [SaleWindow.Wave] = []) {
        self.name = name
        self.kind = kind
        self.minimumLevel = minimumLevel
        self.limitPerOrganisation = limitPerOrganisation
        self.maxQuantity = maxQuantity
        self.price = price
        self.picks = picks
        self.eligibility = eligibility
        self.waves = waves
    }
}
