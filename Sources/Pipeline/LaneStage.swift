import Dispatch
import FlashSaleCore
import OrderLog
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The lanes of an in-process run: one `LaneEngine` each. A lane decides the batches handed to it in the
/// order they came and submits each to the journal, in one of two ways:
/// - queued (`--rate max`): one serial queue per lane, so that lanes decide in parallel with the source and
///   the journal; one dispatch per batch.
/// - inline (paced runs, `none` or `batch` durability): on the producer's thread inside the journal's queue
///   (`queue.sync`), as `OrderService` does: at a paced rate the lanes are mostly idle and each batch's two
///   thread wake-ups (source → lane → journal) were the latency, not the decisions (~0.1 µs per order).
///   The lanes' "queues" are then the journal's. (With `sync` durability a commit is an fsync, which the
///   source must not wait for: queued, and it sheds when the lanes fall behind.)
///
/// Queued lanes also encode and compress their decided batches into journal blocks (`LaneBlockEncoder`),
/// so that the journal's serial thread only numbers and writes them.
///
/// Never a dispatch per order. An engine is touched only on its lane's queue.
final class LaneStage: @unchecked Sendable {  // immutable after init; engines confined to their queues
    let engines: [LaneEngine]
    let queues: [DispatchQueue]
    let journal: JournalStage
    /// Test hook: each batch spins this long per request after deciding it (a slow lane).
    let injectedDelayNanos: UInt64
    /// Test hook: (monotonic time from which, how long) one batch stalls its lane, once.
    let injectedStall: (fromNanos: UInt64, nanos: UInt64)?
    private let stalled = Atomic<Bool>(false)
    /// Decide on the producer's thread inside the journal's queue (see the type's doc).
    let inline: Bool
    /// Queued lanes with `encodesBlocks`: each lane encodes and compresses its decided batches (one per lane).
    private let blockEncoders: [LaneBlockEncoder]

    /// - Parameter encodesBlocks: queued lanes encode and compress their batches' journal blocks themselves
    ///   (`LaneBlockEncoder`), with these writer options; nil: the journal encodes (inline lanes always).
    init(engines: [LaneEngine], journal: JournalStage, label: String, inline: Bool = false, injectedDelayNanos: UInt64 = 0,
         injectedStall: (UInt64, UInt64)? = nil, encodesBlocks: SegmentWriterOptions? = nil) {
        self.engines = engines
        self.journal = journal
        self.inline = inline
        self.injectedDelayNanos = injectedDelayNanos
        self.injectedStall = injectedStall.map { (fromNanos: $0.0, nanos: $0.1) }
        blockEncoders = inline ? [] : encodesBlocks.map { options in engines.map { _ in LaneBlockEncoder(writer: options) } } ?? []
        queues = inline ? engines.map { _ in journal.queue }
                        : engines.indices.map { DispatchQueue(label: "\(label).lane\($0)", qos: .userInteractive) }
    }

    var count: Int { engines.count }

    /// Decides `batch` on its lane's queue, then submits it to the journal.
    func decide(_ batch: LaneBatch) {
        batch.dispatchedNanos = monotonicNanos()
        let engine = engines[batch.lane], journal = journal, delay = injectedDelayNanos
        let stall = injectedStall.flatMap { s in
            batch.dispatchedNanos >= s.fromNanos && !stalled.exchange(true, ordering: .relaxed) ? s.nanos : nil
        }
        if inline {
            journal.queue.sync {
                if let stall { usleep(UInt32(stall / 1000)) }
                engine.process(UnsafeBufferPointer(rebasing: batch.requests[0..<batch.count]), into: &batch.decisions)
                if delay > 0 {
                    let until = monotonicNanos() &+ delay &* UInt64(batch.count)
                    while monotonicNanos() < until {}
                }
                journal.submit(batch)
            }
            return
        }
        if let stall { queues[batch.lane].async { usleep(UInt32(stall / 1000)) } }
        let encoder = blockEncoders.isEmpty ? nil : blockEncoders[batch.lane]
        queues[batch.lane].async {
            // The lane's half of the journal: its blocks and its counts (`BatchSummary`).
            if encoder != nil {
                BatchSummary.decide(batch, on: engine)
            } else {
                engine.process(UnsafeBufferPointer(rebasing: batch.requests[0..<batch.count]), into: &batch.decisions)
            }
            if delay > 0 {
                let until = monotonicNanos() &+ delay &* UInt64(batch.count)
                while monotonicNanos() < until {}
            }
            encoder?.encode(batch)
            journal.queue.async { journal.submit(batch) }
        }
    }

    /// Waits until every lane has decided what it was handed.
    func drain() { if inline { journal.queue.sync {} } else { for q in queues { q.sync {} } } }
}
