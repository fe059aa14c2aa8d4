import CShims

/// Every order one lane ACCEPTED or HELD, for the whole campaign: what makes a retransmit idempotent
/// however late it comes, and what tells a confirm of an expired hold from a confirm of a hold that
/// never existed.
///
/// An append-only arena of 32-byte entries, chained per organisation: the organisation's record in
/// the lane holds the index of its newest entry, each entry the index of the one before. An
/// organisation has a handful of orders (bounded by offers × limit, plus re-holds after expiries), so a
/// lookup walks a short chain and never hashes; an organisation with no order costs nothing. Entries
/// never go away: a hold's entry changes state as the hold ends.
///
/// Owned by one lane (single writer, no locks). The arena is reserved up front for the orders the
/// lane's share of the stock allows (pages are only touched as entries are written), so a sale appends
/// without allocating; it doubles only when more orders were sold or holds granted than that, which
/// holds taken again after expiries can cause. Memory: 32 bytes per order ACCEPTED or hold granted,
/// i.e. O(orders sold + holds granted), never O(requests).
public struct OrderMemory: ~Copyable {
    /// What became of a remembered order.
    public enum State: UInt8, Sendable {
        /// A bundle order, ACCEPTED.
        case accepted = 1
        /// A reservation whose hold is active.
        case held
        /// A reservation whose hold was confirmed: sold.
        case confirmed
        /// A reservation whose hold was cancelled.
        case cancelled
        /// A reservation whose hold expired.
        case expired
    }

    /// One remembered order: the original decision a retransmit is answered with.
    public struct Entry: Sendable, Equatable {
        public var requestId: UInt64
        /// Index + 1 of the organisation's previous entry; 0 at the end of the chain.
        public var next: UInt32
        public var offer: UInt16
        public var stateRaw: UInt8
        public var pad: UInt8 = 0
        public var priceFen: Int64
        /// For reservations: the hold's expiry (campaign time); 0 for bundles.
        public var holdExpiryMillis: Int64

        public var state: State { State(rawValue: stateRaw) ?? .accepted }
        /// The outcome the original request got.
        public var originalOutcome: Outcome { state == .accepted ? .accepted : .held }
    }

    @usableFromInline var entries: UnsafeMutablePointer<Entry>
    public private(set) var capacity: Int
    public private(set) var count = 0

    /// An arena reserved for `expected` orders before it first grows (at least 1,024).
    public init(expected: Int) {
        capacity = max(1024, expected)
        entries = .allocate(capacity: capacity)  // not touched until written: untouched pages cost no memory
    }

    deinit { entries.deallocate() }

    /// Makes the whole reserved arena resident now (before a run's clock starts), so that appends do not
    /// page-fault on the hot path. Its memory is then committed whether or not the orders come.
    public func prefault() {
        flashsale_prefault(UnsafeMutableRawPointer(entries), capacity * MemoryLayout<Entry>.stride)
    }

    /// The index of the newest entry of `requestId`, under any offer, in the chain starting at `head`.
    public func find(head: UInt32, requestId: UInt64) -> Int? {
        var link = head
        while link != 0 {
            let i = Int(link &- 1)
            if entries[i].requestId == requestId { return i }
            link = entries[i].next
        }
        return nil
    }

    /// The index of the entry of `requestId` under `offer` in the chain starting at `head` (index + 1,
    /// 0 for an empty chain), or nil.
    @inlinable @inline(__always)
    public func find(head: UInt32, requestId: UInt64, offer: UInt16) -> Int? {
        var link = head
        while link != 0 {
            let i = Int(link &- 1)
            let e = entries[i]
            if e.requestId == requestId && e.offer == offer { return i }
            link = e.next
        }
        return nil
    }

    @inlinable
    public subscript(index: Int) -> Entry {
        get { entries[index] }
        nonmutating set { entries[index] = newValue }
    }

    /// Appends an order to the chain starting at `head`; returns the chain's new head.
    public mutating func append(head: UInt32, requestId: UInt64, offer: UInt16, state: State, priceFen: Int64,
                                holdExpiryMillis: Int64) -> UInt32 {
        if count == capacity { grow() }
        entries.advanced(by: count).initialize(to: Entry(requestId: requestId, next: head, offer: offer,
                                                         stateRaw: state.rawValue, priceFen: priceFen,
                                                         holdExpiryMillis: holdExpiryMillis))
        count &+= 1
        precondition(count < Int(UInt32.max), "more than 2^32 orders in one lane")
        return UInt32(count)
    }

    mutating func grow() {
        let bigger = UnsafeMutablePointer<Entry>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: entries, count: count)
        entries.deallocate()
        entries = bigger
        capacity *= 2
    }
}
