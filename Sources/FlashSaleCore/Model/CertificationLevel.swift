/// An organisation's certification on the platform; offers name a minimum level.
public enum CertificationLevel: UInt8, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case none = 0, basic = 1, intermediate = 2, advanced = 3

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
        switch self {
        case .none: "none"
        case .basic: "basic"
        case .intermediate: "intermediate"
        case .advanced: "advanced"
        }
    }

    public init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name.lowercased() }) else { return nil }
        self = level
    }
}
