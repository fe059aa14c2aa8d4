/// A validated campaign compiled into flat arrays for the hot path: what each offer needs, where a
/// reservation may take units from, who each organisation is. Immutable and shared by all lanes.
public final class CampaignRules: @unchecked Sendable {  // immutable after init
    public let campaign: Campaign
    public let window: SaleWindow
    public let offerCount: Int
    public let itemCount: Int
    public let regionCount: Int

    @usableFromInline let isReservation: [Bool]
    @usableFromInline let minimumLevel: [CertificationLevel]
    @usableFromInline let limit: [UInt8]
    @usableFromInline let maxQuantity: [Int32]
    @usableFromInline let price: [Offer.PriceRule]
    @usableFromInline let holdMillis: [Int64]
    /// Bundle components of all offers, contiguous: offer `o` owns `componentRange[o]`.
    public let components: UnsafeMutableBufferPointer<Offer.Component>
    @usableFromInline let componentRange: [Range<Int>]
    /// Reservation candidates: for (offer, region) the items to take from, in preference order.
    @usableFromInline let candidates: [Int32]
    @usableFromInline let candidateRange: [Range<Int>]
    @usableFromInline let organisations: [Organisation]

    /// Compiles `campaign`; returns the problems instead when it does not validate.
    public init(_ campaign: Campaign) throws(CampaignError) {
        let problems = campaign.validate()
        guard problems.isEmpty else { throw CampaignError(problems: problems) }
        self.campaign = campaign
        window = campaign.window
        offerCount = campaign.offers.count
        itemCount = campaign.items.count
        regionCount = campaign.regions.count
        isReservation = campaign.offers.map { if case .reservation = $0.kind { true } else { false } }
        minimumLevel = campaign.offers.map(\.minimumLevel)
        limit = campaign.offers.map { UInt8($0.limitPerOrganisation) }
        maxQuantity = campaign.offers.map { Int32(clamping: $0.maxQuantity) }
        price = campaign.offers.map(\.price)
        holdMillis = campaign.offers.map { if case .reservation(_, let h) = $0.kind { h } else { 0 } }
        var flat: [Offer.Component] = []
        var ranges: [Range<Int>] = []
        var cands: [Int32] = []
        var candRanges: [Range<Int>] = []
        for offer in campaign.offers {
            let start = flat.count
            if case .bundle(let cs) = offer.kind { flat.append(contentsOf: cs) }
            ranges.append(start..<flat.count)
            for region in 0..<campaign.regions.count {
                let cstart = cands.count
                if case .reservation(let model, _) = offer.kind {
                    // Own region first, then the others; within each group the higher vendor tier first;
                    // ties by item order, so allocation is deterministic.
                    var stocked: [(own: Bool, tier: Int, item: Int)] = []
                    for (i, item) in campaign.items.enumerated() {
                        if case .hardware(let m, _, let tier, let r) = item.kind, m == model {
                            stocked.append((Int(r) == region, tier, i))
                        }
                    }
                    stocked.sort { a, b in
                        if a.own != b.own { return a.own }
                        if a.tier != b.tier { return a.tier > b.tier }
                        return a.item < b.item
                    }
                    cands.append(contentsOf: stocked.map { Int32($0.item) })
                }
                candRanges.append(cstart..<cands.count)
            }
        }
        components = .allocate(capacity: max(1, flat.count))
        _ = components.initialize(from: flat)
        componentRange = ranges
        candidates = cands
        candidateRange = candRanges
        organisations = campaign.population.organisations
    }

    deinit { components.deallocate() }

    /// Components of a bundle offer (empty for reservations).
    @inlinable
    public func bundleComponents(_ offer: Int) -> UnsafeBufferPointer<Offer.Component> {
        UnsafeBufferPointer(rebasing: components[componentRange[offer]])
    }

    /// Items a reservation of `offer` by an organisation in `region` takes from, in order.
    public func reservationCandidates(offer: Int, region: Int) -> [Int] {
        candidates[candidateRange[offer * regionCount + region]].map(Int.init)
    }
}

/// A campaign that failed validation, with every problem found.
public struct CampaignError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String { "invalid campaign:\n" + problems.map { "  - " + $0 }.joined(separator: "\n") }
}
