import XCTest
import FlashSaleCore  // SplitMix64
@testable import OrderLog

/// The record layout is a file format (v1): segments written by earlier builds must stay readable,
/// so a faster encoder must produce the very same bytes. `ReferenceEncoder` is the plain
/// byte-by-byte encoder the format was first written with (one branch per field and per varint
/// byte), kept here as the specification the production encoder is held to.
final class CodecEquivalenceTests: XCTestCase {
    enum ReferenceEncoder {
        static func putVarint(_ value: UInt64, _ out: inout [UInt8]) {
            var v = value
            while v >= 0x80 {
                out.append(UInt8(truncatingIfNeeded: v) | 0x80)
                v >>= 7
            }
            out.append(UInt8(truncatingIfNeeded: v))
        }

        static func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

        /// docs/segment-format.md, "Record layout".
        static func encode(_ r: OrderRecord, _ s: inout RecordCodec.State, _ out: inout [UInt8]) {
            var f: UInt8 = 0
            if r.campaignTimeMillis != s.time { f |= 1 << 0 }
            if r.organisation != 0 { f |= 1 << 1 }
            if r.offer != 0 { f |= 1 << 2 }
            if r.quantity != 0 { f |= 1 << 3 }
            if r.priceFen != 0 { f |= 1 << 4 }
            if r.reference != 0 { f |= 1 << 5 }
            if r.holdExpiryMillis != 0 { f |= 1 << 6 }
            let wide = r.kind > 3 || r.outcome > 15 || r.lane > 3
            var x: UInt8 = r.pieceCount
            if r.originalOutcome != r.outcome { x |= 1 << 3 }
            if wide { x |= 1 << 4 }
            if x != 0 { f |= 1 << 7 }
            out.append(f)
            if x != 0 { out.append(x) }
            putVarint(zigzag(Int64(bitPattern: r.requestId &- s.requestId)), &out)
            s.requestId = r.requestId
            if wide {
                out += [r.kind, r.outcome, r.lane]
            } else {
                out.append(r.kind | (r.outcome << 2) | (r.lane << 6))
            }
            if r.originalOutcome != r.outcome { out.append(r.originalOutcome) }
            if f & 1 != 0 {
                putVarint(zigzag(r.campaignTimeMillis &- s.time), &out)
                s.time = r.campaignTimeMillis
            }
            if r.organisation != 0 { putVarint(UInt64(r.organisation), &out) }
            if r.offer != 0 { putVarint(UInt64(r.offer), &out) }
            if r.quantity != 0 { putVarint(zigzag(Int64(r.quantity)), &out) }
            if r.priceFen != 0 { putVarint(zigzag(r.priceFen), &out) }
            if r.reference != 0 { putVarint(r.reference, &out) }
            if r.holdExpiryMillis != 0 { putVarint(zigzag(r.holdExpiryMillis &- r.campaignTimeMillis), &out) }
            for k in 0..<Int(r.pieceCount) {
                putVarint(UInt64(r.piece(k).item), &out)
                putVarint(UInt64(r.piece(k).quantity), &out)
            }
        }

        static func encode(_ records: [OrderRecord]) -> [UInt8] {
            var out: [UInt8] = []
            var s = RecordCodec.State()
            for r in records { encode(r, &s, &out) }
            return out
        }
    }

    /// Extremes (every varint length from 1 to 10 bytes, negative deltas, wide codes, 0–4 pieces)
    /// and order-like records encode to exactly the reference bytes.
    func testEncoderWritesTheReferenceBytes() {
        var g = SplitMix64(seed: 2024)
        for round in 0..<300 {
            let records = (0..<400).map { _ in randomRecord(&g) }
            XCTAssertEqual(RecordCodec.encode(records), ReferenceEncoder.encode(records), "round \(round)")
        }
        let orderLike = orderLikeRecords(50_000, seed: 5)
        XCTAssertEqual(RecordCodec.encode(orderLike), ReferenceEncoder.encode(orderLike))
        // Every varint length: values 2^k - 1 and 2^k for k in 0...63, in every field that takes them.
        var records: [OrderRecord] = []
        for k in 0..<64 {
            for v in [(UInt64(1) << k) &- 1, UInt64(1) << k] {
                var r = OrderRecord(campaignTimeMillis: Int64(bitPattern: v), requestId: v, organisation: UInt32(truncatingIfNeeded: v),
                                    offer: UInt16(truncatingIfNeeded: v), kind: 1, outcome: 2, lane: 3,
                                    quantity: Int32(truncatingIfNeeded: v), priceFen: Int64(bitPattern: v),
                                    reference: v, holdExpiryMillis: Int64(bitPattern: ~v))
                r.appendPiece(RecordPiece(item: UInt16(truncatingIfNeeded: v), quantity: UInt32(truncatingIfNeeded: v)))
                records.append(r)
            }
        }
        XCTAssertEqual(RecordCodec.encode(records), ReferenceEncoder.encode(records))
    }

    /// The encoder stores short varints as whole 2- or 4-byte words, one byte past a 3-byte varint:
    /// nothing may land more than that one byte past the record, nor past `maxRecordBytes` from its
    /// start (the writer's block buffer has exactly that slack).
    func testEncoderStaysWithinMaxRecordBytes() {
        var g = SplitMix64(seed: 77)
        let canary: UInt8 = 0xA5
        var buffer = [UInt8](repeating: canary, count: RecordCodec.maxRecordBytes + 64)
        for _ in 0..<20_000 {
            var r = randomRecord(&g)
            if g.next() % 2 == 0 {  // the largest records: every field at its widest
                r = OrderRecord(campaignTimeMillis: .min, requestId: .max, organisation: .max, offer: .max, kind: .max,
                                outcome: .max, originalOutcome: 0, lane: .max, quantity: .min, priceFen: .min,
                                reference: .max, holdExpiryMillis: .max)
                for _ in 0..<4 { r.appendPiece(RecordPiece(item: .max, quantity: .max)) }
            }
            for k in buffer.indices { buffer[k] = canary }
            var s = RecordCodec.State()
            let n = buffer.withUnsafeMutableBytes { b in
                withUnsafePointer(to: r) { RecordCodec.encode($0, &s, b.baseAddress!) }
            }
            XCTAssertLessThan(n, RecordCodec.maxRecordBytes)
            XCTAssertTrue(buffer[(n + 1)...].allSatisfy { $0 == canary }, "a store went more than one byte past the record")
        }
    }
}
