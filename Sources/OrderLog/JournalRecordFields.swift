/// What the record codec reads from a decision to journal it (docs/segment-format.md, "Record layout"):
/// `OrderRecord` is one, and a producer's own decision type can be one too, so that `BlockEncoder`
/// encodes it where it lies instead of first copying every decision into an `OrderRecord`.
///
/// The codes are stored as given (any `UInt8`); `recordPieceCount` above 4 is refused by the encoder and
/// the writer, as for an `OrderRecord`. A conforming type's accessors should be trivial and inlinable:
/// they run once per field per journaled decision.
public protocol JournalRecordFields {
    var campaignTimeMillis: Int64 { get }
    var requestId: UInt64 { get }
    var organisation: UInt32 { get }
    var offer: UInt16 { get }
    var recordKind: UInt8 { get }
    var recordOutcome: UInt8 { get }
    var recordOriginalOutcome: UInt8 { get }
    var lane: UInt8 { get }
    var quantity: Int32 { get }
    var priceFen: Int64 { get }
    var reference: UInt64 { get }
    var holdExpiryMillis: Int64 { get }
    var recordPieceCount: UInt8 { get }
    /// The piece at `index`, for `index < recordPieceCount`.
    func recordPiece(_ index: Int) -> RecordPiece
}

extension OrderRecord: JournalRecordFields {
    @inlinable public var recordKind: UInt8 { kind }
    @inlinable public var recordOutcome: UInt8 { outcome }
    @inlinable public var recordOriginalOutcome: UInt8 { originalOutcome }
    @inlinable public var recordPieceCount: UInt8 { pieceCount }
    @inlinable public func recordPiece(_ index: Int) -> RecordPiece { piece(index) }
}
