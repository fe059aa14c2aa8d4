import FlashSaleCore

/// One answer of an ANSWERS frame: 48 bytes on the wire (docs/wire-protocol.md, "ANSWERS").
///
/// `write(to:)` and `read(from:)` copy the fields to and from exactly those bytes, unaligned, reserved
/// bytes written as 0 and not read. `read` never traps: a status byte this version does not know reads
/// as `.unknown` (`FrameDecoder.answers` refuses it instead).
public struct WireAnswer: Equatable, Sendable {
    /// What became of the order. Only `decided` decided it.
    public enum Status: UInt8, Sendable, CaseIterable {
        /// Decided, durably: `outcome` is the decision.
        case decided = 0
        /// Not decided: the lane's batches are all in flight, or the connection's `max_in_flight`; retry later.
        case overloaded = 1
        /// Not decided: the server is stopping.
        case draining = 2
        /// Not acknowledged: the journal failed; the decision, if made, is not durable.
        case journalFailed = 3
        /// Not decided: the connection's token acts for another organisation.
        case forbidden = 4
        /// Not decided: a field of the order is out of range.
        case invalidField = 5
        /// Not a version-1 status (only `read(from:)` makes it, from a byte it does not know).
        case unknown = 0xFF

        /// The document's name (`DECIDED`, `OVERLOADED`, …).
        public var name: String {
            switch self {
            case .decided: "DECIDED"
            case .overloaded: "OVERLOADED"
            case .draining: "DRAINING"
            case .journalFailed: "JOURNAL_FAILED"
            case .forbidden: "FORBIDDEN"
            case .invalidField: "INVALID_FIELD"
            case .unknown: "UNKNOWN"
            }
        }
    }

    public var clientSequence: UInt64
    public var status: Status
    /// `Outcome` raw value when `decided`; `WireProtocol.noOutcome` (0xFF) otherwise.
    public var outcome: UInt8
    /// For DUPLICATE the original request's outcome; otherwise equal to `outcome`.
    public var originalOutcome: UInt8
    public var priceFen: Int64
    /// The reservation's request id for hold-related answers; 0 otherwise.
    public var holdId: UInt64
    /// For HELD (and a DUPLICATE of one): when the hold expires (campaign time); 0 otherwise.
    public var holdExpiresAtMillis: Int64
    /// The decision's record number in the journal; 0 when not decided.
    public var journalSequence: UInt64

    public init(clientSequence: UInt64, status: Status, outcome: UInt8 = WireProtocol.noOutcome,
                originalOutcome: UInt8 = WireProtocol.noOutcome, priceFen: Int64 = 0, holdId: UInt64 = 0,
                holdExpiresAtMillis: Int64 = 0, journalSequence: UInt64 = 0) {
        self.clientSequence = clientSequence
        self.status = status
        self.outcome = outcome
        self.originalOutcome = originalOutcome
        self.priceFen = priceFen
        self.holdId = holdId
        self.holdExpiresAtMillis = holdExpiresAtMillis
        self.journalSequence = journalSequence
    }

    /// An answer that decided nothing (`status` other than `decided`).
    public static func notDecided(_ clientSequence: UInt64, _ status: Status) -> WireAnswer {
        WireAnswer(clientSequence: clientSequence, status: status)
    }

    /// The decision's outcome, when decided.
    public var decidedOutcome: Outcome? { status == .decided ? Outcome(rawValue: outcome) : nil }

    /// For a DUPLICATE, the original's outcome; otherwise the outcome (when decided).
    public var decidedOriginalOutcome: Outcome? { status == .decided ? Outcome(rawValue: originalOutcome) : nil }

    /// Writes the 48 bytes at `p` (unaligned; reserved bytes 0).
    @inline(__always)
    public func write(to p: UnsafeMutableRawPointer) {
        p.storeLE(clientSequence, at: 0)
        p.storeLE(status.rawValue, at: 8)
        p.storeLE(outcome, at: 9)
        p.storeLE(originalOutcome, at: 10)
        p.storeLE(UInt8(0), at: 11)
        p.storeLE(UInt32(0), at: 12)
        p.storeLE(priceFen, at: 16)
        p.storeLE(holdId, at: 24)
        p.storeLE(holdExpiresAtMillis, at: 32)
        p.storeLE(journalSequence, at: 40)
    }

    /// Reads the 48 bytes at `p` (unaligned; reserved bytes not read; an unknown status is `.unknown`).
    @inline(__always)
    public static func read(from p: UnsafeRawPointer) -> WireAnswer {
        WireAnswer(clientSequence: p.le(0), status: Status(rawValue: p.le(8)) ?? .unknown, outcome: p.le(9),
                   originalOutcome: p.le(10), priceFen: p.le(16), holdId: p.le(24), holdExpiresAtMillis: p.le(32),
                   journalSequence: p.le(40))
    }

    /// Whether the answer at `p` has its reserved bytes (11 … 15) at 0.
    @inline(__always)
    public static func reservedBytesAreZero(at p: UnsafeRawPointer) -> Bool {
        p.le(11, as: UInt8.self) == 0 && p.le(12, as: UInt32.self) == 0
    }
}
