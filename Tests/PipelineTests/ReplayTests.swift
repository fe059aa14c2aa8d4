import Foundation
import XCTest
@testable import FlashSaleCore
@testable import LoadGen
@testable import OrderLog
@testable import Pipeline

/// Captures and replays: the round trip reproduces decisions, the schedule honours --speed, --rate,
/// --max-idle and --loop, and damaged captures are reported with their offset.
final class ReplayTests: XCTestCase {
    var dir = ""

    override func setUp() { dir = PipelineFixtures.temporaryDirectory("replay") }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// Writes `records` to a capture.
    func writeCapture(_ records: [CaptureRecord], name: String = "c.fscap", fingerprint: UInt64? = nil) throws -> String {
        let path = dir + "/" + name
        let w = try CaptureWriter(path: path, campaignFingerprint: fingerprint, label: "test", blockBytes: 4096)
        for r in records { try w.append(r) }
        try w.close()
        return path
    }

    /// Every request a source produces.
    func drain(_ source: RequestSource, chunk: Int = 1000) -> [OrderRequest] {
        let buffer = UnsafeMutableBufferPointer<OrderRequest>.allocate(capacity: chunk)
        defer { buffer.deallocate() }
        var all: [OrderRequest] = []
        while true {
            let n = source.fill(buffer)
            if n == 0 { return all }
            all.append(contentsOf: buffer[0..<n])
        }
    }

    /// A capture with irregular recorded gaps: bursts, pauses and one long idle stretch of 30 s.
    func irregularRecords(count: Int = 5000) -> [CaptureRecord] {
        var rng = SplitMix64(seed: 7)
        var send: UInt64 = 5_000_000, time: Int64 = 36_000_000
        var out: [CaptureRecord] = []
        for i in 0..<count {
            let gap: UInt64 = i == count / 2 ? 30_000_000_000 : (rng.next() % 4 == 0 ? rng.next() % 20_000_000 : rng.next() % 200_000)
            send += gap
            time += Int64(gap / 1_000_000)
            out.append(CaptureRecord(requestId: UInt64(i + 1), campaignTimeMillis: time, sendOffsetNanos: send,
                                     organisation: UInt32(rng.next() % 1000), offer: UInt16(rng.next() % 2),
                                     kind: 0, quantity: 1))
        }
        return out
    }

    // MARK: - codec and files

    func testCaptureRoundTripsEveryFieldIncludingExtremes() throws {
        var records = irregularRecords(count: 3000)
        records.append(CaptureRecord(requestId: .max, campaignTimeMillis: .min, sendOffsetNanos: .max, organisation: .max,
                                     offer: .max, kind: 255, quantity: .min, reference: 1))
        records.append(CaptureRecord(requestId: 1, campaignTimeMillis: .max, sendOffsetNanos: 0, organisation: 0,
                                     offer: 0, kind: 2, quantity: .max, reference: .max))
        records.append(CaptureRecord(requestId: 0, campaignTimeMillis: -5, sendOffsetNanos: 3, quantity: 0))
        let path = try writeCapture(records, fingerprint: 0xABCD)
        let reader = try CaptureReader(path: path)
        XCTAssertEqual(reader.header.campaignFingerprint, 0xABCD)
        XCTAssertEqual(reader.header.label, "test")
        var back: [CaptureRecord] = []
        try reader.forEach { back.append(copy $0) }
        XCTAssertEqual(back, records)
        let s = try reader.summarize()
        XCTAssertEqual(s.requests, UInt64(records.count))
        XCTAssertGreaterThan(s.blocks, 1)
        XCTAssertEqual(s.maxRequestId, .max)
    }

    /// A capture replaces its destination only when it is complete: a writer that is discarded, dropped
    /// or fails leaves an existing file as it was and no partial file behind; through a symlink the
    /// named file is replaced and the link kept; a device such as /dev/null is written in place.
    func testAnUnfinishedCaptureNeverReplacesTheFile() throws {
        let path = try writeCapture(irregularRecords(count: 500))
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        do {
            let w = try CaptureWriter(path: path, campaignFingerprint: nil, label: "discarded")
            for r in irregularRecords(count: 50) { try w.append(r) }
            XCTAssertEqual(w.partialPath, path + ".partial")
            XCTAssertTrue(FileManager.default.fileExists(atPath: path + ".partial"))
            w.discard()
        }
        do {
            let w = try CaptureWriter(path: path, campaignFingerprint: nil, label: "dropped")
            for r in irregularRecords(count: 50) { try w.append(r) }
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), original)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".partial"))
        XCTAssertEqual(try CaptureReader(path: path).summarize().requests, 500)

        let link = dir + "/link.fscap"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        let w = try CaptureWriter(path: link, campaignFingerprint: nil, label: "through a link")
        for r in irregularRecords(count: 7) { try w.append(r) }
        try w.close()
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link), path, "the link is kept")
        XCTAssertEqual(try CaptureReader(path: path).summarize().requests, 7)

        let null = try CaptureWriter(path: "/dev/null", campaignFingerprint: nil, label: "discard")
        XCTAssertNil(null.partialPath)
        for r in irregularRecords(count: 100) { try null.append(r) }
        try null.close()
        var st = stat()
        XCTAssertEqual(stat("/dev/null", &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR, "/dev/null is still a device")
        XCTAssertThrowsError(try CaptureWriter(path: dir, campaignFingerprint: nil, label: "a directory"))
    }

    /// Every truncation and many single-byte corruptions are reported as a SegmentError naming the file
    /// and an offset inside it, never a trap and never silently accepted as the original data.
    func testTruncatedOrCorruptedCaptureIsReportedWithOffset() throws {
        let records = irregularRecords(count: 2000)
        let path = try writeCapture(records)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        func read(_ data: [UInt8]) -> (records: [CaptureRecord], error: SegmentError?) {
            let p = dir + "/damaged.fscap"
            XCTAssertTrue(FileManager.default.createFile(atPath: p, contents: Data(data)))
            var got: [CaptureRecord] = []
            do {
                let r = try CaptureReader(path: p)
                try r.forEach { got.append(copy $0) }
                return (got, nil)
            } catch let e as SegmentError {
                return (got, e)
            } catch {
                XCTFail("unexpected error type \(error)")
                return (got, nil)
            }
        }
        // Truncations: every length short of the whole file fails, with an offset within the file.
        var lengths = Array(stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)))
        lengths += [bytes.count - 1, bytes.count - 32, 63, 64, 65]
        for n in lengths {
            let (_, e) = read(Array(bytes[0..<n]))
            guard let e else { XCTFail("a capture cut to \(n) of \(bytes.count) bytes was accepted"); continue }
            XCTAssertTrue(e.description.hasPrefix(dir + "/damaged.fscap:"), e.description)
            XCTAssertLessThanOrEqual(e.offset, Int64(n), e.description)
        }
        // Single-byte flips: either an error with an offset, or (never) the original records.
        var rng = SplitMix64(seed: 3)
        for _ in 0..<300 {
            var copy = bytes
            let at = Int(rng.next() % UInt64(bytes.count))
            copy[at] ^= UInt8(1 + rng.next() % 255)
            let (got, e) = read(copy)
            if let e {
                XCTAssertGreaterThanOrEqual(e.offset, 0)
                XCTAssertLessThanOrEqual(e.offset, Int64(bytes.count), e.description)
            } else {
                XCTFail("flipping byte \(at) went unnoticed (\(got.count) records)")
            }
        }
    }

    // MARK: - schedule

    func testSpeedTwoHalvesTheSchedule() throws {
        let path = try writeCapture(irregularRecords())
        let one = drain(try ReplaySource(path: path, options: ReplayOptions(speed: 1)))
        let two = drain(try ReplaySource(path: path, options: ReplayOptions(speed: 2)))
        XCTAssertEqual(one.count, 5000)
        XCTAssertEqual(two.count, 5000)
        XCTAssertEqual(one.first?.intendedSendNanos, 0)
        // Speed 1 reproduces the recorded gaps.
        let records = irregularRecords()
        XCTAssertEqual(Double(one.last!.intendedSendNanos), Double(records.last!.sendOffsetNanos - records.first!.sendOffsetNanos),
                       accuracy: 1e3)
        // Campaign time covered per second of replay doubles: the same campaign span in half the time.
        let span1 = Double(one.last!.intendedSendNanos), span2 = Double(two.last!.intendedSendNanos)
        XCTAssertEqual(span2 / span1, 0.5, accuracy: 0.025)
        XCTAssertEqual(one.map(\.campaignTimeMillis), two.map(\.campaignTimeMillis))
        for k in stride(from: 1, to: one.count, by: 97) {
            XCTAssertEqual(Double(two[k].intendedSendNanos), Double(one[k].intendedSendNanos) / 2,
                           accuracy: max(2, Double(one[k].intendedSendNanos) * 0.05))
        }
        XCTAssertTrue(zip(two, two.dropFirst()).allSatisfy { $0.intendedSendNanos <= $1.intendedSendNanos })
    }

    func testFixedRateOffersNPerSecondIgnoringRecordedGaps() throws {
        let path = try writeCapture(irregularRecords())
        for rate in [1000.0, 37_000, 250_000] {
            let out = drain(try ReplaySource(path: path, options: ReplayOptions(rate: rate)))
            XCTAssertEqual(out.count, 5000)
            let seconds = Double(out.last!.intendedSendNanos - out.first!.intendedSendNanos) / 1e9
            XCTAssertEqual(Double(out.count - 1) / seconds, rate, accuracy: rate * 0.01)
            // Every one-second window (or tenth of the run) offers N/s within 1%.
            let window = min(1e9, Double(out.last!.intendedSendNanos) / 10)
            let first = out.filter { Double($0.intendedSendNanos) < window }.count
            XCTAssertEqual(Double(first) / (window / 1e9), rate, accuracy: rate * 0.01 + 1e9 / window)
        }
    }

    func testMaxIdleCapsEveryGapAndShortensTheReplay() throws {
        let path = try writeCapture(irregularRecords())
        let plain = drain(try ReplaySource(path: path, options: ReplayOptions(speed: 1)))
        for (speed, cap) in [(1.0, 0.005), (2.0, 0.001), (0.5, 1.0)] {
            let capped = drain(try ReplaySource(path: path, options: ReplayOptions(speed: speed, maxIdleSeconds: cap)))
            XCTAssertEqual(capped.count, plain.count)
            var expected = 0.0, maxGap: UInt64 = 0
            for k in 1..<plain.count {
                let gap = capped[k].intendedSendNanos - capped[k - 1].intendedSendNanos
                maxGap = max(maxGap, gap)
                expected += min(Double(plain[k].intendedSendNanos - plain[k - 1].intendedSendNanos) / speed, cap * 1e9)
            }
            XCTAssertLessThanOrEqual(Double(maxGap), cap * 1e9 + 1, "speed \(speed) cap \(cap)")
            // Total duration = sum of the capped gaps: the 30 s idle stretch no longer makes it crawl.
            XCTAssertEqual(Double(capped.last!.intendedSendNanos), expected, accuracy: expected * 1e-6 + Double(plain.count))
            XCTAssertLessThan(Double(capped.last!.intendedSendNanos), Double(plain.last!.intendedSendNanos) / speed - 29e9 / speed)
        }
    }

    func testLoopsUseFreshIdsAndLaterCampaignTimes() throws {
        var records = irregularRecords(count: 1000)
        records[10].kind = RequestKind.confirm.rawValue
        records[10].reference = records[5].requestId
        let path = try writeCapture(records)
        let source = try ReplaySource(path: path, options: ReplayOptions(loops: 3))
        let out = drain(source)
        XCTAssertEqual(out.count, 3000)
        XCTAssertEqual(Set(out.map(\.requestId)).count, 3000, "every loop uses fresh ids")
        let span = records.map(\.campaignTimeMillis).max()! - records.map(\.campaignTimeMillis).min()!
        for loop in 0..<3 {
            let part = out[(loop * 1000)..<((loop + 1) * 1000)]
            XCTAssertEqual(part[part.startIndex + 10].reference, part[part.startIndex + 5].requestId, "a confirm names its own loop's reservation")
            XCTAssertEqual(part.first!.campaignTimeMillis, records[0].campaignTimeMillis + Int64(loop) * (span + 1))
        }
        XCTAssertTrue(zip(out, out.dropFirst()).allSatisfy { $0.intendedSendNanos <= $1.intendedSendNanos })
        XCTAssertGreaterThan(out[1000].intendedSendNanos, out[999].intendedSendNanos)

        // Loops whose campaign times would leave the campaign clock (they used to wrap to negative times).
        let wide = try writeCapture([CaptureRecord(requestId: 1, campaignTimeMillis: 0, sendOffsetNanos: 0),
                                     CaptureRecord(requestId: 2, campaignTimeMillis: 8_639_999_999_999, sendOffsetNanos: 1)],
                                    name: "wide.fscap")
        XCTAssertNoThrow(try ReplaySource(path: wide, options: ReplayOptions(loops: 1)))
        XCTAssertThrowsError(try ReplaySource(path: wide, options: ReplayOptions(loops: 2))) { error in
            XCTAssertTrue("\(error)".contains("would run past day 99999"), "\(error)")
        }
        let loops = (ReplaySource.campaignClockEndMillis - 1 - 9_999) / 10_000 + 1   // the last loop ends on day 99999
        let tenSeconds = try writeCapture([CaptureRecord(requestId: 1, campaignTimeMillis: 0, sendOffsetNanos: 0),
                                           CaptureRecord(requestId: 2, campaignTimeMillis: 9_999, sendOffsetNanos: 1)],
                                          name: "ten.fscap")
        XCTAssertNoThrow(try ReplaySource(path: tenSeconds, options: ReplayOptions(loops: Int(loops))), "the last loop ends on day 99999")
        XCTAssertThrowsError(try ReplaySource(path: tenSeconds, options: ReplayOptions(loops: Int(loops) + 1)))
    }

    func testFiltersKeepOnlyMatchingRequests() throws {
        var records = irregularRecords(count: 2000)
        for i in stride(from: 0, to: records.count, by: 3) { records[i].kind = RequestKind.cancel.rawValue }
        let path = try writeCapture(records)
        var options = ReplayOptions(rate: 1000)
        try options.filter.add("offer=b", offerNames: ["a", "b"])
        try options.filter.add("kind=buy,confirm", offerNames: ["a", "b"])
        let source = try ReplaySource(path: path, options: options)
        let out = drain(source)
        let expected = records.filter { $0.offer == 1 && $0.kind != RequestKind.cancel.rawValue }
        XCTAssertEqual(out.map(\.requestId), expected.map(\.requestId))
        XCTAssertEqual(source.requestsPerLoop, expected.count)
        XCTAssertEqual(out.last!.intendedSendNanos, UInt64(Double(expected.count - 1) * 1e6))
        var bad = ReplayFilter()
        XCTAssertThrowsError(try bad.add("offer=c", offerNames: ["a", "b"]))
        XCTAssertThrowsError(try bad.add("colour=red", offerNames: []))
    }

    // MARK: - capture → replay through the pipeline

    /// A one-lane run captured, then its capture replayed with one lane: the same journal, field for field.
    func testReplayOfAOneLaneCaptureReproducesTheJournal() throws {
        let profile = try PipelineFixtures.profile("ci-smoke")
        let rules = try CampaignRules(profile.campaign)
        func pipeline(_ segments: String) -> OrderPipeline {
            var w = SegmentWriterOptions()
            w.durability = .none
            return OrderPipeline(rules: rules, options: PipelineOptions(lanes: 1, pace: .max, segmentsDirectory: segments, writer: w))
        }
        let capture = dir + "/run.fscap"
        let writer = try CaptureWriter(path: capture, campaignFingerprint: profile.campaign.fingerprint, label: profile.name)
        let capturing = CapturingSource(TrafficGenerator(profile: profile), writer: writer)
        let first = try pipeline(dir + "/a").run(source: capturing)
        try capturing.close()
        let replay = try ReplaySource(path: capture, options: ReplayOptions())
        XCTAssertEqual(replay.summary.header.campaignFingerprint, profile.campaign.fingerprint)
        let second = try pipeline(dir + "/b").run(source: replay)
        XCTAssertEqual(first.offered, second.offered)
        XCTAssertEqual(UInt64(first.offered), writer.count)
        let a = try PipelineFixtures.records(dir + "/a"), b = try PipelineFixtures.records(dir + "/b")
        XCTAssertGreaterThan(a.count, 1000)
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) where x != y {
            XCTFail("records differ: \(x) vs \(y)")
            break
        }
    }
}
