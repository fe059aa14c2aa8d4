/// Bearer tokens → the organisation each may act for (`serve --tokens FILE`).
///
/// The file has one `TOKEN ORGANISATION` per line (whitespace between; `#` starts a comment; blank lines
/// are skipped). A token is looked up by a keyed 64-bit hash (Swift's `Hasher`, seeded at random per
/// process), then compared byte by byte in constant time: how long a refusal takes says nothing about
/// how much of a token was right.
public struct TokenTable: Sendable {
    public struct LoadError: Error, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var message: String
        public var description: String { "\(file):\(line): \(message)" }
    }

    private var buckets: [Int: [(token: [UInt8], organisation: UInt32)]] = [:]
    public private(set) var count = 0

    public init(entries: [(String, UInt32)]) {
        for (t, org) in entries { buckets[Self.key(Array(t.utf8)), default: []].append((Array(t.utf8), org)) }
        count = entries.count
    }

    /// Parses the file's text; `organisations` bounds the ids.
    public init(text: String, file: String, organisations: Int) throws(LoadError) {
        var entries: [(String, UInt32)] = []
        var seen = Set<String>()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            if fields.isEmpty { continue }
            guard fields.count == 2 else {
                throw LoadError(file: file, line: i + 1, message: "expected TOKEN ORGANISATION, got \(fields.count) fields")
            }
            let token = String(fields[0])
            guard token.utf8.count >= 16 else { throw LoadError(file: file, line: i + 1, message: "token: at least 16 characters") }
            guard let org = UInt32(fields[1]), Int(org) < organisations else {
                throw LoadError(file: file, line: i + 1, message: "organisation: expected an id below \(organisations), got \(fields[1])")
            }
            guard seen.insert(token).inserted else { throw LoadError(file: file, line: i + 1, message: "token: given twice") }
            entries.append((token, org))
        }
        self.init(entries: entries)
    }

    static func key(_ bytes: [UInt8]) -> Int {
        var h = Hasher()
        h.combine(bytes.count)
        for b in bytes { h.combine(b) }
        return h.finalize()
    }

    /// The organisation `token` acts for, or nil.
    public func organisation(for token: Substring) -> UInt32? {
        organisation(forToken: Array(token.utf8))
    }

    /// The organisation the token of these bytes (its UTF-8) acts for, or nil (the binary HELLO's token).
    public func organisation(forToken bytes: [UInt8]) -> UInt32? {
        guard let candidates = buckets[Self.key(bytes)] else { return nil }
        var found: UInt32?
        for c in candidates where Self.constantTimeEqual(c.token, bytes) { found = c.organisation }
        return found
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in 0..<a.count { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}
