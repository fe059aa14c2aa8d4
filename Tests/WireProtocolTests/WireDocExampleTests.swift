import FlashSaleCore
import Foundation
import WireProtocol
import XCTest

/// The worked example of docs/wire-protocol.md, read from the document itself: each hex block decodes to
/// what its text says, and encoding those values gives the block's bytes (so doc and code cannot drift).
final class WireDocExampleTests: XCTestCase {
    static let document: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return (try? String(contentsOf: url.appendingPathComponent("docs/wire-protocol.md"), encoding: .utf8)) ?? ""
    }()

    /// The bytes of the block after `<!-- wire-example: NAME -->`: on each line, the hex before the comment
    /// (which is two or more spaces after it).
    static func example(_ name: String) throws -> [UInt8] {
        let marker = "<!-- wire-example: \(name) -->"
        guard let m = document.range(of: marker) else { throw NSError(domain: "doc", code: 1, userInfo: [NSLocalizedDescriptionKey: "no \(marker)"]) }
        let rest = document[m.upperBound...]
        guard let open = rest.range(of: "```\n"), let close = rest[open.upperBound...].range(of: "```") else {
            throw NSError(domain: "doc", code: 2, userInfo: [NSLocalizedDescriptionKey: "no block after \(marker)"])
        }
        var bytes: [UInt8] = []
        for line in rest[open.upperBound..<close.lowerBound].split(separator: "\n") {
            let hex = line.range(of: "  ").map { line[..<$0.lowerBound] } ?? line
            for token in hex.split(separator: " ") {
                guard token.count == 2, let b = UInt8(token, radix: 16) else {
                    throw NSError(domain: "doc", code: 3, userInfo: [NSLocalizedDescriptionKey: "\(name): '\(token)' is not a hex byte"])
                }
                bytes.append(b)
            }
        }
        return bytes
    }

    func testTheDocumentsHelloDecodesToWhatItSays() throws {
        let bytes = try Self.example("hello")
        let f = try frames(bytes)
        XCTAssertEqual(f.count, 1)
        XCTAssertEqual(f[0].type, FrameType.hello.rawValue)
        let hello = try f[0].payload.withUnsafeBytes { try WireHello.decode(payload: $0) }
        let expected = WireHello(version: 1, campaignFingerprint: 0x0123_4567_89AB_CDEF, token: "0123456789abcdef")
        XCTAssertEqual(hello, expected)
        var encoded: [UInt8] = []
        expected.encode(into: &encoded)
        XCTAssertEqual(encoded, bytes)
    }

    func testTheDocumentsWelcomeDecodesToWhatItSays() throws {
        let bytes = try Self.example("welcome")
        let expected = WireWelcome(campaignFingerprint: 0x0123_4567_89AB_CDEF, maxOrdersPerFrame: 21_845, maxInFlight: 65_536, clock: .request)
        XCTAssertEqual(try serverFrame(bytes), .welcome(expected))
        var encoded: [UInt8] = []
        expected.encode(into: &encoded)
        XCTAssertEqual(encoded, bytes)
        XCTAssertEqual(UInt32(WireProtocol.maxOrdersWithinFrameLimit), expected.maxOrdersPerFrame)
    }

    func testTheDocumentsOrderDecodesToWhatItSays() throws {
        let bytes = try Self.example("orders")
        let f = try frames(bytes)
        XCTAssertEqual(f.map(\.type), [FrameType.orders.rawValue])
        let orders = try f[0].payload.withUnsafeBytes { try FrameDecoder.orders(payload: $0) }
        let expected = WireOrder(clientSequence: 1, kind: .buy, offer: 0, organisation: 42, quantity: 1, requestId: 1001,
                                 reference: 0, campaignTimeMillis: 36_001_000)
        XCTAssertEqual(orders, [expected])
        XCTAssertEqual(SaleWindow.describe(expected.campaignTimeMillis), "day 0 10:00:01")
        var encoded: [UInt8] = []
        FrameEncoder.appendOrders([expected], into: &encoded)
        XCTAssertEqual(encoded, bytes)
    }

    func testTheDocumentsAnswerDecodesToWhatItSays() throws {
        let bytes = try Self.example("answers")
        let expected = WireAnswer(clientSequence: 1, status: .decided, outcome: Outcome.accepted.rawValue,
                                  originalOutcome: Outcome.accepted.rawValue, priceFen: 9000, journalSequence: 1)
        XCTAssertEqual(try serverFrame(bytes), .answers([expected]))
        var encoded: [UInt8] = []
        FrameEncoder.appendAnswers([expected], into: &encoded)
        XCTAssertEqual(encoded, bytes)
    }

    func testTheDocumentsErrorDecodesToWhatItSays() throws {
        let bytes = try Self.example("error")
        let expected = WireError(WireFault.notAClientFrame(0x7f))
        XCTAssertEqual(try serverFrame(bytes), .error(WireError(code: .unknownFrameType, fatal: true, clientSequence: 0,
                                                                 message: "frame type 0x7f is not a client frame")))
        var encoded: [UInt8] = []
        expected.encode(into: &encoded)
        XCTAssertEqual(encoded, bytes)
    }

    func testTheDocumentsEmptyFramesAndNumbersAreTheCodes() {
        for (type, text) in [(FrameType.heartbeat, "A HEARTBEAT is `01 00 00 00 03`"), (.heartbeatReply, "its reply `01 00 00 00 84`"),
                             (.goodbye, "A GOODBYE is `01 00 00 00 04`"), (.goodbyeReply, "its reply\n`01 00 00 00 85`")] {
            var b: [UInt8] = []
            FrameEncoder.appendEmpty(type, into: &b)
            let hex = b.map { String(format: "%02x", $0) }.joined(separator: " ")
            XCTAssertTrue(Self.document.contains(text), text)
            XCTAssertTrue(text.hasSuffix(hex + "`"), "\(type): \(hex)")
        }
        // The tables' numbers are the enums' raw values.
        for code in WireError.Code.allCases {
            XCTAssertTrue(Self.document.contains("| \(code.rawValue) | `\(code.name)` | yes |"), code.name)
        }
        for status in WireAnswer.Status.allCases where status != .unknown {
            XCTAssertTrue(Self.document.contains("| \(status.rawValue) | `\(status.name)` |"), status.name)
        }
        for type in FrameType.allCases {
            XCTAssertTrue(Self.document.contains(String(format: "| `0x%02x` | %@ |", type.rawValue, type == .heartbeatReply ? "HEARTBEAT (reply)"
                                                    : type == .goodbyeReply ? "GOODBYE (reply)" : type.name)), type.name)
        }
        for o in Outcome.allCases { XCTAssertTrue(Self.document.contains("\(o.rawValue) \(o.name)"), o.name) }
    }
}
