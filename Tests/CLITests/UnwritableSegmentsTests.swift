import Foundation
import FlashSaleTestSupport
import XCTest

/// A restart on a `--segments` directory that cannot be written says so in one line naming the file
/// (it used to dump an `NSCocoaErrorDomain Code=513` error), exit 3 (I/O). Made unwritable for root
/// with `chattr +i` (an immutable directory) and with a read-only tmpfs; skipped where neither works.
final class UnwritableSegmentsTests: XCTestCase {
    func testRestartOnAnImmutableDirectoryNamesTheFileItCannotWrite() throws {
        let seg = CommandRunner.temporaryDirectory("immutable")
        defer { try? FileManager.default.removeItem(atPath: seg) }
        let first = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--segments", seg, "--progress", "never"])
        XCTAssertEqual(first.status, 0, first.stderr)
        guard CommandRunner.shell("/usr/bin/chattr", ["+i", seg]) == 0 else { throw XCTSkip("chattr +i is not available here (needs root and ext4)") }
        defer { _ = CommandRunner.shell("/usr/bin/chattr", ["-i", seg]) }
        let again = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--segments", seg, "--progress", "never"])
        XCTAssertEqual(again.status, 3, again.stderr)
        XCTAssertEqual(again.stderr, "flashsale: cannot write \(seg)/campaign.fingerprint: Operation not permitted\n")
    }

    func testRestartOnAReadOnlyFileSystemNamesTheFileItCannotWrite() throws {
        let mountPoint = CommandRunner.temporaryDirectory("rofs")
        guard CommandRunner.shell("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mountPoint]) == 0 else {
            try? FileManager.default.removeItem(atPath: mountPoint)
            throw XCTSkip("cannot mount a tmpfs here (needs root)")
        }
        defer {
            _ = CommandRunner.shell("/bin/umount", [mountPoint])
            try? FileManager.default.removeItem(atPath: mountPoint)
        }
        let seg = mountPoint + "/seg"
        let first = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--segments", seg, "--progress", "never"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertEqual(CommandRunner.shell("/bin/mount", ["-o", "remount,ro", mountPoint]), 0)
        let again = try CommandRunner.run(["run", "LoadProfiles/ci-smoke.yaml", "--rate", "max", "--segments", seg, "--progress", "never"])
        XCTAssertEqual(again.status, 3, again.stderr)
        XCTAssertEqual(again.stderr, "flashsale: cannot write \(seg)/LOCK: Read-only file system\n")
    }

}
