import Foundation
import FlashSaleTestSupport
import XCTest

/// A one-lane run SIGKILLed at 20 seeded moments and restarted each time journals exactly, record for
/// record in order and field for field, what an uninterrupted run journals: holds expiring in the same
/// campaign millisecond included (they used to come out swapped after a restart).
final class KillRestartDeterminismTests: XCTestCase {
    func testTwentyKillsAndRestartsJournalExactlyWhatAnUninterruptedRunJournals() throws {
        let dir = CommandRunner.temporaryDirectory("kill20")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // ci-smoke, denser and longer: 10 s of traffic at 4k/s, time ×10, holds of 5 s (0.5 s of run):
        // several requests per campaign millisecond, so holds often expire in the same millisecond.
        var profile = try String(contentsOfFile: CommandRunner.root + "/LoadProfiles/ci-smoke.yaml", encoding: .utf8)
        let edits = [
            ("duration: 3s", "duration: 10s"), ("time-scale: 100", "time-scale: 10"),
            ("start: \"day 0 09:59:30\"", "start: \"day 0 10:00\""), ("requests: 50000", "requests: 60000"),
            ("hold: 1m", "hold: 5s"), ("confirm-delay: { uniform: [5s, 90s] }", "confirm-delay: { uniform: [1s, 9s] }"),
        ]
        for (from, to) in edits {
            XCTAssertTrue(profile.contains(from), from)
            profile = profile.replacingOccurrences(of: from, with: to)
        }
        let phases = profile.range(of: "  phases:")!.lowerBound
        let behaviour = profile.range(of: "  popularity:")!.lowerBound
        profile.replaceSubrange(phases..<behaviour, with: "  phases:\n    - { constant: 4k/s, for: 10s }\n")
        let path = dir + "/dense.yaml"
        try profile.write(toFile: path, atomically: true, encoding: .utf8)
        let a = try killedAndRestartedJournalEqualsWhole(path, dir: dir, kills: 20, minimumKills: 18,
                                                          delayMicros: 150_000...600_000)
        XCTAssertGreaterThan(a.count, 40_000)
        XCTAssertTrue(a.contains { $0.contains("RELEASED") && $0.contains("expire") }, "holds must expire in the run")
        // Same-millisecond expiries happened (the case that used to be swapped).
        let expiries = a.filter { $0.contains("RELEASED") && $0.contains("expire") }
        XCTAssertGreaterThan(Dictionary(grouping: expiries) { $0.split(separator: ",")[1] }.values.filter { $0.count > 1 }.count, 0)
    }

    /// Runs `profile` once uninterrupted and once SIGKILLed `kills` times at seeded moments (each restart
    /// continuing the campaign), one lane; asserts both journals dump identically, record for record.
    /// Returns the uninterrupted dump (CSV lines).
    func killedAndRestartedJournalEqualsWhole(_ path: String, dir: String, kills: Int, minimumKills: Int,
                                               delayMicros: ClosedRange<UInt64>,
                                               file: StaticString = #filePath, line: UInt = #line) throws -> [Substring] {
        // One lane, nothing shed: the decisions do not depend on timing.
        let settings = ["--lanes", "1", "--overload", "wait", "--durability", "batch", "--progress", "never"]
        let whole = try CommandRunner.run(["run", path, "--segments", dir + "/whole"] + settings)
        XCTAssertEqual(whole.status, 0, whole.stderr, file: file, line: line)

        var state: UInt64 = 20261201  // seeded kill points (an LCG: the same moments every run)
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        var killed = 0
        for _ in 0..<kills {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CommandRunner.binary)
            p.arguments = ["run", path, "--segments", dir + "/cut"] + settings
            p.currentDirectoryURL = URL(fileURLWithPath: CommandRunner.root)
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(delayMicros.lowerBound + next() % (delayMicros.upperBound - delayMicros.lowerBound)))
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                killed += 1
            }
            p.waitUntilExit()
        }
        XCTAssertGreaterThanOrEqual(killed, minimumKills, "the kills must land mid-run", file: file, line: line)
        let restart = try CommandRunner.run(["run", path, "--segments", dir + "/cut"] + settings)
        XCTAssertEqual(restart.status, 0, restart.stderr + restart.stdout, file: file, line: line)

        func dump(_ segments: String) throws -> [Substring] {
            let r = try CommandRunner.run(["segments", "dump", segments, "--format", "csv"])
            XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
            return r.stdout.split(separator: "\n")
        }
        let a = try dump(dir + "/whole"), b = try dump(dir + "/cut")
        XCTAssertEqual(a.count, b.count, "the restarted campaign journaled a different number of records", file: file, line: line)
        if let i = a.indices.first(where: { $0 < b.count && a[$0] != b[$0] }) {
            XCTFail("record \(i) differs:\n  uninterrupted: \(a[i])\n  restarted:     \(b[i])", file: file, line: line)
        }
        return a
    }

    /// The kickoff week (caps, allotments, model components, eligibility, offer waves) killed 6 times:
    /// the rebuilt caps, allotments and pieces decide exactly as the uninterrupted run did.
    func testTheKickoffSeasonKilledAndRestartedJournalsExactlyWhatAnUninterruptedRunJournals() throws {
        let dir = CommandRunner.temporaryDirectory("kill-kickoff")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 3,000 organisations (the shipped 300,000 rarely buy three bundles each): the cap binds often.
        var profile = try String(contentsOfFile: CommandRunner.root + "/LoadProfiles/kickoff-season.yaml", encoding: .utf8)
        for (from, to) in [("organisations: 300000", "organisations: 3000"), ("\"0-4999\"", "\"0-999\"")] {
            XCTAssertTrue(profile.contains(from), from)
            profile = profile.replacingOccurrences(of: from, with: to)
        }
        let path = dir + "/kickoff-small.yaml"
        try profile.write(toFile: path, atomically: true, encoding: .utf8)
        let a = try killedAndRestartedJournalEqualsWhole(path, dir: dir, kills: 6, minimumKills: 5, delayMicros: 400_000...1_400_000)
        XCTAssertTrue(a.contains { $0.contains("CAP_REACHED") }, "the cap must be exercised")
        XCTAssertTrue(a.contains { $0.contains(",ACCEPTED,") && !$0.hasSuffix(",") }, "model components and allotments journal pieces")
    }
}
