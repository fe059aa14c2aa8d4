/// The binary order protocol `fsbin`, version 1 (docs/wire-protocol.md): constants shared by the
/// server, clients and tests.
///
/// Every integer on the wire is little-endian; a frame is `u32 length` (the type byte and the payload
/// that follow, 1 … `maxFrameBytes`) + `u8 type` + payload. The types of this module encode and decode
/// exactly the layouts of that document, allocate nothing per order or answer, and never trap on bytes
/// from the network: a decoder either returns a value or throws a `WireFault` naming the problem.
public enum WireProtocol {
    /// The only version this module speaks.
    public static let version: UInt16 = 1
    /// The largest `length` of a frame (type byte + payload): 1 MiB.
    public static let maxFrameBytes = 1_048_576
    /// Bytes of one order in an ORDERS frame.
    public static let orderBytes = 48
    /// Bytes of one answer in an ANSWERS frame.
    public static let answerBytes = 48
    /// The largest `count` the ORDERS count field allows.
    public static let maxOrdersPerFrame = 65_536
    /// The most orders (or answers) a frame can carry within `maxFrameBytes`:
    /// 1 + 4 + 48 × 21,845 = 1,048,565. What WELCOME announces as `max_orders_per_frame`.
    public static let maxOrdersWithinFrameLimit = (maxFrameBytes - 5) / orderBytes
    /// `campaign_time_ms` of an order sent to a server with a wall clock.
    public static let noCampaignTime = Int64.min
    /// The longest HELLO token.
    public static let maxTokenBytes = 4096
    /// Bytes before the payload: `u32 length` + `u8 type`.
    public static let headerBytes = 5
    /// Bytes of a HELLO payload before the token.
    public static let helloFixedBytes = 14
    /// Bytes of a WELCOME payload.
    public static let welcomeBytes = 28
    /// Bytes of an ERROR payload before the message.
    public static let errorFixedBytes = 14
    /// `outcome` (and `original_outcome`) of an answer that is not DECIDED.
    public static let noOutcome: UInt8 = 0xFF
    /// The largest campaign time an order may carry (as HTTP's `campaign_time_ms`): 100,000 days.
    public static let maxCampaignTimeMillis: Int64 = 8_640_000_000_000
}

/// A frame's type byte. Client frames are below 0x80, server frames above.
public enum FrameType: UInt8, Sendable, CaseIterable {
    case hello = 0x01, orders = 0x02, heartbeat = 0x03, goodbye = 0x04
    case welcome = 0x81, answers = 0x82, error = 0x83, heartbeatReply = 0x84, goodbyeReply = 0x85

    /// Whether a client may send this type.
    public var isClientFrame: Bool { rawValue < 0x80 }

    /// The document's name (`HELLO`, `ANSWERS`, …).
    public var name: String {
        switch self {
        case .hello: "HELLO"
        case .orders: "ORDERS"
        case .heartbeat: "HEARTBEAT"
        case .goodbye: "GOODBYE"
        case .welcome: "WELCOME"
        case .answers: "ANSWERS"
        case .error: "ERROR"
        case .heartbeatReply: "HEARTBEAT_REPLY"
        case .goodbyeReply: "GOODBYE_REPLY"
        }
    }
}

// MARK: little-endian access (unaligned)

extension UnsafeRawPointer {
    @inline(__always)
    func le<T: FixedWidthInteger>(_ offset: Int, as: T.Type = T.self) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawPointer {
    @inline(__always)
    func storeLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}

extension Array where Element == UInt8 {
    /// Appends `count` bytes and lets `body` write them (one growth, no per-field append).
    @inline(__always)
    mutating func appendBytes(_ count: Int, _ body: (UnsafeMutableRawPointer) -> Void) {
        let start = self.count
        append(contentsOf: repeatElement(0, count: count))
        withUnsafeMutableBytes { body($0.baseAddress! + start) }
    }

    /// Appends a frame header: `length` = 1 + `payloadBytes`, then the type.
    @inline(__always)
    mutating func appendHeader(_ type: FrameType, payloadBytes: Int) {
        appendBytes(WireProtocol.headerBytes) { p in
            p.storeLE(UInt32(truncatingIfNeeded: 1 + payloadBytes), at: 0)
            p.storeLE(type.rawValue, at: 4)
        }
    }
}

/// Whether `count` bytes at `p + offset` are all 0.
@inline(__always)
func allZero(_ p: UnsafeRawPointer, _ offset: Int, _ count: Int) -> Bool {
    var x: UInt8 = 0
    for i in 0..<count { x |= p.load(fromByteOffset: offset + i, as: UInt8.self) }
    return x == 0
}

/// "0x7f"-style hex of a byte.
func hexByte(_ b: UInt8) -> String { "0x" + (b < 16 ? "0" : "") + String(b, radix: 16) }

/// "0x0123456789abcdef"-style hex of a 64-bit value (all 16 digits).
func hex64(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: 16 - s.count) + s
}
