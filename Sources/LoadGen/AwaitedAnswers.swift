/// The reservations whose follow-up waits for their answer (closed loop), by request id: an open-
/// addressing table (linear probing, backward-shift deletion) that grows by doubling, so nothing is
/// allocated per request once it has reached the number of follow-ups pending at once.
///
/// Used by one thread (the generator's); answers reach it through the generator's inbox.
struct AwaitedAnswers {
    enum State: UInt8 { case unknown = 0, granted = 1, refused = 2 }
    private struct Slot {
        var requestId: UInt64   // 0: empty (request ids are ≥ 1)
        var state: State
        var atNanos: UInt64
    }
    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: Slot(requestId: 0, state: .unknown, atNanos: 0), count: size)
        mask = size - 1
    }

    @inline(__always)
    private func home(_ id: UInt64) -> Int { Int(truncatingIfNeeded: (id &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask }

    @inline(__always)
    private func find(_ id: UInt64) -> Int? {
        var i = home(id)
        while true {
            let k = slots[i].requestId
            if k == id { return i }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    /// Starts waiting for `id`'s answer (a reservation that scheduled a follow-up).
    mutating func expect(_ id: UInt64) {
        if (count + 1) * 2 > slots.count { grow() }
        var i = home(id)
        while slots[i].requestId != 0 {
            if slots[i].requestId == id { return }
            i = (i + 1) & mask
        }
        slots[i] = Slot(requestId: id, state: .unknown, atNanos: 0)
        count += 1
    }

    /// An answer for `id` (ignored unless awaited). A grant wins over a refusal: a retransmitted copy
    /// that got the hold after the original was refused still holds units.
    @inline(__always)
    mutating func answer(_ id: UInt64, granted: Bool, atNanos: UInt64) {
        guard count > 0, let i = find(id) else { return }
        switch slots[i].state {
        case .unknown: slots[i].state = granted ? .granted : .refused; slots[i].atNanos = atNanos
        case .refused where granted: slots[i].state = .granted; slots[i].atNanos = atNanos
        default: break
        }
    }

    /// What is known of `id` now (`unknown` also when it is not awaited).
    func state(_ id: UInt64) -> (State, UInt64) {
        guard let i = find(id) else { return (.unknown, 0) }
        return (slots[i].state, slots[i].atNanos)
    }

    /// Stops waiting for `id` (its follow-up was sent or dropped).
    mutating func remove(_ id: UInt64) {
        guard var i = find(id) else { return }
        count -= 1
        // backward shift: pull later members of the probe run into the hole
        var j = i
        while true {
            j = (j + 1) & mask
            let k = slots[j].requestId
            if k == 0 { break }
            let h = home(k)
            // `k` may move into `i` unless its home lies cyclically in (i, j]
            let inRange = i <= j ? (h > i && h <= j) : (h > i || h <= j)
            if !inRange { slots[i] = slots[j]; i = j }
        }
        slots[i] = Slot(requestId: 0, state: .unknown, atNanos: 0)
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(requestId: 0, state: .unknown, atNanos: 0), count: old.count * 2)
        mask = slots.count - 1
        for s in old where s.requestId != 0 {
            var i = home(s.requestId)
            while slots[i].requestId != 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }
}
