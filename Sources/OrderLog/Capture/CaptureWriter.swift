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
public final class CaptureWriter: @unchecked Sendable {
    public let path: String
    public let header: CaptureHeader
    /// Records appended so far.
    public private(set) var count: UInt64 = 0
    /// Bytes written to the file so far (header, blocks, end marker).
    public var bytesWritten: Int64 { sink?.position ?? finalBytes }

    private var sink: PosixSegmentSink?
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

    /// Creates (or truncates) `path` and writes the header.
    public init(path: String, campaignFingerprint: UInt64?, label: String, blockBytes: Int = 64 << 10,
                acceleration: Int32 = 1) throws {
        self.path = path
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
        let s = try PosixSegmentSink(path: path)
        try s.truncate(to: 0)
        sink = s
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

    /// Writes the last block and the end marker, fsyncs and closes the file. Idempotent.
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
