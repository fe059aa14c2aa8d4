import FlashSaleCore

/// One order of an ORDERS frame: 48 bytes on the wire (docs/wire-protocol.md, "ORDERS").
///
/// `write(to:)` and `read(from:)` copy the fields to and from exactly those 48 bytes, unaligned, with
/// the reserved bytes written as 0 (and not read: `reservedBytesAreZero(at:)` checks them). Nothing is
/// validated here beyond the layout: the server decides which values it refuses (`INVALID_FIELD`).
public struct WireOrder: Equatable, Sendable {
    /// The client's number for this order on its connection (strictly increasing, the first ≥ 1).
    public var clientSequence: UInt64
    /// `RequestKind` raw value: 0 buy, 1 confirm, 2 cancel.
    public var kind: UInt8
    /// The offer's index in the campaign.
    public var offer: UInt16
    public var organisation: UInt32
    public var quantity: Int32
    /// The idempotency key, unique per organisation (≥ 1).
    public var requestId: UInt64
    /// Confirm and cancel: the hold's id (the reservation's request id); 0 for a buy.
    public var reference: UInt64
    /// With a request clock: the campaign time; with a wall clock: `WireProtocol.noCampaignTime`.
    public var campaignTimeMillis: Int64

    public init(clientSequence: UInt64, kind: UInt8 = 0, offer: UInt16, organisation: UInt32, quantity: Int32 = 1,
                requestId: UInt64, reference: UInt64 = 0, campaignTimeMillis: Int64 = WireProtocol.noCampaignTime) {
        self.clientSequence = clientSequence
        self.kind = kind
        self.offer = offer
        self.organisation = organisation
        self.quantity = quantity
        self.requestId = requestId
        self.reference = reference
        self.campaignTimeMillis = campaignTimeMillis
    }

    /// An order of `kind`.
    public init(clientSequence: UInt64, kind: RequestKind, offer: UInt16, organisation: UInt32, quantity: Int32 = 1,
                requestId: UInt64, reference: UInt64 = 0, campaignTimeMillis: Int64 = WireProtocol.noCampaignTime) {
        self.init(clientSequence: clientSequence, kind: kind.rawValue, offer: offer, organisation: organisation, quantity: quantity,
                  requestId: requestId, reference: reference, campaignTimeMillis: campaignTimeMillis)
    }

    /// The kind, when it is one a client may send (buy, confirm, cancel).
    public var requestKind: RequestKind? { kind <= 2 ? RequestKind(rawValue: kind) : nil }

    /// Writes the 48 bytes at `p` (unaligned; reserved bytes 0).
    @inline(__always)
    public func write(to p: UnsafeMutableRawPointer) {
        p.storeLE(clientSequence, at: 0)
        p.storeLE(kind, at: 8)
        p.storeLE(UInt8(0), at: 9)
        p.storeLE(offer, at: 10)
        p.storeLE(organisation, at: 12)
        p.storeLE(quantity, at: 16)
        p.storeLE(UInt32(0), at: 20)
        p.storeLE(requestId, at: 24)
        p.storeLE(reference, at: 32)
        p.storeLE(campaignTimeMillis, at: 40)
    }

    /// Reads the 48 bytes at `p` (unaligned; the reserved bytes are not read).
    @inline(__always)
    public static func read(from p: UnsafeRawPointer) -> WireOrder {
        WireOrder(clientSequence: p.le(0), kind: p.le(8), offer: p.le(10), organisation: p.le(12), quantity: p.le(16),
                  requestId: p.le(24), reference: p.le(32), campaignTimeMillis: p.le(40))
    }

    /// Whether the order at `p` has its reserved bytes (9, and 20 … 23) at 0.
    @inline(__always)
    public static func reservedBytesAreZero(at p: UnsafeRawPointer) -> Bool {
        p.le(9, as: UInt8.self) == 0 && p.le(20, as: UInt32.self) == 0
    }
}
