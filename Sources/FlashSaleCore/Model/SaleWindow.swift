/// When orders are accepted, on the campaign clock (milliseconds since the campaign epoch).
///
/// A request is inside the window when `opens <= t < closes` and, if daily waves are given, the
/// time of day of `t` falls inside one of them (e.g. 10:00–10:30 every day).
public struct SaleWindow: Sendable, Equatable {
    /// A daily interval `[start, end)` in milliseconds since midnight.
    public struct Wave: Sendable, Equatable {
        public var startOfDayMillis: Int64
        public var endOfDayMillis: Int64
        public init(startOfDayMillis: Int64, endOfDayMillis: Int64) {
            self.startOfDayMillis = startOfDayMillis
            self.endOfDayMillis = endOfDayMillis
        }
    }

    public static let dayMillis: Int64 = 86_400_000

    public var opensMillis: Int64
    public var closesMillis: Int64
    public var waves: [Wave]

    public init(opensMillis: Int64, closesMillis: Int64, waves: [Wave] = []) {
        self.opensMillis = opensMillis
        self.closesMillis = closesMillis
        self.waves = waves
    }

    @inlinable
    public func contains(_ t: Int64) -> Bool { contains(t, waves: waves) }

    /// Whether `t` is inside the window and, when `waves` is not empty, inside one of those daily waves
    /// (an offer's own waves replace the campaign's).
    @inlinable
    public func contains(_ t: Int64, waves: [Wave]) -> Bool {
        guard t >= opensMillis && t < closesMillis else { return false }
        if waves.isEmpty { return true }
        let tod = ((t % Self.dayMillis) + Self.dayMillis) % Self.dayMillis
        for w in waves where tod >= w.startOfDayMillis && tod < w.endOfDayMillis { return true }
        return false
    }
}

extension SaleWindow {
    /// Campaign time as people read it in messages: "day 0 10:00:05" (milliseconds since day 0, 00:00;
    /// seconds shown, milliseconds dropped).
    public static func describe(_ ms: Int64) -> String {
        let day = ms / 86_400_000, rest = ms % 86_400_000
        func two(_ x: Int64) -> String { x < 10 ? "0\(x)" : "\(x)" }
        return "day \(day) \(two(rest / 3_600_000)):\(two(rest / 60_000 % 60)):\(two(rest / 1000 % 60))"
    }
}
