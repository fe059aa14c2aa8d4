import CLZ4

/// The block framing shared by segment files and capture files (docs/segment-format.md, "Block"):
/// a 32-byte header — type (`BLK4` LZ4 / `BLKR` raw), raw length, stored length, record count, first
/// sequence, reserved 0, CRC-32C over header bytes 0..<28 followed by the payload — then the payload.
/// The record layout inside a block is the file format's business (`RecordCodec`, `CaptureCodec`).
enum BlockFrame {
    struct Header {
        var type: UInt32
        var rawLength: Int
        var storedLength: Int
        var count: Int
        var first: UInt64
    }

    /// Compresses `raw[0..<rawLength]` into a framed block at `h`, which must have room for
    /// 32 + `LZ4_compressBound(rawLength)` bytes. Falls back to a raw block when LZ4 does not shrink it.
    /// Returns the bytes written (header + payload).
    @inline(__always)
    static func seal(raw: UnsafeMutableRawPointer, rawLength: Int, count: Int, first: UInt64,
                     into h: UnsafeMutableRawPointer, lz4State: UnsafeMutableRawPointer, acceleration: Int32) -> Int {
        let total = compress(raw: raw, rawLength: rawLength, count: count, into: h, lz4State: lz4State, acceleration: acceleration)
        stamp(h, first: first)
        return total
    }

    /// The first half of `seal`: the payload and header bytes 0..<16 (type, raw and stored length, count),
    /// without the first sequence and the CRC, which `stamp` adds once the block's place in the journal
    /// is known. So a lane can compress its own block before the journal numbers it. Returns header + payload bytes.
    @inline(__always)
    static func compress(raw: UnsafeMutableRawPointer, rawLength: Int, count: Int,
                         into h: UnsafeMutableRawPointer, lz4State: UnsafeMutableRawPointer, acceleration: Int32) -> Int {
        let payload = h + SegmentFormat.blockHeaderBytes
        let bound = Int(LZ4_compressBound(Int32(rawLength)))
        var stored = Int(LZ4_compress_fast_extState(
            lz4State, UnsafePointer(raw.assumingMemoryBound(to: CChar.self)),
            payload.assumingMemoryBound(to: CChar.self), Int32(rawLength), Int32(bound), acceleration))
        var type = SegmentFormat.typeLZ4Block
        if stored <= 0 || stored >= rawLength {
            payload.copyMemory(from: raw, byteCount: rawLength)
            stored = rawLength
            type = SegmentFormat.typeRawBlock
        }
        h.putLE(type, at: 0)
        h.putLE(UInt32(rawLength), at: 4)
        h.putLE(UInt32(stored), at: 8)
        h.putLE(UInt32(count), at: 12)
        return SegmentFormat.blockHeaderBytes + stored
    }

    /// The second half of `seal`: the block's first sequence, the reserved word and the CRC-32C over
    /// header bytes 0..<28 and the payload (whose length header bytes 8..<12 hold).
    @inline(__always)
    static func stamp(_ h: UnsafeMutableRawPointer, first: UInt64) {
        h.putLE(first, at: 16)
        h.putLE(UInt32(0), at: 24)
        let stored = Int(UnsafeRawPointer(h).getLE(UInt32.self, at: 8))
        h.putLE(CRC32C.update(CRC32C.update(0, h, 28), h + SegmentFormat.blockHeaderBytes, stored), at: 28)
    }

    /// Writes an end-of-segment/end-of-capture marker (32 bytes) at `m`.
    static func writeEndMarker(_ m: UnsafeMutableRawPointer, blocks: UInt32, records: UInt64, last: UInt64) {
        m.putLE(SegmentFormat.typeEndMarker, at: 0)
        m.putLE(blocks, at: 4)
        m.putLE(records, at: 8)
        m.putLE(last, at: 16)
        m.putLE(UInt32(0), at: 24)
        m.putLE(CRC32C.update(0, m, 28), at: 28)
    }

    /// Checks the fields of the block header at `h` (file offset `offset`; `available` bytes from `h` to
    /// the end of the file). The type must already be known not to be an end marker. Does not check the CRC.
    static func parseHeader(_ h: UnsafeRawPointer, path: String, offset o64: Int64, available: Int,
                            minRecordBytes: Int) -> Result<Header, SegmentError> {
        let type = h.getLE(UInt32.self, at: 0)
        if type != SegmentFormat.typeLZ4Block && type != SegmentFormat.typeRawBlock {
            return .failure(.badBlock(file: path, offset: o64, expected: "block type BLK4, BLKR or END!, found \(hex(type))"))
        }
        let rawLen = Int(h.getLE(UInt32.self, at: 4))
        let stored = Int(UnsafeRawPointer(h).getLE(UInt32.self, at: 8))
        let count = Int(h.getLE(UInt32.self, at: 12))
        let first = h.getLE(UInt64.self, at: 16)
        if rawLen < minRecordBytes || rawLen > SegmentFormat.maxBlockRawBytes {
            return .failure(.badBlock(file: path, offset: o64 + 4,
                                      expected: "raw length in \(minRecordBytes)...\(SegmentFormat.maxBlockRawBytes), found \(rawLen)"))
        }
        let maxStored = type == SegmentFormat.typeRawBlock ? rawLen : Int(LZ4_compressBound(Int32(rawLen)))
        if stored < 1 || stored > maxStored || (type == SegmentFormat.typeRawBlock && stored != rawLen) {
            return .failure(.badBlock(file: path, offset: o64 + 8, expected: "stored length in 1...\(maxStored), found \(stored)"))
        }
        if count < 1 || count > rawLen / minRecordBytes {
            return .failure(.badBlock(file: path, offset: o64 + 12,
                                      expected: "record count in 1...\(rawLen / minRecordBytes), found \(count)"))
        }
        // Sequences are 64-bit and never wrap: a block numbering records past 2^64 − 1 is damaged
        // (read as is, its records would restart from 0 and pass the gap checks).
        if first.addingReportingOverflow(UInt64(count)).overflow {
            return .failure(.badBlock(file: path, offset: o64 + 16,
                                      expected: "first sequence + record count within 64 bits, found first sequence \(first) and \(count) records"))
        }
        if h.getLE(UInt32.self, at: 24) != 0 {
            return .failure(.badBlock(file: path, offset: o64 + 24, expected: "reserved 0"))
        }
        let left = available - SegmentFormat.blockHeaderBytes
        if left < stored {
            return .failure(.truncated(file: path, offset: o64, expected: "\(stored) payload bytes, \(left) left"))
        }
        return .success(Header(type: type, rawLength: rawLen, storedLength: stored, count: count, first: first))
    }

    /// Checks the CRC of the block at `h` whose payload follows its header.
    static func checkCRC(_ h: UnsafeRawPointer, _ header: Header, path: String, offset o64: Int64) -> SegmentError? {
        let crc = CRC32C.update(CRC32C.update(0, h, 28), h + SegmentFormat.blockHeaderBytes, header.storedLength)
        let found = h.getLE(UInt32.self, at: 28)
        if found != crc {
            return .badBlock(file: path, offset: o64 + 28,
                             expected: "block CRC-32C \(hex(crc)) over header and payload, found \(hex(found))")
        }
        return nil
    }

    /// Decompresses (or copies) the payload of the block at `h` into `raw` (room for `rawLength`).
    static func expand(_ h: UnsafeRawPointer, _ header: Header, into raw: UnsafeMutableRawPointer,
                       path: String, payloadOffset: Int64) -> SegmentError? {
        let payload = h + SegmentFormat.blockHeaderBytes
        if header.type == SegmentFormat.typeLZ4Block {
            let n = LZ4_decompress_safe(payload.assumingMemoryBound(to: CChar.self), raw.assumingMemoryBound(to: CChar.self),
                                        Int32(header.storedLength), Int32(header.rawLength))
            if n != Int32(header.rawLength) {
                return .badBlock(file: path, offset: payloadOffset,
                                 expected: "LZ4 payload decompressing to \(header.rawLength) bytes (got \(n))")
            }
        } else {
            raw.copyMemory(from: payload, byteCount: header.rawLength)
        }
        return nil
    }
}
