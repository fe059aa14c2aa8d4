/// The record codec (docs/segment-format.md, "Record layout"): encode and decode in one place.
///
/// A record is a flags byte F, an optional extension byte X, then fields. Sequences are not
/// stored (block first sequence + index). Campaign time and request id are deltas against the
/// previous record of the same block (state resets at each block); zero fields are skipped.
public enum RecordCodec {
    /// Upper bound of one encoded record (actual maximum is 111 bytes).
    public static let maxRecordBytes = 128
    /// Bytes a decoder may read past the end of a raw block (decode buffers carry this slack),
    /// so varints are read without a bounds check per byte; the end is checked per record.
    public static let decodeSlackBytes = 256

    // F bits
    @inlinable static var fTime: UInt8 { 1 << 0 }
    @inlinable static var fOrg: UInt8 { 1 << 1 }
    @inlinable static var fOffer: UInt8 { 1 << 2 }
    @inlinable static var fQty: UInt8 { 1 << 3 }
    @inlinable static var fPrice: UInt8 { 1 << 4 }
    @inlinable static var fRef: UInt8 { 1 << 5 }
    @inlinable static var fExp: UInt8 { 1 << 6 }
    @inlinable static var fExt: UInt8 { 1 << 7 }
    // X bits (0-2 piece count)
    @inlinable static var xOrig: UInt8 { 1 << 3 }
    @inlinable static var xWide: UInt8 { 1 << 4 }
    @inlinable static var xReserved: UInt8 { 0xE0 }

    /// Delta state; reset (`State()`) at the start of each block.
    public struct State: Sendable {
        @usableFromInline var time: Int64 = 0
        @usableFromInline var requestId: UInt64 = 0
        @inlinable public init() {}
    }

    @inlinable @inline(__always)
    static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

    @inline(__always) @usableFromInline
    static func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1))) }

    /// Writes `value` as LEB128 at `p[i...]` and advances `i`. Values below 2^21 (nearly every field
    /// of an order record) are assembled in a register and stored in one go, not byte by byte; a
    /// 3-byte varint stores 4 bytes, the last of which later bytes overwrite or lie past the record
    /// (within `maxRecordBytes` of its start, which the writer's buffer reserves).
    @inlinable @inline(__always)
    static func putVarint(_ value: UInt64, _ p: UnsafeMutableRawPointer, _ i: inout Int) {
        if value < 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: value), toByteOffset: i, as: UInt8.self)
            i &+= 1
            return
        }
        if value < 0x4000 {
            let w = (value & 0x7F) | 0x80 | ((value &<< 1) & 0x7F00)
            p.storeBytes(of: UInt16(truncatingIfNeeded: w).littleEndian, toByteOffset: i, as: UInt16.self)
            i &+= 2
            return
        }
        if value < 0x20_0000 {
            let w = (value & 0x7F) | 0x8080 | ((value &<< 1) & 0x7F00) | ((value &<< 2) & 0x7F_0000)
            p.storeBytes(of: UInt32(truncatingIfNeeded: w).littleEndian, toByteOffset: i, as: UInt32.self)
            i &+= 3
            return
        }
        var v = value
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: i, as: UInt8.self)
            v &>>= 7
            i &+= 1
        }
        p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self)
        i &+= 1
    }

    /// Encodes `r` at `p` (which must have `maxRecordBytes` free). Returns the bytes written.
    /// `r.recordPieceCount` must be ≤ 4 (checked by the caller).
    @inlinable @inline(__always)
    static func encode<R: JournalRecordFields>(_ r: UnsafePointer<R>, _ s: inout State, _ p: UnsafeMutableRawPointer) -> Int {
        let time = r.pointee.campaignTimeMillis
        let req = r.pointee.requestId
        let kind = r.pointee.recordKind, outcome = r.pointee.recordOutcome, lane = r.pointee.lane
        let orig = r.pointee.recordOriginalOutcome
        let pc = r.pointee.recordPieceCount
        let organisation = r.pointee.organisation, offer = r.pointee.offer, quantity = r.pointee.quantity
        let price = r.pointee.priceFen, reference = r.pointee.reference, expiry = r.pointee.holdExpiryMillis
        var f: UInt8 = 0
        if time != s.time { f |= fTime }
        if organisation != 0 { f |= fOrg }
        if offer != 0 { f |= fOffer }
        if quantity != 0 { f |= fQty }
        if price != 0 { f |= fPrice }
        if reference != 0 { f |= fRef }
        if expiry != 0 { f |= fExp }
        let wide = kind > 3 || outcome > 15 || lane > 3
        var x: UInt8 = pc
        if orig != outcome { x |= xOrig }
        if wide { x |= xWide }
        var i = 1
        if x != 0 {
            f |= fExt
            p.storeBytes(of: x, toByteOffset: 1, as: UInt8.self)
            i = 2
        }
        p.storeBytes(of: f, toByteOffset: 0, as: UInt8.self)
        putVarint(zigzag(Int64(bitPattern: req &- s.requestId)), p, &i)
        s.requestId = req
        if wide {
            p.storeBytes(of: kind, toByteOffset: i, as: UInt8.self)
            p.storeBytes(of: outcome, toByteOffset: i + 1, as: UInt8.self)
            p.storeBytes(of: lane, toByteOffset: i + 2, as: UInt8.self)
            i &+= 3
        } else {
            p.storeBytes(of: kind | (outcome << 2) | (lane << 6), toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
        if orig != outcome {
            p.storeBytes(of: orig, toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
        if f & fTime != 0 {
            putVarint(zigzag(time &- s.time), p, &i)
            s.time = time
        }
        if f & fOrg != 0 { putVarint(UInt64(organisation), p, &i) }
        if f & fOffer != 0 { putVarint(UInt64(offer), p, &i) }
        if f & fQty != 0 { putVarint(zigzag(Int64(quantity)), p, &i) }
        if f & fPrice != 0 { putVarint(zigzag(price), p, &i) }
        if f & fRef != 0 { putVarint(reference, p, &i) }
        if f & fExp != 0 { putVarint(zigzag(expiry &- time), p, &i) }
        for k in 0..<Int(pc) {
            let piece = r.pointee.recordPiece(k)
            putVarint(UInt64(piece.item), p, &i)
            putVarint(UInt64(piece.quantity), p, &i)
        }
        return i
    }

    /// Reads a LEB128 varint of at most 10 bytes; clears `ok` on an overlong one.
    @inline(__always) @usableFromInline
    static func getVarint(_ p: UnsafeRawPointer, _ i: inout Int, _ ok: inout Bool) -> UInt64 {
        var b = p.load(fromByteOffset: i, as: UInt8.self)
        i &+= 1
        if b < 0x80 { return UInt64(b) }
        var result = UInt64(b & 0x7F)
        var shift: UInt64 = 7
        while true {
            b = p.load(fromByteOffset: i, as: UInt8.self)
            i &+= 1
            if shift == 63 {
                if b > 1 { ok = false; return 0 }
                return result | (UInt64(b) << 63)
            }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift &+= 7
        }
    }

    /// Decodes one record at `p[i...]` into `r` (sequence is left to the caller). Returns false
    /// when the bytes are not a valid record. May read up to `decodeSlackBytes` past the record;
    /// the caller checks that `i` did not pass the block's raw end.
    @inline(__always) @usableFromInline
    static func decode(_ p: UnsafeRawPointer, _ i: inout Int, _ s: inout State, _ r: inout OrderRecord) -> Bool {
        var ok = true
        let f = p.load(fromByteOffset: i, as: UInt8.self)
        i &+= 1
        var x: UInt8 = 0
        if f & fExt != 0 {
            x = p.load(fromByteOffset: i, as: UInt8.self)
            i &+= 1
            if x & xReserved != 0 || x & 7 > 4 || x == 0 { return false }
        }
        let req = s.requestId &+ UInt64(bitPattern: unzigzag(getVarint(p, &i, &ok)))
        s.requestId = req
        r.requestId = req
        if x & xWide != 0 {
            r.kind = p.load(fromByteOffset: i, as: UInt8.self)
            r.outcome = p.load(fromByteOffset: i + 1, as: UInt8.self)
            r.lane = p.load(fromByteOffset: i + 2, as: UInt8.self)
            i &+= 3
        } else {
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            i &+= 1
            r.kind = c & 3
            r.outcome = (c >> 2) & 15
            r.lane = c >> 6
        }
        if x & xOrig != 0 {
            r.originalOutcome = p.load(fromByteOffset: i, as: UInt8.self)
            i &+= 1
            if r.originalOutcome == r.outcome { return false }
        } else {
            r.originalOutcome = r.outcome
        }
        if f & fTime != 0 { s.time = s.time &+ unzigzag(getVarint(p, &i, &ok)) }
        let time = s.time
        r.campaignTimeMillis = time
        if f & fOrg != 0 {
            let v = getVarint(p, &i, &ok)
            if v > UInt64(UInt32.max) { return false }
            r.organisation = UInt32(truncatingIfNeeded: v)
        } else { r.organisation = 0 }
        if f & fOffer != 0 {
            let v = getVarint(p, &i, &ok)
            if v > UInt64(UInt16.max) { return false }
            r.offer = UInt16(truncatingIfNeeded: v)
        } else { r.offer = 0 }
        if f & fQty != 0 {
            let v = unzigzag(getVarint(p, &i, &ok))
            if v < Int64(Int32.min) || v > Int64(Int32.max) { return false }
            r.quantity = Int32(truncatingIfNeeded: v)
        } else { r.quantity = 0 }
        r.priceFen = f & fPrice != 0 ? unzigzag(getVarint(p, &i, &ok)) : 0
        r.reference = f & fRef != 0 ? getVarint(p, &i, &ok) : 0
        r.holdExpiryMillis = f & fExp != 0 ? time &+ unzigzag(getVarint(p, &i, &ok)) : 0
        let pc = x & 7
        r.pieceCount = pc
        if pc != 0 {
            for k in 0..<Int(pc) {
                let item = getVarint(p, &i, &ok)
                let q = getVarint(p, &i, &ok)
                if item > UInt64(UInt16.max) || q > UInt64(UInt32.max) { return false }
                r.setPiece(k, RecordPiece(item: UInt16(truncatingIfNeeded: item), quantity: UInt32(truncatingIfNeeded: q)))
            }
        }
        return ok
    }

    /// Encodes `records` back to back into a fresh byte array (one delta state, as in one block).
    /// Convenience for tests and tools; the writer encodes in place.
    public static func encode(_ records: [OrderRecord]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: records.count * maxRecordBytes)
        var n = 0
        var s = State()
        out.withUnsafeMutableBytes { buf in
            records.withUnsafeBufferPointer { rp in
                for k in 0..<rp.count {
                    precondition(rp[k].pieceCount <= 4, "pieceCount must be ≤ 4")
                    n += encode(rp.baseAddress! + k, &s, buf.baseAddress! + n)
                }
            }
        }
        out.removeLast(out.count - n)
        return out
    }

    /// Decodes exactly `count` records from `bytes` (sequences numbered from `firstSequence`);
    /// nil when the bytes are not exactly `count` valid records.
    public static func decode(_ bytes: [UInt8], count: Int, firstSequence: UInt64 = 1) -> [OrderRecord]? {
        var padded = bytes
        padded.append(contentsOf: repeatElement(0, count: decodeSlackBytes))
        var result: [OrderRecord] = []
        result.reserveCapacity(count)
        let ok: Bool = padded.withUnsafeBytes { buf in
            var i = 0
            var s = State()
            var r = OrderRecord()
            for k in 0..<count {
                guard decode(buf.baseAddress!, &i, &s, &r), i <= bytes.count else { return false }
                r.sequence = firstSequence &+ UInt64(k)
                result.append(r)
            }
            return i == bytes.count
        }
        return ok ? result : nil
    }
}
