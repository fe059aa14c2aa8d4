/// One captured request (docs/capture-format.md). Field for field the request a source produced;
/// codes are opaque to this module (`kind`: 0 buy, 1 confirm, 2 cancel, 3 expire as in the segments).
public struct CaptureRecord: Sendable, Equatable {
    public var requestId: UInt64
    /// Campaign clock, milliseconds since the campaign epoch.
    public var campaignTimeMillis: Int64
    /// When the source meant to send it, nanoseconds from the start of the captured run.
    public var sendOffsetNanos: UInt64
    public var organisation: UInt32
    public var offer: UInt16
    public var kind: UInt8
    public var quantity: Int32
    /// 0 when none.
    public var reference: UInt64

    @inlinable
    public init(requestId: UInt64 = 0, campaignTimeMillis: Int64 = 0, sendOffsetNanos: UInt64 = 0, organisation: UInt32 = 0,
                offer: UInt16 = 0, kind: UInt8 = 0, quantity: Int32 = 1, reference: UInt64 = 0) {
        self.requestId = requestId
        self.campaignTimeMillis = campaignTimeMillis
        self.sendOffsetNanos = sendOffsetNanos
        self.organisation = organisation
        self.offer = offer
        self.kind = kind
        self.quantity = quantity
        self.reference = reference
    }
}

/// Constants of the capture file format, version 1 (docs/capture-format.md). Blocks and the end
/// marker are framed exactly like segment blocks (`SegmentFormat`); only the file header and the
/// record layout differ.
public enum CaptureFormat {
    public static let version: UInt16 = 1
    /// "FSCAP\0\0\u{1}" as stored, read as a little-endian UInt64.
    public static let fileMagic: UInt64 = 0x0100_0050_4143_5346
    /// Fixed part of the header; the label follows it.
    public static let fixedHeaderBytes = 64
    public static let headerCRCOffset = 60
    /// Longest label (UTF-8 bytes) a header may carry.
    public static let maxLabelBytes = 4096
    /// Header flag: the campaign fingerprint field is set.
    public static let flagFingerprint: UInt16 = 1
    /// Smallest encoded record: flags byte and a one-byte request-id delta.
    public static let minRecordBytes = 2
    /// File name suffix used by the tools (not required).
    public static let fileSuffix = ".fscap"
}

/// What a capture's header says.
public struct CaptureHeader: Sendable, Equatable {
    /// `Campaign.fingerprint` of the campaign the requests were made for, when known.
    public var campaignFingerprint: UInt64?
    /// Free text naming the source: profile name or imported file.
    public var label: String
    /// Unix nanoseconds when the capture was created.
    public var createdNanos: Int64

    public init(campaignFingerprint: UInt64?, label: String, createdNanos: Int64 = 0) {
        self.campaignFingerprint = campaignFingerprint
        self.label = label
        self.createdNanos = createdNanos
    }
}

/// The capture record codec (docs/capture-format.md, "Record layout"). Built on the segment codec's
/// primitives (LEB128 varints, zigzag); deltas against the previous record of the same block.
public enum CaptureCodec {
    /// Upper bound of one encoded record (actual maximum: 55 bytes).
    public static let maxRecordBytes = 64

    @usableFromInline static let fTime: UInt8 = 1 << 0
    @usableFromInline static let fSend: UInt8 = 1 << 1
    @usableFromInline static let fOrg: UInt8 = 1 << 2
    @usableFromInline static let fOffer: UInt8 = 1 << 3
    @usableFromInline static let fKind: UInt8 = 1 << 4
    @usableFromInline static let fQty: UInt8 = 1 << 5
    @usableFromInline static let fRef: UInt8 = 1 << 6
    @usableFromInline static let fReserved: UInt8 = 1 << 7

    /// Delta state; reset at the start of each block.
    public struct State: Sendable {
        @usableFromInline var time: Int64 = 0
        @usableFromInline var send: UInt64 = 0
        @usableFromInline var requestId: UInt64 = 0
        @inlinable public init() {}
    }

    /// Encodes `r` at `p` (which must have `maxRecordBytes` free). Returns the bytes written.
    @inline(__always) @usableFromInline
    static func encode(_ r: borrowing CaptureRecord, _ s: inout State, _ p: UnsafeMutableRawPointer) -> Int {
        var f: UInt8 = 0
        if r.campaignTimeMillis != s.time { f |= fTime }
        if r.sendOffsetNanos != s.send { f |= fSend }
        if r.organisation != 0 { f |= fOrg }
        if r.offer != 0 { f |= fOffer }
        if r.kind != 0 { f |= fKind }
        if r.quantity != 1 { f |= fQty }
        if r.reference != 0 { f |= fRef }
        p.storeBytes(of: f, toByteOffset: 0, as: UInt8.self)
        var i = 1
        RecordCodec.putVarint(RecordCodec.zigzag(Int64(bitPattern: r.requestId &- s.requestId)), p, &i)
        s.requestId = r.requestId
        if f & fTime != 0 {
            RecordCodec.putVarint(RecordCodec.zigzag(r.campaignTimeMillis &- s.time), p, &i)
            s.time = r.campaignTimeMillis
        }
        if f & fSend != 0 {
            RecordCodec.putVarint(RecordCodec.zigzag(Int64(bitPattern: r.sendOffsetNanos &- s.send)), p, &i)
            s.send = r.sendOffsetNanos
        }
        if f & fOrg != 0 { RecordCodec.putVarint(UInt64(r.organisation), p, &i) }
        if f & fOffer != 0 { RecordCodec.putVarint(UInt64(r.offer), p, &i) }
        if f & fKind != 0 {
            p.storeBytes(of: r.kind, toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
        if f & fQty != 0 { RecordCodec.putVarint(RecordCodec.zigzag(Int64(r.quantity)), p, &i) }
        if f & fRef != 0 { RecordCodec.putVarint(RecordCodec.zigzag(Int64(bitPattern: r.requestId &- r.reference)), p, &i) }
        return i
    }

    /// Decodes one record at `p[i...]` into `r`; false when the bytes are not a valid record. May read
    /// up to `RecordCodec.decodeSlackBytes` past the record; the caller checks the block's raw end.
    @inline(__always) @usableFromInline
    static func decode(_ p: UnsafeRawPointer, _ i: inout Int, _ s: inout State, _ r: inout CaptureRecord) -> Bool {
        var ok = true
        let f = p.load(fromByteOffset: i, as: UInt8.self)
        i &+= 1
        if f & fReserved != 0 { return false }
        s.requestId = s.requestId &+ UInt64(bitPattern: RecordCodec.unzigzag(RecordCodec.getVarint(p, &i, &ok)))
        r.requestId = s.requestId
        if f & fTime != 0 { s.time = s.time &+ RecordCodec.unzigzag(RecordCodec.getVarint(p, &i, &ok)) }
        r.campaignTimeMillis = s.time
        if f & fSend != 0 { s.send = s.send &+ UInt64(bitPattern: RecordCodec.unzigzag(RecordCodec.getVarint(p, &i, &ok))) }
        r.sendOffsetNanos = s.send
        if f & fOrg != 0 {
            let v = RecordCodec.getVarint(p, &i, &ok)
            if v > UInt64(UInt32.max) { return false }
            r.organisation = UInt32(truncatingIfNeeded: v)
        } else { r.organisation = 0 }
        if f & fOffer != 0 {
            let v = RecordCodec.getVarint(p, &i, &ok)
            if v > UInt64(UInt16.max) { return false }
            r.offer = UInt16(truncatingIfNeeded: v)
        } else { r.offer = 0 }
        if f & fKind != 0 {
            r.kind = p.load(fromByteOffset: i, as: UInt8.self)
            i &+= 1
        } else { r.kind = 0 }
        if f & fQty != 0 {
            let v = RecordCodec.unzigzag(RecordCodec.getVarint(p, &i, &ok))
            if v < Int64(Int32.min) || v > Int64(Int32.max) { return false }
            r.quantity = Int32(truncatingIfNeeded: v)
        } else { r.quantity = 1 }
        r.reference = f & fRef != 0 ? r.requestId &- UInt64(bitPattern: RecordCodec.unzigzag(RecordCodec.getVarint(p, &i, &ok))) : 0
        return ok
    }
}
