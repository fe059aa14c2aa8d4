import FlashSaleCore
import FlashSaleRun
import FlashSaleTestSupport
import Foundation
import LoadGen
import OrderLog
import Pipeline
import Synchronization
import XCTest

/// The run session's contract (what `flashsale run` promises, without the command line): the temporary
/// journal is removed, the report's invariants are checked against the segments read back, a directory
/// that cannot be used is refused as bad input without being touched, and the user hears what they should.
final class RunSessionTests: XCTestCase {
    /// Diagnostics a session emitted, collected for assertions.
    final class Messages: Sendable {
        let lines = Mutex<[String]>([])
        func add(_ s: String) { lines.withLock { $0.append(s) } }
        var all: [String] { lines.withLock { $0 } }
    }

    func configuration(_ name: String, segments: String? = nil, requests: Int) throws -> RunConfiguration {
        let profile = try LoadProfile.load(path: CommandRunner.profilePath(name))
        var c = RunConfiguration(profile: profile, profileLabel: name, lanes: 2, segments: segments, durability: .batch)
        c.source = TrafficGenerator(profile: profile, requestLimit: requests)
        c.paceOverride = .max
        return c
    }

    /// A run without --segments: stock conserved per item and per offer, every decision read back from the
    /// segments, and nothing left on disk afterwards.
    func testARunChecksItsInvariantsFromTheSegmentsAndRemovesItsTemporaryJournal() throws {
        let messages = Messages()
        let session = RunSession(try configuration("kaigong-opening", requests: 60_000), diagnostics: { messages.add($0) })
        let temporary = try XCTUnwrap(session.temporarySegments)
        let outcome = try session.execute()
        let r = outcome.report
        XCTAssertTrue(r.invariants.passed, "\(r.invariants)")
        XCTAssertTrue(r.invariants.checkedSegments)
        XCTAssertEqual(r.requests, 60_000)
        XCTAssertEqual(r.decisions, 60_000)
        for item in r.items { XCTAssertEqual(item.sold + item.held + item.remaining, item.initial, item.id) }
        XCTAssertGreaterThan(r.outcomes["ACCEPTED", default: 0] + r.outcomes["HELD", default: 0], 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: temporary), "the temporary journal was left behind")
        XCTAssertFalse(outcome.interrupted)
        XCTAssertEqual(messages.all, [], "a sound run has nothing to warn about")
    }

    /// Direct I/O is how a `--rate max` run writes (where the file system allows it), and it journals the
    /// same decisions as buffered writes do: the same records read back, invariants checked from them.
    func testDirectAndBufferedSegmentsHoldTheSameDecisions() throws {
        var journals: [[OrderRecord]] = []
        let probe = CommandRunner.temporaryDirectory("session-probe")
        defer { try? FileManager.default.removeItem(atPath: probe) }
        try FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        let directWorks = (try? DirectSegmentSink(path: probe + "/p.seg")) != nil
        for io in [SegmentIO.auto, .buffered] {
            let dir = CommandRunner.temporaryDirectory("session-io-\(io.rawValue)")
            defer { try? FileManager.default.removeItem(atPath: dir) }
            var c = try configuration("kaigong-opening", segments: dir, requests: 60_000)
            c.lanes = 1  // one lane decides in request order: the same journal both times
            c.segmentIO = io
            let r = try RunSession(c, diagnostics: { _ in }).execute().report
            XCTAssertTrue(r.invariants.passed, "\(io): \(r.invariants)")
            XCTAssertEqual(r.segments.io, io == .auto && directWorks ? "direct" : "buffered")
            journals.append(try SegmentReader(directory: dir).readAll())
        }
        XCTAssertEqual(journals[0].count, 60_000)
        XCTAssertEqual(journals[0], journals[1], "direct and buffered journals differ")
    }

    /// Another campaign's directory is bad input: refused with a message naming the directory, and no
    /// byte of it changes.
    func testAnotherCampaignsDirectoryIsRefusedAsBadInputAndLeftUntouched() throws {
        let dir = CommandRunner.temporaryDirectory("session-foreign")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try RunSession(try configuration("kaigong-opening", segments: dir, requests: 20_000), diagnostics: { _ in }).execute()
        let before = try snapshot(dir)
        XCTAssertThrowsError(try RunSession(try configuration("ci-smoke", segments: dir, requests: 1000), diagnostics: { _ in }).execute()) { e in
            guard let failure = e as? RunFailure else { return XCTFail("\(e)") }
            XCTAssertEqual(failure.kind, .badInput)
            XCTAssertTrue(failure.message.contains(dir), failure.message)
        }
        XCTAssertEqual(try snapshot(dir), before, "a refused run changed the directory")
    }

    /// A restart of a finished campaign offers nothing, keeps the stock the first run left, and says how to
    /// run it again.
    func testARestartPastTheTrafficsEndOffersNothingAndSaysSo() throws {
        let dir = CommandRunner.temporaryDirectory("session-again")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try RunSession(try configuration("ci-smoke", segments: dir, requests: 5000), diagnostics: { _ in }).execute()
        let messages = Messages()
        let again = try RunSession(try configuration("ci-smoke", segments: dir, requests: 5000), diagnostics: { messages.add($0) }).execute()
        XCTAssertEqual(again.report.requests, 0)
        XCTAssertTrue(again.report.invariants.passed, "\(again.report.invariants)")
        XCTAssertEqual(again.report.items.map(\.remaining), first.report.items.map(\.remaining))
        XCTAssertTrue(messages.all.contains { $0.hasPrefix("nothing left to offer") }, "\(messages.all)")
    }

    /// `stop()` before the run: nothing is offered, the run still seals and reports (interrupted).
    func testAStopBeforeTheRunEndsItAtOnceAndStillReports() throws {
        let session = RunSession(try configuration("ci-smoke", requests: 100_000), diagnostics: { _ in })
        session.stop()
        let outcome = try session.execute()
        XCTAssertTrue(outcome.interrupted)
        XCTAssertEqual(outcome.report.requests, 0)
        XCTAssertTrue(outcome.report.invariants.passed)
    }

    func snapshot(_ dir: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) {
            files[f] = FileManager.default.contents(atPath: dir + "/" + f)
        }
        return files
    }
}
