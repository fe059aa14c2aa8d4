/// One client request as it enters the pipeline.
///
/// `campaignTimeMillis` is the campaign clock (milliseconds since the campaign epoch, midnight of
/// day 0): every time rule reads it, never the wall clock. `intendedSendNanos` is when an open-model
/// source meant to send it (monotonic nanoseconds); latency is measured from it, so a stalled
/// pipeline cannot hide its own queueing (no coordinated omission).
public struct OrderRequest: Sendable, Equatable {
    /// Client-chosen idempotency key, unique per organisation; 0 is not a valid id.
    public var requestId: UInt64
    public var campaignTimeMillis: Int64
    public var intendedSendNanos: UInt64
    public var organisation: UInt32
    public var offer: UInt16
    public var kind: RequestKind
    public var quantity: Int32
    /// For `confirm` and `cancel`: the request id of the reservation that created the hold.
    public var reference: UInt64

    public init(requestId: UInt64, campaignTimeMillis: Int64, intendedSendNanos: UInt64 = 0,
                organisation: UInt32, offer: UInt16, kind: RequestKind = .buy,
                quantity: Int32 = 1, reference: UInt64 = 0) {
        self.requestId = requestId
        self.campaignTimeMillis = campaignTimeMillis
        self.intendedSendNanos = intendedSendNanos
        self.organisation = organisation
        self.offer = offer
        self.kind = kind
        self.quantity = quantity
        self.reference = reference
    }
}
