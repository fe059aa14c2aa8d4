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
/// An organisation that gathers many orders would make each of its lookups walk a long chain, a cache miss
/// per entry (a LIMIT answered to an organisation with 50 orders cost 50 misses, and slowed its whole
/// lane): once a lookup walks `indexThreshold` entries, the organisation's entries go into a hash index
/// too (`indexChain`, then `index` for each new one; `findIndexed`), so a lookup costs one or two probes
/// whatever the organisation holds. Organisations never looked up that long, nearly all of them, cost the
/// index nothing.
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

    /// A lookup that walks this many entries of a chain indexes the chain's organisation.
    public static let indexThreshold = 8

    /// The hash index: open addressing, linear probing, at most half full. A slot is
    /// `organisation << 32 | (entry index + 1)`, 0 when empty: a probe skips other organisations' slots
    /// without reading their entries, and a match is checked against the entry itself (exact, no
    /// fingerprint). Allocated when the first organisation is indexed.
    @usableFromInline var slots: UnsafeMutablePointer<UInt64>?
    @usableFromInline var slotMask = 0
    /// Entries in the index.
    public private(set) var indexedCount = 0

    /// An arena reserved for `expected` orders before it first grows (at least 1,024).
    public init(expected: Int) {
        capacity = max(1024, expected)
        entries = .allocate(capacity: capacity)  // not touched until written: untouched pages cost no memory
    }

    deinit {
        entries.deallocate()
        slots?.deallocate()
    }

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
        walk(head: head, requestId: requestId, offer: offer).found
    }

    /// `find(head:requestId:offer:)`, also telling how many entries it read.
    @inlinable @inline(__always)
    public func walk(head: UInt32, requestId: UInt64, offer: UInt16) -> (found: Int?, walked: Int) {
        var link = head, walked = 0
        while link != 0 {
            let i = Int(link &- 1)
            let e = entries[i]
            walked &+= 1
            if e.requestId == requestId && e.offer == offer { return (i, walked) }
            link = e.next
        }
        return (nil, walked)
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

    /// Where the index's probe for (organisation, request id, offer) starts (before the mask).
    @inlinable @inline(__always)
    static func slotHash(organisation: UInt32, requestId: UInt64, offer: UInt16) -> Int {
        // SplitMix64's finalizer over the id and the (organisation, offer) pair: every input bit reaches the
        // low bits the table uses (a multiply alone carries bits upwards only).
        var h = requestId ^ (UInt64(organisation) << 16 | UInt64(offer)) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ h >> 30) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ h >> 27) &* 0x94D0_49BB_1331_11EB
        return Int(truncatingIfNeeded: h ^ h >> 31)
    }

    /// Adds the entry at `index` (an order of `organisation`, a key the lane's local index of it) to the
    /// hash index; an entry already there with the same request id and offer is replaced (the newest
    /// wins, as in a chain walked from its head).
    public mutating func index(_ index: Int, organisation: UInt32) {
        if (indexedCount &+ 1) &* 2 > slotMask &+ 1 { growIndex() }
        put(index, organisation: organisation, replacing: true)
    }

    /// Puts a slot for entry `index` into the table, which has room. An entry of the same key already
    /// there is replaced (`replacing`) or kept.
    mutating func put(_ index: Int, organisation: UInt32, replacing: Bool) {
        guard let slots else { return }
        let e = entries[index]
        var p = Self.slotHash(organisation: organisation, requestId: e.requestId, offer: e.offer) & slotMask
        let slot = UInt64(organisation) << 32 | UInt64(index &+ 1)
        while slots[p] != 0 {
            if UInt32(truncatingIfNeeded: slots[p] >> 32) == organisation {
                let other = entries[Int(UInt32(truncatingIfNeeded: slots[p])) &- 1]
                if other.requestId == e.requestId && other.offer == e.offer {
                    if replacing { slots[p] = slot }
                    return
                }
            }
            p = (p &+ 1) & slotMask
        }
        slots[p] = slot
        indexedCount &+= 1
    }

    /// Doubles the index (1,024 slots at first), putting every slot again.
    mutating func growIndex() {
        let old = slots, oldCount = slotMask &+ 1
        let size = old == nil ? 1024 : oldCount &* 2
        let fresh = UnsafeMutablePointer<UInt64>.allocate(capacity: size)
        fresh.initialize(repeating: 0, count: size)
        slots = fresh
        slotMask = size &- 1
        indexedCount = 0
        if let old {
            for p in 0..<oldCount where old[p] != 0 {
                put(Int(UInt32(truncatingIfNeeded: old[p])) &- 1, organisation: UInt32(truncatingIfNeeded: old[p] >> 32),
                    replacing: false)
            }
            old.deallocate()
        }
    }

    /// The indexed entry of `requestId` under `offer` of `organisation`, or nil.
    @inlinable
    public func findIndexed(organisation: UInt32, requestId: UInt64, offer: UInt16) -> Int? {
        guard let slots else { return nil }
        var p = Self.slotHash(organisation: organisation, requestId: requestId, offer: offer) & slotMask
        while true {
            let s = slots[p]
            if s == 0 { return nil }
            if UInt32(truncatingIfNeeded: s >> 32) == organisation {
                let i = Int(UInt32(truncatingIfNeeded: s)) &- 1
                if entries[i].requestId == requestId && entries[i].offer == offer { return i }
            }
            p = (p &+ 1) & slotMask
        }
    }

    /// Indexes every entry of the chain starting at `head`, newest first: of equal keys the newest stays.
    public mutating func indexChain(head: UInt32, organisation: UInt32) {
        var link = head
        while link != 0 {
            let i = Int(link &- 1)
            if (indexedCount &+ 1) &* 2 > slotMask &+ 1 { growIndex() }
            put(i, organisation: organisation, replacing: false)
            link = entries[i].next
        }
    }

    mutating func grow() {
        let bigger = UnsafeMutablePointer<Entry>.allocate(capacity: capacity * 2)
        bigger.moveInitialize(from: entries, count: count)
        entries.deallocate()
        entries = bigger
        capacity *= 2
    }
}
