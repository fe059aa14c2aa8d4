import FlashSaleCore
/// A confirm or cancel the generator will send later, at `campaignMillis`.
struct FollowUp {
    var campaignMillis: Int64
    var reference: UInt64
    var organisation: UInt32
    var offer: UInt16
    var kind: RequestKindRaw
    var quantity: Int32

    @inline(__always)
    func precedes(_ o: FollowUp) -> Bool {
        campaignMillis < o.campaignMillis || (campaignMillis == o.campaignMillis && reference < o.reference)
    }
}

typealias RequestKindRaw = UInt8

/// Pending follow-ups in (campaign time, reference) order.
///
/// A monotone priority queue: items are only taken once due (`time ≤ limit`, and the limit never
/// decreases), and new items are never earlier than the current limit. So a ring of time buckets
/// works: pushing appends to a bucket, a bucket is sorted once when it becomes current (a counting
/// sort on the millisecond within the bucket) and then read in order. Items beyond the ring's horizon
/// wait in a binary heap. Buckets are raw memory (no per-push uniqueness checks or Array bookkeeping):
/// hundreds of thousands of pending holds stay cheap, where a plain binary heap that large misses the
/// cache on every pop.
struct FollowUpQueue {
    /// Owns the raw memory; the queue keeps copies of the pointers.
    private final class Storage {
        let ringSize: Int
        let items: UnsafeMutablePointer<UnsafeMutablePointer<FollowUp>?>
        let counts: UnsafeMutablePointer<Int>
        let capacities: UnsafeMutablePointer<Int>
        init(ringSize: Int) {
            self.ringSize = ringSize
            items = .allocate(capacity: ringSize)
            items.initialize(repeating: nil, count: ringSize)
            counts = .allocate(capacity: ringSize)
            counts.initialize(repeating: 0, count: ringSize)
            capacities = .allocate(capacity: ringSize)
            capacities.initialize(repeating: 0, count: ringSize)
        }
        deinit {
            for i in 0..<ringSize { items[i]?.deallocate() }
            items.deallocate()
            counts.deallocate()
            capacities.deallocate()
        }
    }

    private let storage: Storage
    private let items: UnsafeMutablePointer<UnsafeMutablePointer<FollowUp>?>
    private let counts: UnsafeMutablePointer<Int>
    private let capacities: UnsafeMutablePointer<Int>
    /// Bucket width in ms: a power of two, `1 << shift`.
    private let width: Int64
    private let shift: Int64
    private let mask: Int64
    private let ringSize: Int64
    /// Absolute index (time / width) of the current bucket.
    private var base: Int64 = 0
    private var currentSorted = false
    private var cursor = 0
    private var inRing = 0
    /// Follow-ups beyond the ring, by (campaign time, reference).
    private var overflow = MinHeap<FollowUp>()
    private var scratch: [FollowUp] = []
    private var tally: [Int32]
    private(set) var count = 0
    /// No pending item is earlier than this: callers skip `popDue` while their limit is below it.
    private(set) var notBefore: Int64 = .min

    /// `spanMillis`: the typical largest delay; the ring covers about twice that.
    init(spanMillis: Int64, ringSize: Int = 4096) {
        precondition(ringSize > 0 && ringSize & (ringSize - 1) == 0)
        self.ringSize = Int64(ringSize)
        mask = Int64(ringSize - 1)
        let wanted = max(1, (max(1, spanMillis) * 2 + Int64(ringSize) - 1) / Int64(ringSize))
        var sh: Int64 = 0
        while (Int64(1) << sh) < wanted && sh < 40 { sh += 1 }
        shift = sh
        width = Int64(1) << sh
        storage = Storage(ringSize: ringSize)
        items = storage.items
        counts = storage.counts
        capacities = storage.capacities
        tally = width <= 1 << 16 ? [Int32](repeating: 0, count: Int(width) + 1) : []
    }

    @inline(__always)
    private mutating func append(_ f: FollowUp, toSlot slot: Int) {
        let n = counts[slot]
        if n == capacities[slot] {
            let newCapacity = max(16, n * 2)
            let grown = UnsafeMutablePointer<FollowUp>.allocate(capacity: newCapacity)
            if let old = items[slot] {
                grown.moveInitialize(from: old, count: n)
                old.deallocate()
            }
            items[slot] = grown
            capacities[slot] = newCapacity
        }
        (items[slot]! + n).initialize(to: f)
        counts[slot] = n + 1
    }

    @inline(__always)
    private func bucket(_ t: Int64) -> Int64 { t >= 0 ? t >> shift : 0 }

    /// `now`: the current limit (pushes are never due before it).
    mutating func push(_ f: FollowUp, now: Int64) {
        if count == 0 {
            // empty: catch the ring up with the clock
            let nowBucket = bucket(now)
            if nowBucket > base { moveTo(nowBucket) }
        }
        count += 1
        if f.campaignMillis < notBefore { notBefore = f.campaignMillis }
        var b = bucket(f.campaignMillis)
        if b < base { b = base }
        if b >= base + ringSize { overflow.push(f); return }
        inRing += 1
        let slot = Int(b & mask)
        append(f, toSlot: slot)
        if b == base && currentSorted {
            // keep the already sorted current bucket sorted (rare: a delay shorter than a bucket)
            let p = items[slot]!
            var i = counts[slot] - 1
            while i > cursor && f.precedes(p[i - 1]) { p[i] = p[i - 1]; i -= 1 }
            p[i] = f
        }
    }

    /// Sorts a bucket by (time, reference).
    private mutating func sortBucket(_ slot: Int) {
        let n = counts[slot]
        guard n > 1, let p = items[slot] else { return }
        var buffer = UnsafeMutableBufferPointer(start: p, count: n)
        guard !tally.isEmpty else { buffer.sort { $0.precedes($1) }; return }
        // counting sort on the millisecond within the bucket (stable), then order ties by reference
        let start = base * width
        for i in 0..<tally.count { tally[i] = 0 }
        let top = width - 1
        // (items clamped into the bucket can lie before it: they sort first, the insertion pass orders them)
        for f in buffer { tally[Int(min(max(f.campaignMillis - start, 0), top)) + 1] += 1 }
        for i in 1..<tally.count { tally[i] += tally[i - 1] }
        scratch.removeAll(keepingCapacity: true)
        scratch.reserveCapacity(n)
        scratch.append(contentsOf: buffer)
        for f in scratch {
            let k = Int(min(max(f.campaignMillis - start, 0), top))
            p[Int(tally[k])] = f
            tally[k] += 1
        }
        for i in 1..<n where p[i].precedes(p[i - 1]) {
            let f = p[i]
            var j = i
            while j > 0 && f.precedes(p[j - 1]) { p[j] = p[j - 1]; j -= 1 }
            p[j] = f
        }
    }

    /// The earliest follow-up if it is due at `limit`, removed from the queue. `limit` never decreases,
    /// and later pushes are never earlier than it.
    mutating func popDue(limit: Int64) -> FollowUp? {
        guard count > 0 else { return nil }
        let limitBucket = bucket(limit)
        while true {
            let slot = Int(base & mask)
            if !currentSorted {
                sortBucket(slot)
                currentSorted = true
                cursor = 0
            }
            if cursor < counts[slot] {
                let f = items[slot]![cursor]
                guard f.campaignMillis <= limit else { notBefore = f.campaignMillis; return nil }
                cursor += 1
                inRing -= 1
                count -= 1
                return f
            }
            // the current bucket is spent: move on, but never past the limit's bucket
            guard base < limitBucket else { notBefore = (base + 1) << shift; return nil }
            var next = base + 1
            if inRing == 0 {
                next = limitBucket
                if let top = overflow.top { next = min(next, max(base + 1, bucket(top.campaignMillis))) }
            }
            moveTo(next)
        }
    }

    private mutating func moveTo(_ next: Int64) {
        counts[Int(base & mask)] = 0
        base = next
        cursor = 0
        currentSorted = false
        while let top = overflow.top, bucket(top.campaignMillis) < base + ringSize {
            overflow.popTop()
            let b = max(base, bucket(top.campaignMillis))
            append(top, toSlot: Int(b & mask))
            inRing += 1
        }
    }
}

extension FollowUp: HeapOrdered {}
