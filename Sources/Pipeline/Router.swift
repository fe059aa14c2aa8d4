import FlashSaleCore

/// Source → lanes: puts each request into the current batch of the lane that owns its organisation
/// (organisation id mod lanes, so one organisation's requests are decided in order by one lane) and hands
/// a full batch to `dispatch`.
///
/// In-flight work is bounded by the lanes' batch pools: when a lane has no free batch the request waits
/// for one (`wait`) or is shed (OVERLOAD, counted in `shed`). Nothing allocates, locks or dispatches per
/// request. Used from one thread.
struct Router {
    let pools: [BatchPool]
    private var current: [LaneBatch?]
    private let lanes: LaneDivisor
    private let wait: Bool
    private let dispatch: (LaneBatch) -> Void
    /// Requests shed because their lane had no free batch (never with `wait`).
    private(set) var shed = 0
    /// Time spent waiting for a free batch (with `wait`).
    private(set) var waitNanos: UInt64 = 0
    /// Closed loop: the ids of buys shed since the last `takeRefusedBuys` (their follow-ups are dropped).
    var collectsRefusedBuys = false
    private var refusedBuys: [UInt64] = []

    init(pools: [BatchPool], wait: Bool, dispatch: @escaping (LaneBatch) -> Void) {
        self.pools = pools
        current = [LaneBatch?](repeating: nil, count: pools.count)
        lanes = LaneDivisor(pools.count)
        self.wait = wait
        self.dispatch = dispatch
    }

    @inline(__always)
    mutating func route(_ r: OrderRequest) {
        let lane = Int(lanes.remainder(r.organisation))
        if current[lane] == nil {
            let t0 = wait ? monotonicNanos() : 0
            current[lane] = pools[lane].acquire(wait: wait)
            if wait { waitNanos &+= monotonicNanos() &- t0 }
            if current[lane] == nil {
                shed += 1
                if collectsRefusedBuys && r.kind == .buy { refusedBuys.append(r.requestId) }
                return
            }
        }
        let b = current[lane]!
        b.requests[b.count] = r
        b.count &+= 1
        if b.isFull {
            dispatch(b)
            current[lane] = nil
        }
    }

    /// Routes `requests` in order, each with its intended send time made relative to `rebase`: `route`
    /// for a whole chunk of the source, in a loop of its own (inlined into the pipeline's run loop, the
    /// request's fields were spilled to the stack and reloaded: ~6% of a parity run).
    mutating func route(_ requests: UnsafeBufferPointer<OrderRequest>, rebase: UInt64) {
        for i in requests.indices {
            var r = requests[i]
            r.intendedSendNanos &-= rebase
            route(r)
        }
    }

    /// Reports the buys shed since the last call to `source` (one call; nothing when none were).
    mutating func reportRefusedBuys(to source: ClosedLoopSource) {
        guard !refusedBuys.isEmpty else { return }
        source.receiveAnswers { inbox in for id in refusedBuys { inbox.refused(requestId: id) } }
        refusedBuys.removeAll(keepingCapacity: true)
    }

    /// Hands every partial batch to its lane (the open model's flush window, the end of the source).
    mutating func flushAll() {
        for lane in current.indices { if let b = current[lane], b.count > 0 { dispatch(b); current[lane] = nil } }
    }
}
