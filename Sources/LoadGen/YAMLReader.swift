import FlashSaleCore
import Yams

/// A YAML node with its key path, for reading the profile schema with located errors.
struct YValue {
    let node: Node
    let path: String
    let file: String
    /// Where to point when the node itself has no mark.
    let fallbackMark: Mark?

    var mark: Mark? { node.mark ?? fallbackMark }

    func fail(_ kind: ProfileError.Kind, _ message: String, at mark: Mark? = nil, path: String? = nil) -> ProfileError {
        let m = mark ?? self.mark
        return ProfileError(kind, file: file, line: m?.line, column: m?.column, keyPath: path ?? self.path, message: message)
    }

    func child(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// A short description of what the node is, for "expected X, got Y" messages.
    var shown: String {
        switch node {
        case .scalar(let s):
            if isNull { return "nothing" }
            return "\"\(s.string)\""
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    var isNull: Bool {
        if case .scalar(let s) = node, s.style == .plain || s.style == .any,
           ["", "~", "null", "Null", "NULL"].contains(s.string) { return true }
        return false
    }

    func wrongType(_ expected: String) -> ProfileError {
        fail(.wrongType, "expected \(expected), got \(shown)")
    }

    // MARK: shapes

    func map(allowed: [String]) throws(ProfileError) -> YMap {
        guard case .mapping(let m) = node else { throw wrongType("a mapping with keys \(allowed.joined(separator: ", "))") }
        var entries: [YMap.Entry] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else {
                throw fail(.wrongType, "expected a plain key, got \(YValue(node: k, path: path, file: file, fallbackMark: mark).shown)", at: k.mark)
            }
            let key = ks.string
            guard allowed.contains(key) else {
                var msg = "unknown key '\(key)'"
                if let s = Units.suggestion(for: key, among: allowed) { msg += " (did you mean '\(s)'?)" }
                msg += "; expected one of: " + allowed.joined(separator: ", ")
                throw fail(.unknownKey, msg, at: k.mark, path: child(key))
            }
            entries.append(.init(key: key, keyMark: k.mark,
                                 value: YValue(node: v, path: child(key), file: file, fallbackMark: k.mark)))
        }
        return YMap(owner: self, entries: entries)
    }

    func list(nonEmpty: Bool = false, of what: String) throws(ProfileError) -> [YValue] {
        guard case .sequence(let s) = node else { throw wrongType("a list of \(what)") }
        if nonEmpty && s.isEmpty { throw fail(.wrongType, "expected a non-empty list of \(what), got an empty list") }
        return s.enumerated().map { YValue(node: $1, path: "\(path)[\($0)]", file: file, fallbackMark: mark) }
    }

    func string(_ expected: String = "text") throws(ProfileError) -> String {
        guard case .scalar(let s) = node, !isNull else { throw wrongType(expected) }
        return s.string
    }

    func identifier(_ what: String) throws(ProfileError) -> String {
        let s = try string("\(what) (text)")
        guard !s.trimmingSpaces().isEmpty else { throw fail(.wrongType, "expected \(what), got an empty string") }
        return s
    }

    /// true/false (also yes/no, on/off).
    func bool(_ what: String) throws(ProfileError) -> Bool {
        switch try string("true or false (\(what))").lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw wrongType("true or false (\(what))")
        }
    }

    // MARK: numbers

    func int64(_ what: String = "an integer") throws(ProfileError) -> Int64 {
        let s = try string(what)
        guard let v = Int64(s.filter { $0 != "_" }) else { throw wrongType(what) }
        return v
    }

    func positiveInt64(_ what: String) throws(ProfileError) -> Int64 {
        let v = try int64("a positive integer (\(what))")
        guard v > 0 else { throw fail(.notPositive, "expected a positive integer (\(what)), got \(v)") }
        return v
    }

    func positiveInt(_ what: String, max: Int = Int.max) throws(ProfileError) -> Int {
        let v = try positiveInt64(what)
        guard v <= Int64(max) else { throw fail(.invalidValue, "expected at most \(max) (\(what)), got \(v)") }
        return Int(v)
    }

    func double(_ what: String = "a number") throws(ProfileError) -> Double {
        let s = try string(what)
        guard let v = Units.decimal(Substring(s.trimmingSpaces())) else { throw wrongType(what) }
        return v
    }

    /// "0.05" or "5%", in 0...1.
    func probability() throws(ProfileError) -> Double {
        let s = try string("a probability in 0...1 (e.g. 0.05 or 5%)")
        guard let v = Units.fraction(s) else { throw wrongType("a probability in 0...1 (e.g. 0.05 or 5%)") }
        guard v >= 0 && v <= 1 else { throw fail(.probabilityRange, "expected a probability in 0...1, got \(s)") }
        return v
    }

    /// "50%" or 50: a percentage 0...100.
    func percent() throws(ProfileError) -> Int {
        let s = try string("a percentage like 50%")
        let t = s.trimmingSpaces()
        guard let v = Units.decimal(Substring(t.hasSuffix("%") ? String(t.dropLast()) : t)), v == v.rounded() else {
            throw wrongType("a whole percentage like 50%")
        }
        guard v >= 0 && v <= 100 else { throw fail(.invalidValue, "expected a percentage in 0...100, got \(s)") }
        return Int(v)
    }

    // MARK: the profile's little languages

    func durationSeconds(allowZero: Bool = false) throws(ProfileError) -> Double {
        let expected = "a duration like \"500ms\", \"30s\", \"5m\", \"2h\" or \"3d\""
        guard case .scalar(let s) = node, !isNull else { throw wrongType(expected) }
        guard let v = Units.durationSeconds(s.string) else {
            throw fail(.badDuration, "expected \(expected), got \"\(s.string)\"")
        }
        guard allowZero ? v >= 0 : v > 0 else {
            throw fail(.notPositive, "expected a \(allowZero ? "non-negative" : "positive") duration, got \"\(s.string)\"")
        }
        // Times are held in 64-bit milliseconds and nanoseconds: ten years is far beyond any campaign.
        guard v <= Self.longestDurationSeconds else {
            throw fail(.invalidValue, "expected a duration of at most 10 years (3650d), got \"\(s.string)\"")
        }
        return v
    }

    static let longestDurationSeconds = 3650.0 * 86_400

    func durationMillis(allowZero: Bool = false) throws(ProfileError) -> Int64 {
        let ms = Int64((try durationSeconds(allowZero: allowZero) * 1000).rounded())
        // Campaign durations are whole milliseconds: "0.1ms" would silently become 0.
        if ms == 0 && !allowZero { throw fail(.notPositive, "expected at least 1ms (campaign times are whole milliseconds)") }
        return ms
    }

    func rate(allowZero: Bool = false) throws(ProfileError) -> Double {
        let expected = "a rate like \"2000/s\", \"50k/s\" or 2000"
        guard case .scalar(let s) = node, !isNull else { throw wrongType(expected) }
        guard let v = Units.ratePerSecond(s.string) else { throw fail(.badRate, "expected \(expected), got \"\(s.string)\"") }
        guard allowZero ? v >= 0 : v > 0 else {
            throw fail(.notPositive, "expected a \(allowZero ? "non-negative" : "positive") rate, got \"\(s.string)\"")
        }
        guard v <= 1e9 else { throw fail(.invalidValue, "expected a rate of at most 1G/s (one machine generates ~5M/s), got \"\(s.string)\"") }
        return v
    }

    func campaignMillis() throws(ProfileError) -> Int64 {
        let expected = "a campaign time like \"day 0 10:00\", \"10:00:30\", \"day 3\" or \"36h\""
        guard case .scalar(let s) = node, !isNull else { throw wrongType(expected) }
        guard let v = Units.campaignMillis(s.string) else { throw fail(.badTime, "expected \(expected), got \"\(s.string)\"") }
        return v
    }

    func level() throws(ProfileError) -> CertificationLevel {
        let s = try string("a certification level (none, basic, intermediate, advanced)")
        guard let l = CertificationLevel(name: s) else {
            let names = CertificationLevel.allCases.map(\.description)
            var msg = "unknown certification level '\(s)'"
            if let g = Units.suggestion(for: s, among: names) { msg += " (did you mean '\(g)'?)" }
            throw fail(.unknownLevel, msg + "; expected one of: " + names.joined(separator: ", "))
        }
        return l
    }

    /// A mapping `name: probability` summing to 1 (±1e-6), with names checked by `resolve`.
    func distribution<K>(of what: String, resolve: (String, YValue) throws(ProfileError) -> K)
        throws(ProfileError) -> [(K, Double)]
    {
        guard case .mapping(let m) = node, !m.isEmpty else {
            throw wrongType("a non-empty mapping of \(what) to probabilities")
        }
        var out: [(K, Double)] = []
        var sum = 0.0
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw fail(.wrongType, "expected \(what) as keys", at: k.mark) }
            let keyValue = YValue(node: k, path: child(ks.string), file: file, fallbackMark: mark)
            let key = try resolve(ks.string, keyValue)
            let p = try YValue(node: v, path: child(ks.string), file: file, fallbackMark: k.mark).probability()
            sum += p
            out.append((key, p))
        }
        guard abs(sum - 1) <= 1e-6 else {
            throw fail(.distributionSum, "expected probabilities summing to 1, got \(sum)")
        }
        return out
    }
}

struct YMap {
    struct Entry {
        let key: String
        let keyMark: Mark?
        let value: YValue
    }
    let owner: YValue
    let entries: [Entry]

    func has(_ key: String) -> Bool { entries.contains { $0.key == key } }

    /// The value for `key`, nil when absent or null.
    func optional(_ key: String) -> YValue? {
        guard let e = entries.first(where: { $0.key == key }), !e.value.isNull else { return nil }
        return e.value
    }

    func required(_ key: String, _ expected: String) throws(ProfileError) -> YValue {
        if let v = optional(key) { return v }
        if let e = entries.first(where: { $0.key == key }) {
            throw e.value.fail(.missingKey, "key '\(key)' has no value; expected \(expected)")
        }
        throw owner.fail(.missingKey, "missing required key '\(key)' (\(expected))", path: owner.child(key))
    }
}
