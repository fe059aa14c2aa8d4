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

    /// Offers with their own daily waves (`offerWaves`), instead of the campaign's.
    @usableFromInline let hasOwnWaves: [Bool]
    @usableFromInline let offerWaves: [[SaleWindow.Wave]]
    /// Offers with eligibility rules beyond the certification level (`Offer.Eligibility`).
    @usableFromInline let hasEligibility: [Bool]
    @usableFromInline let eligibility: [Offer.Eligibility]
    /// Allow-lists as bitmaps over organisation ids: offer `o`'s starts at word `allowWord[o]` (−1: none).
    @usableFromInline let allowWord: [Int]
    @usableFromInline let allowBits: UnsafeMutablePointer<UInt64>
    /// Per item: when its units may be taken (allotments), and its cap (−1: none).
    @usableFromInline let sellableFrom: [Int64]
    @usableFromInline let sellableUntil: [Int64]
    @usableFromInline let itemCap: [Int32]
    /// Per cap: units one organisation may take.
    @usableFromInline let capLimit: [Int64]
    public let capCount: Int
    /// Whether some item is on sale only part of the campaign (stock released per wave or per day).
    public let hasAllotments: Bool
    /// Offers that take units of a capped item.
    @usableFromInline let hasCaps: [Bool]
    /// Picked components of bundles: offer `o` owns `picks[pickRange[o]]`; pick `p` in region `r` takes
    /// from `candidates[candidateRange[p.candidateBase + r]]`, in preference order.
    @usableFromInline let picks: [PickRule]
    @usableFromInline let pickRange: [Range<Int>]
    /// Per pick: every item it may take from, in any region (to check a journaled order's pieces).
    @usableFromInline let pickItems: [[Int32]]

    @usableFromInline struct PickRule: Sendable {
        @usableFromInline var quantityPerUnit: Int64
        @usableFromInline var cap: Int32
        @usableFromInline var candidateBase: Int
    }

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
        /// The items of `model` in the allocation order for an organisation of `region`: own region first,
        /// then the others; within each group the higher vendor tier first; ties by item order (an allotted
        /// item's allotments are consecutive, earliest first), so allocation is deterministic.
        func allocationOrder(model: String, region: Int) -> [Int32] {
            var stocked: [(own: Bool, tier: Int, item: Int)] = []
            for (i, item) in campaign.items.enumerated() {
                if case .hardware(let m, _, let tier, let r) = item.kind, m == model { stocked.append((Int(r) == region, tier, i)) }
            }
            stocked.sort { a, b in
                if a.own != b.own { return a.own }
                if a.tier != b.tier { return a.tier > b.tier }
                return a.item < b.item
            }
            return stocked.map { Int32($0.item) }
        }
        // Reservations: offer `o` in region `r` owns candidateRange[o * regionCount + r].
        for offer in campaign.offers {
            let start = flat.count
            if case .bundle(let cs) = offer.kind { flat.append(contentsOf: cs) }
            ranges.append(start..<flat.count)
            for region in 0..<campaign.regions.count {
                let cstart = cands.count
                if case .reservation(let model, _) = offer.kind { cands.append(contentsOf: allocationOrder(model: model, region: region)) }
                candRanges.append(cstart..<cands.count)
            }
        }
        var pickRules: [PickRule] = []
        var pickRanges: [Range<Int>] = []
        for offer in campaign.offers {
            let start = pickRules.count
            for p in offer.picks {
                let base = candRanges.count
                for region in 0..<campaign.regions.count {
                    let cstart = cands.count
                    switch p.source {
                    case .model(let model): cands.append(contentsOf: allocationOrder(model: model, region: region))
                    case .items(let list): cands.append(contentsOf: list.map(Int32.init))
                    }
                    candRanges.append(cstart..<cands.count)
                }
                let cap = campaign.candidates(of: p).first.flatMap { campaign.items[$0].cap }.map(Int32.init) ?? -1
                pickRules.append(PickRule(quantityPerUnit: p.quantityPerUnit, cap: cap, candidateBase: base))
            }
            pickRanges.append(start..<pickRules.count)
        }
        picks = pickRules
        pickItems = campaign.offers.flatMap { $0.picks.map { campaign.candidates(of: $0).map(Int32.init) } }
        pickRange = pickRanges
        hasOwnWaves = campaign.offers.map { !$0.waves.isEmpty }
        offerWaves = campaign.offers.map { $0.waves.isEmpty ? campaign.window.waves : $0.waves }
        hasEligibility = campaign.offers.map { !$0.eligibility.isEveryone }
        eligibility = campaign.offers.map(\.eligibility)
        let orgCount = campaign.population.count
        let words = (orgCount + 63) / 64
        var allowAt: [Int] = []
        var allowCount = 0
        for offer in campaign.offers {
            allowAt.append(offer.eligibility.organisations == nil ? -1 : allowCount)
            if offer.eligibility.organisations != nil { allowCount += words }
        }
        allowBits = .allocate(capacity: max(1, allowCount))
        allowBits.initialize(repeating: 0, count: max(1, allowCount))
        for (o, offer) in campaign.offers.enumerated() {
            guard let list = offer.eligibility.organisations else { continue }
            for r in list where Int(r.lowerBound) < orgCount {
                for id in Int(r.lowerBound)...min(Int(r.upperBound), orgCount - 1) { allowBits[allowAt[o] + id >> 6] |= 1 << UInt64(id & 63) }
            }
        }
        allowWord = allowAt
        sellableFrom = campaign.items.map(\.sellableFromMillis)
        sellableUntil = campaign.items.map(\.sellableUntilMillis)
        itemCap = campaign.items.map { $0.cap.map(Int32.init) ?? -1 }
        capLimit = campaign.caps.map(\.perOrganisation)
        capCount = campaign.caps.count
        hasAllotments = campaign.items.contains { $0.sellableFromMillis != .min || $0.sellableUntilMillis != .max }
        hasCaps = campaign.offers.map { offer in
            if case .bundle(let cs) = offer.kind, cs.contains(where: { campaign.items[$0.item].cap != nil }) { return true }
            return offer.picks.contains { campaign.candidates(of: $0).contains { campaign.items[$0].cap != nil } }
        }
        components = .allocate(capacity: max(1, flat.count))
        _ = components.initialize(from: flat)
        componentRange = ranges
        candidates = cands
        candidateRange = candRanges
        organisations = campaign.population.organisations
    }

    deinit {
        components.deallocate()
        allowBits.deallocate()
    }

    /// Whether `organisation` (of this campaign) passes `offer`'s eligibility rules beyond the level.
    @inlinable
    public func admits(organisation id: UInt32, tags: UInt32, region: Int, offer: Int) -> Bool {
        let e = eligibility[offer]
        if let regions = e.regions, !regions.contains(UInt8(truncatingIfNeeded: region)) { return false }
        if tags & e.allTags != e.allTags { return false }
        if e.anyTags != 0 && tags & e.anyTags == 0 { return false }
        let w = allowWord[offer]
        if w >= 0 && allowBits[w + Int(id) >> 6] & (1 << UInt64(id & 63)) == 0 { return false }
        return true
    }

    /// Whether units of `item` may be taken at campaign time `t`.
    @inlinable @inline(__always)
    public func isSellable(_ item: Int, at t: Int64) -> Bool { t >= sellableFrom[item] && t < sellableUntil[item] }

    /// Items a picked component (an index into `picks`) takes from for `region`, in order.
    @inlinable
    func pickCandidates(_ pick: Int, region: Int) -> ArraySlice<Int32> { candidates[candidateRange[picks[pick].candidateBase + region]] }

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
