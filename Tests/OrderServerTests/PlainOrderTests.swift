import FlashSaleCore
import Foundation
import NIOCore
import NIOHTTP1
@testable import OrderServer
import XCTest

/// The one-pass parser of usual order bodies (`plainOrder`) against the full one (`parseOrder`, FlatJSON):
/// whatever the plain parser accepts, the full one accepts as the same request. Bodies are generated
/// (every key, value kind, order, spacing) and mutated byte by byte; seeded, so a failure repeats.
final class PlainOrderTests: XCTestCase {
    func testThePlainParserTakesOnlyWhatTheFullParserTakesAsTheSameRequest() throws {
        let dir = temporaryDirectory("plain")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try ServedCampaign(directory: dir)
        defer { try? s.stop() }
        let handler = OrderHTTPHandler(server: s.server, loop: s.server.loopState(s.server.group.next()))
        var rng = SplitMix64(seed: 12)
        func pick<T>(_ xs: [T]) -> T { xs[Int(rng.next() % UInt64(xs.count))] }
        let keys = ["request_id", "organisation", "offer", "quantity", "campaign_time_ms", "price", "request\\u005fid", "Offer"]
        let values = ["1", "7", "0", "007", "-3", "1.5", "1e3", "2e", "+4", "18446744073709551615", "18446744073709551616",
                      "4294967295", "4294967296", "2147483647", "2147483648", "8640000000000", "8640000000001", "36001000",
                      "\"12\"", "\"+12\"", "\"\"", "\"1a\"", "\"bundle\"", "\"x1\"", "\"bun\\u0064le\"", "\"nope\"", "\"x1 \"",
                      "null", "true", "false", "{}", "[1]", "\"\\n\""]
        let spaces = ["", " ", "\n", "\t", "\r\n "]
        let mutations: [UInt8] = Array("\"\\{}[]:,0123456789-+.eE nul\u{1}x".utf8)
        var accepted = 0, agreed = 0
        for round in 0..<100_000 {
            var fields: [String] = []
            let typical = round % 3 == 0
            if typical {
                fields = ["\"request_id\":\(rng.next() % 100_000 + 1)", "\"organisation\":\(rng.next() % 1200)",
                          "\"offer\":\"\(pick(["bundle", "x1"]))\"", "\"campaign_time_ms\":\(rng.next() % 50_000_000)"]
                if rng.next() % 2 == 0 { fields.append("\"quantity\":\(rng.next() % 4)") }
                fields.shuffle(using: &rng)
            } else {
                for _ in 0..<Int(rng.next() % 7) { fields.append("\"\(pick(keys))\"\(pick(spaces)):\(pick(spaces))\(pick(values))") }
            }
            var bytes = Array((pick(spaces) + "{" + fields.map { pick(spaces) + $0 + pick(spaces) }.joined(separator: ",") + "}" + pick(spaces)).utf8)
            for _ in 0..<Int(rng.next() % (typical ? 3 : 2)) where !bytes.isEmpty {
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 3 {
                case 0: bytes[at] = pick(mutations)
                case 1: bytes.insert(pick(mutations), at: at)
                default: bytes.remove(at: at)
                }
            }
            var headers = HTTPHeaders([("Host", "t")])
            if rng.next() % 20 == 0 { headers.add(name: "Idempotency-Key", value: pick(["1", "abc", "7"])) }
            let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/v1/orders", headers: headers)
            var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            let body: ByteBuffer? = bytes.isEmpty ? nil : buffer
            let full = try? handler.parseOrder(head, body, kind: .buy, reference: 0)
            guard var plain = handler.plainOrder(head, body, kind: .buy, reference: 0) else { continue }
            accepted += 1
            let text = String(decoding: bytes, as: UTF8.self)
            guard var full else { XCTFail("the plain parser took what the full one refuses: \(text.debugDescription)"); continue }
            plain.intendedSendNanos = 0
            full.intendedSendNanos = 0
            XCTAssertEqual(plain, full, text.debugDescription)
            if plain == full { agreed += 1 }
        }
        XCTAssertGreaterThan(accepted, 8_000, "the usual bodies take the plain path")
        XCTAssertEqual(agreed, accepted)
    }
}
