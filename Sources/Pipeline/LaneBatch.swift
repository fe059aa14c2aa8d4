import FlashSaleCore
import OrderLog
import CShims
import Synchronization

/// A batch of requests for one lane and, once decided, their decisions.
///
/// Batches are recycled through their lane's `BatchPool`: allocated once, reused for the whole run,
/// so no stage allocates per order. Ownership moves source → lane → journal → pool; only one stage
/// touches a batch at a time, which is why the unchecked Sendable is sound.
final class LaneBatch: @unchecked Sendable {
    let lane: Int
    let requests: UnsafeMutableBufferPointer<OrderRequest>
    var count = 0
    var decisions: [Decision]
    /// Monotonic time the batch was handed to its lane (queueing latency in `--rate max`).
    var dispatchedNanos: UInt64 = 0
    /// Queued lanes: the decisions, encoded and compressed by the lane (`LaneBlockEncoder`), for the
    /// journal to number and write. Used only when it holds exactly `decisions` (its record count).
    var sealed: SealedBlocks?
    /// Queued lanes: what the lane counted while deciding the batch (`BatchSummary`).
    var summary: BatchSummary
    /// Highest sequence the journal gave this batch's decisions.
    var lastSequence: UInt64 = 0
    /// Out of its pool (owned by a stage). A batch returned twice would be handed to two stages.
    var isOut = false
    /// Served requests: where each request's answer goes (the producer's token, parallel to `requests`).
    let tokens: UnsafeMutableBufferPointer<UInt64>
    /// Served requests: called once, on the journal's queue, when the batch is acknowledged (`true`: its
    /// decisions are durable) or abandoned after a journal failure (`false`). It owns the batch from
    /// then on and must give it back (`BatchPool.release`) once it has read the decisions.
    var completion: (@Sendable (LaneBatch, Bool) -> Void)?

    /// `prefault`: its buffers (and an empty `sealed`) are made resident now, not on the hot path.
    init(lane: Int, capacity: Int, prefault: Bool = false) {
        self.lane = lane
        summary = BatchSummary()
        requests = .allocate(capacity: capacity)
        tokens = .allocate(capacity: capacity)
        decisions = [Decision](unsafeUninitializedCapacity: capacity + 64) { buffer, count in
            if prefault { flashsale_prefault(buffer.baseAddress, buffer.count * MemoryLayout<Decision>.stride) }
            count = 0
        }
        if prefault {
            flashsale_prefault(requests.baseAddress, capacity * MemoryLayout<OrderRequest>.stride)
            flashsale_prefault(tokens.baseAddress, capacity * MemoryLayout<UInt64>.stride)
            sealed = SealedBlocks(prefault: true)
        }
    }

    deinit {
        requests.deallocate()
        tokens.deallocate()
        summary.outcomes.deallocate()
    }

    var isFull: Bool { count == requests.count }
}

/// What a queued lane counted while it decided a batch, so that at `--rate max` the journal acknowledges
/// the batch without reading every decision again: on the journal's core the decisions are a cache miss
/// each (~4% of a parity run). Taken from the lane engine's own counters before and after the batch, so
/// it costs the lane nothing per decision. Valid only when the lane filled it for exactly this batch.
struct BatchSummary {
    /// The summary describes the batch's decisions (cleared when the batch goes back to its pool).
    var isValid = false
    /// Decisions per outcome raw value (`Outcome.count` counters, allocated once per batch).
    let outcomes: UnsafeMutablePointer<Int>
    /// Hold expiries among the decisions (RELEASED of kind `expire`: nobody's answer).
    var expiries = 0
    /// The lane's campaign clock after the batch: at least every decision's campaign time so far.
    var clockMillis: Int64 = .min
    /// Offers the lane answered SOLD_OUT for the first time in this batch.
    var firstSoldOut: [Int] = []

    init() {
        outcomes = .allocate(capacity: Outcome.count)
        outcomes.initialize(repeating: 0, count: Outcome.count)
    }

    mutating func clear() {
        guard isValid else { return }
        isValid = false
        outcomes.update(repeating: 0, count: Outcome.count)
        expiries = 0
        firstSoldOut.removeAll(keepingCapacity: true)
    }

    /// Decides `batch` on `engine` and fills `batch.summary` around it (on the lane's queue).
    static func decide(_ batch: LaneBatch, on engine: LaneEngine) {
        batch.summary.clear()
        engine.addOutcomeCounts(to: batch.summary.outcomes, negated: true)
        let expiries = engine.expiryCount
        engine.process(UnsafeBufferPointer(rebasing: batch.requests[0..<batch.count]), into: &batch.decisions)
        engine.addOutcomeCounts(to: batch.summary.outcomes, negated: false)
        batch.summary.expiries = engine.expiryCount &- expiries
        batch.summary.clockMillis = engine.clockMillis
        engine.takeNewlySoldOut(into: &batch.summary.firstSoldOut)
        batch.summary.isValid = true
    }
}

/// A fixed set of batches for one lane. Its size bounds the lane's in-flight work: when every batch
/// is out, the source either waits (policy `wait`) or sheds (policy `shed`).
final class BatchPool: @unchecked Sendable {  // free list behind a Mutex, counted by a semaphore
    private let free: Mutex<[LaneBatch]>
    private let available: DispatchSemaphoreBox

    init(lane: Int, batches: Int, capacity: Int, prefault: Bool = false) {
        free = Mutex((0..<batches).map { _ in LaneBatch(lane: lane, capacity: capacity, prefault: prefault) })
        available = DispatchSemaphoreBox(value: batches)
    }

    /// A free batch, waiting for one if `wait`; nil when none is free and `wait` is false.
    func acquire(wait: Bool) -> LaneBatch? {
        if wait { available.wait() } else if !available.tryWait() { return nil }
        let batch = free.withLock { $0.removeLast() }
        batch.isOut = true
        return batch
    }

    func release(_ batch: LaneBatch) {
        precondition(batch.isOut, "a lane batch was returned to its pool twice")
        batch.isOut = false
        batch.count = 0
        batch.completion = nil
        batch.decisions.removeAll(keepingCapacity: true)
        batch.sealed?.removeAll()
        batch.summary.clear()
        free.withLock { $0.append(batch) }
        available.signal()
    }
}

import Dispatch

final class DispatchSemaphoreBox: @unchecked Sendable {
    let semaphore: DispatchSemaphore
    init(value: Int) {
        // Start at 0 and signal up: libdispatch traps when a semaphore is freed below its initial value,
        // which a failed run (batches never acknowledged, never returned) would otherwise do.
        semaphore = DispatchSemaphore(value: 0)
        for _ in 0..<value { semaphore.signal() }
    }
    func wait() { semaphore.wait() }
    func tryWait() -> Bool { semaphore.wait(timeout: .now()) == .success }
    func signal() { semaphore.signal() }
}
