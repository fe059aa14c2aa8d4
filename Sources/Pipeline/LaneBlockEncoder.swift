import FlashSaleCore
import OrderLog

/// A lane's half of the journal, for queued lanes (`--rate max`): once the lane has decided a batch it
/// encodes and compresses the decisions into the batch's own blocks (`LaneBatch.sealed`), so that the
/// serial journal only numbers and copies them (`SegmentWriter.append(sealed:)`). The work moves off the
/// one thread every decision passes through onto the lanes, which run in parallel; the segments
/// hold the same records as when the journal encodes (in blocks that end with the batch).
///
/// Confined to its lane's queue. Never allocates per order: the record buffer and the batch's block
/// buffer grow to the largest batch and are reused.
final class LaneBlockEncoder: @unchecked Sendable {  // confined to its lane's queue
    private let encoder: BlockEncoder
    private var records: UnsafeMutableBufferPointer<OrderRecord>

    init(writer options: SegmentWriterOptions, capacity: Int) {
        encoder = BlockEncoder(options: options)
        records = .allocate(capacity: max(capacity, 256))
    }

    deinit { records.deallocate() }

    /// Encodes `batch.decisions` into `batch.sealed`. If that fails (a record the journal refuses), the
    /// batch is left without blocks and the journal encodes it, and fails, as it would have.
    func encode(_ batch: LaneBatch) {
        let n = batch.decisions.count
        let out = batch.sealed ?? SealedBlocks()
        batch.sealed = out
        out.removeAll()
        guard n > 0 else { return }
        if records.count < n {
            records.deallocate()
            records = .allocate(capacity: n * 2)
        }
        batch.decisions.withUnsafeBufferPointer { ds in
            for i in 0..<n { records[i] = OrderRecord(ds[i]) }
        }
        do {
            try encoder.encode(UnsafeBufferPointer(rebasing: records[0..<n]), into: out)
        } catch {
            out.removeAll()
        }
    }
}
