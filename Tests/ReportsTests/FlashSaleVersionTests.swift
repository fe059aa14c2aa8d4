import Foundation
import XCTest
@testable import Reports

/// The report's commit is found in a clone and in a `git worktree` (whose `.git` is a file pointing at
/// the worktree's directory inside the repository; its branch refs live in the common directory).
final class FlashSaleVersionTests: XCTestCase {
    func testTheCommitIsFoundInACloneAndInAWorktree() throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fs-version-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let fm = FileManager.default
        let commit = String(repeating: "a1", count: 20), other = String(repeating: "b2", count: 20)
        // The repository: HEAD on main (loose ref); a branch `wt` only in packed-refs.
        let git = root.appendingPathComponent("repo/.git")
        try fm.createDirectory(at: git.appendingPathComponent("refs/heads"), withIntermediateDirectories: true)
        try "ref: refs/heads/main\n".write(to: git.appendingPathComponent("HEAD"), atomically: true, encoding: .utf8)
        try "\(commit)\n".write(to: git.appendingPathComponent("refs/heads/main"), atomically: true, encoding: .utf8)
        try "# pack-refs\n\(other) refs/heads/wt\n".write(to: git.appendingPathComponent("packed-refs"), atomically: true, encoding: .utf8)
        let clone = try XCTUnwrap(FlashSaleVersion.gitDirectory(in: root.appendingPathComponent("repo")))
        XCTAssertEqual(FlashSaleVersion.head(gitDir: clone), commit)
        // The worktree: `.git` is a file; its HEAD names `wt`, found through `commondir`.
        let wtGit = git.appendingPathComponent("worktrees/wt")
        try fm.createDirectory(at: wtGit, withIntermediateDirectories: true)
        try "ref: refs/heads/wt\n".write(to: wtGit.appendingPathComponent("HEAD"), atomically: true, encoding: .utf8)
        try "../..\n".write(to: wtGit.appendingPathComponent("commondir"), atomically: true, encoding: .utf8)
        let wt = root.appendingPathComponent("wt")
        try fm.createDirectory(at: wt, withIntermediateDirectories: true)
        try "gitdir: \(wtGit.path)\n".write(to: wt.appendingPathComponent(".git"), atomically: true, encoding: .utf8)
        let found = try XCTUnwrap(FlashSaleVersion.gitDirectory(in: wt), "a worktree's .git file is followed")
        XCTAssertEqual(FlashSaleVersion.head(gitDir: found), other)
        XCTAssertNil(FlashSaleVersion.gitDirectory(in: root), "no .git: no commit")
    }
}
