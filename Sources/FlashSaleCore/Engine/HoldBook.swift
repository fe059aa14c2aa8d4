/// The active hardware holds of one lane, with their expiries on the campaign clock.
///
/// Owned by exactly one lane (single writer, no locks). Memory is bounded by the number of active
/// holds, which stock bounds: a hold exists only while it holds units.
public struct HoldBook: ~Copyable {
    public struct Hold: Sendable {
        public var reference: UInt64
        public var organisation: UInt32
        public var offer: UInt16
        public var quantity: Int32
        public var priceFen: Int64
        public var expiryMillis: Int64
        public var pieces: HoldPieces
        @usableFromInline var generation: UInt32
        @usableFromInline var active: Bool
    }

    @usableFromInline var slots: [Hold] = []
    @usableFromInline var free: [Int32] = []
    /// Request ids are unique per organisation, so a hold is named by both.
    public struct Key: Hashable, Sendable {
        @usableFromInline var organisation: UInt32
        @usableFromInline var reference: UInt64
        public init(_ organisation: UInt32, _ reference: UInt64) {
            self.organisation = organisation
            self.reference = reference
        }
    }

    @usableFromInline var byReference: [Key: Int32] = [:]
    /// A hold's place in the expiry order; entries of ended holds are skipped lazily (generation).
    /// Holds expiring in the same millisecond come out by (organisation, reference): an order that does
    /// not depend on slots, so a rebuilt lane releases them exactly as the uninterrupted one did.
    @usableFromInline struct Expiry: HeapOrdered {
        var expiry: Int64
        var reference: UInt64
        var organisation: UInt32
        var slot: Int32
        var generation: UInt32
        @usableFromInline func precedes(_ other: Expiry) -> Bool {
            if expiry != other.expiry { return expiry < other.expiry }
            if organisation != other.organisation { return organisation < other.organisation }
            return reference < other.reference
        }
    }

    @usableFromInline var heap = MinHeap<Expiry>()

    public init() {}

    public var activeCount: Int { byReference.count }

    /// The active hold created by `organisation`'s reservation `reference`, if any.
    @inlinable
    public func slot(organisation: UInt32, reference: UInt64) -> Int32? { byReference[Key(organisation, reference)] }

    @inlinable
    public subscript(slot: Int32) -> Hold { slots[Int(slot)] }

    /// Records a new hold; returns its slot.
    @discardableResult
    public mutating func insert(reference: UInt64, organisation: UInt32, offer: UInt16, quantity: Int32,
                                priceFen: Int64, expiryMillis: Int64, pieces: HoldPieces) -> Int32 {
        let slot: Int32
        var generation: UInt32 = 0
        if let f = free.popLast() {
            slot = f
            generation = slots[Int(f)].generation &+ 1
        } else {
            slot = Int32(slots.count)
            slots.append(Hold(reference: 0, organisation: 0, offer: 0, quantity: 0, priceFen: 0, expiryMillis: 0,
                              pieces: HoldPieces(), generation: 0, active: false))
        }
        slots[Int(slot)] = Hold(reference: reference, organisation: organisation, offer: offer, quantity: quantity,
                                priceFen: priceFen, expiryMillis: expiryMillis, pieces: pieces,
                                generation: generation, active: true)
        byReference[Key(organisation, reference)] = slot
        heap.push(Expiry(expiry: expiryMillis, reference: reference, organisation: organisation, slot: slot,
                         generation: generation))
        return slot
    }

    /// Ends a hold (confirmed, cancelled or expired) and returns it.
    @discardableResult
    public mutating func remove(_ slot: Int32) -> Hold {
        let hold = slots[Int(slot)]
        slots[Int(slot)].active = false
        byReference.removeValue(forKey: Key(hold.organisation, hold.reference))
        free.append(slot)
        return hold
    }

    /// The earliest expiry in the expiry order (possibly of a hold that already ended), or `.max`.
    public var earliestExpiry: Int64 { heap.top?.expiry ?? .max }

    /// The slot of the earliest active hold expiring at or before `t`, if any (skips ended holds).
    public mutating func popExpired(upTo t: Int64) -> Int32? {
        while let top = heap.top, top.expiry <= t {
            heap.popTop()
            let h = slots[Int(top.slot)]
            if h.active && h.generation == top.generation { return top.slot }
        }
        return nil
    }

    /// Every active hold (for end-of-run accounting and tests).
    public func forEachActive(_ body: (Hold) -> Void) {
        for h in slots where h.active { body(h) }
    }
}
