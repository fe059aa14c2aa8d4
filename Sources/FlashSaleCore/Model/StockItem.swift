/// A stock-keeping unit with a fixed initial quantity: a licence quota, a hardware model pre-stocked by
/// one vendor in one region, or a subsidy budget counted in fen.
public struct StockItem: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Software licences (e.g. a year of the professional edition).
        case license
        /// A hardware model held by a vendor in a region; higher `vendorTier` is preferred.
        case hardware(model: String, vendor: String, vendorTier: Int, region: UInt8)
        /// A subsidy budget; units are fen.
        case subsidy
    }

    public var name: String
    public var kind: Kind
    public var initial: Int64
    /// Campaign times `[sellableFromMillis, sellableUntilMillis)` in which the item's units may be taken:
    /// always, except for the allotments of stock released per wave or per day (one item each).
    public var sellableFromMillis: Int64
    public var sellableUntilMillis: Int64
    /// Index into `Campaign.caps` when an organisation may take only so many units of this item (and
    /// the other items of the same cap) across all offers.
    public var cap: Int?

    public init(name: String, kind: Kind, initial: Int64, sellableFromMillis: Int64 = .min,
                sellableUntilMillis: Int64 = .max, cap: Int? = nil) {
        self.name = name
        self.kind = kind
        self.initial = initial
        self.sellableFromMillis = sellableFromMillis
        self.sellableUntilMillis = sellableUntilMillis
        self.cap = cap
    }

    /// Whether units may be taken at campaign time `t`.
    @inlinable
    public func isSellable(at t: Int64) -> Bool { t >= sellableFromMillis && t < sellableUntilMillis }
}
