import WireProtocol
import XCTest

final class FrameSplitterTests: XCTestCase {
    /// A stream of every frame type, mixed sizes.
    static func stream() -> [UInt8] {
        var b: [UInt8] = []
        WireHello(campaignFingerprint: 0xFEED, token: "0123456789abcdef").encode(into: &b)
        FrameEncoder.appendOrders([WireOrder(clientSequence: 1, offer: 0, organisation: 1, requestId: 1)], into: &b)
        FrameEncoder.appendEmpty(.heartbeat, into: &b)
        FrameEncoder.appendOrders((2...9).map { WireOrder(clientSequence: UInt64($0), offer: 1, organisation: 3, requestId: UInt64($0)) }, into: &b)
        WireWelcome(campaignFingerprint: 1, maxInFlight: 2, clock: .request).encode(into: &b)
        FrameEncoder.appendAnswers([.notDecided(4, .draining)], into: &b)
        WireError(code: .idleTimeout, message: "idle").encode(into: &b)
        FrameEncoder.appendEmpty(.goodbye, into: &b)
        return b
    }

    /// Feeds `stream` in the pieces `cuts` makes, keeping a buffer as a server would (consumed bytes
    /// removed after each piece); the frames seen.
    static func split(_ stream: [UInt8], cuts: [Int]) throws -> [[UInt8]] {
        var splitter = FrameSplitter()
        var buffer: [UInt8] = []
        var out: [[UInt8]] = []
        var from = 0
        for to in cuts + [stream.count] {
            buffer += stream[from..<to]
            from = to
            try buffer.withUnsafeBytes { raw in
                while let f = try splitter.next(in: raw) {
                    XCTAssertEqual(f.frameEnd, splitter.position)
                    out.append([f.type] + Array(raw[f.payload]))
                }
                XCTAssertGreaterThan(splitter.bytesMissing(in: raw), 0)
            }
            buffer.removeFirst(splitter.position)
            splitter.rebase(removed: splitter.position)
        }
        XCTAssertEqual(buffer, [])
        return out
    }

    func testAStreamCutAtEveryByteOffsetSplitsIntoTheSameFrames() throws {
        let s = Self.stream()
        let whole = try Self.split(s, cuts: [])
        XCTAssertEqual(whole.count, 8)
        XCTAssertEqual(whole.map { $0[0] }, [0x01, 0x02, 0x03, 0x02, 0x81, 0x82, 0x83, 0x04])
        for cut in 0...s.count {
            XCTAssertEqual(try Self.split(s, cuts: [cut]), whole, "cut at \(cut)")
        }
        // Two cuts, and byte by byte.
        for a in stride(from: 0, to: s.count, by: 7) {
            for b in stride(from: a, to: s.count, by: 11) { XCTAssertEqual(try Self.split(s, cuts: [a, b]), whole, "cuts \(a), \(b)") }
        }
        XCTAssertEqual(try Self.split(s, cuts: Array(1..<s.count)), whole, "byte by byte")
    }

    func testABadLengthIsRefusedAsSoonAsItsFourBytesAreIn() throws {
        for (length, expect) in [(UInt32(0), "frame length 0: the length counts the type byte, so it is at least 1"),
                                 (1_048_577, "frame length 1048577 is above the limit of 1048576 bytes"),
                                 (.max, "frame length 4294967295 is above the limit of 1048576 bytes")] {
            var splitter = FrameSplitter()
            let bytes = withUnsafeBytes(of: length.littleEndian) { Array($0) }
            XCTAssertNil(try Array(bytes[0..<3]).withUnsafeBytes { try splitter.next(in: $0) }, "3 bytes: not yet")
            XCTAssertThrowsError(try bytes.withUnsafeBytes { try splitter.next(in: $0) }) { e in
                XCTAssertEqual((e as? WireFault)?.code, .frameTooLarge)
                XCTAssertEqual((e as? WireFault)?.message, expect)
            }
            XCTAssertThrowsError(try bytes.withUnsafeBytes { try splitter.next(in: $0) }, "a fault sticks")
        }
        // The largest length is accepted (and waits for its body).
        var splitter = FrameSplitter()
        let max = withUnsafeBytes(of: UInt32(1_048_576).littleEndian) { Array($0) } + [0x02]
        XCTAssertNil(try max.withUnsafeBytes { try splitter.next(in: $0) })
        XCTAssertEqual(max.withUnsafeBytes { splitter.bytesMissing(in: $0) }, 1_048_575)
    }

    func testRandomBytesNeverTrapTheSplitterOrTheDecoders() {
        var rng = SplitMix64Local(seed: 13)
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 64)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if n >= 4 && rng.next() % 2 == 0 { bytes[0] = UInt8(n - 4); bytes[1] = 0; bytes[2] = 0; bytes[3] = 0 }
            var splitter = FrameSplitter()
            bytes.withUnsafeBytes { raw in
                while let f = try? splitter.next(in: raw) {
                    let payload = UnsafeRawBufferPointer(rebasing: raw[f.payload])
                    _ = try? WireHello.decode(payload: payload)
                    _ = try? FrameDecoder.orders(payload: payload)
                    _ = try? FrameDecoder.serverFrame(type: f.type, payload: payload)
                }
            }
        }
    }
}

/// The tests' own PRNG (SplitMix64), so this target needs nothing but the codec.
struct SplitMix64Local {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
