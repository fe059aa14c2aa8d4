import CLZ4
import CShims

/// Blocks compressed ahead of the journal. A lane encodes and compresses its own records into framed
/// blocks whose first sequence and CRC are still blank (`BlockEncoder`); `SegmentWriter.append(sealed:)`
/// numbers them (stamps the first sequence and the CRC) and writes them, in order, after everything
/// appended before. They are blocks of the writer's own format and codec (docs/segment-format.md), read
/// back as the same records; only their boundaries differ (a producer's blocks end where its batch ends,
/// where the writer's own would run on into the next batch under `batch` durability). Records do not
/// store their sequence, only the block header does, which is why a block can be compressed before its
/// place in the journal is known, and the serial journal only copies and stamps it.
///
/// One per lane batch, reused: it grows to the largest batch it held, never per order.
public final class SealedBlocks: @unchecked Sendable {  // owned by one stage at a time (lane, then journal)
    /// The framed blocks, back to back: `length` bytes, `blockCount` blocks, `recordCount` records.
    public private(set) var bytes: UnsafeMutableRawPointer
    private var capacity: Int
    public private(set) var length = 0
    public private(set) var blockCount = 0
    public private(set) var recordCount = 0

    /// `prefault`: its memory is made resident now (before a run's clock starts), not when first written.
    public init(capacity: Int = 128 << 10, prefault: Bool = false) {
        self.capacity = max(capacity, 4096)
        bytes = .allocate(byteCount: self.capacity, alignment: 16)
        if prefault { flashsale_prefault(bytes, self.capacity) }
    }

    deinit { bytes.deallocate() }

    /// Empties it (keeping its memory).
    public func removeAll() {
        length = 0
        blockCount = 0
        recordCount = 0
    }

    /// Room for `extra` more bytes at `bytes + length`.
    func reserve(_ extra: Int) {
        guard capacity - length < extra else { return }
        var c = capacity
        while c - length < extra { c *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
        grown.copyMemory(from: bytes, byteCount: length)
        bytes.deallocate()
        bytes = grown
        capacity = c
    }

    func added(bytes n: Int, records: Int) {
        length += n
        blockCount += 1
        recordCount += records
    }
}

/// Encodes records into `SealedBlocks` with the segment writer's codec and block size, so that its blocks
/// are the ones the writer would have made of the same records. One per lane (not thread-safe).
public final class BlockEncoder: @unchecked Sendable {  // used by one thread at a time (its lane)
    @usableFromInline let blockCapacity: Int
    private let acceleration: Int32
    @usableFromInline let raw: UnsafeMutableRawPointer
    private let lz4State: UnsafeMutableRawPointer

    /// With the writer's `blockBytes` and `acceleration` (clamped as the writer clamps them).
    public init(options: SegmentWriterOptions) {
        blockCapacity = SegmentWriter.blockCapacity(options)
        acceleration = options.acceleration
        raw = .allocate(byteCount: blockCapacity + RecordCodec.maxRecordBytes, alignment: 16)
        lz4State = .allocate(byteCount: Int(LZ4_sizeofState()), alignment: 16)
    }

    deinit {
        raw.deallocate()
        lz4State.deallocate()
    }

    /// Appends `records` to `out` as one block per `blockBytes` of encoded records (an `OrderRecord`'s
    /// `sequence` is ignored: the writer numbers them). Throws for a record the journal would refuse
    /// (more than 4 pieces); `out` is then as it was. Generic so that a producer encodes its own
    /// decisions where they lie (`JournalRecordFields`), with the same codec and blocks as for records.
    @inlinable
    public func encode<R: JournalRecordFields>(_ records: UnsafeBufferPointer<R>, into out: SealedBlocks) throws {
        guard let base = records.baseAddress else { return }
        let start = (length: out.length, blocks: out.blockCount, records: out.recordCount)
        let limit = blockCapacity - RecordCodec.maxRecordBytes
        var rawLen = 0, count = 0
        var codec = RecordCodec.State()
        // The records were written a whole batch ago (a lane's decisions, ~1 MB: past L2), so each one's
        // first load missed: fetch the cache lines a few records ahead.
        let bytes = UnsafeRawPointer(base), end = records.count &* MemoryLayout<R>.stride
        let ahead = 8 &* MemoryLayout<R>.stride
        var fetched = 0
        for k in 0..<records.count {
            let r = base + k
            let want = min(end, k &* MemoryLayout<R>.stride &+ ahead)
            while fetched < want {
                flashsale_prefetch_read(bytes + fetched)
                fetched &+= 64
            }
            let pieces = r.pointee.recordPieceCount
            if pieces > 4 {
                out.truncate(to: start)
                throw SegmentWriterError.invalidRecord(requestId: r.pointee.requestId, reason: "pieceCount \(pieces) > 4")
            }
            if rawLen > limit {
                seal(rawLen, count, into: out)
                rawLen = 0
                count = 0
                codec = RecordCodec.State()
            }
            rawLen &+= RecordCodec.encode(r, &codec, raw + rawLen)
            count &+= 1
        }
        if count > 0 { seal(rawLen, count, into: out) }
    }

    @usableFromInline
    func seal(_ rawLen: Int, _ count: Int, into out: SealedBlocks) {
        out.reserve(SegmentFormat.blockHeaderBytes + Int(LZ4_compressBound(Int32(rawLen))))
        let total = BlockFrame.compress(raw: raw, rawLength: rawLen, count: count, into: out.bytes + out.length,
                                        lz4State: lz4State, acceleration: acceleration)
        out.added(bytes: total, records: count)
    }
}

extension SealedBlocks {
    @usableFromInline
    func truncate(to s: (length: Int, blocks: Int, records: Int)) {
        length = s.length
        blockCount = s.blocks
        recordCount = s.records
    }
}
