/// A load profile that cannot be used, located as precisely as the YAML allows.
///
/// `description` reads like a compiler diagnostic:
/// `LoadProfiles/x.yaml:12:9: error: traffic.phases[2].ramp.to: expected a rate like "2000/s", "50k/s" or 2000, got "fast"`.
/// Every error names the file, the line (and column when known), the key path and what was expected.
public struct ProfileError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The file could not be read.
        case unreadable
        /// Not YAML, or a YAML syntax error (line and column from the YAML parser).
        case syntax
        /// A mapping repeats a key.
        case duplicateKey
        /// A required key is absent.
        case missingKey
        /// A key the schema does not know (with a "did you mean" suggestion for near misses).
        case unknownKey
        /// A value of the wrong shape: a list where a mapping belongs, text where a number belongs, ...
        case wrongType
        /// A stock, rate, duration, count, ... that must be positive is zero or negative.
        case notPositive
        /// A probability or share outside 0...1.
        case probabilityRange
        /// A distribution whose probabilities do not sum to 1 (±1e-6).
        case distributionSum
        /// A bundle component naming an item that is not in `campaign.items`.
        case unknownItem
        /// An offer named (e.g. in popularity weights) that is not in `campaign.offers`.
        case unknownOffer
        /// A region not in `campaign.regions`.
        case unknownRegion
        /// A reservation for a model that no hardware item stocks.
        case noHardwareForModel
        /// Two items, two offers or two regions share an id.
        case duplicateId
        /// The sale window closes before (or when) it opens, or a wave ends before it starts.
        case windowOrder
        /// A time of day or campaign time that does not parse (`"day 0 10:00"`, `"10:00:30"`, `"2h"`).
        case badTime
        /// A duration that does not parse (`"500ms"`, `"30s"`, `"5m"`, `"2h"`, `"3d"`).
        case badDuration
        /// A rate that does not parse (`"2000/s"`, `"50k/s"`, `2000`).
        case badRate
        /// A certification level other than none, basic, intermediate, advanced.
        case unknownLevel
        /// `traffic.phases` is empty.
        case emptyPhases
        /// A value that is well-formed but not allowed (an unknown enum word, an out-of-range number).
        case invalidValue
        /// A problem reported by `Campaign.validate()`.
        case invalidCampaign
    }

    public var kind: Kind
    public var file: String
    /// 1-based; nil when the problem has no place in the file (e.g. an unreadable file).
    public var line: Int?
    /// 1-based, counted in Unicode scalars.
    public var column: Int?
    /// Where in the profile, e.g. `traffic.phases[2].ramp.to`; empty for the whole document.
    public var keyPath: String
    /// What was expected (and what was found).
    public var message: String

    public init(_ kind: Kind, file: String, line: Int?, column: Int?, keyPath: String, message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    public var description: String {
        var s = file
        if let line {
            s += ":\(line)"
            if let column { s += ":\(column)" }
        }
        s += ": error: "
        if !keyPath.isEmpty { s += keyPath + ": " }
        return s + message
    }
}
