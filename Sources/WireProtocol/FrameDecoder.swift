/// Checks and decodes the payloads of ORDERS and ANSWERS frames, and any server frame (for clients).
/// Never traps on bytes: it returns values or throws a `WireFault`.
public enum FrameDecoder {
    /// The `count` of an ORDERS payload, checked: 1 … 65,536 and a payload of exactly 4 + 48 × count bytes
    /// (`malformedFrame` otherwise). Orders i = 0 ..< count are at `payload.baseAddress + 4 + 48 × i`.
    public static func orderCount(payload: UnsafeRawBufferPointer) throws(WireFault) -> Int {
        try recordCount(payload, what: "ORDERS", size: WireProtocol.orderBytes, limit: WireProtocol.maxOrdersPerFrame)
    }

    /// The `count` of an ANSWERS payload, checked the same way (1 … 21,845).
    public static func answerCount(payload: UnsafeRawBufferPointer) throws(WireFault) -> Int {
        try recordCount(payload, what: "ANSWERS", size: WireProtocol.answerBytes, limit: WireProtocol.maxOrdersWithinFrameLimit)
    }

    /// The orders of an ORDERS payload (`orderCount`'s checks; the values are not judged).
    public static func orders(payload: UnsafeRawBufferPointer) throws(WireFault) -> [WireOrder] {
        let n = try orderCount(payload: payload)
        let p = payload.baseAddress! + 4
        return (0..<n).map { WireOrder.read(from: p + $0 * WireProtocol.orderBytes) }
    }

    /// The answers of an ANSWERS payload: `answerCount`'s checks, and every status known and reserved byte 0.
    public static func answers(payload: UnsafeRawBufferPointer) throws(WireFault) -> [WireAnswer] {
        let n = try answerCount(payload: payload)
        let p = payload.baseAddress! + 4
        var out: [WireAnswer] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            let at = p + i * WireProtocol.answerBytes
            let a = WireAnswer.read(from: at)
            guard a.status != .unknown else {
                throw WireFault(.malformedFrame, "answer \(i) has status \(at.le(8, as: UInt8.self)), not a version-1 status", clientSequence: a.clientSequence)
            }
            guard WireAnswer.reservedBytesAreZero(at: at) else {
                throw WireFault(.malformedFrame, "answer \(i) has non-zero reserved bytes", clientSequence: a.clientSequence)
            }
            out.append(a)
        }
        return out
    }

    /// Checks that a HEARTBEAT, GOODBYE or reply payload is empty.
    public static func expectEmpty(_ type: FrameType, payload: UnsafeRawBufferPointer) throws(WireFault) {
        guard payload.count == 0 else {
            throw WireFault(.malformedFrame, "a \(type.name) frame has no payload, got \(payload.count) bytes")
        }
    }

    /// A frame from a server, decoded.
    public enum ServerFrame: Equatable, Sendable {
        case welcome(WireWelcome)
        case answers([WireAnswer])
        case error(WireError)
        case heartbeatReply
        case goodbyeReply
    }

    /// Decodes a server frame (a client's view): `unknownFrameType` for a type that is not a server frame's.
    public static func serverFrame(type: UInt8, payload: UnsafeRawBufferPointer) throws(WireFault) -> ServerFrame {
        switch FrameType(rawValue: type) {
        case .welcome: return .welcome(try WireWelcome.decode(payload: payload))
        case .answers: return .answers(try answers(payload: payload))
        case .error: return .error(try WireError.decode(payload: payload))
        case .heartbeatReply: try expectEmpty(.heartbeatReply, payload: payload); return .heartbeatReply
        case .goodbyeReply: try expectEmpty(.goodbyeReply, payload: payload); return .goodbyeReply
        default: throw WireFault(.unknownFrameType, "frame type \(hexByte(type)) is not a server frame")
        }
    }

    private static func recordCount(_ payload: UnsafeRawBufferPointer, what: String, size: Int, limit: Int) throws(WireFault) -> Int {
        guard payload.count >= 4, let p = payload.baseAddress else {
            throw WireFault(.malformedFrame, "an \(what) payload starts with a 4-byte count; got \(payload.count) bytes")
        }
        let count = Int(p.le(0, as: UInt32.self))
        guard count >= 1, count <= limit else {
            throw WireFault(.malformedFrame, "\(what) count \(count): expected 1 … \(limit)")
        }
        guard payload.count == 4 + size * count else {
            throw WireFault(.malformedFrame, "\(what) payload is \(payload.count) bytes; its count \(count) makes it \(4 + size * count)")
        }
        return count
    }
}

extension WireFault {
    /// "frame type 0x7f is not a client frame".
    public static func notAClientFrame(_ type: UInt8) -> WireFault {
        WireFault(.unknownFrameType, "frame type \(hexByte(type)) is not a client frame")
    }

    /// HELLO_EXPECTED for a first frame of another type.
    public static func helloExpected(got type: UInt8) -> WireFault {
        WireFault(.helloExpected, "the first frame must be HELLO (type 0x01), got frame type \(hexByte(type))")
    }

    /// FINGERPRINT_MISMATCH showing both fingerprints in hex.
    public static func fingerprintMismatch(hello: UInt64, campaign: UInt64) -> WireFault {
        WireFault(.fingerprintMismatch, "HELLO's campaign fingerprint \(hex64(hello)) is not this server's campaign \(hex64(campaign))")
    }
}
