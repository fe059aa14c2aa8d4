/// Every order one lane sold or held, by (organisation, request id), for the whole campaign: what makes
/// a retransmit idempotent however late it comes, and what tells a confirm of an expired hold from a
/// confirm of a hold that never existed.
///
/// A flat open-addressing table (linear probing, 32-byte entries, no deletions: an entry changes state
/// as its hold ends, it never goes away). Owned by one lane (single writer, no locks). It is sized up
/// front from the stock the lane can sell, so a sale inserts without allocating; it doubles (one rehash
/// on the lane's thread) only when more orders were sold or holds granted than that estimate, which
/// re-holds of expired units can cause. Memory: 64 bytes per entry at worst (load ≤ 1/2), one entry per
/// ACCEPTED bundle and per HELD reservation, i.e. O(orders sold + holds granted); never O(requests).
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
        public var requestId: UInt64      // 0: empty slot
        public var organisation: UInt32
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
    @usableFromInline var mask: Int
    public private(set) var count = 0

    /// A table with room for `expected` orders before it first grows (at least 1,024 slots).
    public init(expected: Int) {
        var capacity = 1024
        while capacity < (1 << 40) && capacity / 2 < expected { capacity <<= 1 }
        entries = .allocate(capacity: capacity)
        entries.initialize(repeating: Entry(requestId: 0, organisation: 0, offer: 0, stateRaw: 0, priceFen: 0,
                                            holdExpiryMillis: 0), count: capacity)
        mask = capacity - 1
    }

    deinit { entries.deallocate() }

    /// Slots allocated (a power of two).
    public var capacity: Int { mask + 1 }

    @inlinable @inline(__always)
    static func hash(_ organisation: UInt32, _ requestId: UInt64) -> Int {
        var k = requestId &+ UInt64(organisation) &* 0xC2B2_AE3D_27D4_EB4F
        k = (k ^ (k >> 31)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: k ^ (k >> 29))
    }

    /// The slot of `(organisation, requestId)`, or of the empty slot where it would go.
    @inlinable @inline(__always)
    func probe(_ organisation: UInt32, _ requestId: UInt64) -> Int {
        var i = Self.hash(organisation, requestId) & mask
        while true {
            let e = entries[i]
            if e.requestId == 0 || (e.requestId == requestId && e.organisation == organisation) { return i }
            i = (i &+ 1) & mask
        }
    }

    /// The remembered order, if any.
    @inlinable @inline(__always)
    public func find(organisation: UInt32, requestId: UInt64) -> Entry? {
        let e = entries[probe(organisation, requestId)]
        return e.requestId == 0 ? nil : e
    }

    /// Remembers a new order (request id ≠ 0); an existing entry of the same key is overwritten.
    public mutating func insert(organisation: UInt32, requestId: UInt64, offer: UInt16, state: State,
                                priceFen: Int64, holdExpiryMillis: Int64) {
        if (count &+ 1) &* 2 > capacity { grow() }
        let i = probe(organisation, requestId)
        if entries[i].requestId == 0 { count &+= 1 }
        entries[i] = Entry(requestId: requestId, organisation: organisation, offer: offer, stateRaw: state.rawValue,
                           priceFen: priceFen, holdExpiryMillis: holdExpiryMillis)
    }

    /// Moves a remembered hold to its end state; false when the order is not remembered.
    @discardableResult
    public mutating func setState(organisation: UInt32, requestId: UInt64, _ state: State) -> Bool {
        let i = probe(organisation, requestId)
        guard entries[i].requestId != 0 else { return false }
        entries[i].stateRaw = state.rawValue
        return true
    }

    mutating func grow() {
        let old = entries, oldCapacity = capacity
        let capacity = oldCapacity * 2
        entries = .allocate(capacity: capacity)
        entries.initialize(repeating: Entry(requestId: 0, organisation: 0, offer: 0, stateRaw: 0, priceFen: 0,
                                            holdExpiryMillis: 0), count: capacity)
        mask = capacity - 1
        for j in 0..<oldCapacity where old[j].requestId != 0 {
            entries[probe(old[j].organisation, old[j].requestId)] = old[j]
        }
        old.deallocate()
    }
}
