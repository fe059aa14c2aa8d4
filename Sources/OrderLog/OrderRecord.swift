/// Piece of a hardware hold: a stock item index and units.
public struct RecordPiece: Sendable, Equatable, Hashable {
    public var item: UInt16
    public var quantity: UInt32

    @inlinable
    public init(item: UInt16 = 0, quantity: UInt32 = 0) {
        self.item = item
        self.quantity = quantity
    }

    public static let zero = RecordPiece()
}

/// One journaled decision. All numeric codes are opaque to this module.
///
/// `pieces` is stored inline (a tuple) so that a record never allocates; use
/// `piece(_:)`, `setPiece(_:_:)` or `appendPiece(_:)` to access it by index.
public struct OrderRecord: Sendable, Equatable {
    /// Assigned by `SegmentWriter.append`: consecutive from 1, continuing across segments and restarts.
    public var sequence: UInt64
    /// Campaign clock.
    public var campaignTimeMillis: Int64
    public var requestId: UInt64
    public var organisation: UInt32
    public var offer: UInt16
    /// 0 buy, 1 confirm, 2 cancel, 3 expire (any UInt8 is stored).
    public var kind: UInt8
    /// Outcome code (0...13 today; any UInt8 is stored).
    public var outcome: UInt8
    /// Equals `outcome` except for duplicates.
    public var originalOutcome: UInt8
    public var lane: UInt8
    public var quantity: Int32
    public var priceFen: Int64
    /// 0 when none.
    public var reference: UInt64
    /// 0 when none.
    public var holdExpiryMillis: Int64
    /// Number of valid entries in `pieces`, 0...4. Larger values are refused by `SegmentWriter.append`.
    public var pieceCount: UInt8
    public var pieces: (RecordPiece, RecordPiece, RecordPiece, RecordPiece)

    public static let maxPieces = 4

    @inlinable
    public init(
        sequence: UInt64 = 0,
        campaignTimeMillis: Int64 = 0,
        requestId: UInt64 = 0,
        organisation: UInt32 = 0,
        offer: UInt16 = 0,
        kind: UInt8 = 0,
        outcome: UInt8 = 0,
        originalOutcome: UInt8? = nil,
        lane: UInt8 = 0,
        quantity: Int32 = 0,
        priceFen: Int64 = 0,
        reference: UInt64 = 0,
        holdExpiryMillis: Int64 = 0,
        pieceCount: UInt8 = 0,
        pieces: (RecordPiece, RecordPiece, RecordPiece, RecordPiece) = (.zero, .zero, .zero, .zero)
    ) {
        self.sequence = sequence
        self.campaignTimeMillis = campaignTimeMillis
        self.requestId = requestId
        self.organisation = organisation
        self.offer = offer
        self.kind = kind
        self.outcome = outcome
        self.originalOutcome = originalOutcome ?? outcome
        self.lane = lane
        self.quantity = quantity
        self.priceFen = priceFen
        self.reference = reference
        self.holdExpiryMillis = holdExpiryMillis
        self.pieceCount = pieceCount
        self.pieces = pieces
    }

    /// The piece at `index` (0...3). Indices at or past `pieceCount` return whatever is stored there.
    @inlinable
    public func piece(_ index: Int) -> RecordPiece {
        switch index {
        case 0: return pieces.0
        case 1: return pieces.1
        case 2: return pieces.2
        default: return pieces.3
        }
    }

    /// Stores `piece` at `index` (0...3) without changing `pieceCount`.
    @inlinable
    public mutating func setPiece(_ index: Int, _ piece: RecordPiece) {
        switch index {
        case 0: pieces.0 = piece
        case 1: pieces.1 = piece
        case 2: pieces.2 = piece
        default: pieces.3 = piece
        }
    }

    /// Appends a piece; returns false when all four are used.
    @inlinable
    @discardableResult
    public mutating func appendPiece(_ piece: RecordPiece) -> Bool {
        guard pieceCount < 4 else { return false }
        setPiece(Int(pieceCount), piece)
        pieceCount += 1
        return true
    }

    /// Equal when every field is equal and the first `pieceCount` pieces are equal.
    @inlinable
    public static func == (a: OrderRecord, b: OrderRecord) -> Bool {
        guard a.sequence == b.sequence, a.campaignTimeMillis == b.campaignTimeMillis,
              a.requestId == b.requestId, a.organisation == b.organisation, a.offer == b.offer,
              a.kind == b.kind, a.outcome == b.outcome, a.originalOutcome == b.originalOutcome,
              a.lane == b.lane, a.quantity == b.quantity, a.priceFen == b.priceFen,
              a.reference == b.reference, a.holdExpiryMillis == b.holdExpiryMillis,
              a.pieceCount == b.pieceCount
        else { return false }
        for i in 0..<min(Int(a.pieceCount), 4) where a.piece(i) != b.piece(i) { return false }
        return true
    }
}
