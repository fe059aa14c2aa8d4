import FlashSaleCore
import OrderLog

/// A lane's half of the journal, for queued lanes (`--rate max`): once the lane has decided a batch it
/// encodes and compresses the decisions into the batch's own blocks (`LaneBatch.sealed`), so that the
/// serial journal only numbers and copies them (`SegmentWriter.append(sealed:)`). The work moves off the
/// one thread every decision passes through onto the lanes, which run in parallel; the segments
/// hold the same records as when the journal encodes (in blocks that end with the batch).
///
/// Confined to its lane's queue. Never allocates per order: the batch's block buffer grows to the
/// largest batch and is reused.
final class LaneBlockEncoder: @unchecked Sendable {  // confined to its lane's queue
    private let encoder: BlockEncoder

    init(writer options: SegmentWriterOptions) {
        encoder = BlockEncoder(options: options)
    }

    /// Encodes `batch.decisions` into `batch.sealed`, straight from the decisions (`JournalRecordFields`:
    /// no copy into `OrderRecord`s). If that fails (a record the journal refuses), the batch is left
    /// without blocks and the journal encodes it, and fails, as it would have.
    func encode(_ batch: LaneBatch) {
        let out = batch.sealed ?? SealedBlocks()
        batch.sealed = out
        out.removeAll()
        guard !batch.decisions.isEmpty else { return }
        do {
            try batch.decisions.withUnsafeBufferPointer { try encoder.encode($0, into: out) }
        } catch {
            out.removeAll()
        }
    }
}
