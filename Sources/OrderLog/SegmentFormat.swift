/// Constants of the segment format, version 1 (docs/segment-format.md). Little-endian everywhere.
public enum SegmentFormat {
    public static let version: UInt16 = 1
    /// "FSSEG\0\0\u{1}" as stored (8 bytes), read as a little-endian UInt64.
    public static let fileMagic: UInt64 = 0x0100_0047_4553_5346
    public static let fileHeaderBytes = 64
    /// Offset of the header CRC (covers bytes 0..<60).
    public static let fileHeaderCRCOffset = 60
    public static let blockHeaderBytes = 32
    public static let endMarkerBytes = 32
    /// Block types (u32 at offset 0 of a block header / end marker; ASCII when read as bytes).
    public static let typeLZ4Block: UInt32 = 0x344B_4C42   // "BLK4"
    public static let typeRawBlock: UInt32 = 0x524B_4C42   // "BLKR"
    public static let typeEndMarker: UInt32 = 0x2144_4E45  // "END!"
    /// Largest raw (uncompressed) length of a block the format allows.
    public static let maxBlockRawBytes = 1 << 24
    /// Smallest possible encoded record (flags, 1-byte request-id delta, packed code byte).
    public static let minRecordBytes = 3
    /// Segment file name suffix; names are the base sequence zero-padded to 20 digits.
    public static let fileSuffix = ".seg"

    /// `00000000000000000001.seg` for base sequence 1.
    public static func fileName(baseSequence: UInt64) -> String {
        let digits = String(baseSequence)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + fileSuffix
    }

    /// The base sequence a segment file name stands for, or nil when it is not a segment name.
    public static func baseSequence(fileName: String) -> UInt64? {
        let u = Array(fileName.utf8)
        guard u.count == 24, fileName.hasSuffix(fileSuffix) else { return nil }
        var v: UInt64 = 0
        for c in u[0..<20] {
            guard c >= 48, c <= 57 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - 48))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }
}

// MARK: - little-endian helpers

extension UnsafeMutableRawPointer {
    @inline(__always) @usableFromInline
    func putLE<T: FixedWidthInteger>(_ v: T, at offset: Int) {
        storeBytes(of: v.littleEndian, toByteOffset: offset, as: T.self)
    }
}

extension UnsafeRawPointer {
    @inline(__always) @usableFromInline
    func getLE<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
