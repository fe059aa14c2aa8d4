/// What the rules need to know about one organisation. Eight bytes, so a population of millions
/// stays small and cache-friendly.
public struct Organisation: Sendable, Equatable {
    public var level: CertificationLevel
    /// Index into `Campaign.regions`.
    public var region: UInt8
    /// Completed the activation task that earns the extra discount.
    public var activated: Bool
    /// Bit `i` set: the organisation has tag `Campaign.tags[i]` (industry, size, …).
    public var tags: UInt32

    public init(level: CertificationLevel, region: UInt8, activated: Bool, tags: UInt32 = 0) {
        self.level = level
        self.region = region
        self.activated = activated
        self.tags = tags
    }
}

/// The organisations taking part, indexed by id (ids are dense: `0..<count`).
public struct Population: Sendable {
    public private(set) var organisations: [Organisation]

    public init(_ organisations: [Organisation]) { self.organisations = organisations }

    public var count: Int { organisations.count }

    @inlinable
    public subscript(id: UInt32) -> Organisation? {
        let i = Int(id)
        return i < organisations.count ? organisations[i] : nil
    }
}
