import FlashSaleCore
import OrderLog

/// Stock and outcomes rebuilt from a segment directory alone: the independent check a run makes
/// on what it journaled (and what `segments stats` shows).
public struct SegmentAudit: Sendable {
    /// Per item: units sold (ACCEPTED bundles, CONFIRMED holds) and held (active holds at the end).
    public var soldUnits: [Int64]
    public var heldUnits: [Int64]
    /// Per offer, in units of the offer (bundles ordered, hardware units).
    public var offerSold: [Int64]
    public var offerHeld: [Int64]
    /// Outcome counts of records after `countingAfter`.
    public var outcomeCounts: [Int]
    public var records: Int
    /// Records that contradict the campaign or each other (e.g. a confirm of a hold never journaled).
    public var problems: [String]

    public static func read(directory: String, rules: CampaignRules, countingAfter: UInt64 = 0) throws -> SegmentAudit {
        var audit = SegmentAudit(soldUnits: Array(repeating: 0, count: rules.itemCount),
                                 heldUnits: Array(repeating: 0, count: rules.itemCount),
                                 offerSold: Array(repeating: 0, count: rules.offerCount),
                                 offerHeld: Array(repeating: 0, count: rules.offerCount),
                                 outcomeCounts: Array(repeating: 0, count: Outcome.count), records: 0, problems: [])
        var holds: [HoldBook.Key: (offer: Int, quantity: Int64, pieces: HoldPieces)] = [:]
        let reader = try SegmentReader(directory: directory)
        try reader.forEachRecord { record in
            audit.records += 1
            guard let d = Decision(record) else {
                audit.problems.append("record \(record.sequence): unknown outcome or kind code"); return
            }
            if record.sequence > countingAfter { audit.outcomeCounts[Int(d.outcome.rawValue)] += 1 }
            let offer = Int(d.offer)
            switch d.outcome {
            case .accepted:
                guard offer < rules.offerCount else { audit.problems.append("record \(record.sequence): unknown offer \(offer)"); return }
                guard d.quantity > 0, Int(d.quantity) <= rules.campaign.offers[offer].maxQuantity else {
                    audit.problems.append("record \(record.sequence): accepted quantity \(d.quantity) outside 1...\(rules.campaign.offers[offer].maxQuantity)"); return
                }
                // Every sum is checked: a journal whose totals pass 64 bits sold more than any campaign has
                // (components × max-quantity fit 64 bits: the load checks it).
                for c in rules.bundleComponents(offer) where !Self.add(&audit.soldUnits[c.item], c.quantityPerUnit * Int64(d.quantity)) {
                    audit.problems.append(Self.overflow(record.sequence, "units sold of item \(c.item)")); return
                }
                // Picked components (models, allotments): the units are the record's pieces.
                let pickUnits = rules.campaign.offers[offer].picks.map { $0.quantityPerUnit * Int64(d.quantity) }.saturatingSum()
                guard (0..<d.pieces.count).allSatisfy({ d.pieces[$0].item < rules.itemCount }),
                      d.pieces.totalQuantity == pickUnits else {
                    audit.problems.append("record \(record.sequence): accepted pieces (\(d.pieces.totalQuantity) units) do not match the offer's picked components (\(pickUnits))"); return
                }
                for i in 0..<d.pieces.count where !Self.add(&audit.soldUnits[d.pieces[i].item], d.pieces[i].quantity) {
                    audit.problems.append(Self.overflow(record.sequence, "units sold of item \(d.pieces[i].item)")); return
                }
                guard Self.add(&audit.offerSold[offer], Int64(d.quantity)) else {
                    audit.problems.append(Self.overflow(record.sequence, "orders sold of offer \(offer)")); return
                }
            case .held:
                guard offer < rules.offerCount else { audit.problems.append("record \(record.sequence): unknown offer \(offer)"); return }
                for i in 0..<d.pieces.count where d.pieces[i].item >= rules.itemCount {
                    audit.problems.append("record \(record.sequence): hold of unknown item \(d.pieces[i].item)"); return
                }
                for i in 0..<d.pieces.count where !Self.add(&audit.heldUnits[d.pieces[i].item], d.pieces[i].quantity) {
                    audit.problems.append(Self.overflow(record.sequence, "units held of item \(d.pieces[i].item)")); return
                }
                holds[HoldBook.Key(d.organisation, d.requestId)] = (offer, d.pieces.totalQuantity, d.pieces)
                guard Self.add(&audit.offerHeld[offer], d.pieces.totalQuantity) else {
                    audit.problems.append(Self.overflow(record.sequence, "units held of offer \(offer)")); return
                }
            case .confirmed, .released:
                guard let h = holds.removeValue(forKey: HoldBook.Key(d.organisation, d.reference)) else {
                    audit.problems.append("record \(record.sequence): \(d.outcome) of hold \(d.reference) that is not active"); return
                }
                // What the hold added comes off again (cannot overflow); what is sold is checked.
                for i in 0..<h.pieces.count {
                    audit.heldUnits[h.pieces[i].item] -= h.pieces[i].quantity
                    if d.outcome == .confirmed && !Self.add(&audit.soldUnits[h.pieces[i].item], h.pieces[i].quantity) {
                        audit.problems.append(Self.overflow(record.sequence, "units sold of item \(h.pieces[i].item)")); return
                    }
                }
                audit.offerHeld[h.offer] -= h.quantity
                if d.outcome == .confirmed && !Self.add(&audit.offerSold[h.offer], h.quantity) {
                    audit.problems.append(Self.overflow(record.sequence, "units sold of offer \(h.offer)")); return
                }
            default:
                break
            }
        }
        return audit
    }

    /// `total += amount` unless that passes 64 bits (then false, and `total` is unchanged).
    static func add(_ total: inout Int64, _ amount: Int64) -> Bool {
        let (sum, overflow) = total.addingReportingOverflow(amount)
        if !overflow { total = sum }
        return !overflow
    }

    static func overflow(_ sequence: UInt64, _ what: String) -> String {
        "record \(sequence): \(what) pass 64 bits (more than any campaign has)"
    }
}
