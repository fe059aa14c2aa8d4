import XCTest
import FlashSaleCore  // SplitMix64
@testable import OrderLog

final class CodecTests: XCTestCase {
    func testCRC32CVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum(Array(0..<32).map { UInt8($0) }), 0x46DD_794E)
        // Incremental update equals one pass, at every split point (slicing-by-8 tails).
        let bytes = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        let whole = CRC32C.checksum(bytes)
        bytes.withUnsafeBytes { b in
            for split in 0...100 {
                let a = CRC32C.update(0, b.baseAddress!, split)
                XCTAssertEqual(CRC32C.update(a, b.baseAddress! + split, 100 - split), whole)
            }
        }
    }

    /// The CPU's CRC-32C instruction and the table walk agree on every length, alignment and split
    /// (a disagreement would make every segment written on one machine unreadable on another).
    func testHardwareCRC32CMatchesTableWalk() throws {
        guard CRC32C.usesHardware else { throw XCTSkip("no CRC-32C instruction on this CPU: only the table walk runs") }
        var g = SplitMix64(seed: 32)
        let bytes = (0..<70_000).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        bytes.withUnsafeBytes { b in
            let base = b.baseAddress!
            for offset in 0..<16 {
                for count in 0...300 {
                    let seed = UInt32(truncatingIfNeeded: g.next())
                    XCTAssertEqual(CRC32C.update(seed, base + offset, count), CRC32C.software(seed, base + offset, count),
                                   "offset \(offset), count \(count)")
                }
            }
            for _ in 0..<50 {
                let offset = Int(g.next() % 1000), count = Int(g.next() % 69_000)
                XCTAssertEqual(CRC32C.update(0, base + offset, count), CRC32C.software(0, base + offset, count))
            }
        }
        XCTAssertEqual(Array("123456789".utf8).withUnsafeBytes { CRC32C.software(0, $0.baseAddress!, 9) }, 0xE306_9283)
    }

    func testRandomExtremeRecordsRoundTrip() {
        var g = SplitMix64(seed: 7)
        for round in 0..<200 {
            var records = (0..<500).map { _ in randomRecord(&g) }
            for k in records.indices { records[k].sequence = UInt64(1000 + k) }
            let bytes = RecordCodec.encode(records)
            guard let back = RecordCodec.decode(bytes, count: records.count, firstSequence: 1000) else {
                return XCTFail("round \(round): did not decode")
            }
            XCTAssertEqual(back, records, "round \(round)")
            // Every record stays within the documented bound.
            for r in records {
                XCTAssertLessThanOrEqual(RecordCodec.encode([r]).count, 111)
            }
        }
    }

    func testExtremesExplicit() {
        let pieces = (RecordPiece(item: .max, quantity: .max), RecordPiece(item: 0, quantity: 0),
                      RecordPiece(item: 1, quantity: 1), RecordPiece(item: .max, quantity: 0))
        let rs = [
            OrderRecord(sequence: 1, campaignTimeMillis: .min, requestId: .max, organisation: .max, offer: .max,
                        kind: .max, outcome: .max, originalOutcome: 0, lane: .max, quantity: .min, priceFen: .min,
                        reference: .max, holdExpiryMillis: .max, pieceCount: 4, pieces: pieces),
            OrderRecord(sequence: 2, campaignTimeMillis: .max, requestId: 0, quantity: .max, priceFen: .max,
                        holdExpiryMillis: .min),
            OrderRecord(sequence: 3, campaignTimeMillis: -1, requestId: 1, kind: 3, outcome: 15, lane: 3),
            OrderRecord(sequence: 4, campaignTimeMillis: -86_400_000, requestId: .max, kind: 4, outcome: 16, lane: 4,
                        holdExpiryMillis: -1),
            OrderRecord(sequence: 5),
        ]
        let bytes = RecordCodec.encode(rs)
        XCTAssertEqual(RecordCodec.decode(bytes, count: rs.count, firstSequence: 1), rs)
        // A zero record costs 3 bytes (flags, request-id delta, packed codes).
        XCTAssertEqual(RecordCodec.encode([OrderRecord()]).count, 3)
    }

    func testOrderLikeRecordsAreCompact() {
        let rs = orderLikeRecords(10_000)
        let bytes = RecordCodec.encode(rs)
        let perRecord = Double(bytes.count) / Double(rs.count)
        XCTAssertLessThan(perRecord, 16, "order-like records should encode in < 16 bytes, got \(perRecord)")
        XCTAssertEqual(RecordCodec.decode(bytes, count: rs.count, firstSequence: 1)?.count, rs.count)
    }

    func testGarbageNeverDecodesWrongly() {
        // Random bytes: decode may succeed or fail but must never crash or read out of bounds.
        var g = SplitMix64(seed: 99)
        for _ in 0..<20_000 {
            let n = Int(g.next() % 64) + 1
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            _ = RecordCodec.decode(bytes, count: Int(g.next() % 4) + 1)
        }
    }

    func testEqualityIgnoresUnusedPieces() {
        var a = OrderRecord(requestId: 5)
        var b = a
        b.setPiece(2, RecordPiece(item: 9, quantity: 9))
        XCTAssertEqual(a, b)
        a.appendPiece(RecordPiece(item: 1, quantity: 2))
        XCTAssertNotEqual(a, b)
        b.appendPiece(RecordPiece(item: 1, quantity: 2))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.piece(0), RecordPiece(item: 1, quantity: 2))
    }

    func testSegmentFileNames() {
        XCTAssertEqual(SegmentFormat.fileName(baseSequence: 1), "00000000000000000001.seg")
        XCTAssertEqual(SegmentFormat.baseSequence(fileName: "00000000000000000001.seg"), 1)
        XCTAssertEqual(SegmentFormat.baseSequence(fileName: SegmentFormat.fileName(baseSequence: .max)), .max)
        XCTAssertNil(SegmentFormat.baseSequence(fileName: "0000000000000000001.seg"))
        XCTAssertNil(SegmentFormat.baseSequence(fileName: "9999999999999999999999.seg"))
    }
}
