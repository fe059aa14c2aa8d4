extension Campaign {
    /// A 64-bit FNV-1a digest of everything that decides orders: window, regions, items and their
    /// stock, offers and their rules, and every organisation. Two campaigns with the same fingerprint
    /// make the same decisions for the same requests; a segment directory remembers the fingerprint of
    /// the campaign that wrote it, so a restart with another campaign is refused.
    public var fingerprint: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ bytes: some Sequence<UInt8>) { for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 } }
        func mix(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { mix($0) } }
        func mix(_ s: String) { mix(s.utf8); mix(Int64(s.utf8.count)) }
        mix(window.opensMillis); mix(window.closesMillis)
        for w in window.waves { mix(w.startOfDayMillis); mix(w.endOfDayMillis) }
        for r in regions { mix(r) }
        // The rules added later (allotments, caps, picks, eligibility, offer waves, tags) are mixed in
        // only where a campaign has them, so a campaign without them keeps its fingerprint.
        for item in items {
            mix(item.name); mix(item.initial)
            if case .hardware(let model, let vendor, let tier, let region) = item.kind {
                mix(model); mix(vendor); mix(Int64(tier)); mix(Int64(region))
            }
            if item.sellableFromMillis != .min || item.sellableUntilMillis != .max {
                mix("sellable"); mix(item.sellableFromMillis); mix(item.sellableUntilMillis)
            }
            if let c = item.cap { mix("cap"); mix(Int64(c)) }
        }
        for cap in caps { mix("cap"); mix(cap.name); mix(cap.perOrganisation) }
        for t in tags { mix("tag"); mix(t) }
        for o in offers {
            mix(o.name); mix(Int64(o.minimumLevel.rawValue)); mix(Int64(o.limitPerOrganisation)); mix(Int64(o.maxQuantity))
            mix(o.price.listPriceFen); mix(Int64(o.price.discountPercent)); mix(Int64(o.price.activationExtraPercent))
            switch o.kind {
            case .bundle(let cs): for c in cs { mix(Int64(c.item)); mix(c.quantityPerUnit) }
            case .reservation(let model, let hold): mix(model); mix(hold)
            }
            for p in o.picks {
                switch p.source {
                case .model(let m): mix("pick model"); mix(m)
                case .items(let list): mix("pick items"); for i in list { mix(Int64(i)) }
                }
                mix(p.quantityPerUnit)
            }
            let e = o.eligibility
            if !e.isEveryone {
                mix("eligibility")
                if let r = e.regions { mix("regions"); mix(r) }
                mix(Int64(e.allTags)); mix(Int64(e.anyTags))
                if let list = e.organisations { mix("organisations"); for r in list { mix(Int64(r.lowerBound)); mix(Int64(r.upperBound)) } }
            }
            for w in o.waves { mix("wave"); mix(w.startOfDayMillis); mix(w.endOfDayMillis) }
        }
        mix(Int64(population.count))
        let tagged = !tags.isEmpty
        for org in population.organisations {
            mix([org.level.rawValue, org.region, org.activated ? 1 : 0])
            if tagged { withUnsafeBytes(of: org.tags.littleEndian) { mix($0) } }
        }
        return h
    }
}
