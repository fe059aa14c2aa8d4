import FlashSaleSystem
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A problem found in a segment directory. Every case names the file and the byte offset in it
/// where the problem is, and what was expected there. `description` is `file:offset: problem`.
public enum SegmentError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A system call failed (`operation` e.g. "open", "write", "fsync"; `errno`).
    case io(file: String, offset: Int64, operation: String, errno: Int32)
    /// The 64-byte file header is wrong (magic, version, flags, padding, CRC, base sequence).
    case badFileHeader(file: String, offset: Int64, expected: String)
    /// A block header or payload is wrong (type, lengths, CRC, decompression, record decoding).
    case badBlock(file: String, offset: Int64, expected: String)
    /// A block's first sequence does not follow the previous block (or the segment base).
    case sequenceGap(file: String, offset: Int64, expected: UInt64, found: UInt64)
    /// The end-of-segment marker is wrong, or bytes follow it.
    case badEndMarker(file: String, offset: Int64, expected: String)
    /// The file ends inside a header, block or marker (a torn tail).
    case truncated(file: String, offset: Int64, expected: String)
    /// Directory-level problems: a segment that is not the last is not sealed, base sequences
    /// do not continue from the previous segment, a `.seg` name that is not 20 digits.
    case badSegmentSequence(file: String, offset: Int64, expected: String)
    /// Damage inside the open segment with valid frames after it: not a torn tail, so recovery refuses
    /// to cut (that would drop acknowledged records). `problem` is what the scan found at `offset`.
    case damagedInside(file: String, offset: Int64, problem: String, validFrameAt: Int64)

    public var file: String {
        switch self {
        case .io(let f, _, _, _), .badFileHeader(let f, _, _), .badBlock(let f, _, _),
             .sequenceGap(let f, _, _, _), .badEndMarker(let f, _, _), .truncated(let f, _, _),
             .badSegmentSequence(let f, _, _), .damagedInside(let f, _, _, _):
            return f
        }
    }

    public var offset: Int64 {
        switch self {
        case .io(_, let o, _, _), .badFileHeader(_, let o, _), .badBlock(_, let o, _),
             .sequenceGap(_, let o, _, _), .badEndMarker(_, let o, _), .truncated(_, let o, _),
             .badSegmentSequence(_, let o, _), .damagedInside(_, let o, _, _):
            return o
        }
    }

    /// What was wrong / expected, without the location.
    public var problem: String {
        switch self {
        case .io(_, _, let op, let e):
            return "\(op) failed: \(System.reason(e)) (errno \(e))"
        case .badFileHeader(_, _, let w): return "bad file header: expected \(w)"
        case .badBlock(_, _, let w): return "bad block: expected \(w)"
        case .sequenceGap(_, _, let e, let f): return "sequence gap: expected first sequence \(e), found \(f)"
        case .badEndMarker(_, _, let w): return "bad end-of-segment marker: expected \(w)"
        case .truncated(_, _, let w): return "truncated: expected \(w)"
        case .badSegmentSequence(_, _, let w): return "bad segment sequence: expected \(w)"
        case .damagedInside(_, _, let p, let later):
            return "damaged inside the segment, not torn: \(p); a valid frame follows at offset \(later), so cutting here "
                + "would drop records after it: restore the segment or move it away"
        }
    }

    public var description: String { "\(file):\(offset): \(problem)" }
}

/// Errors of `SegmentWriter` that are not I/O or format errors.
public enum SegmentWriterError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The writer was closed.
    case closed
    /// A record cannot be encoded (e.g. `pieceCount` > 4). Records before it in the same call were appended.
    case invalidRecord(requestId: UInt64, reason: String)
    /// Another process holds the directory lock.
    case directoryLocked(String)

    public var description: String {
        switch self {
        case .closed: return "segment writer is closed"
        case .invalidRecord(let id, let why): return "invalid record (request \(id)): \(why)"
        case .directoryLocked(let d): return "\(d): segment directory is locked by another writer"
        }
    }
}
