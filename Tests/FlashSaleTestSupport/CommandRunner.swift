import Foundation

/// What every test target shares: the package root, the built `flashsale` binary, temporary
/// directories, and running the binary (or a system tool) as a user would.
public enum CommandRunner {
    /// The package root, found from this file's path (Tests/FlashSaleTestSupport/…).
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A shipped profile's path: `LoadProfiles/NAME.yaml`.
    public static func profilePath(_ name: String) -> String { "\(root)/LoadProfiles/\(name).yaml" }

    /// The `flashsale` executable next to this test bundle (the release build when there is none).
    public static let binary: String = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            let candidate = url.deletingLastPathComponent().appendingPathComponent("flashsale").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            url.deleteLastPathComponent()
        }
        return root + "/.build/release/flashsale"
    }()

    public struct Result { public var status: Int32; public var stdout: String; public var stderr: String }

    /// - Parameter environment: added to (or replacing in) this process's environment.
    public static func run(_ arguments: [String], timeout: TimeInterval = 300, environment: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: root)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Both pipes are drained concurrently so that a chatty child never blocks on a full pipe.
        final class Drained: @unchecked Sendable { var data = Data() }  // written by one reader, read after group.wait
        let outData = Drained(), errData = Drained()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outData.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut { p.terminate() }
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData.data, as: UTF8.self),
                      stderr: String(decoding: errData.data, as: UTF8.self))
    }

    /// A running `flashsale serve`: the process, the port of its ready line, and that line.
    public struct Server {
        public let process: Process
        public let port: Int
        public let readyLine: String
        /// The binary protocol's port (`--binary-listen`: the line's `, binary fsbin://127.0.0.1:PORT`), else nil.
        public let binaryPort: Int?
    }

    /// Starts `flashsale serve ARGUMENTS` (which should listen on port 0) and waits for its ready line;
    /// stderr is discarded. The caller stops the process.
    public static func startServer(_ arguments: [String]) throws -> Server {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = ["serve"] + arguments
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard let range = text.range(of: "http://127.0.0.1:"),
              let port = Int(text[range.upperBound...].prefix(while: \.isNumber)) else {
            p.terminate()
            throw NSError(domain: "serve", code: 1, userInfo: [NSLocalizedDescriptionKey: "no ready line: \(text)"])
        }
        let binaryPort = text.range(of: ", binary fsbin://127.0.0.1:").flatMap { Int(text[$0.upperBound...].prefix(while: \.isNumber)) }
        return Server(process: p, port: port, readyLine: text, binaryPort: binaryPort)
    }

    /// Runs a system tool quietly (mount, chattr, …); its exit status, or −1 when it cannot start.
    public static func shell(_ tool: String, _ arguments: [String]) -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return -1 }
        p.waitUntilExit()
        return p.terminationStatus
    }

    /// A new, empty directory under the temporary directory, named after `label` (the caller removes it).
    public static func temporaryDirectory(_ label: String) -> String {
        let dir = NSTemporaryDirectory() + "flashsale-test-\(label)-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }
}
