import FlashSaleSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLZ4

/// Writes a capture file (docs/capture-format.md): a header, then LZ4 blocks of `CaptureRecord`s framed
/// and checksummed like segment blocks, then an end marker written by `close()`. A capture without
/// its end marker (the writer never closed) is reported as torn by `CaptureReader`.
///
/// `append` encodes into a preallocated block and writes whole buffers (1 MiB); nothing allocates per
/// record. Not thread-safe: one owner at a time.
///
/// A capture never replaces an existing file until it is complete: for a regular file (or a path
/// that does not exist yet) the bytes go to `partialPath` (`PATH.partial`, beside the destination,
/// through a symlink to its target) and `close()` renames that onto the destination after its fsync.
/// A writer dropped without `close()`, or `discard()`ed, removes its partial file; only a killed
/// process leaves one (a torn capture). A destination that exists and is not a regular file
/// (`/dev/null`, a pipe) is written in place, sequentially.
public final class CaptureWriter: @unchecked Sendable {
    /// The destination, as given.
    public let path: String
    /// Where the bytes are written until `close()` renames them onto the destination; nil when the
    /// destination is not a regular file and is written in place.
    public let partialPath: String?
    private let destination: String
    private var closed = false
    /// Set when `close()` completed the capture but could not rename it onto the destination: where the
    /// complete capture was left.
    public private(set) var completeButNotInPlace: String?
    public let header: CaptureHeader
    /// Records appended so far.
    public private(set) var count: UInt64 = 0
    /// Bytes written to the file so far (header, blocks, end marker).
    public var bytesWritten: Int64 { sink?.position ?? finalBytes }

    private var sink: (any SegmentSink)?
    private var finalBytes: Int64 = 0
    private let blockCapacity: Int
    private let acceleration: Int32
    private let raw: UnsafeMutableRawPointer
    private var rawLen = 0
    private var blockRecords = 0
    private var blockFirst: UInt64 = 1
    private var state = CaptureCodec.State()
    private let lz4State: UnsafeMutableRawPointer
    private let wbuf: UnsafeMutableRawPointer
    private let wcap: Int
    private var wlen = 0
    private var blocks: UInt32 = 0
    private var failure: (any Error)?

    /// Starts a capture for `path` (see the type's notes on where the bytes go) and writes the header.
    public init(path: String, campaignFingerprint: UInt64?, label: String, blockBytes: Int = 64 << 10,
                acceleration: Int32 = 1) throws {
        self.path = path
        var st = stat()
        let exists = stat(path, &st) == 0
        if exists && (st.st_mode & S_IFMT) == S_IFDIR { throw SegmentError.io(file: path, offset: 0, operation: "open", errno: EISDIR) }
        // /dev/stdout redirected to a file names a regular file, but the shell holds it open: replacing
        // it would leave the run's output in an unlinked file. Devices and descriptors are written in place.
        if exists && ((st.st_mode & S_IFMT) != S_IFREG || path.hasPrefix("/dev/") || path.hasPrefix("/proc/")) {
            destination = path
            partialPath = nil
        } else {
            // Through a symlink, the file it names is replaced, not the link.
            var target = path
            if let resolved = realpath(path, nil) { target = String(cString: resolved); free(resolved) }
            destination = target
            partialPath = target + ".partial"
        }
        var label = label
        while label.utf8.count > CaptureFormat.maxLabelBytes { label.removeLast() }
        let labelBytes = Array(label.utf8)
        header = CaptureHeader(campaignFingerprint: campaignFingerprint, label: label, createdNanos: realtimeNanos())
        blockCapacity = min(max(blockBytes, 256), SegmentFormat.maxBlockRawBytes)
        self.acceleration = acceleration
        let bound = Int(LZ4_compressBound(Int32(blockCapacity)))
        wcap = max(1 << 20, CaptureFormat.fixedHeaderBytes + labelBytes.count + SegmentFormat.blockHeaderBytes + bound
                   + SegmentFormat.endMarkerBytes)
        raw = .allocate(byteCount: blockCapacity + CaptureCodec.maxRecordBytes, alignment: 16)
        wbuf = .allocate(byteCount: wcap, alignment: 16)
        lz4State = .allocate(byteCount: Int(LZ4_sizeofState()), alignment: 16)
        if let partialPath {
            let s = try PosixSegmentSink(path: partialPath)
            try s.truncate(to: 0)
            // The replacement keeps the permissions of the file it replaces.
            if exists { _ = chmod(partialPath, st.st_mode & 0o7777) }
            sink = s
        } else {
            sink = try StreamSink(path: path)
        }
        // Header: fixed 64 bytes, then the label; the CRC covers bytes 0..<60 and the label.
        let h = wbuf
        h.initializeMemory(as: UInt8.self, repeating: 0, count: CaptureFormat.fixedHeaderBytes)
        h.putLE(CaptureFormat.fileMagic, at: 0)
        h.putLE(CaptureFormat.version, at: 8)
        h.putLE(campaignFingerprint == nil ? UInt16(0) : CaptureFormat.flagFingerprint, at: 10)
        h.putLE(UInt32(CaptureFormat.fixedHeaderBytes + labelBytes.count), at: 12)
        h.putLE(campaignFingerprint ?? 0, at: 16)
        h.putLE(header.createdNanos, at: 24)
        labelBytes.withUnsafeBytes { (h + CaptureFormat.fixedHeaderBytes).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        var crc = CRC32C.update(0, h, CaptureFormat.headerCRCOffset)
        crc = CRC32C.update(crc, h + CaptureFormat.fixedHeaderBytes, labelBytes.count)
        h.putLE(crc, at: CaptureFormat.headerCRCOffset)
        wlen = CaptureFormat.fixedHeaderBytes + labelBytes.count
        // On disk at once: a capture cut short (a killed run) is then recognisable as a torn capture
        // rather than an empty file.
        try flush()
    }

    deinit {
        try? sink?.close()
        if !closed, let partialPath { unlink(partialPath) }
        raw.deallocate()
        wbuf.deallocate()
        lz4State.deallocate()
    }

    /// Appends one record. Throws `SegmentError.io` when a write fails (the writer then stays failed).
    @inline(__always)
    public func append(_ r: borrowing CaptureRecord) throws {
        if rawLen > blockCapacity - CaptureCodec.maxRecordBytes { try sealBlock() }
        if blockRecords == 0 { state = CaptureCodec.State() }
        rawLen &+= CaptureCodec.encode(r, &state, raw + rawLen)
        blockRecords &+= 1
        count &+= 1
    }

    /// Writes the last block and the end marker, fsyncs and closes the file, and puts it in place of
    /// the destination. Idempotent. After a failure the destination is unchanged.
    public func close() throws {
        if let failure { throw failure }
        guard let s = sink else { return }
        try sealBlock()
        if wcap - wlen < SegmentFormat.endMarkerBytes { try flush() }
        BlockFrame.writeEndMarker(wbuf + wlen, blocks: blocks, records: count, last: count)
        wlen += SegmentFormat.endMarkerBytes
        try flush()
        do {
            try s.fsync()
            finalBytes = s.position
            try s.close()
        } catch { failure = error; throw error }
        sink = nil
        closed = true
        if let partialPath {
            do { try FileSystem.rename(partialPath, to: destination) } catch {
                // The complete capture stays at partialPath, which the error names.
                let e = SegmentError(error)
                completeButNotInPlace = partialPath
                failure = e
                throw e
            }
            try? SegmentSinkFactory.posix.syncDirectory(parentDirectory(destination))
        }
    }

    /// Abandons the capture: the partial file is removed and the destination left as it was. Idempotent.
    public func discard() {
        try? sink?.close()
        sink = nil
        if !closed, let partialPath { unlink(partialPath) }
        closed = true
    }

    private func parentDirectory(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    private func sealBlock() throws {
        if let failure { throw failure }
        guard blockRecords > 0 else { return }
        let bound = Int(LZ4_compressBound(Int32(rawLen)))
        if wcap - wlen < SegmentFormat.blockHeaderBytes + bound { try flush() }
        wlen += BlockFrame.seal(raw: raw, rawLength: rawLen, count: blockRecords, first: blockFirst, into: wbuf + wlen,
                                lz4State: lz4State, acceleration: acceleration)
        blocks += 1
        blockFirst &+= UInt64(blockRecords)
        rawLen = 0
        blockRecords = 0
    }

    private func flush() throws {
        guard wlen > 0, let s = sink else { return }
        do { try s.write(UnsafeRawBufferPointer(start: wbuf, count: wlen)) } catch { failure = error; throw error }
        wlen = 0
    }
}

/// A destination written in place and in order (`/dev/null`, a pipe): `write(2)`, no seeking; fsync
/// and truncation do not apply to it.
private final class StreamSink: SegmentSink {
    let path: String
    private(set) var position: Int64 = 0
    private var file: FileDescriptor?

    init(path: String) throws {
        self.path = path
        do { file = try FileDescriptor.open(path, O_WRONLY) } catch { throw SegmentError(error) }
    }

    deinit { file?.closeQuietly() }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let file else { throw SegmentError.io(file: path, offset: position, operation: "write", errno: EBADF) }
        do { position += Int64(try file.writeAll(bytes)) } catch {
            throw SegmentError.io(file: path, offset: position + error.offset, operation: error.operation, errno: error.errno)
        }
    }

    func fsync() throws {}

    func truncate(to length: Int64) throws {
        if length != position { throw SegmentError.io(file: path, offset: length, operation: "truncate", errno: ESPIPE) }
    }

    func close() throws {
        guard let f = file else { return }
        file = nil
        do { try f.close(offset: position) } catch { throw SegmentError(error) }
    }
}
