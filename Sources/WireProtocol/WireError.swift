/// An ERROR frame (server → client; docs/wire-protocol.md, "ERROR"): what was wrong with a connection's
/// input. Every code of version 1 is fatal: the server closes the connection after sending it.
public struct WireError: Equatable, Sendable {
    public enum Code: UInt16, Sendable, CaseIterable {
        case malformedFrame = 1
        case unsupportedVersion = 2
        case fingerprintMismatch = 3
        case unauthenticated = 4
        case helloExpected = 5
        case frameTooLarge = 6
        case sequenceNotIncreasing = 7
        case unknownFrameType = 8
        /// No frame (not even a heartbeat) for the idle timeout (the document's `IDLE_TIMEOUT`).
        case idleTimeout = 9

        /// The document's name (`MALFORMED_FRAME`, …).
        public var name: String {
            switch self {
            case .malformedFrame: "MALFORMED_FRAME"
            case .unsupportedVersion: "UNSUPPORTED_VERSION"
            case .fingerprintMismatch: "FINGERPRINT_MISMATCH"
            case .unauthenticated: "UNAUTHENTICATED"
            case .helloExpected: "HELLO_EXPECTED"
            case .frameTooLarge: "FRAME_TOO_LARGE"
            case .sequenceNotIncreasing: "SEQUENCE_NOT_INCREASING"
            case .unknownFrameType: "UNKNOWN_FRAME_TYPE"
            case .idleTimeout: "IDLE_TIMEOUT"
            }
        }
    }

    public var code: Code
    /// The server closes the connection after a fatal error (every error of version 1).
    public var fatal: Bool
    /// The order the error is about (`sequenceNotIncreasing`), else 0.
    public var clientSequence: UInt64
    /// One line saying what was wrong.
    public var message: String

    public init(code: Code, fatal: Bool = true, clientSequence: UInt64 = 0, message: String) {
        self.code = code
        self.fatal = fatal
        self.clientSequence = clientSequence
        self.message = message
    }

    /// The ERROR frame of a fault (fatal).
    public init(_ fault: WireFault) {
        self.init(code: fault.code, fatal: true, clientSequence: fault.clientSequence, message: fault.message)
    }

    /// Appends the whole frame. A message longer than 65,535 bytes is cut there (at a character boundary).
    public func encode(into out: inout [UInt8]) {
        var text = Array(message.utf8)
        if text.count > Int(UInt16.max) {
            var n = Int(UInt16.max)
            while n > 0 && text[n] & 0xC0 == 0x80 { n -= 1 }  // not inside a UTF-8 sequence
            text.removeSubrange(n...)
        }
        out.reserveCapacity(out.count + WireProtocol.headerBytes + WireProtocol.errorFixedBytes + text.count)
        out.appendHeader(.error, payloadBytes: WireProtocol.errorFixedBytes + text.count)
        out.appendBytes(WireProtocol.errorFixedBytes) { p in
            p.storeLE(code.rawValue, at: 0)
            p.storeLE(UInt8(fatal ? 1 : 0), at: 2)
            p.storeLE(UInt8(0), at: 3)
            p.storeLE(clientSequence, at: 4)
            p.storeLE(UInt16(text.count), at: 12)
        }
        out.append(contentsOf: text)
    }

    /// Decodes an ERROR payload (the bytes after the type byte). Throws `malformedFrame` for a wrong
    /// size, an unknown code, a `fatal` other than 0 or 1, or a non-zero reserved byte. Bytes of the
    /// message that are not UTF-8 become U+FFFD.
    public static func decode(payload: UnsafeRawBufferPointer) throws(WireFault) -> WireError {
        let n = payload.count
        guard n >= WireProtocol.errorFixedBytes, let p = payload.baseAddress else {
            throw WireFault(.malformedFrame, "an ERROR payload is at least \(WireProtocol.errorFixedBytes) bytes, got \(n)")
        }
        let length = Int(p.le(12, as: UInt16.self))
        guard n == WireProtocol.errorFixedBytes + length else {
            throw WireFault(.malformedFrame, "ERROR payload is \(n) bytes; its message_length \(length) makes it \(WireProtocol.errorFixedBytes + length)")
        }
        let raw: UInt16 = p.le(0)
        guard let code = Code(rawValue: raw) else { throw WireFault(.malformedFrame, "ERROR code \(raw) is not a version-1 code") }
        let fatal: UInt8 = p.le(2)
        guard fatal <= 1 else { throw WireFault(.malformedFrame, "ERROR fatal flag \(fatal): expected 0 or 1") }
        guard p.le(3, as: UInt8.self) == 0 else { throw WireFault(.malformedFrame, "ERROR reserved byte is not 0") }
        let message = String(decoding: UnsafeRawBufferPointer(start: p + WireProtocol.errorFixedBytes, count: length), as: UTF8.self)
        return WireError(code: code, fatal: fatal == 1, clientSequence: p.le(4), message: message)
    }
}

/// What is wrong with bytes received: the ERROR a server sends for them (code, one-line message, and
/// the client sequence of the order concerned, or 0).
public struct WireFault: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: WireError.Code
    public var message: String
    public var clientSequence: UInt64

    public init(code: WireError.Code, message: String, clientSequence: UInt64 = 0) {
        self.code = code
        self.message = message
        self.clientSequence = clientSequence
    }

    public init(_ code: WireError.Code, _ message: String, clientSequence: UInt64 = 0) {
        self.init(code: code, message: message, clientSequence: clientSequence)
    }

    public var description: String { "\(code.name): \(message)" }
}
