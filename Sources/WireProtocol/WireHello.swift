/// A HELLO frame (client → server; docs/wire-protocol.md, "HELLO"): the first frame of a connection.
public struct WireHello: Equatable, Sendable {
    public var version: UInt16
    public var flags: UInt16
    /// 0: not checked; otherwise it must be the served campaign's `Campaign.fingerprint`.
    public var campaignFingerprint: UInt64
    /// The bearer token's bytes (UTF-8), at most `WireProtocol.maxTokenBytes`; empty without tokens.
    public var token: [UInt8]

    public init(version: UInt16 = WireProtocol.version, flags: UInt16 = 0, campaignFingerprint: UInt64 = 0, token: [UInt8] = []) {
        self.version = version
        self.flags = flags
        self.campaignFingerprint = campaignFingerprint
        self.token = token
    }

    public init(version: UInt16 = WireProtocol.version, campaignFingerprint: UInt64 = 0, token: String) {
        self.init(version: version, flags: 0, campaignFingerprint: campaignFingerprint, token: Array(token.utf8))
    }

    /// Appends the whole frame. A token above `maxTokenBytes` is written as it is (the server refuses
    /// it: tests send such frames on purpose); one above 65,535 bytes is cut there.
    public func encode(into out: inout [UInt8]) {
        let t = token.count > Int(UInt16.max) ? Array(token[..<Int(UInt16.max)]) : token
        out.reserveCapacity(out.count + WireProtocol.headerBytes + WireProtocol.helloFixedBytes + t.count)
        out.appendHeader(.hello, payloadBytes: WireProtocol.helloFixedBytes + t.count)
        out.appendBytes(WireProtocol.helloFixedBytes) { p in
            p.storeLE(version, at: 0)
            p.storeLE(flags, at: 2)
            p.storeLE(campaignFingerprint, at: 4)
            p.storeLE(UInt16(t.count), at: 12)
        }
        out.append(contentsOf: t)
    }

    /// Decodes a HELLO payload, checking in the document's order: the version as soon as its 2 bytes
    /// are there (`unsupportedVersion`, naming the versions spoken), then the size, the flags, the
    /// token's length (`malformedFrame`). The fingerprint and token are the server's to judge.
    public static func decode(payload: UnsafeRawBufferPointer) throws(WireFault) -> WireHello {
        let n = payload.count
        guard n >= 2, let p = payload.baseAddress else {
            throw WireFault(.malformedFrame, "a HELLO payload is at least \(WireProtocol.helloFixedBytes) bytes, got \(n)")
        }
        let version: UInt16 = p.le(0)
        guard version == WireProtocol.version else {
            throw WireFault(.unsupportedVersion, "protocol version \(version) is not supported; this server speaks version \(WireProtocol.version)")
        }
        guard n >= WireProtocol.helloFixedBytes else {
            throw WireFault(.malformedFrame, "a HELLO payload is at least \(WireProtocol.helloFixedBytes) bytes, got \(n)")
        }
        let flags: UInt16 = p.le(2)
        guard flags == 0 else { throw WireFault(.malformedFrame, "HELLO flags are \(flags); version 1 has none (0)") }
        let length = Int(p.le(12, as: UInt16.self))
        guard length <= WireProtocol.maxTokenBytes else {
            throw WireFault(.malformedFrame, "HELLO token_length \(length) is above \(WireProtocol.maxTokenBytes)")
        }
        guard n == WireProtocol.helloFixedBytes + length else {
            throw WireFault(.malformedFrame, "HELLO payload is \(n) bytes; its token_length \(length) makes it \(WireProtocol.helloFixedBytes + length)")
        }
        let token = Array(UnsafeRawBufferPointer(start: p + WireProtocol.helloFixedBytes, count: length))
        return WireHello(version: version, flags: flags, campaignFingerprint: p.le(4), token: token)
    }
}
