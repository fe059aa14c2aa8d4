import FlashSaleCore
import OrderLog

/// The one mapping between a lane's `Decision` and the journal's `OrderRecord`.
extension OrderRecord {
    @inline(__always)
    init(_ d: Decision) {
        self.init()
        campaignTimeMillis = d.campaignTimeMillis
        requestId = d.requestId
        organisation = d.organisation
        offer = d.offer
        kind = d.kind.rawValue
        outcome = d.outcome.rawValue
        originalOutcome = d.originalOutcome.rawValue
        lane = d.lane
        quantity = d.quantity
        priceFen = d.priceFen
        reference = d.reference
        holdExpiryMillis = d.holdExpiryMillis
        pieceCount = UInt8(d.pieces.count)
        for i in 0..<d.pieces.count {
            let p = d.pieces[i]
            setPiece(i, RecordPiece(item: UInt16(p.item), quantity: UInt32(p.quantity)))
        }
    }
}

/// A lane's decisions are journaled where they lie (`LaneBlockEncoder`), the same bytes as `OrderRecord(d)`.
extension Decision: JournalRecordFields {
    @inlinable public var recordKind: UInt8 { kind.rawValue }
    @inlinable public var recordOutcome: UInt8 { outcome.rawValue }
    @inlinable public var recordOriginalOutcome: UInt8 { originalOutcome.rawValue }
    @inlinable public var recordPieceCount: UInt8 { UInt8(pieces.count) }
    @inlinable public func recordPiece(_ index: Int) -> RecordPiece {
        let p = pieces[index]
        return RecordPiece(item: UInt16(p.item), quantity: UInt32(p.quantity))
    }
}

extension Decision {
    /// The decision a journaled record holds (nil if a code is unknown to this build).
    init?(_ r: borrowing OrderRecord) {
        guard let kind = RequestKind(rawValue: r.kind), let outcome = Outcome(rawValue: r.outcome),
              let original = Outcome(rawValue: r.originalOutcome) else { return nil }
        var pieces = HoldPieces()
        for i in 0..<Int(r.pieceCount) {
            let p = r.piece(i)
            pieces.append(item: Int(p.item), quantity: Int64(p.quantity))
        }
        self.init(requestId: r.requestId, campaignTimeMillis: r.campaignTimeMillis, organisation: r.organisation,
                  offer: r.offer, kind: kind, outcome: outcome, originalOutcome: original, quantity: r.quantity,
                  priceFen: r.priceFen, reference: r.reference, holdExpiryMillis: r.holdExpiryMillis,
                  pieces: pieces, lane: r.lane)
    }
}
