import FlashSaleSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLZ4
import Dispatch
import Synchronization

/// When appended records may be acknowledged.
public enum Durability: String, Sendable, CaseIterable {
    /// Acknowledge once written to the OS (survives a process crash, not a machine crash).
    case none
    /// Group commit: fsync at most every `groupCommitMillis` or `groupCommitBytes`.
    case batch
    /// fsync on every commit.
    case sync
}

public struct SegmentWriterOptions: Sendable {
    /// Roll to a new segment when the current one reaches this many bytes.
    public var segmentBytes: Int = 64 << 20
    /// Roll when the segment is older than this (wall clock since its creation).
    public var segmentMaxAgeSeconds: Double? = nil
    /// Raw bytes per block before it is compressed and sealed (clamped to 256...16 MiB).
    public var blockBytes: Int = 64 << 10
    /// LZ4 acceleration (1 = default compression).
    public var acceleration: Int32 = 1
    public var durability: Durability = .batch
    /// batch: fsync at most every N ms ...
    public var groupCommitMillis: Int = 2
    /// ... or every M bytes written since the last fsync.
    public var groupCommitBytes: Int = 4 << 20
    /// Compressed blocks are gathered and written in writes of up to this size (at least 1 MiB is advised).
    public var writeBufferBytes: Int = 1 << 20
    /// On open, earlier (sealed) segments get structural checks only (header, end marker, base
    /// sequence continuity); set this to verify every block of every segment (reads everything).
    /// The last segment is always verified block by block.
    public var recoveryVerifiesAllSegments: Bool = false
    /// batch: run the group-commit fsync on a background queue, so the appending thread keeps
    /// encoding and writing while the disk syncs. The watermark then advances when that fsync
    /// returns (and `SegmentWriter.onDurable` is called); it still never passes what was fsynced.
    public var backgroundSync: Bool = false
    /// batch with `backgroundSync`: continuous group commit. An fsync starts as soon as something is
    /// waiting and none is running (no wait for `groupCommitMillis`), so a record waits for at most the
    /// fsync in flight and its own: acknowledgement latency about two fsyncs, not a timer period. The
    /// caller commits again when a background fsync returns (`onDurable`), for what came meanwhile.
    public var continuousGroupCommit: Bool = false

    public init() {}

    public init(segmentBytes: Int = 64 << 20, segmentMaxAgeSeconds: Double? = nil, blockBytes: Int = 64 << 10,
                acceleration: Int32 = 1, durability: Durability = .batch, groupCommitMillis: Int = 2,
                groupCommitBytes: Int = 4 << 20, writeBufferBytes: Int = 1 << 20) {
        self.segmentBytes = segmentBytes
        self.segmentMaxAgeSeconds = segmentMaxAgeSeconds
        self.blockBytes = blockBytes
        self.acceleration = acceleration
        self.durability = durability
        self.groupCommitMillis = groupCommitMillis
        self.groupCommitBytes = groupCommitBytes
        self.writeBufferBytes = writeBufferBytes
    }
}

/// What `SegmentWriter.init` found and did.
public struct RecoveryReport: Sendable, Equatable {
    /// Segment files found on open.
    public var segments: Int = 0
    /// Records found in valid blocks.
    public var records: UInt64 = 0
    /// Last valid sequence found (0 when the directory was empty).
    public var lastSequence: UInt64 = 0
    /// Bytes cut from the tail of the last segment (a removed header-only/torn segment counts whole).
    public var cutBytes: Int64 = 0
    /// Records in the cut bytes, as the cut blocks' headers claim them (0 when nothing was cut):
    /// a block torn inside its payload still has its header, which counts its records. nil when
    /// no readable block header starts the cut (torn inside the header, or garbage).
    public var cutRecords: UInt64? = 0
    /// Why bytes were cut (the problem found at the cut offset), nil when nothing was cut.
    public var cutReason: SegmentError?
    /// True when the last segment was sealed (clean shutdown).
    public var lastSegmentSealed = false
    /// True when the last segment was removed (its header was torn or it held no block).
    public var removedSegment: String?
}

public struct WriterStats: Sendable, Equatable {
    public var records: UInt64 = 0
    public var blocks: UInt64 = 0
    /// Segments created by this writer (plus the recovered one it continues, if any).
    public var segments: UInt64 = 0
    /// Of `segments`, those written with direct I/O (`DirectSegmentSink`; the others went through the page cache).
    public var directSegments: UInt64 = 0
    public var rawBytes: UInt64 = 0
    /// Bytes written to files (headers, block headers, payloads, end markers).
    public var compressedBytes: UInt64 = 0
    public var fsyncs: UInt64 = 0
}

/// The durable watermark, shareable with any thread (e.g. the acknowledger).
public final class DurableWatermark: Sendable {
    let value = Atomic<UInt64>(0)
    public init() {}
    public var sequence: UInt64 { value.load(ordering: .acquiring) }

    /// Raises the watermark to `sequence` (never lowers it: the owner and the background fsync both publish).
    func advance(to sequence: UInt64) {
        var current = value.load(ordering: .relaxed)
        while current < sequence {
            let (done, actual) = value.compareExchange(expected: current, desired: sequence, ordering: .acquiringAndReleasing)
            if done { return }
            current = actual
        }
    }
}

/// Appends `OrderRecord`s to the segment files of one directory.
///
/// Thread safety: `@unchecked Sendable` so that it can be created on one thread and handed to the
/// journal thread. All methods except `durableWatermark`/`watermark` must be called by one thread at
/// a time (single owner, externally serialised); its mutable state is not locked. The watermark is
/// an `Atomic<UInt64>` (release store by the owner, acquire load by readers), safe from any thread.
public final class SegmentWriter: @unchecked Sendable {
    public let directory: String
    public let options: SegmentWriterOptions
    /// What was found and cut on open.
    public private(set) var recovery = RecoveryReport()
    /// Shareable handle on the durable watermark.
    public let watermark = DurableWatermark()

    private let sinks: SegmentSinkFactory
    private let blockCapacity: Int
    private let raw: UnsafeMutableRawPointer
    private var rawLen = 0
    private var blockRecords = 0
    private var blockFirst: UInt64 = 0
    private var codec = RecordCodec.State()
    private let lz4State: UnsafeMutableRawPointer
    private let wbuf: UnsafeMutableRawPointer
    private let wcap: Int
    private var wlen = 0
    private var wbufLastSeq: UInt64 = 0

    private var sink: (any SegmentSink)?
    private var segBase: UInt64 = 0
    private var segCreatedNanos: Int64 = 0
    private var segBytes = 0
    private var segBlocks: UInt32 = 0
    private var segRecords: UInt64 = 0
    private var segLast: UInt64 = 0

    private var next: UInt64
    private var writtenSeq: UInt64
    private var syncedSeq: UInt64
    private var bytesSinceSync = 0
    private var lastSyncNanos: Int64
    private var failure: (any Error)?
    private var closed = false
    /// The directory's LOCK file, held (flock) while the writer is open.
    private var lockFile: FileDescriptor?
    private var _stats = WriterStats()

    /// Background group commit (`options.backgroundSync`): at most one fsync in flight.
    ///
    /// A worker closure on one of two serial `syncQueues` runs the fsync and then `onDurable`, which may
    /// block (it may wait for the owner's queue). The next fsync never waits behind that callback: it
    /// starts on the other queue, and only if both workers are in callbacks does it wait in `pending`,
    /// run by whichever comes first: a worker back from its callback, or the owner when it has to wait for
    /// it (`syncNow`, `close`, a segment roll). So the owner only ever waits for an fsync system call.
    /// (Once a single queue held a callback waiting for the owner while the owner waited for the fsync
    /// queued behind it.) Serial queues, not a concurrent one: their threads are libdispatch's overcommit
    /// threads, which a blocked callback cannot starve. Callbacks of consecutive fsyncs may overlap; each
    /// reports a watermark that only grows.
    private struct BackgroundSync {
        /// An fsync was requested and has not returned (it runs, or waits in `pending`).
        var inFlight = false
        /// The requested fsync no thread has started yet (both workers are in `onDurable`).
        var pending: SyncJob?
        /// Which of `syncQueues` has a worker alive (in an fsync or in `onDurable`).
        var workerActive = (false, false)
        var failure: (any Error)?
        var fsyncs: UInt64 = 0
    }
    /// One background fsync: the file it syncs (a roll waits for it before the file changes), the
    /// sequence it makes durable, and the callback as it was when the fsync was requested.
    private struct SyncJob: @unchecked Sendable {  // the sink is only fsynced, by one thread at a time
        let sink: any SegmentSink
        let target: UInt64
        let onDurable: (@Sendable (UInt64) -> Void)?
    }
    private let background = Mutex(BackgroundSync())
    private let syncQueues = (DispatchQueue(label: "flashsale.segment-sync.0", qos: .userInteractive),
                              DispatchQueue(label: "flashsale.segment-sync.1", qos: .userInteractive))
    /// Called on a background thread with the new watermark after each background fsync, once that fsync
    /// no longer counts as in flight. It may block and may wait for the writer's owner (e.g. `queue.sync`
    /// onto the owner's queue, and commit there): the owner's waits for a background fsync (`syncNow`,
    /// `close`, a segment roll) wait for the fsync, never for this callback, and an fsync requested
    /// meanwhile starts on the other worker (or on the owner's thread if the owner needs it first). An
    /// fsync the owner runs itself does not call back: the owner's `commit`/`syncNow` returns the watermark.
    public var onDurable: (@Sendable (UInt64) -> Void)?

    public var nextSequence: UInt64 { next }
    /// Highest sequence that may be acknowledged: for `none` written to the OS, for batch/sync fsynced.
    public var durableWatermark: UInt64 { watermark.sequence }
    public var stats: WriterStats {
        var s = _stats
        s.fsyncs += background.withLock { $0.fsyncs }
        return s
    }
    /// The error that put the writer in the failed state, if any.
    public var failedError: (any Error)? { failure }
    /// Closed (`close()`): nothing more is appended or committed.
    public var isClosed: Bool { closed }

    public init(directory: String, options: SegmentWriterOptions = .init(), sink: SegmentSinkFactory = .posix) throws {
        self.directory = directory
        self.options = options
        self.sinks = sink
        blockCapacity = Self.blockCapacity(options)
        let bound = Int(LZ4_compressBound(Int32(blockCapacity)))
        wcap = max(options.writeBufferBytes, SegmentFormat.fileHeaderBytes + SegmentFormat.blockHeaderBytes + bound + SegmentFormat.endMarkerBytes)
        raw = .allocate(byteCount: blockCapacity + RecordCodec.maxRecordBytes, alignment: 16)
        wbuf = .allocate(byteCount: wcap, alignment: 16)
        lz4State = .allocate(byteCount: Int(LZ4_sizeofState()), alignment: 16)
        next = 1
        writtenSeq = 0
        syncedSeq = 0
        lastSyncNanos = monotonicNanos()
        // On a throw below, deinit releases the buffers, the sink and the lock.
        try Self.makeDirectory(directory)
        lockFile = try Self.lock(directory)
        var report = RecoveryReport()
        try recover(&report)
        recovery = report
        writtenSeq = next - 1
        syncedSeq = next - 1
        watermark.value.store(next - 1, ordering: .releasing)
    }

    deinit {
        // No background fsync can be running: each one's closure holds the writer (and may be the one
        // that lets go of it last, in which case this runs on its thread).
        if let s = sink { try? s.close() }
        raw.deallocate()
        wbuf.deallocate()
        lz4State.deallocate()
        lockFile?.closeQuietly()
    }

    // MARK: - append / commit

    /// Encodes records (assigning `sequence` in place) into the current block; full blocks are
    /// compressed and queued for writing (written when the write buffer is full).
    public func append(_ records: UnsafeMutableBufferPointer<OrderRecord>) throws {
        try checkBackgroundFailure()
        if let f = failure { throw f }
        if closed { throw SegmentWriterError.closed }
        guard let base = records.baseAddress else { return }
        let limit = blockCapacity - RecordCodec.maxRecordBytes
        for k in 0..<records.count {
            let r = base + k
            if r.pointee.pieceCount > 4 {
                throw SegmentWriterError.invalidRecord(requestId: r.pointee.requestId, reason: "pieceCount \(r.pointee.pieceCount) > 4")
            }
            if rawLen > limit { try sealBlock() }
            if blockRecords == 0 {
                blockFirst = next
                codec = RecordCodec.State()
            }
            r.pointee.sequence = next
            next &+= 1
            rawLen &+= RecordCodec.encode(r, &codec, raw + rawLen)
            blockRecords &+= 1
        }
    }

    /// Raw bytes per block for `options` (`blockBytes` clamped to 256...16 MiB): the writer's and `BlockEncoder`'s.
    static func blockCapacity(_ options: SegmentWriterOptions) -> Int {
        min(max(options.blockBytes, 256), SegmentFormat.maxBlockRawBytes)
    }

    /// Appends blocks a `BlockEncoder` compressed (after everything appended before): numbers them,
    /// stamps their first sequence and CRC, and queues them for writing as `append` queues its own.
    /// Returns the last sequence given (`nextSequence - 1`).
    @discardableResult
    public func append(sealed: SealedBlocks) throws -> UInt64 {
        try checkBackgroundFailure()
        if let f = failure { throw f }
        if closed { throw SegmentWriterError.closed }
        // Every block is checked before any is placed: a refused batch leaves nothing half-written.
        var p = sealed.bytes
        for _ in 0..<sealed.blockCount {
            let h = UnsafeRawPointer(p)
            let total = SegmentFormat.blockHeaderBytes + Int(h.getLE(UInt32.self, at: 8))
            let count = Int(h.getLE(UInt32.self, at: 12))
            guard total + SegmentFormat.fileHeaderBytes + SegmentFormat.endMarkerBytes <= wcap, count > 0 else {
                throw SegmentWriterError.invalidRecord(requestId: 0, reason: "a sealed block of \(total) bytes and \(count) records (encoded with other options than this writer's?)")
            }
            p += total
        }
        try sealBlock()  // what `append` left in the open block comes first
        p = sealed.bytes
        for _ in 0..<sealed.blockCount {
            let h = UnsafeRawPointer(p)
            let rawLength = Int(h.getLE(UInt32.self, at: 4))
            let total = SegmentFormat.blockHeaderBytes + Int(h.getLE(UInt32.self, at: 8))
            let count = Int(h.getLE(UInt32.self, at: 12))
            if sink == nil { try createSegment(base: next) }
            if wcap - wlen < total { try flush() }
            let at = wbuf + wlen
            at.copyMemory(from: h, byteCount: total)
            BlockFrame.stamp(at, first: next)
            let first = next
            next &+= UInt64(count)
            try placed(total: total, count: count, rawLength: rawLength, first: first)
            p += total
        }
        return next &- 1
    }

    /// Convenience for arrays (tests, tools).
    public func append(_ records: inout [OrderRecord]) throws {
        try records.withUnsafeMutableBufferPointer { try append($0) }
    }

    /// Closes the current partial block, writes everything queued and applies the durability
    /// policy. Returns the acknowledgeable watermark.
    @discardableResult
    public func commit() throws -> UInt64 {
        try checkBackgroundFailure()
        if let f = failure { throw f }
        if closed { throw SegmentWriterError.closed }
        // batch: nothing is acknowledged before the group-commit fsync, so until one is due the
        // records stay in the open block. Blocks then span a whole group commit (better LZ4, fewer
        // writes) instead of one block per commit.
        if options.durability == .batch && !groupCommitDue() { return watermark.sequence }
        try sealBlock()
        try flush()
        if let age = options.segmentMaxAgeSeconds, sink != nil, segBlocks > 0,
           Double(realtimeNanos() &- segCreatedNanos) >= age * 1e9 {
            try roll()
        }
        switch options.durability {
        case .none:
            break
        case .sync:
            if syncedSeq < writtenSeq { try fsyncNow() }
        case .batch:
            if syncedSeq < writtenSeq {
                if options.backgroundSync { startBackgroundSync() } else { try fsyncNow() }
            }
        }
        return watermark.sequence
    }

    /// batch: an fsync is due when something is not yet covered by one and either
    /// `groupCommitMillis` passed since the last or `groupCommitBytes` are pending.
    private func groupCommitDue() -> Bool {
        let pending = bytesSinceSync + wlen + rawLen
        guard blockRecords > 0 || wlen > 0 || syncedSeq < writtenSeq else { return false }
        if options.continuousGroupCommit && options.backgroundSync {
            return !background.withLock { $0.inFlight }
        }
        return pending >= options.groupCommitBytes
            || monotonicNanos() &- lastSyncNanos >= Int64(options.groupCommitMillis) * 1_000_000
    }

    /// Seals the current block, writes everything and fsyncs (idle time, end of a run).
    @discardableResult
    public func syncNow() throws -> UInt64 {
        waitForBackgroundSync()  // let an in-flight background fsync finish first
        try checkBackgroundFailure()
        if let f = failure { throw f }
        if closed { throw SegmentWriterError.closed }
        try sealBlock()
        try flush()
        if watermark.sequence < writtenSeq || (sink != nil && bytesSinceSync > 0) { try fsyncNow() }
        return watermark.sequence
    }

    /// Seals the current segment (end-of-segment marker), fsyncs, closes the file and the writer.
    /// In the failed state it closes the file and throws the original error.
    public func close() throws {
        if closed { return }
        waitForBackgroundSync()
        if let bg = background.withLock({ $0.failure }) { _ = fail(bg) }
        if let f = failure {
            closed = true
            if let s = sink { try? s.close(); sink = nil }
            lockFile?.closeQuietly(); lockFile = nil
            throw f
        }
        try sealBlock()
        try flush()
        if sink != nil { try sealSegment() }
        closed = true
        lockFile?.closeQuietly(); lockFile = nil
    }

    // MARK: - internals

    private func fail(_ error: any Error) -> any Error {
        if failure == nil { failure = error }
        return failure!
    }

    private func publish(_ seq: UInt64) {
        guard failure == nil else { return }
        watermark.advance(to: seq)
    }

    /// Adopts a failure of the background fsync: from then on nothing more is acknowledged.
    private func checkBackgroundFailure() throws {
        guard options.backgroundSync, failure == nil else { return }
        if let bg = background.withLock({ $0.failure }) { throw fail(bg) }
    }

    /// Starts an fsync covering everything written so far on the background queue, unless one is
    /// already in flight (the next commit or `syncNow` covers what it misses).
    private func startBackgroundSync() {
        guard let s = sink else { return }
        let job = SyncJob(sink: s, target: writtenSeq, onDurable: onDurable)
        // nil: one is in flight already; -1: parked for the first worker back; 0/1: start on that queue.
        let start: Int? = background.withLock { st in
            if st.inFlight { return nil }
            st.inFlight = true
            if !st.workerActive.0 { st.workerActive.0 = true; return 0 }
            if !st.workerActive.1 { st.workerActive.1 = true; return 1 }
            st.pending = job
            return -1
        }
        guard let start else { return }
        syncedSeq = job.target
        bytesSinceSync = 0
        lastSyncNanos = monotonicNanos()
        if start >= 0 {
            (start == 0 ? syncQueues.0 : syncQueues.1).async { [self] in runSyncWorker(queue: start, first: job) }
        }
    }

    /// A worker: fsync, call back, then take the fsync parked meanwhile, if the owner has not.
    private func runSyncWorker(queue: Int, first: SyncJob) {
        var job: SyncJob? = first
        while let j = job {
            if runSyncJob(j) { j.onDurable?(j.target) }
            job = background.withLock { st in
                if let p = st.pending { st.pending = nil; return p }
                if queue == 0 { st.workerActive.0 = false } else { st.workerActive.1 = false }
                return nil
            }
        }
    }

    /// One background fsync, on whichever thread took it; true when it advanced the watermark. The
    /// watermark moves before the fsync stops counting as in flight, so an owner that saw it finish also
    /// sees its watermark.
    private func runSyncJob(_ j: SyncJob) -> Bool {
        do {
            try j.sink.fsync()
            return background.withLock { st -> Bool in
                if st.failure == nil { watermark.advance(to: j.target) }
                st.inFlight = false
                st.fsyncs += 1
                return st.failure == nil
            }
        } catch {
            background.withLock { st in
                st.inFlight = false
                if st.failure == nil { st.failure = error }
            }
            return false
        }
    }

    /// Waits until no background fsync is in flight, running a parked one on this thread (both workers
    /// may be blocked in `onDurable`, waiting for this very thread). An fsync already running is waited
    /// for in a short sleep loop: rare (drain, close, a roll).
    private func waitForBackgroundSync() {
        guard options.backgroundSync else { return }
        while true {
            enum Next { case done, wait, run(SyncJob) }
            let next: Next = background.withLock { st in
                if !st.inFlight { return .done }
                if let p = st.pending { st.pending = nil; return .run(p) }
                return .wait
            }
            switch next {
            case .done: return
            case .wait: usleep(20)
            case .run(let j): _ = runSyncJob(j); return
            }
        }
    }

    /// Compresses the current block into the write buffer.
    private func sealBlock() throws {
        guard blockRecords > 0 else { return }
        if sink == nil { try createSegment(base: blockFirst) }
        let bound = Int(LZ4_compressBound(Int32(rawLen)))
        if wcap - wlen < SegmentFormat.blockHeaderBytes + bound { try flush() }
        let total = BlockFrame.seal(raw: raw, rawLength: rawLen, count: blockRecords, first: blockFirst, into: wbuf + wlen,
                                    lz4State: lz4State, acceleration: options.acceleration)
        let (count, rawLength) = (blockRecords, rawLen)
        rawLen = 0
        blockRecords = 0
        try placed(total: total, count: count, rawLength: rawLength, first: blockFirst)
    }

    /// Accounts for a framed block just placed at `wbuf + wlen` (`total` bytes), then rolls the segment
    /// if it is full or old enough.
    private func placed(total: Int, count: Int, rawLength: Int, first: UInt64) throws {
        wlen += total
        let last = first &+ UInt64(count - 1)
        wbufLastSeq = last
        segBytes += total
        segBlocks += 1
        segRecords += UInt64(count)
        segLast = last
        _stats.records += UInt64(count)
        _stats.blocks += 1
        _stats.rawBytes += UInt64(rawLength)
        if segBytes >= options.segmentBytes {
            try roll()
        } else if let age = options.segmentMaxAgeSeconds, Double(realtimeNanos() &- segCreatedNanos) >= age * 1e9 {
            try roll()
        }
    }

    /// Writes the write buffer to the current segment in one write.
    private func flush() throws {
        guard wlen > 0, let s = sink else { return }
        do {
            try s.write(UnsafeRawBufferPointer(start: wbuf, count: wlen))
        } catch {
            throw fail(error)
        }
        // A writeback hint for the fsync to come; not with continuous group commit, where the fsync
        // starts right after this write anyway (the hint's sync_file_range was 4% of serve's CPU, on the
        // writing thread, for writeback the fdatasync then starts itself).
        if options.durability != .none && !(options.backgroundSync && options.continuousGroupCommit) { s.startWriteback(length: wlen) }
        _stats.compressedBytes += UInt64(wlen)
        bytesSinceSync += wlen
        wlen = 0
        writtenSeq = wbufLastSeq
        if options.durability == .none { publish(writtenSeq) }
    }

    private func fsyncNow() throws {
        guard let s = sink else { return }
        // Only a background group commit can be in flight; without one, skip the queue hop (it
        // allocates, and `sync` durability comes here on every commit).
        if options.backgroundSync { waitForBackgroundSync() }
        do { try s.fsync() } catch { throw fail(error) }
        _stats.fsyncs += 1
        syncedSeq = writtenSeq
        bytesSinceSync = 0
        lastSyncNanos = monotonicNanos()
        publish(syncedSeq)
    }

    /// Writes the end marker, fsyncs and closes the current segment.
    private func sealSegment() throws {
        guard let s = sink else { return }
        waitForBackgroundSync()  // no background fsync may outlive the file it syncs
        try checkBackgroundFailure()
        try flush()
        let m = wbuf
        BlockFrame.writeEndMarker(m, blocks: segBlocks, records: segRecords, last: segLast)
        wlen = SegmentFormat.endMarkerBytes
        wbufLastSeq = writtenSeq
        try flush()
        try fsyncNow()
        do { try s.close() } catch { throw fail(error) }
        sink = nil
    }

    private func roll() throws {
        try sealSegment()
    }

    /// Creates a segment file whose first record is `base`; its header goes into the write buffer.
    private func createSegment(base: UInt64) throws {
        let path = directory + "/" + SegmentFormat.fileName(baseSequence: base)
        do {
            let s = try sinks.open(path)
            if s.position != 0 {
                // Never overwrite: a file with this name cannot hold data we may drop.
                try? s.close()
                throw SegmentError.badSegmentSequence(file: path, offset: 0, expected: "no existing file for a new segment (found \(s.position) bytes)")
            }
            sink = s
            if options.durability != .none { try sinks.syncDirectory(directory) }
        } catch {
            throw fail(error)
        }
        segBase = base
        segCreatedNanos = realtimeNanos()
        segBlocks = 0
        segRecords = 0
        segLast = base &- 1
        _stats.segments += 1
        if sink is DirectSegmentSink { _stats.directSegments += 1 }
        precondition(wlen == 0, "write buffer must be empty when a segment starts")
        Self.writeHeader(wbuf, base: base, created: segCreatedNanos)
        wlen = SegmentFormat.fileHeaderBytes
        segBytes = SegmentFormat.fileHeaderBytes
        wbufLastSeq = writtenSeq
    }

    static func writeHeader(_ h: UnsafeMutableRawPointer, base: UInt64, created: Int64) {
        h.initializeMemory(as: UInt8.self, repeating: 0, count: SegmentFormat.fileHeaderBytes)
        h.putLE(SegmentFormat.fileMagic, at: 0)
        h.putLE(SegmentFormat.version, at: 8)
        h.putLE(UInt16(0), at: 10)
        h.putLE(UInt32(SegmentFormat.fileHeaderBytes), at: 12)
        h.putLE(base, at: 16)
        h.putLE(created, at: 24)
        h.putLE(CRC32C.update(0, h, SegmentFormat.fileHeaderCRCOffset), at: SegmentFormat.fileHeaderCRCOffset)
    }

    // MARK: - recovery

    private func recover(_ report: inout RecoveryReport) throws {
        let (segments, badNames) = try SegmentScanner.list(directory: directory)
        if let bad = badNames.first {
            throw SegmentError.badSegmentSequence(file: bad, offset: 0, expected: "a segment name of 20 digits + .seg")
        }
        report.segments = segments.count
        guard !segments.isEmpty else { return }
        let buffers = SegmentScanBuffers()
        var expected: UInt64? = nil
        var header = [UInt8](repeating: 0, count: SegmentFormat.fileHeaderBytes)
        var marker = [UInt8](repeating: 0, count: SegmentFormat.endMarkerBytes)
        // Earlier segments: sealed, header and end marker valid, bases continuous.
        for (base, path) in segments.dropLast() {
            if options.recoveryVerifiesAllSegments {
                let scan = try SegmentScanner.scan(path: path, expectedBase: base, buffers: buffers) { _ in }
                if let p = scan.problem { throw p }
                if !scan.sealed {
                    throw SegmentError.truncated(file: path, offset: scan.fileBytes, expected: "an end-of-segment marker: only the last segment may be unsealed")
                }
            }
            try Self.checkSealed(path: path, base: base, expected: expected, header: &header, marker: &marker) { last, records in
                expected = last &+ 1
                report.records += records
            }
        }
        // Last segment: verify every block, cut a torn/corrupt tail.
        let (base, path) = segments[segments.count - 1]
        if let e = expected, base != e {
            throw SegmentError.badSegmentSequence(file: path, offset: 16, expected: "base sequence \(e) (previous segment's last + 1), found \(base)")
        }
        let scan = try SegmentScanner.scan(path: path, expectedBase: base, buffers: buffers) { _ in }
        if case .io = scan.problem { throw scan.problem! }
        if !scan.headerValid {
            // Only a header torn at creation (short or all zero) is cut; anything else is refused.
            let headerZero = (0..<min(Int(scan.fileBytes), SegmentFormat.fileHeaderBytes)).allSatisfy {
                buffers.file.load(fromByteOffset: $0, as: UInt8.self) == 0
            }
            if scan.fileBytes < Int64(SegmentFormat.fileHeaderBytes) || (headerZero && scan.fileBytes <= Int64(SegmentFormat.fileHeaderBytes + SegmentFormat.blockHeaderBytes)) {
                do { try FileSystem.remove(path) } catch { throw SegmentError(error) }
                try sinks.syncDirectory(directory)
                report.cutBytes = scan.fileBytes
                report.cutRecords = nil
                report.cutReason = scan.problem
                report.removedSegment = path
                report.lastSequence = base &- 1
                next = base
                return
            }
            throw scan.problem!
        }
        if let problem = scan.problem, let later = scan.validFrameAfterProblem {
            // Valid frames after the damage: corruption inside the segment, not a torn tail. Cutting
            // here would drop records that were acknowledged; refuse and say where.
            throw SegmentError.damagedInside(file: path, offset: problem.offset, problem: problem.problem, validFrameAt: later)
        }
        report.records += scan.records
        report.lastSequence = scan.lastSequence
        report.lastSegmentSealed = scan.sealed
        next = scan.lastSequence &+ 1
        // (A direct-I/O writer's padding is no problem, and held no data: it is cut below without a report.)
        if scan.problem != nil {
            report.cutBytes = scan.fileBytes - scan.validEnd
            report.cutRecords = SegmentScanner.claimedRecords(in: UnsafeRawPointer(buffers.file), from: Int(scan.validEnd),
                                                              size: Int(scan.fileBytes), nextSequence: scan.lastSequence &+ 1, path: path)
            report.cutReason = scan.problem
        }
        if scan.blocks == 0 && !scan.sealed {
            // Nothing but a header: remove the file; the next block recreates it.
            do { try FileSystem.remove(path) } catch { throw SegmentError(error) }
            try sinks.syncDirectory(directory)
            report.cutBytes = scan.fileBytes
            report.removedSegment = path
            return
        }
        let s = try sinks.open(path)
        do {
            if s.position != scan.validEnd { try s.truncate(to: scan.validEnd) }
            try s.fsync()
        } catch {
            try? s.close()
            throw error
        }
        if scan.sealed {
            try s.close()
        } else {
            // Continue appending to the unsealed segment.
            sink = s
            segBase = base
            segCreatedNanos = scan.creationNanos
            segBytes = Int(scan.validEnd)
            segBlocks = UInt32(scan.blocks)
            segRecords = scan.records
            segLast = scan.lastSequence
            _stats.segments = 1
            _stats.directSegments = s is DirectSegmentSink ? 1 : 0
        }
    }

    /// Checks header, end marker and continuity of a sealed (non-last) segment without reading its blocks.
    static func checkSealed(path: String, base: UInt64, expected: UInt64?, header: inout [UInt8], marker: inout [UInt8],
                            _ found: (UInt64, UInt64) -> Void) throws {
        let file: FileDescriptor, size: Int64
        do {
            file = try FileDescriptor.open(path, O_RDONLY)
            do { size = try file.size() } catch { file.closeQuietly(); throw error }
        } catch { throw SegmentError(error) }
        defer { file.closeQuietly() }
        /// Exactly `buffer.count` bytes at `offset`, or the read error (a short read is EIO: the file shrank).
        func read(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws {
            let n: Int
            do { n = try file.read(into: buffer, at: offset) } catch { throw SegmentError(error) }
            if n != buffer.count { throw SegmentError.io(file: path, offset: offset + Int64(n), operation: "read", errno: EIO) }
        }
        if size < Int64(SegmentFormat.fileHeaderBytes + SegmentFormat.endMarkerBytes) {
            throw SegmentError.truncated(file: path, offset: size, expected: "a sealed segment (header and end marker); only the last segment may be unsealed")
        }
        try header.withUnsafeMutableBytes { h in
            try read(h, at: 0)
            switch SegmentScanner.parseHeader(UnsafeRawPointer(h.baseAddress!), path: path) {
            case .failure(let e): throw e
            case .success(let (b, _)):
                if b != base { throw SegmentError.badFileHeader(file: path, offset: 16, expected: "base sequence \(base) (from the file name), found \(b)") }
            }
        }
        if let e = expected, e != base {
            throw SegmentError.badSegmentSequence(file: path, offset: 16, expected: "base sequence \(e) (previous segment's last + 1), found \(base)")
        }
        let at = size - Int64(SegmentFormat.endMarkerBytes)
        try marker.withUnsafeMutableBytes { m in
            try read(m, at: at)
            let p = UnsafeRawPointer(m.baseAddress!)
            guard p.getLE(UInt32.self, at: 0) == SegmentFormat.typeEndMarker,
                  p.getLE(UInt32.self, at: 28) == CRC32C.update(0, p, 28),
                  p.getLE(UInt32.self, at: 24) == 0
            else {
                throw SegmentError.badEndMarker(file: path, offset: at, expected: "a valid end-of-segment marker ending the file; only the last segment may be unsealed")
            }
            let records = p.getLE(UInt64.self, at: 8)
            let last = p.getLE(UInt64.self, at: 16)
            // No block numbers a record 2^64 − 1 (sequences never wrap), so neither does a sound marker.
            if last == .max || records > last {
                throw SegmentError.badEndMarker(file: path, offset: at + 16, expected: "a last sequence in \(base &- 1)...\(UInt64.max - 1) (sequences never wrap), found \(last) for \(records) records")
            }
            if last &- base &+ 1 != records {
                throw SegmentError.badEndMarker(file: path, offset: at + 8, expected: "record count \(last &- base &+ 1) for sequences \(base)...\(last), found \(records)")
            }
            found(last, records)
        }
    }

    static func makeDirectory(_ path: String) throws {
        do { try FileSystem.makeDirectories(path) } catch { throw SegmentError(error) }
    }

    /// Holds the directory's LOCK file (one writer per directory, across processes).
    static func lock(_ directory: String) throws -> FileDescriptor {
        let fd: FileDescriptor
        do { fd = try FileDescriptor.open(directory + "/LOCK", O_RDWR | O_CREAT) } catch { throw SegmentError(error) }
        let locked: Bool
        do { locked = try fd.tryLockExclusive() } catch { fd.closeQuietly(); throw SegmentError(error) }
        if !locked {
            fd.closeQuietly()
            throw SegmentWriterError.directoryLocked(directory)
        }
        return fd
    }
}

@inline(__always)
func monotonicNanos() -> Int64 { Int64(bitPattern: System.monotonicNanos()) }

@inline(__always)
func realtimeNanos() -> Int64 { System.wallNanos() }

/// Hands a sink to the background sync queue. Only `fsync` is called there, while the owner may be
/// writing: POSIX allows fsync and write on one descriptor from two threads; the sink outlives the
/// fsync because sealing a segment waits for the queue first.
