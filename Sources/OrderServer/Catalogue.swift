import FlashSaleCore

/// The campaign as the API names it: offers by id, and what `GET /v1/offers` reports about each.
struct Catalogue: Sendable {
    struct OfferInfo: Sendable {
        var id: String
        var index: UInt16
        var isReservation: Bool
        /// Per component: the items it may take from, and the units one order unit takes.
        var components: [(items: [Int], perUnit: Int64)]
    }

    let offers: [OfferInfo]
    let byId: [String: UInt16]
    /// Every id of `byId` as UTF-8 bytes, with the offer it names (matched against request bodies as they are).
    let idBytes: [(bytes: [UInt8], index: UInt16)]
    let window: SaleWindow
    /// The campaign's fingerprint as 16 hex digits (`GET /v1/offers`: a client checks it is loading its own campaign).
    let fingerprintHex: String

    init(rules: CampaignRules) {
        let c = rules.campaign
        let hex = String(c.fingerprint, radix: 16)
        fingerprintHex = String(repeating: "0", count: 16 - hex.count) + hex
        // Computed once: `GET /v1/offers` then only reads the stock counters.
        let list = c.offers.enumerated().map { i, offer in
            OfferInfo(id: offer.name, index: UInt16(i), isReservation: offer.kind.isReservation, components: c.unitComponents(ofOffer: i))
        }
        offers = list
        let ids = Dictionary(list.map { ($0.id, $0.index) }, uniquingKeysWith: { a, _ in a })
        byId = ids
        idBytes = ids.map { (Array($0.key.utf8), $0.value) }.sorted { $0.index < $1.index }
        window = c.window
    }

    /// Whole units of the offer left: the scarcest component decides (atomics only; no lane is asked).
    func remaining(_ offer: OfferInfo, _ stock: (Int) -> Int64) -> Int64 {
        offer.components.map { c in c.items.map { max(0, stock($0)) }.saturatingSum() / max(1, c.perUnit) }.min() ?? 0
    }
}

extension Offer.Kind {
    var isReservation: Bool { if case .reservation = self { true } else { false } }
}
