import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a report needs to be compared with another one later: which build made it, when, and on what
/// machine (reports from another CPU are not comparable figure for figure; see docs/notes.md).
public struct RunMetadata: Codable, Sendable, Equatable {
    /// flashsale's version (`FlashSaleVersion.current`).
    public var version: String
    /// The commit of the checkout the binary was built in, when it can be read (`.git` beside the build).
    public var commit: String?
    /// When the run started, RFC 3339 in UTC (`2026-12-02T01:23:45Z`).
    public var startedAt: String
    public var host: String
    /// `lscpu`'s model name, from /proc/cpuinfo.
    public var cpuModel: String
    public var cores: Int
    /// `uname -sr`.
    public var kernel: String
    /// The run was stopped early (Ctrl-C): its figures cover only part of the traffic.
    public var interrupted: Bool

    public init(version: String, commit: String?, startedAt: String, host: String, cpuModel: String, cores: Int,
                kernel: String, interrupted: Bool) {
        self.version = version
        self.commit = commit
        self.startedAt = startedAt
        self.host = host
        self.cpuModel = cpuModel
        self.cores = cores
        self.kernel = kernel
        self.interrupted = interrupted
    }

    /// This machine and build, for a run that started at `start`.
    public static func current(startedAt start: Date, interrupted: Bool) -> RunMetadata {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone(identifier: "UTC")
        var u = utsname()
        uname(&u)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return RunMetadata(version: FlashSaleVersion.current, commit: FlashSaleVersion.commit, startedAt: f.string(from: start),
                           host: ProcessInfo.processInfo.hostName, cpuModel: cpuModel(),
                           cores: ProcessInfo.processInfo.activeProcessorCount,
                           kernel: "\(text(u.sysname)) \(text(u.release))", interrupted: interrupted)
    }

    static func cpuModel() -> String {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        for line in info.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
        }
        return "unknown"
    }
}

/// flashsale's version, and the commit it was built from when that can be found.
public enum FlashSaleVersion {
    public static let current = "0.14.0"

    /// The checkout's HEAD commit, read from the `.git` of the directory the executable was built in
    /// (`.build/<config>/flashsale` inside a clone or a `git worktree`); nil for an installed binary.
    public static let commit: String? = {
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            if let git = gitDirectory(in: dir) { return head(gitDir: git) }
            dir.deleteLastPathComponent()
        }
        return nil
    }()

    /// `dir/.git`, or where a worktree's `.git` file points (`gitdir: PATH`); nil when there is none.
    static func gitDirectory(in dir: URL) -> URL? {
        let git = dir.appendingPathComponent(".git")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: git.path, isDirectory: &isDirectory) else { return nil }
        if isDirectory.boolValue { return git }
        guard let text = try? String(contentsOf: git, encoding: .utf8), text.hasPrefix("gitdir:") else { return nil }
        let path = text.dropFirst(7).trimmingCharacters(in: .whitespacesAndNewlines)
        return path.hasPrefix("/") ? URL(fileURLWithPath: path) : dir.appendingPathComponent(path)
    }

    /// HEAD's commit: detached, a loose ref or a packed one, looked up in the worktree's own directory
    /// and then in the repository's common one (`commondir`).
    static func head(gitDir: URL) -> String? {
        guard let head = try? String(contentsOf: gitDir.appendingPathComponent("HEAD"), encoding: .utf8) else { return nil }
        let h = head.trimmingCharacters(in: .whitespacesAndNewlines)
        guard h.hasPrefix("ref: ") else { return h.count == 40 ? h : nil }
        let ref = String(h.dropFirst(5))
        var places = [gitDir]
        if let common = try? String(contentsOf: gitDir.appendingPathComponent("commondir"), encoding: .utf8) {
            let c = common.trimmingCharacters(in: .whitespacesAndNewlines)
            places.append(c.hasPrefix("/") ? URL(fileURLWithPath: c) : gitDir.appendingPathComponent(c))
        }
        for place in places {
            if let c = try? String(contentsOf: place.appendingPathComponent(ref), encoding: .utf8) {
                return c.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            if let packed = try? String(contentsOf: place.appendingPathComponent("packed-refs"), encoding: .utf8) {
                for line in packed.split(separator: "\n") where line.hasSuffix(" " + ref) { return String(line.prefix(40)) }
            }
        }
        return nil
    }
}
