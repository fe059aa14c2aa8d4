import FlashSaleSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLZ4

/// What scanning one segment file found. Scanning stops at the first problem.
struct SegmentScan {
    var path: String
    var fileBytes: Int64 = 0
    var headerValid = false
    var baseSequence: UInt64 = 0
    var creationNanos: Int64 = 0
    var blocks = 0
    var records: UInt64 = 0
    /// Last sequence of the valid blocks (baseSequence - 1 when none).
    var lastSequence: UInt64 = 0
    var rawBytes: UInt64 = 0
    var storedBytes: UInt64 = 0
    /// Offset just past the last valid block (or past the end marker when sealed).
    var validEnd: Int64 = 0
    var sealed = false
    var problem: SegmentError?
    /// When the scan stopped at a problem: the offset of a later frame (block or end marker) whose
    /// CRC checks. A torn write leaves no valid frame behind it, so one means corruption inside the
    /// segment, not a torn tail: recovery must not cut there (it would drop acknowledged records).
    var validFrameAfterProblem: Int64?
}

/// Reusable buffers for reading segments. Owned by one scan at a time (not shared across threads).
final class SegmentScanBuffers {
    var file: UnsafeMutableRawPointer
    var fileCapacity: Int
    private(set) var raw: UnsafeMutableRawPointer
    private var rawCapacity: Int

    init() {
        fileCapacity = 256 << 10
        file = .allocate(byteCount: fileCapacity, alignment: 16)
        rawCapacity = 64 << 10
        raw = .allocate(byteCount: rawCapacity + RecordCodec.decodeSlackBytes, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: rawCapacity + RecordCodec.decodeSlackBytes)
    }

    /// Makes `raw` hold at least `count` bytes plus the decoder slack.
    @inline(__always)
    func reserveRaw(_ count: Int) {
        if count <= rawCapacity { return }
        raw.deallocate()
        rawCapacity = max(count, rawCapacity * 2)
        raw = .allocate(byteCount: rawCapacity + RecordCodec.decodeSlackBytes, alignment: 16)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: rawCapacity + RecordCodec.decodeSlackBytes)
    }

    deinit {
        file.deallocate()
        raw.deallocate()
    }

    /// Reads the whole file at `path` into `file`; returns its length.
    func load(_ path: String) throws(SegmentError) -> Int {
        do {
            let fd = try FileDescriptor.open(path, O_RDONLY)
            defer { fd.closeQuietly() }
            let size = Int(try fd.size())
            if size + 16 > fileCapacity {
                file.deallocate()
                fileCapacity = max(size + 16, fileCapacity * 2)
                file = .allocate(byteCount: fileCapacity, alignment: 16)
            }
            // A file that shrank while reading: what was read is the file.
            return try fd.read(into: UnsafeMutableRawBufferPointer(start: file, count: size))
        } catch { throw SegmentError(error) }
    }
}

enum SegmentScanner {
    /// Validates a 64-byte file header at `p`; returns (base, creation) or the problem.
    static func parseHeader(_ p: UnsafeRawPointer, path: String) -> Result<(UInt64, Int64), SegmentError> {
        if p.getLE(UInt64.self, at: 0) != SegmentFormat.fileMagic {
            return .failure(.badFileHeader(file: path, offset: 0, expected: "magic \"FSSEG\\0\\0\\1\""))
        }
        let crc = CRC32C.update(0, p, SegmentFormat.fileHeaderCRCOffset)
        if p.getLE(UInt32.self, at: SegmentFormat.fileHeaderCRCOffset) != crc {
            return .failure(.badFileHeader(file: path, offset: Int64(SegmentFormat.fileHeaderCRCOffset),
                                           expected: "header CRC-32C \(hex(crc))"))
        }
        let version = p.getLE(UInt16.self, at: 8)
        if version != SegmentFormat.version {
            return .failure(.badFileHeader(file: path, offset: 8, expected: "format version 1, found \(version)"))
        }
        if p.getLE(UInt16.self, at: 10) != 0 {
            return .failure(.badFileHeader(file: path, offset: 10, expected: "flags 0"))
        }
        if p.getLE(UInt32.self, at: 12) != UInt32(SegmentFormat.fileHeaderBytes) {
            return .failure(.badFileHeader(file: path, offset: 12, expected: "header length 64"))
        }
        for o in 32..<SegmentFormat.fileHeaderCRCOffset where p.load(fromByteOffset: o, as: UInt8.self) != 0 {
            return .failure(.badFileHeader(file: path, offset: Int64(o), expected: "zero padding"))
        }
        let base = p.getLE(UInt64.self, at: 16)
        if base == 0 {
            return .failure(.badFileHeader(file: path, offset: 16, expected: "base sequence ≥ 1"))
        }
        return .success((base, p.getLE(Int64.self, at: 24)))
    }

    /// Scans one segment file, validating every byte, calling `visit` for each record of each
    /// valid block. `expectedBase` is the base taken from the file name.
    /// Records of a block are delivered while it is decoded: a block whose CRC matches but whose
    /// records do not decode (a writer bug, not a disk error) may deliver some records before the problem.
    static func scan(path: String, expectedBase: UInt64, buffers: SegmentScanBuffers,
                     visit: (borrowing OrderRecord) throws -> Void) throws -> SegmentScan {
        var s = try scanFrames(path: path, expectedBase: expectedBase, buffers: buffers, visit: visit)
        // Zeros a direct-I/O writer left up to the page boundary (it was not closed) are no problem and no
        // data: readers stop before them (`validEnd`), recovery cuts them.
        if s.problem != nil, s.headerValid, s.validEnd < s.fileBytes,
           DirectSegmentSink.isPadding(UnsafeRawPointer(buffers.file) + Int(s.validEnd), count: Int(s.fileBytes - s.validEnd),
                                       fileLength: s.fileBytes) {
            s.problem = nil
        }
        if s.problem != nil, s.headerValid, s.validEnd < s.fileBytes {
            s.validFrameAfterProblem = findValidFrame(in: UnsafeRawPointer(buffers.file), from: Int(s.validEnd) + 1,
                                                      size: Int(s.fileBytes), path: path)
        }
        return s
    }

    /// How many records the block headers at `start` claim: walks headers whose fields parse and
    /// whose first sequences chain on from `nextSequence`, as far as the bytes go; 0 for an end
    /// marker. nil when no block header at `start` parses and chains (torn inside the header, or
    /// garbage). A lower bound when a later cut header is itself torn. The cut blocks' CRCs do
    /// not check (that is why they are cut), so this is what their headers say, not a verified count.
    static func claimedRecords(in p: UnsafeRawPointer, from start: Int, size: Int, nextSequence: UInt64,
                               path: String) -> UInt64? {
        var off = start
        var expected = nextSequence
        var total: UInt64?
        // A torn end marker (sealing was interrupted) holds no records.
        if off + 4 <= size, p.getLE(UInt32.self, at: off) == SegmentFormat.typeEndMarker { return 0 }
        while off + SegmentFormat.blockHeaderBytes <= size {
            // `available` large: a header whose payload was torn off still says what it held.
            guard case .success(let h) = BlockFrame.parseHeader(p + off, path: path, offset: Int64(off), available: Int.max / 2,
                                                                minRecordBytes: SegmentFormat.minRecordBytes),
                  h.first == expected
            else { break }
            total = (total ?? 0) + UInt64(h.count)
            expected &+= UInt64(h.count)
            off += SegmentFormat.blockHeaderBytes + h.storedLength
        }
        return total
    }

    /// The offset of the first frame at or after `start` whose header and CRC check, if any.
    static func findValidFrame(in p: UnsafeRawPointer, from start: Int, size: Int, path: String) -> Int64? {
        var off = start
        while off + SegmentFormat.blockHeaderBytes <= size {
            let h = p + off
            let type = h.getLE(UInt32.self, at: 0)
            if type == SegmentFormat.typeEndMarker {
                if h.getLE(UInt32.self, at: 28) == CRC32C.update(0, h, 28) { return Int64(off) }
            } else if type == SegmentFormat.typeLZ4Block || type == SegmentFormat.typeRawBlock,
                      case .success(let header) = BlockFrame.parseHeader(h, path: path, offset: Int64(off), available: size - off,
                                                                          minRecordBytes: SegmentFormat.minRecordBytes),
                      BlockFrame.checkCRC(h, header, path: path, offset: Int64(off)) == nil {
                return Int64(off)
            }
            off += 1
        }
        return nil
    }

    static func scanFrames(path: String, expectedBase: UInt64, buffers: SegmentScanBuffers,
                           visit: (borrowing OrderRecord) throws -> Void) throws -> SegmentScan {
        var s = SegmentScan(path: path)
        let size: Int
        do { size = try buffers.load(path) } catch { s.problem = error; return s }
        s.fileBytes = Int64(size)
        let p = UnsafeRawPointer(buffers.file)
        if size < SegmentFormat.fileHeaderBytes {
            s.problem = .truncated(file: path, offset: 0,
                                   expected: "a 64-byte file header, file has \(size) bytes")
            return s
        }
        switch parseHeader(p, path: path) {
        case .failure(let e): s.problem = e; return s
        case .success(let (base, created)):
            if base != expectedBase {
                s.problem = .badFileHeader(file: path, offset: 16,
                                           expected: "base sequence \(expectedBase) (from the file name), found \(base)")
                return s
            }
            s.baseSequence = base
            s.creationNanos = created
        }
        s.headerValid = true
        s.lastSequence = s.baseSequence &- 1
        var off = SegmentFormat.fileHeaderBytes
        s.validEnd = Int64(off)
        var record = OrderRecord()
        while off < size {
            let o64 = Int64(off)
            if size - off < SegmentFormat.blockHeaderBytes {
                s.problem = .truncated(file: path, offset: o64,
                                       expected: "a 32-byte block header or end marker, \(size - off) bytes left")
                return s
            }
            let h = p + off
            let type = h.getLE(UInt32.self, at: 0)
            if type == SegmentFormat.typeEndMarker {
                let crc = CRC32C.update(0, h, 28)
                if h.getLE(UInt32.self, at: 28) != crc {
                    s.problem = .badEndMarker(file: path, offset: o64, expected: "end marker CRC-32C \(hex(crc))")
                    return s
                }
                let nb = h.getLE(UInt32.self, at: 4), nr = h.getLE(UInt64.self, at: 8)
                let last = h.getLE(UInt64.self, at: 16)
                if h.getLE(UInt32.self, at: 24) != 0 {
                    s.problem = .badEndMarker(file: path, offset: o64 + 24, expected: "reserved 0")
                    return s
                }
                if Int(nb) != s.blocks || nr != s.records || last != s.lastSequence {
                    s.problem = .badEndMarker(
                        file: path, offset: o64,
                        expected: "totals blocks \(s.blocks) records \(s.records) last sequence \(s.lastSequence), found \(nb)/\(nr)/\(last)")
                    return s
                }
                s.sealed = true
                s.validEnd = o64 + Int64(SegmentFormat.endMarkerBytes)
                if off + SegmentFormat.endMarkerBytes != size {
                    s.problem = .badEndMarker(file: path, offset: s.validEnd,
                                              expected: "end of file after the end marker, found \(size - off - SegmentFormat.endMarkerBytes) more bytes")
                }
                return s
            }
            let header: BlockFrame.Header
            switch BlockFrame.parseHeader(h, path: path, offset: o64, available: size - off,
                                          minRecordBytes: SegmentFormat.minRecordBytes) {
            case .failure(let e): s.problem = e; return s
            case .success(let v): header = v
            }
            let rawLen = header.rawLength, stored = header.storedLength, count = header.count, first = header.first
            let payloadOff = off + SegmentFormat.blockHeaderBytes
            if let e = BlockFrame.checkCRC(h, header, path: path, offset: o64) { s.problem = e; return s }
            if first != s.lastSequence &+ 1 {
                s.problem = .sequenceGap(file: path, offset: o64 + 16, expected: s.lastSequence &+ 1, found: first)
                return s
            }
            buffers.reserveRaw(rawLen)
            let raw = buffers.raw
            if let e = BlockFrame.expand(h, header, into: raw, path: path, payloadOffset: Int64(payloadOff)) { s.problem = e; return s }
            // Decode and check: exactly `count` records filling exactly `rawLen` bytes.
            var i = 0
            var st = RecordCodec.State()
            for k in 0..<count {
                let at = i
                if i >= rawLen || !RecordCodec.decode(raw, &i, &st, &record) || i > rawLen {
                    s.problem = .badBlock(file: path, offset: Int64(payloadOff),
                                          expected: "record \(k) of \(count) (raw byte \(at)) to decode within \(rawLen) raw bytes")
                    return s
                }
                record.sequence = first &+ UInt64(k)
                try visit(record)
            }
            if i != rawLen {
                s.problem = .badBlock(file: path, offset: Int64(payloadOff),
                                      expected: "\(count) records to fill \(rawLen) raw bytes, they end at \(i)")
                return s
            }
            s.blocks += 1
            s.records += UInt64(count)
            s.lastSequence = first &+ UInt64(count - 1)
            s.rawBytes += UInt64(rawLen)
            s.storedBytes += UInt64(stored)
            off = payloadOff + stored
            s.validEnd = Int64(off)
        }
        return s
    }

    /// Segment files of `directory` sorted by base sequence: (base, path). `.seg` files whose
    /// names are not segment names are returned in `badNames`.
    static func list(directory: String) throws(SegmentError) -> (segments: [(UInt64, String)], badNames: [String]) {
        guard let d = opendir(directory) else {
            throw .io(file: directory, offset: 0, operation: "opendir", errno: errno)
        }
        defer { closedir(d) }
        var segs: [(UInt64, String)] = []
        var bad: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            guard name.hasSuffix(SegmentFormat.fileSuffix) else { continue }
            let path = directory + "/" + name
            if let base = SegmentFormat.baseSequence(fileName: name) { segs.append((base, path)) } else { bad.append(path) }
        }
        segs.sort { $0.0 < $1.0 }
        return (segs, bad.sorted())
    }
}

@inline(never)
func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
