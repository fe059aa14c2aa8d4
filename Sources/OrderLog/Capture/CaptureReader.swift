import FlashSaleSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Figures of a whole capture, from reading every record (`CaptureReader.summarize()`).
public struct CaptureSummary: Sendable, Equatable {
    public var header: CaptureHeader
    public var fileBytes: Int64 = 0
    public var requests: UInt64 = 0
    public var blocks: UInt64 = 0
    /// Smallest and largest campaign time (0 when empty).
    public var minCampaignMillis: Int64 = 0
    public var maxCampaignMillis: Int64 = 0
    public var firstCampaignMillis: Int64 = 0
    public var lastCampaignMillis: Int64 = 0
    /// Smallest and largest intended send offset (0 when empty).
    public var minSendNanos: UInt64 = 0
    public var maxSendNanos: UInt64 = 0
    /// Largest request id or reference (the id space a replay loop must step over).
    public var maxRequestId: UInt64 = 0
    /// Records whose send offset is below the previous record's (replay sends them at once).
    public var sendOffsetsOutOfOrder: UInt64 = 0
    /// Records per kind code (256 entries).
    public var kindCounts: [UInt64] = Array(repeating: 0, count: 256)
    /// Records per offer code, only the codes that occur, sorted by code.
    public var offerCounts: [(offer: UInt16, count: UInt64)] = []
    /// Distinct organisations.
    public var organisations: Int = 0

    public static func == (a: CaptureSummary, b: CaptureSummary) -> Bool {
        a.header == b.header && a.requests == b.requests && a.blocks == b.blocks && a.fileBytes == b.fileBytes
            && a.minCampaignMillis == b.minCampaignMillis && a.maxCampaignMillis == b.maxCampaignMillis
            && a.maxRequestId == b.maxRequestId && a.kindCounts == b.kindCounts
            && a.offerCounts.elementsEqual(b.offerCounts, by: { $0.offer == $1.offer && $0.count == $1.count })
    }
}

/// Reads a capture file block by block, checking every byte: header CRC, block framing and CRC,
/// LZ4, record decoding, block numbering, the end marker and its totals. Every problem is a
/// `SegmentError` naming the file and the byte offset (`file:offset: problem`); nothing traps.
///
/// Memory: one block at a time (buffers reused). Not thread-safe: one owner at a time.
public final class CaptureReader: @unchecked Sendable {
    public let path: String
    public let header: CaptureHeader
    public let fileBytes: Int64
    /// Offset of the first block (the header's length).
    public let dataOffset: Int64
    /// Records delivered since the start (or the last `rewind`).
    public private(set) var recordsRead: UInt64 = 0
    public private(set) var blocksRead: UInt64 = 0
    /// True once the end marker was read and checked.
    public private(set) var atEnd = false

    private var fd: Int32
    private var offset: Int64
    private var block: UnsafeMutableRawPointer
    private var blockCapacity: Int
    private var raw: UnsafeMutableRawPointer
    private var rawCapacity: Int
    private var records: UnsafeMutablePointer<CaptureRecord>
    private var recordCapacity: Int

    /// Opens `path` and checks its header. Throws `SegmentError`.
    public init(path: String) throws {
        self.path = path
        let size: Int64
        do {
            let file = try FileDescriptor.open(path, O_RDONLY)
            fd = file.raw
            do { size = try file.size() } catch { file.closeQuietly(); throw error }
        } catch { throw SegmentError(error) }
        fileBytes = size
        offset = 0
        // Header.
        let fixed = CaptureFormat.fixedHeaderBytes
        if size < Int64(fixed) {
            _ = close(fd)
            throw SegmentError.truncated(file: path, offset: 0, expected: "a \(fixed)-byte capture header, file has \(size) bytes")
        }
        var h = [UInt8](repeating: 0, count: fixed)
        let parsed: (CaptureHeader, Int)
        do {
            let file = fd
            try Self.readBytes(file, &h, at: 0, path: path)
            parsed = try h.withUnsafeBytes { try Self.parseHeader($0.baseAddress!, fd: file, fileBytes: size, path: path) }
        } catch {
            _ = close(fd)
            throw error
        }
        header = parsed.0
        dataOffset = Int64(parsed.1)
        offset = dataOffset
        blockCapacity = 64 << 10
        block = .allocate(byteCount: blockCapacity, alignment: 16)
        rawCapacity = 64 << 10
        raw = .allocate(byteCount: rawCapacity + RecordCodec.decodeSlackBytes, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: rawCapacity + RecordCodec.decodeSlackBytes)
        recordCapacity = 4096
        records = .allocate(capacity: recordCapacity)
    }

    deinit {
        if fd >= 0 { _ = close(fd) }
        block.deallocate()
        raw.deallocate()
        records.deallocate()
    }

    private static func parseHeader(_ p: UnsafeRawPointer, fd: Int32, fileBytes: Int64, path: String) throws -> (CaptureHeader, Int) {
        if p.getLE(UInt64.self, at: 0) != CaptureFormat.fileMagic {
            throw SegmentError.badFileHeader(file: path, offset: 0, expected: "capture magic \"FSCAP\\0\\0\\1\" (is this a capture file?)")
        }
        let version = p.getLE(UInt16.self, at: 8)
        let flags = p.getLE(UInt16.self, at: 10)
        let length = Int(p.getLE(UInt32.self, at: 12))
        let fixed = CaptureFormat.fixedHeaderBytes
        if length < fixed || length > fixed + CaptureFormat.maxLabelBytes {
            throw SegmentError.badFileHeader(file: path, offset: 12, expected: "header length in \(fixed)...\(fixed + CaptureFormat.maxLabelBytes), found \(length)")
        }
        if Int64(length) > fileBytes {
            throw SegmentError.truncated(file: path, offset: Int64(fixed), expected: "a \(length)-byte header, file has \(fileBytes) bytes")
        }
        var label = [UInt8](repeating: 0, count: length - fixed)
        if !label.isEmpty { try readBytes(fd, &label, at: Int64(fixed), path: path) }
        var crc = CRC32C.update(0, p, CaptureFormat.headerCRCOffset)
        crc = label.withUnsafeBytes { CRC32C.update(crc, $0.baseAddress ?? p, $0.count) }
        let found = p.getLE(UInt32.self, at: CaptureFormat.headerCRCOffset)
        if found != crc {
            throw SegmentError.badFileHeader(file: path, offset: Int64(CaptureFormat.headerCRCOffset),
                                             expected: "header CRC-32C \(hex(crc)), found \(hex(found))")
        }
        if version != CaptureFormat.version {
            throw SegmentError.badFileHeader(file: path, offset: 8, expected: "capture format version 1, found \(version)")
        }
        if flags & ~CaptureFormat.flagFingerprint != 0 {
            throw SegmentError.badFileHeader(file: path, offset: 10, expected: "flags 0 or 1, found \(flags)")
        }
        for o in 32..<CaptureFormat.headerCRCOffset where p.load(fromByteOffset: o, as: UInt8.self) != 0 {
            throw SegmentError.badFileHeader(file: path, offset: Int64(o), expected: "zero padding")
        }
        let fingerprint = p.getLE(UInt64.self, at: 16)
        let header = CaptureHeader(campaignFingerprint: flags & CaptureFormat.flagFingerprint != 0 ? fingerprint : nil,
                                   label: String(decoding: label, as: UTF8.self), createdNanos: p.getLE(Int64.self, at: 24))
        return (header, length)
    }

    private static func readFully(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, count: Int, at offset: Int64, path: String) throws {
        let done: Int
        do { done = try FileDescriptor(raw: fd, path: path).read(into: UnsafeMutableRawBufferPointer(start: buffer, count: count), at: offset) } catch {
            throw SegmentError(error)
        }
        if done < count {
            throw SegmentError.truncated(file: path, offset: offset + Int64(done), expected: "\(count - done) more bytes (the file shrank while reading)")
        }
    }

    private static func readBytes(_ fd: Int32, _ buffer: inout [UInt8], at offset: Int64, path: String) throws {
        try buffer.withUnsafeMutableBytes { try readFully(fd, $0.baseAddress!, count: $0.count, at: offset, path: path) }
    }

    /// Goes back to the first block.
    public func rewind() {
        offset = dataOffset
        recordsRead = 0
        blocksRead = 0
        atEnd = false
    }

    /// The records of the next block, valid until the next call; empty once the end marker was read
    /// (and checked). Throws a `SegmentError` at the first problem (a torn capture: `truncated`).
    public func nextBlock() throws -> UnsafeBufferPointer<CaptureRecord> {
        if atEnd { return UnsafeBufferPointer(start: records, count: 0) }
        let hb = SegmentFormat.blockHeaderBytes
        let o64 = offset
        let left = fileBytes - offset
        if left == 0 {
            throw SegmentError.truncated(file: path, offset: o64,
                                         expected: "a block or the end marker: the capture ends without its end marker (torn: the writer did not finish)")
        }
        if left < Int64(hb) {
            throw SegmentError.truncated(file: path, offset: o64, expected: "a 32-byte block header or end marker, \(left) bytes left")
        }
        try Self.readFully(fd, block, count: hb, at: o64, path: path)
        let h = UnsafeRawPointer(block)
        if h.getLE(UInt32.self, at: 0) == SegmentFormat.typeEndMarker {
            let crc = CRC32C.update(0, h, 28)
            if h.getLE(UInt32.self, at: 28) != crc {
                throw SegmentError.badEndMarker(file: path, offset: o64, expected: "end marker CRC-32C \(hex(crc))")
            }
            let nb = h.getLE(UInt32.self, at: 4), nr = h.getLE(UInt64.self, at: 8), last = h.getLE(UInt64.self, at: 16)
            if h.getLE(UInt32.self, at: 24) != 0 { throw SegmentError.badEndMarker(file: path, offset: o64 + 24, expected: "reserved 0") }
            if UInt64(nb) != blocksRead || nr != recordsRead || last != recordsRead {
                throw SegmentError.badEndMarker(file: path, offset: o64,
                    expected: "totals blocks \(blocksRead) records \(recordsRead) last \(recordsRead), found \(nb)/\(nr)/\(last)")
            }
            if left != Int64(SegmentFormat.endMarkerBytes) {
                throw SegmentError.badEndMarker(file: path, offset: o64 + Int64(SegmentFormat.endMarkerBytes),
                    expected: "end of file after the end marker, found \(left - Int64(SegmentFormat.endMarkerBytes)) more bytes")
            }
            atEnd = true
            return UnsafeBufferPointer(start: records, count: 0)
        }
        let header: BlockFrame.Header
        switch BlockFrame.parseHeader(h, path: path, offset: o64, available: Int(min(left, Int64(Int32.max))),
                                      minRecordBytes: CaptureFormat.minRecordBytes) {
        case .failure(let e): throw e
        case .success(let v): header = v
        }
        if hb + header.storedLength > blockCapacity {
            let grown = max(hb + header.storedLength, blockCapacity * 2)
            let b = UnsafeMutableRawPointer.allocate(byteCount: grown, alignment: 16)
            b.copyMemory(from: block, byteCount: hb)
            block.deallocate()
            block = b
            blockCapacity = grown
        }
        try Self.readFully(fd, block + hb, count: header.storedLength, at: o64 + Int64(hb), path: path)
        let hp = UnsafeRawPointer(block)
        if let e = BlockFrame.checkCRC(hp, header, path: path, offset: o64) { throw e }
        if header.first != recordsRead &+ 1 {
            throw SegmentError.sequenceGap(file: path, offset: o64 + 16, expected: recordsRead &+ 1, found: header.first)
        }
        if header.rawLength > rawCapacity {
            raw.deallocate()
            rawCapacity = max(header.rawLength, rawCapacity * 2)
            raw = .allocate(byteCount: rawCapacity + RecordCodec.decodeSlackBytes, alignment: 16)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: rawCapacity + RecordCodec.decodeSlackBytes)
        }
        let payloadOffset = o64 + Int64(hb)
        if let e = BlockFrame.expand(hp, header, into: raw, path: path, payloadOffset: payloadOffset) { throw e }
        // The slack after the raw bytes must not hold stale data that a corrupt record could read as valid.
        (raw + header.rawLength).initializeMemory(as: UInt8.self, repeating: 0, count: RecordCodec.decodeSlackBytes)
        if header.count > recordCapacity {
            records.deallocate()
            recordCapacity = max(header.count, recordCapacity * 2)
            records = .allocate(capacity: recordCapacity)
        }
        var i = 0
        var st = CaptureCodec.State()
        var r = CaptureRecord()
        let rawLen = header.rawLength
        for k in 0..<header.count {
            let at = i
            if i >= rawLen || !CaptureCodec.decode(raw, &i, &st, &r) || i > rawLen {
                throw SegmentError.badBlock(file: path, offset: payloadOffset,
                                            expected: "record \(k) of \(header.count) (raw byte \(at)) to decode within \(rawLen) raw bytes")
            }
            (records + k).initialize(to: r)
        }
        if i != rawLen {
            throw SegmentError.badBlock(file: path, offset: payloadOffset,
                                        expected: "\(header.count) records to fill \(rawLen) raw bytes, they end at \(i)")
        }
        offset = payloadOffset + Int64(header.storedLength)
        recordsRead &+= UInt64(header.count)
        blocksRead &+= 1
        return UnsafeBufferPointer(start: records, count: header.count)
    }

    /// Calls `body` for every record from the start, checking the whole file. Rewinds first.
    public func forEach(_ body: (borrowing CaptureRecord) throws -> Void) throws {
        rewind()
        while true {
            let b = try nextBlock()
            if b.isEmpty { return }
            for k in 0..<b.count { try body(b[k]) }
        }
    }

    /// Reads the whole capture (from the start) and sums it up. Rewinds before and after.
    public func summarize() throws -> CaptureSummary {
        var s = CaptureSummary(header: header)
        s.fileBytes = fileBytes
        var offers = [UInt64](repeating: 0, count: 65536)
        var orgs = Set<UInt32>()
        var first = true
        var lastSend: UInt64 = 0
        try forEach { r in
            if first {
                s.minCampaignMillis = r.campaignTimeMillis; s.maxCampaignMillis = r.campaignTimeMillis
                s.firstCampaignMillis = r.campaignTimeMillis
                s.minSendNanos = r.sendOffsetNanos; s.maxSendNanos = r.sendOffsetNanos
                first = false
            } else if r.sendOffsetNanos < lastSend {
                s.sendOffsetsOutOfOrder += 1
            }
            lastSend = r.sendOffsetNanos
            s.lastCampaignMillis = r.campaignTimeMillis
            s.minCampaignMillis = min(s.minCampaignMillis, r.campaignTimeMillis)
            s.maxCampaignMillis = max(s.maxCampaignMillis, r.campaignTimeMillis)
            s.minSendNanos = min(s.minSendNanos, r.sendOffsetNanos)
            s.maxSendNanos = max(s.maxSendNanos, r.sendOffsetNanos)
            s.maxRequestId = max(s.maxRequestId, r.requestId, r.reference)
            s.kindCounts[Int(r.kind)] += 1
            offers[Int(r.offer)] += 1
            orgs.insert(r.organisation)
        }
        s.requests = recordsRead
        s.blocks = blocksRead
        s.organisations = orgs.count
        s.offerCounts = offers.enumerated().compactMap { $0.element > 0 ? (UInt16($0.offset), $0.element) : nil }
        rewind()
        return s
    }
}
