import ArgumentParser
import Foundation
import LoadGen

/// A command's profile argument, loaded: the file given, or the built-in default.
struct LoadedProfile {
    var profile: LoadProfile
    /// How reports name it: the path, or `built-in:NAME`.
    var label: String
    /// A digest of the profile's text (FNV-1a, 16 hex digits): what a gate baseline identifies the
    /// workload by, so that a moved profile still matches and an edited one does not.
    var contentDigest: String

    /// Loads `path` (nil: the built-in default). A bad profile prints its located error
    /// (`file:line:column: key: problem`) and throws exit code 2.
    /// - Parameter generatesTraffic: the command runs the profile's traffic (not a capture's): only then
    ///   are the profile's traffic warnings (`LoadProfile.warnings`) printed.
    init(path: String?, generatesTraffic: Bool = true) throws {
        do {
            profile = try path.map { try LoadProfile.load(path: $0) } ?? LoadProfile.builtInDefault
        } catch {
            FileHandle.standardError.write("flashsale: \(error)\n")
            throw ExitCodes.badInput
        }
        label = path ?? "built-in:\(profile.name)"
        let bytes = path.flatMap { FileManager.default.contents(atPath: $0) } ?? Data(LoadProfile.builtInDefaultYAML.utf8)
        contentDigest = Self.digest(bytes)
        for warning in generatesTraffic ? profile.warnings : [] { FileHandle.standardError.write("flashsale: warning: \(label): \(warning)\n") }
    }

    /// FNV-1a 64 of `bytes`, as 16 hex digits.
    static func digest(_ bytes: Data) -> String {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
