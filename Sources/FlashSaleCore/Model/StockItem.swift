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

    public init(name: String, kind: Kind, initial: Int64) {
        self.name = name
        self.kind = kind
        self.initial = initial
    }
}
