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
/// works: pushing appends to a bucket, a bucket is sorted once when it becomes current and then read
/// in order. Items beyond the ring's horizon wait in a binary heap. This keeps hundreds of thousands
/// of pending holds cheap (a plain binary heap that large misses the cache on every pop).
struct FollowUpQueue {
    private var buckets: [[FollowUp]]
    private let width: Int64
    private let mask: Int64
    private let ringSize: Int64
    /// Absolute index (time / width) of the current bucket.
    private var base: Int64 = 0
    private var currentSorted = false
    private var cursor = 0
    private var inRing = 0
    private var overflow = FollowUpHeap()
    private(set) var count = 0

    /// `span`: the typical largest delay in ms; the ring covers about twice that.
    init(spanMillis: Int64, ringSize: Int = 512) {
        self.ringSize = Int64(ringSize)
        mask = Int64(ringSize - 1)
        width = max(1, (max(1, spanMillis) * 2 + Int64(ringSize) - 1) / Int64(ringSize))
        buckets = Array(repeating: [], count: ringSize)
    }

    mutating func push(_ f: FollowUp) {
        count += 1
        var b = f.campaignMillis >= 0 ? f.campaignMillis / width : 0
        if b < base { b = base }
        if b >= base + ringSize { overflow.push(f); return }
        inRing += 1
        let slot = Int(b & mask)
        if b == base && currentSorted {
            // keep the already sorted current bucket sorted (rare: a delay shorter than a bucket)
            var lo = cursor, hi = buckets[slot].count
            while lo < hi {
                let mid = (lo + hi) / 2
                if buckets[slot][mid].precedes(f) { lo = mid + 1 } else { hi = mid }
            }
            buckets[slot].insert(f, at: lo)
        } else {
            buckets[slot].append(f)
        }
    }

    /// The earliest follow-up if it is due at `limit`, removed from the queue. `limit` never decreases,
    /// and later pushes are never earlier than it.
    mutating func popDue(limit: Int64) -> FollowUp? {
        let limitBucket = limit >= 0 ? limit / width : 0
        guard count > 0 else {
            if limitBucket > base { moveTo(limitBucket) }
            return nil
        }
        while true {
            let slot = Int(base & mask)
            if !currentSorted {
                if buckets[slot].count > 1 { buckets[slot].sort { $0.precedes($1) } }
                currentSorted = true
                cursor = 0
            }
            if cursor < buckets[slot].count {
                let f = buckets[slot][cursor]
                guard f.campaignMillis <= limit else { return nil }
                cursor += 1
                inRing -= 1
                count -= 1
                return f
            }
            // the current bucket is spent: move on, but never past the limit's bucket
            guard base < limitBucket else { return nil }
            var next = base + 1
            if inRing == 0 {
                next = limitBucket
                if let top = overflow.top { next = min(next, max(base + 1, top.campaignMillis / width)) }
            }
            moveTo(next)
        }
    }

    private mutating func moveTo(_ next: Int64) {
        buckets[Int(base & mask)].removeAll(keepingCapacity: true)
        base = next
        cursor = 0
        currentSorted = false
        while let top = overflow.top, top.campaignMillis / width < base + ringSize {
            overflow.removeTop()
            let b = max(base, top.campaignMillis / width)
            buckets[Int(b & mask)].append(top)
            inRing += 1
        }
    }
}

/// A binary min-heap of follow-ups by (campaign time, reference), for those beyond the ring.
struct FollowUpHeap {
    private var items: [FollowUp] = []

    var count: Int { items.count }
    var top: FollowUp? { items.first }

    mutating func push(_ f: FollowUp) {
        items.append(f)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            guard items[i].precedes(items[p]) else { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func removeTop() {
        let lastItem = items.removeLast()
        guard !items.isEmpty else { return }
        items[0] = lastItem
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && items[l].precedes(items[m]) { m = l }
            if r < n && items[r].precedes(items[m]) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
    }
}
