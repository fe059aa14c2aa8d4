import Synchronization

/// Shared stock for every item of a campaign, split into shards of atomic counters.
///
/// Guarantees, under any interleaving of any number of threads:
/// - **Never oversold**: no shard ever goes below zero, so no more units leave than were put in.
/// - **Conserved**: every unit is either in a shard or was handed to exactly one successful caller;
///   `take` that fails returns everything it took, `takeAll` is all or nothing.
/// - **Sold-out is cheap**: once every shard of an item was seen empty, `isSoldOut` is a single
///   relaxed load and `take` returns without touching the shards; a later `release` clears it.
///
/// Each counter lives on its own 128-byte slot (two cache lines, against adjacent-line prefetch),
/// so lanes taking from their home shards do not share cache lines. Under contention a take may
/// fail while the item still has units in a shard another thread is emptying concurrently
/// (a shard that looked empty is not rescanned); at quiescence the counts are exact.
///
/// `take`, `release` and `refill` are the ledger's whole interface to stock, so a cluster-backed
/// refill (leasing allotments from a shared store) can be added behind `refill` without touching lanes.
public final class StockLedger: @unchecked Sendable {  // shards are atomics; the buffer is immutable after init
    public static let slotBytes = 128

    public let itemCount: Int
    public let shardCount: Int
    public let initial: [Int64]
    /// Slots per item: `shardCount` counters then one sold-out flag.
    @usableFromInline let itemStride: Int
    @usableFromInline let base: UnsafeMutableRawPointer

    /// Splits each item's initial stock evenly over `shardCount` shards (the remainder goes to the first shards).
    public init(initial: [Int64], shardCount: Int) {
        precondition(shardCount >= 1 && shardCount <= 64, "shardCount must be 1...64")
        precondition(initial.allSatisfy { $0 >= 0 }, "initial stock must be ≥ 0")
        self.itemCount = initial.count
        self.shardCount = shardCount
        self.initial = initial
        self.itemStride = shardCount + 1
        let slots = max(1, initial.count * (shardCount + 1))
        base = UnsafeMutableRawPointer.allocate(byteCount: slots * Self.slotBytes, alignment: Self.slotBytes)
        for (item, total) in initial.enumerated() {
            let share = total / Int64(shardCount)
            let extra = Int(total % Int64(shardCount))
            for s in 0..<shardCount {
                counterPointer(item, s).initialize(to: Atomic<Int64>(share + (s < extra ? 1 : 0)))
            }
            flagPointer(item).initialize(to: Atomic<Bool>(total == 0))
        }
    }

    deinit {
        for item in 0..<itemCount {
            for s in 0..<shardCount { _ = counterPointer(item, s).move() }
            _ = flagPointer(item).move()
        }
        base.deallocate()
    }

    @inlinable @inline(__always)
    func counterPointer(_ item: Int, _ shard: Int) -> UnsafeMutablePointer<Atomic<Int64>> {
        (base + (item &* itemStride &+ shard) &* Self.slotBytes).assumingMemoryBound(to: Atomic<Int64>.self)
    }

    @inlinable @inline(__always)
    func flagPointer(_ item: Int) -> UnsafeMutablePointer<Atomic<Bool>> {
        (base + (item &* itemStride &+ shardCount) &* Self.slotBytes).assumingMemoryBound(to: Atomic<Bool>.self)
    }

    /// True once every shard of `item` was seen empty (and no release happened since).
    @inlinable @inline(__always)
    public func isSoldOut(_ item: Int) -> Bool {
        flagPointer(item).pointee.load(ordering: .relaxed)
    }

    /// Takes up to `want` units from one shard; returns how many it took (never drives it below zero).
    @inlinable @inline(__always)
    func takeUpTo(_ want: Int64, item: Int, shard: Int) -> Int64 {
        let counter = counterPointer(item, shard)
        var current = counter.pointee.load(ordering: .relaxed)
        while current > 0 {
            let got = min(current, want)
            let (exchanged, original) = counter.pointee.compareExchange(
                expected: current, desired: current &- got, ordering: .acquiringAndReleasing)
            if exchanged { return got }
            current = original
        }
        return 0
    }

    /// Takes as many units of `item` as are available, up to `want`: from `home` shard first, then
    /// borrowing from the others. Returns how many it took (0...want).
    @inlinable
    public func takeAvailable(_ want: Int64, of item: Int, home: Int) -> Int64 {
        if isSoldOut(item) { return 0 }
        let h = home % shardCount
        var got = takeUpTo(want, item: item, shard: h)
        if got == want { return got }
        var s = h
        for _ in 1..<shardCount {
            s = s &+ 1 == shardCount ? 0 : s &+ 1
            got &+= takeUpTo(want &- got, item: item, shard: s)
            if got == want { return got }
        }
        if got == 0 { markSoldOutIfEmpty(item) }
        return got
    }

    /// Takes exactly `quantity` units of `item`, from `home` shard first and then borrowing from the
    /// others, or nothing. Returns whether it took them.
    @inlinable
    public func take(_ quantity: Int64, of item: Int, home: Int) -> Bool {
        let got = takeAvailable(quantity, of: item, home: home)
        if got == quantity { return true }
        // Not enough: give back exactly what was taken (to the home shard, which keeps totals exact).
        if got > 0 { release(got, of: item, to: home) }
        return false
    }

    /// Takes `quantity × component.quantityPerUnit` of every component, or nothing at all: on failure
    /// every component already taken is returned before this returns.
    @inlinable
    public func takeAll(_ components: UnsafeBufferPointer<Offer.Component>, times quantity: Int64, home: Int) -> Bool {
        for c in components where isSoldOut(c.item) { return false }
        for (i, c) in components.enumerated() {
            if !take(c.quantityPerUnit &* quantity, of: c.item, home: home) {
                for j in 0..<i {
                    release(components[j].quantityPerUnit &* quantity, of: components[j].item, to: home)
                }
                return false
            }
        }
        return true
    }

    /// Returns `quantity` units of `item` to `shard` (cancel, expiry, failed bundle) and clears sold-out.
    @inlinable
    public func release(_ quantity: Int64, of item: Int, to shard: Int) {
        precondition(quantity >= 0)
        counterPointer(item, shard % shardCount).pointee.wrappingAdd(quantity, ordering: .acquiringAndReleasing)
        if flagPointer(item).pointee.load(ordering: .sequentiallyConsistent) {
            flagPointer(item).pointee.store(false, ordering: .sequentiallyConsistent)
        }
    }

    /// Adds new units to a shard (e.g. an allotment leased from a shared store). Same effect on
    /// counts as `release`; kept separate so that callers say what they mean.
    public func refill(_ quantity: Int64, of item: Int, to shard: Int) {
        release(quantity, of: item, to: shard)
    }

    /// Sets the sold-out flag if every shard is empty; re-checks afterwards so that a release racing
    /// with it cannot leave the flag set over available stock.
    @usableFromInline
    func markSoldOutIfEmpty(_ item: Int) {
        for s in 0..<shardCount where counterPointer(item, s).pointee.load(ordering: .sequentiallyConsistent) > 0 { return }
        flagPointer(item).pointee.store(true, ordering: .sequentiallyConsistent)
        for s in 0..<shardCount where counterPointer(item, s).pointee.load(ordering: .sequentiallyConsistent) > 0 {
            flagPointer(item).pointee.store(false, ordering: .sequentiallyConsistent)
            return
        }
    }

    /// Sets every item's stock to `initial − sold − held` (a campaign rebuilt from its journal), taking
    /// the units out of the shards. Returns the items that would go below zero (then nothing is taken
    /// for them): a journal that sold more than the campaign has does not belong to it.
    public func restore(sold: [Int64], held: [Int64]) -> [Int] {
        var impossible: [Int] = []
        for item in 0..<itemCount {
            let (used, overflow) = sold[item].addingReportingOverflow(held[item])
            if overflow || sold[item] < 0 || held[item] < 0 || !take(used, of: item, home: 0) { impossible.append(item) }
        }
        return impossible
    }

    /// Units in the shards now. Exact only when no take or release is in flight.
    public func remaining(_ item: Int) -> Int64 {
        var sum: Int64 = 0
        // Saturating: refills past 64 bits would otherwise trap here (the shards themselves wrap).
        for s in 0..<shardCount { sum = sum.saturatingAdding(counterPointer(item, s).pointee.load(ordering: .acquiring)) }
        return sum
    }

    /// Units in one shard now.
    public func remaining(_ item: Int, shard: Int) -> Int64 {
        counterPointer(item, shard).pointee.load(ordering: .acquiring)
    }
}
