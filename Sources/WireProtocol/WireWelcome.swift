/// A WELCOME frame (server → client; docs/wire-protocol.md, "WELCOME"): the answer to a good HELLO.
public struct WireWelcome: Equatable, Sendable {
    /// Where the campaign time of an order comes from.
    public enum Clock: UInt8, Sendable {
        /// From each order's `campaign_time_ms` (`serve --clock request`).
        case request = 0
        /// The server's clock: orders send `WireProtocol.noCampaignTime`.
        case wall = 1
    }

    public var version: UInt16
    public var flags: UInt16
    /// The served campaign's fingerprint.
    public var campaignFingerprint: UInt64
    /// The most orders an ORDERS frame may carry.
    public var maxOrdersPerFrame: UInt32
    /// Orders the connection may have unanswered; more are answered OVERLOADED.
    public var maxInFlight: UInt32
    public var clock: Clock

    public init(version: UInt16 = WireProtocol.version, flags: UInt16 = 0, campaignFingerprint: UInt64,
                maxOrdersPerFrame: UInt32 = UInt32(WireProtocol.maxOrdersWithinFrameLimit), maxInFlight: UInt32, clock: Clock) {
        self.version = version
        self.flags = flags
        self.campaignFingerprint = campaignFingerprint
        self.maxOrdersPerFrame = maxOrdersPerFrame
        self.maxInFlight = maxInFlight
        self.clock = clock
    }

    /// Appends the whole frame (33 bytes).
    public func encode(into out: inout [UInt8]) {
        out.reserveCapacity(out.count + WireProtocol.headerBytes + WireProtocol.welcomeBytes)
        out.appendHeader(.welcome, payloadBytes: WireProtocol.welcomeBytes)
        out.appendBytes(WireProtocol.welcomeBytes) { p in
            p.storeLE(version, at: 0)
            p.storeLE(flags, at: 2)
            p.storeLE(campaignFingerprint, at: 4)
            p.storeLE(maxOrdersPerFrame, at: 12)
            p.storeLE(maxInFlight, at: 16)
            p.storeLE(clock.rawValue, at: 20)
        }
    }

    /// Decodes a WELCOME payload: exactly 28 bytes, version 1 (`unsupportedVersion` otherwise), flags,
    /// a known clock and reserved bytes 0 (`malformedFrame` otherwise).
    public static func decode(payload: UnsafeRawBufferPointer) throws(WireFault) -> WireWelcome {
        guard payload.count == WireProtocol.welcomeBytes, let p = payload.baseAddress else {
            throw WireFault(.malformedFrame, "a WELCOME payload is \(WireProtocol.welcomeBytes) bytes, got \(payload.count)")
        }
        let version: UInt16 = p.le(0)
        guard version == WireProtocol.version else {
            throw WireFault(.unsupportedVersion, "the server speaks protocol version \(version); this client speaks version \(WireProtocol.version)")
        }
        let flags: UInt16 = p.le(2)
        guard flags == 0 else { throw WireFault(.malformedFrame, "WELCOME flags are \(flags); version 1 has none (0)") }
        let rawClock: UInt8 = p.le(20)
        guard let clock = Clock(rawValue: rawClock) else { throw WireFault(.malformedFrame, "WELCOME clock \(rawClock): expected 0 or 1") }
        guard allZero(p, 21, 7) else { throw WireFault(.malformedFrame, "WELCOME reserved bytes are not 0") }
        return WireWelcome(version: version, flags: flags, campaignFingerprint: p.le(4), maxOrdersPerFrame: p.le(12),
                           maxInFlight: p.le(16), clock: clock)
    }
}
