/// What a lane decided for one request (or for a hold's expiry), ready to be journaled.
///
/// A decision is a plain value: lanes produce them into reused batch buffers, the journal encodes
/// them, the acknowledger reads `intendedSendNanos` for latency.
public struct Decision: Sendable, Equatable {
    public var requestId: UInt64
    public var campaignTimeMillis: Int64
    public var intendedSendNanos: UInt64
    public var organisation: UInt32
    public var offer: UInt16
    public var kind: RequestKind
    public var outcome: Outcome
    /// For DUPLICATE: the outcome the original request got. Otherwise equal to `outcome`.
    public var originalOutcome: Outcome
    public var quantity: Int32
    /// Price charged in fen (1/100 yuan) for ACCEPTED and HELD; 0 otherwise.
    public var priceFen: Int64
    /// For hold-related decisions (HELD, CONFIRMED, RELEASED, HOLD_EXPIRED, NO_HOLD): the reservation's request id.
    public var reference: UInt64
    /// For HELD: campaign time at which the hold expires.
    public var holdExpiryMillis: Int64
    /// For HELD: where the held units came from. Empty otherwise.
    public var pieces: HoldPieces
    /// The lane that decided it.
    public var lane: UInt8

    /// A hold's expiry, made by its lane (RELEASED of kind `expire`), as opposed to a client's request.
    /// A request a client sent with kind `expire` is INVALID (or a DUPLICATE of one): a request all the same.
    @inlinable
    public var isLaneExpiry: Bool { kind == .expire && outcome == .released }

    public init(request r: OrderRequest, outcome: Outcome, lane: Int) {
        requestId = r.requestId
        campaignTimeMillis = r.campaignTimeMillis
        intendedSendNanos = r.intendedSendNanos
        organisation = r.organisation
        offer = r.offer
        kind = r.kind
        self.outcome = outcome
        originalOutcome = outcome
        quantity = r.quantity
        priceFen = 0
        reference = r.reference
        holdExpiryMillis = 0
        pieces = HoldPieces()
        self.lane = UInt8(truncatingIfNeeded: lane)
    }

    public init(requestId: UInt64, campaignTimeMillis: Int64, organisation: UInt32, offer: UInt16,
                kind: RequestKind, outcome: Outcome, originalOutcome: Outcome? = nil, quantity: Int32,
                priceFen: Int64 = 0, reference: UInt64 = 0, holdExpiryMillis: Int64 = 0,
                pieces: HoldPieces = HoldPieces(), lane: UInt8 = 0, intendedSendNanos: UInt64 = 0) {
        self.requestId = requestId
        self.campaignTimeMillis = campaignTimeMillis
        self.intendedSendNanos = intendedSendNanos
        self.organisation = organisation
        self.offer = offer
        self.kind = kind
        self.outcome = outcome
        self.originalOutcome = originalOutcome ?? outcome
        self.quantity = quantity
        self.priceFen = priceFen
        self.reference = reference
        self.holdExpiryMillis = holdExpiryMillis
        self.pieces = pieces
        self.lane = lane
    }
}
