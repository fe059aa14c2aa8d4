import ArgumentParser
import Foundation
import LoadGen

/// A command's profile argument, loaded: the file given, or the built-in default.
struct LoadedProfile {
    var profile: LoadProfile
    /// How reports name it: the path, or `built-in:NAME`.
    var label: String

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
        for warning in generatesTraffic ? profile.warnings : [] { FileHandle.standardError.write("flashsale: warning: \(label): \(warning)\n") }
    }
}
