import Dispatch
import FlashSaleCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The lanes of an in-process run: one serial queue and one `LaneEngine` each. A lane decides the batches
/// handed to it in the order they came, on its own queue, and submits each to the journal. (`OrderService`
/// decides on the producer's thread inside the journal's queue instead: on `serve`'s event loops a hop per
/// batch cost more than the decisions; see its doc.)
///
/// One dispatch per batch, never per order. An engine is touched only on its lane's queue.
final class LaneStage: @unchecked Sendable {  // immutable after init; engines confined to their queues
    let engines: [LaneEngine]
    let queues: [DispatchQueue]
    let journal: JournalStage
    /// Test hook: each batch spins this long per request after deciding it (a slow lane).
    let injectedDelayNanos: UInt64
    /// Test hook: (monotonic time from which, how long) one batch stalls its lane, once.
    let injectedStall: (fromNanos: UInt64, nanos: UInt64)?
    private let stalled = Atomic<Bool>(false)

    init(engines: [LaneEngine], journal: JournalStage, label: String, injectedDelayNanos: UInt64 = 0,
         injectedStall: (UInt64, UInt64)? = nil) {
        self.engines = engines
        self.journal = journal
        self.injectedDelayNanos = injectedDelayNanos
        self.injectedStall = injectedStall.map { (fromNanos: $0.0, nanos: $0.1) }
        queues = engines.indices.map { DispatchQueue(label: "\(label).lane\($0)", qos: .userInteractive) }
    }

    var count: Int { engines.count }

    /// Decides `batch` on its lane's queue, then submits it to the journal.
    func decide(_ batch: LaneBatch) {
        batch.dispatchedNanos = monotonicNanos()
        let engine = engines[batch.lane], journal = journal, delay = injectedDelayNanos
        if let stall = injectedStall, batch.dispatchedNanos >= stall.fromNanos, !stalled.exchange(true, ordering: .relaxed) {
            queues[batch.lane].async { usleep(UInt32(stall.nanos / 1000)) }
        }
        queues[batch.lane].async {
            engine.process(UnsafeBufferPointer(rebasing: batch.requests[0..<batch.count]), into: &batch.decisions)
            if delay > 0 {
                let until = monotonicNanos() &+ delay &* UInt64(batch.count)
                while monotonicNanos() < until {}
            }
            journal.queue.async { journal.submit(batch) }
        }
    }

    /// Waits until every lane has decided what it was handed.
    func drain() { for q in queues { q.sync {} } }
}
