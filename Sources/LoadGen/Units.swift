// Parsing of the profile's small languages: durations, rates, times of day, campaign times,
// percentages. Pure functions: nil means "does not parse"; the reader turns that into a located error.

enum Units {
    /// A decimal number with optional `_` separators and exponent: "12", "1.5", "400_000", "1e6".
    static func decimal(_ text: Substring) -> Double? {
        let t = text.filter { $0 != "_" }
        guard let first = t.first, first.isNumber || first == "-" || first == "+" || first == ".",
              t.allSatisfy({ $0.isASCII && ($0.isNumber || ".-+eE".contains($0)) }) else {
            return nil
        }
        guard let v = Double(t), v.isFinite else { return nil }
        return v
    }

    /// "500ms", "15s", "30m", "2h", "3d", "1.5s"; a bare number is seconds. Returns seconds.
    static func durationSeconds(_ raw: String) -> Double? {
        let text = raw.trimmingSpaces()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("min", 60), ("h", 3600), ("d", 86400)]
        // longest suffix first so that "ms" is not read as "m" + "s"
        for (suffix, scale) in units.sorted(by: { $0.0.count > $1.0.count }) where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count).trimmingSpaces()
            guard let v = decimal(Substring(number)) else { return nil }
            return v * scale
        }
        return decimal(Substring(text))
    }

    /// "2000/s", "50k/s", "1.2M/s", "600/min", "2000". Returns requests per second.
    static func ratePerSecond(_ raw: String) -> Double? {
        var text = Substring(raw.trimmingSpaces())
        var per = 1.0
        if let slash = text.firstIndex(of: "/") {
            let unit = text[text.index(after: slash)...].trimmingSpaces()
            switch unit {
            case "s", "sec": per = 1
            case "m", "min": per = 60
            case "h": per = 3600
            default: return nil
            }
            text = Substring(text[..<slash].trimmingSpaces())
        }
        var multiplier = 1.0
        if let last = text.last {
            switch last {
            case "k", "K": multiplier = 1_000
            case "M": multiplier = 1_000_000
            default: break
            }
            if multiplier != 1 { text = text.dropLast() }
        }
        guard let v = decimal(text) else { return nil }
        return v * multiplier / per
    }

    /// "HH:MM", "HH:MM:SS" or "HH:MM:SS.mmm" (24:00 allowed for the end of a day). Milliseconds since midnight.
    static func timeOfDayMillis(_ raw: String) -> Int64? {
        let parts = raw.trimmingSpaces().split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        guard parts[0].count <= 2, parts[1].count == 2,
              let h = Int(parts[0]), let m = Int(parts[1]), (0...24).contains(h), (0..<60).contains(m) else { return nil }
        var ms = Int64(h) * 3_600_000 + Int64(m) * 60_000
        if parts.count == 3 {
            let sec = parts[2]
            guard sec.count >= 2, sec.prefix(2).allSatisfy({ $0.isASCII && $0.isNumber }),
                  let s = decimal(sec), s >= 0, s < 60 else { return nil }
            ms += Int64((s * 1000).rounded())
        }
        guard ms <= 86_400_000 else { return nil }
        return ms
    }

    /// A campaign time: "day N", "day N HH:MM[:SS]", "HH:MM[:SS]" (day 0), or a duration since the
    /// campaign epoch ("36h", "90m"). Milliseconds since the campaign epoch.
    static func campaignMillis(_ raw: String) -> Int64? {
        let text = raw.trimmingSpaces()
        if text.hasPrefix("day") {
            let rest = text.dropFirst(3).split(separator: " ", omittingEmptySubsequences: true)
            guard rest.count == 1 || rest.count == 2, let day = Int(rest[0]), day >= 0, day < 100_000 else { return nil }
            var ms = Int64(day) * 86_400_000
            if rest.count == 2 {
                guard let tod = timeOfDayMillis(String(rest[1])) else { return nil }
                ms += tod
            }
            return ms
        }
        if text.contains(":") { return timeOfDayMillis(text) }
        guard let s = durationSeconds(text), s >= 0, s < 100_000 * 86_400 else { return nil }   // as "day N": < 100000 days
        return Int64((s * 1000).rounded())
    }

    /// "5%" or "0.05". Returns the fraction (5% → 0.05).
    static func fraction(_ raw: String) -> Double? {
        let text = raw.trimmingSpaces()
        if text.hasSuffix("%") {
            return decimal(Substring(text.dropLast())).map { $0 / 100 }
        }
        return decimal(Substring(text))
    }

    /// Levenshtein distance, for "did you mean" suggestions.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        var cur = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            cur[0] = i
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }

    /// The closest candidate when it is a plausible typo of `word`.
    static func suggestion(for word: String, among candidates: [String]) -> String? {
        var best: (String, Int)?
        for c in candidates {
            let d = editDistance(word, c)
            if d < (best?.1 ?? Int.max) { best = (c, d) }
        }
        guard let (c, d) = best else { return nil }
        let allowed = max(1, min(3, max(word.count, c.count) / 3))
        return d <= allowed ? c : nil
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// The profile grammar's durations ("500ms", "30s", "5m", "2h", "3d", a bare number of seconds), for
/// other commands' options.
public enum DurationText {
    /// Seconds, or nil when `text` is no duration.
    public static func seconds(_ text: String) -> Double? { Units.durationSeconds(text) }
}
