import FlashSaleCore
import OrderLog
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One bad input line: `INPUT:LINE: field: problem`.
public struct CaptureImportProblem: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var field: String
    public var message: String
    /// `INPUT:LINE: field: problem`, or `INPUT: problem` for the whole file (line 0).
    public var description: String { line == 0 ? "\(file): \(message)" : "\(file):\(line): \(field): \(message)" }
}

/// Turns access logs (CSV with a header row, or NDJSON) into capture files.
///
/// Fields (names are case-insensitive; `-` and `_` are interchangeable):
///
/// | field | names | value | required |
/// |---|---|---|---|
/// | campaign time | `campaign_time_ms`, `campaign_time`, `time`, `timestamp` | milliseconds since the campaign epoch (an integer, or a decimal such as `36000000.0` or `3.6e7`, rounded to the millisecond), or `day N HH:MM:SS.mmm` / `HH:MM:SS` (day 0) | yes |
/// | request id | `request_id`, `id` | integer ≥ 1 | yes |
/// | organisation | `organisation`, `organization`, `org` | integer 0…2^32−1 | yes |
/// | offer | `offer` | offer index 0…65535, or an offer name of the campaign | yes |
/// | quantity | `quantity`, `qty` | integer (Int32) | no (1) |
/// | kind | `kind`, `kind_name` | `buy`, `confirm`, `cancel` or code 0…2 | no (buy) |
/// | reference | `reference`, `ref` | integer ≥ 0 | no (0) |
/// | send offset | `send_offset_ns`, `send_offset_ms` | intended send time since the start of the log | no (campaign time − first campaign time) |
///
/// Other columns/keys are ignored: a `segments dump` of a journal (CSV or NDJSON) imports as is. Its
/// `expire` records are the pipeline's own (holds expire by themselves), not client requests: they are
/// skipped and counted in `Result.expireRecords`. Lines are read one at a time (memory does not grow
/// with the input).
public enum CaptureImporter {
    public enum Format: String, Sendable, CaseIterable { case csv, ndjson }

    public struct Result: Sendable {
        public var requests: UInt64 = 0
        /// Bad lines (all of them, counted).
        public var invalidLines = 0
        /// `expire` records skipped: the pipeline makes them (holds expire by themselves), clients do not send them.
        public var expireRecords = 0
        /// The first bad lines (at most `problemLimit`).
        public var problems: [CaptureImportProblem] = []
        /// Lines read, including the CSV header and blank lines.
        public var lines = 0
        /// The output was written (false when bad lines stopped the import: the output is removed).
        public var written = false
        public var outputBytes: Int64 = 0
    }

    /// Problems kept in `Result.problems`.
    public static let problemLimit = 100

    /// The format a file name suggests: `.ndjson`, `.jsonl`, `.json` → ndjson, anything else csv.
    public static func guessFormat(path: String) -> Format {
        let lower = path.lowercased()
        return lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") ? .ndjson : .csv
    }

    /// Imports `input` into a capture at `output`.
    /// - Parameters:
    ///   - skipInvalid: false: any bad line fails the import (nothing is written and an existing `output` is
    ///     left as it was; the problems are returned);
    ///     true: bad lines are counted and skipped.
    ///   - offerNames: the campaign's offer names (to read offers given by name).
    ///   - campaignFingerprint: stamped into the capture header (nil: unknown).
    /// - Throws: `CaptureImportProblem` for a problem that makes the whole input unusable (unreadable file,
    ///   a CSV header without a required column), `SegmentError` when the output cannot be written.
    public static func importFile(input: String, output: String, format: Format? = nil, skipInvalid: Bool = false,
                                  offerNames: [String] = [], campaignFingerprint: UInt64? = nil,
                                  label: String? = nil) throws -> Result {
        let format = format ?? guessFormat(path: input)
        if let why = unreadableReason(input) {
            throw CaptureImportProblem(file: input, line: 0, field: "file", message: "cannot read it: \(why) (expected a CSV or NDJSON log)")
        }
        guard let file = fopen(input, "rb") else {
            throw CaptureImportProblem(file: input, line: 0, field: "file", message: "cannot read it: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        let writer = try CaptureWriter(path: output, campaignFingerprint: campaignFingerprint,
                                       label: label ?? "import:\(input)")
        var result = Result()
        // Offer indexes are bounded only for a capture stamped for a campaign; an unstamped one may be
        // replayed against any campaign (`--profile` at replay time).
        var parser = LineParser(file: input, format: format, offerNames: offerNames,
                                offerCount: campaignFingerprint == nil ? nil : offerNames.count)
        var linePointer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(linePointer) }
        var keepGoing = true
        while keepGoing {
            let n = getline(&linePointer, &capacity, file)
            if n < 0 { break }
            result.lines += 1
            var len = n
            let bytes = UnsafeRawPointer(linePointer!).assumingMemoryBound(to: UInt8.self)
            while len > 0 && (bytes[len - 1] == 10 || bytes[len - 1] == 13) { len -= 1 }
            let line = UnsafeBufferPointer(start: bytes, count: len)
            switch parser.parse(line, number: result.lines) {
            case .skip:
                break
            case .expire:
                result.expireRecords += 1
            case .record(let r):
                try writer.append(r)
            case .problem(let p):
                result.invalidLines += 1
                if result.problems.count < problemLimit { result.problems.append(p) }
            case .fatal(let p):
                writer.discard()
                throw p
            }
            if !skipInvalid && result.invalidLines >= problemLimit { keepGoing = false }
        }
        if ferror(file) != 0 {
            let why = String(cString: strerror(errno))
            writer.discard()
            throw CaptureImportProblem(file: input, line: result.lines + 1, field: "file", message: "read failed: \(why)")
        }
        if parser.needsHeader && format == .csv {
            writer.discard()
            throw CaptureImportProblem(file: input, line: 1, field: "header", message: "the file is empty (expected a header row naming the fields)")
        }
        if result.invalidLines > 0 && !skipInvalid {
            writer.discard()
            return result
        }
        try writer.close()
        result.requests = writer.count
        result.outputBytes = writer.bytesWritten
        result.written = true
        return result
    }
}

extension CaptureImportProblem: Error {}

/// Parses lines of one input into capture records.
struct LineParser {
    enum Outcome {
        case skip
        /// An `expire` record: the pipeline's own decision, not a client request.
        case expire
        case record(CaptureRecord)
        case problem(CaptureImportProblem)
        case fatal(CaptureImportProblem)
    }

    enum Field: Int, CaseIterable {
        case time, requestId, organisation, offer, quantity, kind, reference, sendNanos, sendMillis

        var label: String {
            switch self {
            case .time: "campaign_time_ms"
            case .requestId: "request_id"
            case .organisation: "organisation"
            case .offer: "offer"
            case .quantity: "quantity"
            case .kind: "kind"
            case .reference: "reference"
            case .sendNanos: "send_offset_ns"
            case .sendMillis: "send_offset_ms"
            }
        }

        static func named(_ raw: String) -> Field? {
            switch raw.lowercased().replacingDashes() {
            case "campaign_time_ms", "campaign_time", "time", "timestamp", "t": .time
            case "request_id", "requestid", "id": .requestId
            case "organisation", "organization", "org", "organisation_id", "org_id": .organisation
            case "offer", "offer_id": .offer
            case "quantity", "qty": .quantity
            case "kind", "kind_name", "kindname": .kind
            case "reference", "ref": .reference
            case "send_offset_ns", "intended_send_ns", "send_ns": .sendNanos
            case "send_offset_ms", "intended_send_ms", "send_ms": .sendMillis
            default: nil
            }
        }

        static let required: [Field] = [.time, .requestId, .organisation, .offer]
    }

    let file: String
    let format: CaptureImporter.Format
    let offerNames: [String]
    /// When set, offer indexes must be below it (the campaign the capture is stamped for).
    let offerCount: Int?
    /// CSV: column index → field (nil: ignored); `kind` prefers the `kind` column over `kind_name`.
    var columns: [Field?] = []
    var needsHeader = true
    var firstCampaign: Int64?
    private var values = [Substring?](repeating: nil, count: Field.allCases.count)

    init(file: String, format: CaptureImporter.Format, offerNames: [String], offerCount: Int? = nil) {
        self.file = file
        self.format = format
        self.offerNames = offerNames
        self.offerCount = offerCount
        needsHeader = format == .csv
    }

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, number: Int) -> Outcome {
        var text = String(decoding: line, as: UTF8.self)
        if number == 1, text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        if text.allSatisfy({ $0 == " " || $0 == "\t" }) { return .skip }
        for i in values.indices { values[i] = nil }
        switch format {
        case .csv:
            let fields: [Substring]
            switch Self.splitCSV(text) {
            case .success(let f): fields = f
            case .failure(let p): return .problem(problem(number, "csv", p.message))
            }
            if needsHeader {
                needsHeader = false
                var cols: [Field?] = []
                var seen = Set<Int>()
                for name in fields {
                    var f = Field.named(name.trimmingSpaces())
                    // `segments dump --format csv` has both kind and kind_name: take the first.
                    if let g = f, seen.contains(g.rawValue) { f = nil }
                    if let g = f { seen.insert(g.rawValue) }
                    cols.append(f)
                }
                for f in Field.required where !seen.contains(f.rawValue) {
                    // One field holding separators: the file is not comma-separated.
                    let other = fields.count == 1 ? [";", "\t", "|"].first { fields[0].contains($0) } : nil
                    let hint = other.map { "; the header is one field containing \($0 == "\t" ? "tabs" : "'\($0)'"): fields must be separated by commas" } ?? ""
                    return .fatal(problem(number, "header", "no \(f.label) column (header fields: \(fields.joined(separator: ",")))\(hint)"))
                }
                columns = cols
                return .skip
            }
            if fields.count != columns.count {
                return .problem(problem(number, "columns", "expected \(columns.count) fields as in the header, found \(fields.count)"))
            }
            for (i, f) in columns.enumerated() { if let f { values[f.rawValue] = fields[i] } }
        case .ndjson:
            switch Self.flatJSONObject(text) {
            case .failure(let p): return .problem(problem(number, "json", p.message))
            case .success(let pairs):
                for (key, value) in pairs {
                    guard let f = Field.named(key), values[f.rawValue] == nil else { continue }
                    values[f.rawValue] = value
                }
            }
        }
        return record(number)
    }

    private mutating func record(_ number: Int) -> Outcome {
        var r = CaptureRecord()
        func value(_ f: Field) -> String? { values[f.rawValue].map { $0.trimmingSpaces() }.flatMap { $0.isEmpty ? nil : $0 } }
        for f in Field.required where value(f) == nil {
            return .problem(problem(number, f.label, "missing"))
        }
        // campaign time
        let t = value(.time)!
        if let ms = Int64(t) {
            r.campaignTimeMillis = ms
        } else if let v = Units.decimal(Substring(t)) {
            // A bare number is milliseconds, also as a decimal or with an exponent ("36000000.0", "3.6e7":
            // how pandas and JSON encoders write them); Units.campaignMillis would read it as seconds.
            guard v >= 0, v < 8_640_000_000_000 else {
                return .problem(problem(number, "campaign_time_ms", "expected a campaign time from day 0 to day 99999 (0...8639999999999 ms), got \"\(t)\""))
            }
            r.campaignTimeMillis = Int64(v.rounded())
        } else if let ms = Units.campaignMillis(t) {
            r.campaignTimeMillis = ms
        } else {
            return .problem(problem(number, "campaign_time_ms", "expected milliseconds or \"day N HH:MM:SS.mmm\", got \"\(t)\""))
        }
        // The campaign clock's range, as in profiles ("day N", N < 100000); it keeps send offsets in 64 bits.
        guard (0..<8_640_000_000_000).contains(r.campaignTimeMillis) else {
            return .problem(problem(number, "campaign_time_ms", "expected a campaign time from day 0 to day 99999 (0...8639999999999 ms), got \"\(t)\""))
        }
        let id = value(.requestId)!
        guard let rid = UInt64(id), rid > 0 else {
            return .problem(problem(number, "request_id", "expected an integer ≥ 1, got \"\(id)\""))
        }
        r.requestId = rid
        let org = value(.organisation)!
        guard let o = UInt32(org) else {
            return .problem(problem(number, "organisation", "expected an integer 0...\(UInt32.max), got \"\(org)\""))
        }
        r.organisation = o
        let offer = value(.offer)!
        if let i = offerNames.firstIndex(of: offer) {
            r.offer = UInt16(i)
        } else if let i = UInt16(offer), Int(i) < offerCount ?? 65536 {
            r.offer = i
        } else {
            let known = offerNames.isEmpty ? "" : " (offers: \(offerNames.joined(separator: ", ")))"
            return .problem(problem(number, "offer", "expected an offer index 0...\((offerCount ?? 65536) - 1) or name, got \"\(offer)\"\(known)"))
        }
        if let q = value(.quantity) {
            guard let v = Int32(q), v >= 1 else { return .problem(problem(number, "quantity", "expected an integer from 1 to 2147483647, got \"\(q)\"")) }
            r.quantity = v
        }
        if let k = value(.kind) {
            let kind: RequestKind? = RequestKind(name: k) ?? UInt8(k).flatMap { RequestKind(rawValue: $0) }
            guard let kind else { return .problem(problem(number, "kind", "expected buy, confirm, cancel or 0...2, got \"\(k)\"")) }
            if kind == .expire { return .expire }
            r.kind = kind.rawValue
        }
        if let ref = value(.reference) {
            guard let v = UInt64(ref) else { return .problem(problem(number, "reference", "expected an integer ≥ 0, got \"\(ref)\"")) }
            r.reference = v
        }
        if let ns = value(.sendNanos) {
            guard let v = UInt64(ns) else { return .problem(problem(number, "send_offset_ns", "expected an integer ≥ 0, got \"\(ns)\"")) }
            r.sendOffsetNanos = v
        } else if let ms = value(.sendMillis) {
            guard let v = Units.decimal(Substring(ms)), v >= 0, v < 1.8e13 else {
                return .problem(problem(number, "send_offset_ms", "expected milliseconds ≥ 0, got \"\(ms)\""))
            }
            r.sendOffsetNanos = UInt64((v * 1e6).rounded())
        } else {
            let first = firstCampaign ?? r.campaignTimeMillis
            firstCampaign = first
            r.sendOffsetNanos = UInt64(max(0, r.campaignTimeMillis &- first)) &* 1_000_000
        }
        return .record(r)
    }

    private func problem(_ line: Int, _ field: String, _ message: String) -> CaptureImportProblem {
        CaptureImportProblem(file: file, line: line, field: field, message: message)
    }

    struct SyntaxError: Error { var message: String }

    /// Splits one CSV line (RFC 4180 quoting: `"a,b"`, `""` inside quotes; no line breaks inside fields).
    static func splitCSV(_ line: String) -> Swift.Result<[Substring], SyntaxError> {
        var fields: [Substring] = []
        var s = Substring(line)
        while true {
            if s.first == "\"" {
                var value = ""
                var i = s.index(after: s.startIndex)
                var closed = false
                while i < s.endIndex {
                    if s[i] == "\"" {
                        let next = s.index(after: i)
                        if next < s.endIndex && s[next] == "\"" { value.append("\""); i = s.index(after: next); continue }
                        i = next
                        closed = true
                        break
                    }
                    value.append(s[i])
                    i = s.index(after: i)
                }
                if !closed { return .failure(SyntaxError(message: "unterminated quoted field \(fields.count + 1)")) }
                fields.append(Substring(value))
                s = s[i...]
                if s.isEmpty { return .success(fields) }
                guard s.first == "," else { return .failure(SyntaxError(message: "expected ',' after the quoted field \(fields.count)")) }
                s = s.dropFirst()
            } else if let comma = s.firstIndex(of: ",") {
                fields.append(s[..<comma])
                s = s[s.index(after: comma)...]
            } else {
                fields.append(s)
                return .success(fields)
            }
        }
    }

    /// Parses a one-line JSON object; returns its top-level keys with scalar values as text (strings
    /// unescaped, numbers as written, null as nil-like empty). Nested values are skipped.
    static func flatJSONObject(_ line: String) -> Swift.Result<[(String, Substring)], SyntaxError> {
        let u = Array(line.utf8)
        var i = 0
        func ws() { while i < u.count, u[i] == 32 || u[i] == 9 || u[i] == 13 { i += 1 } }
        func fail(_ what: String) -> Swift.Result<[(String, Substring)], SyntaxError> {
            .failure(SyntaxError(message: "\(what) at column \(i + 1)"))
        }
        func string() -> String? {
            guard i < u.count, u[i] == 34 else { return nil }
            i += 1
            var out: [UInt8] = []
            while i < u.count {
                let c = u[i]
                if c == 34 { i += 1; return String(decoding: out, as: UTF8.self) }
                if c == 92 {
                    i += 1
                    guard i < u.count else { return nil }
                    switch u[i] {
                    case 110: out.append(10)
                    case 116: out.append(9)
                    case 114: out.append(13)
                    case 98: out.append(8)
                    case 102: out.append(12)
                    case 117:
                        guard i + 4 < u.count, let v = UInt32(String(decoding: u[(i + 1)...(i + 4)], as: UTF8.self), radix: 16) else { return nil }
                        out.append(contentsOf: Array(String(Character(Unicode.Scalar(v) ?? "?")).utf8))
                        i += 4
                    default: out.append(u[i])
                    }
                    i += 1
                    continue
                }
                out.append(c)
                i += 1
            }
            return nil
        }
        func skipNested() -> Bool {
            var depth = 0
            while i < u.count {
                let c = u[i]
                if c == 34 { guard string() != nil else { return false }; continue }
                if c == 123 || c == 91 { depth += 1 } else if c == 125 || c == 93 { depth -= 1; if depth == 0 { i += 1; return true } }
                i += 1
            }
            return false
        }
        var pairs: [(String, Substring)] = []
        ws()
        guard i < u.count, u[i] == 123 else { return fail("expected a JSON object '{'") }
        i += 1
        ws()
        if i < u.count, u[i] == 125 { i += 1 } else {
            while true {
                ws()
                guard let key = string() else { return fail("expected a key string") }
                ws()
                guard i < u.count, u[i] == 58 else { return fail("expected ':' after \"\(key)\"") }
                i += 1
                ws()
                guard i < u.count else { return fail("expected a value for \"\(key)\"") }
                if u[i] == 34 {
                    guard let v = string() else { return fail("unterminated string for \"\(key)\"") }
                    pairs.append((key, Substring(v)))
                } else if u[i] == 123 || u[i] == 91 {
                    guard skipNested() else { return fail("unterminated value for \"\(key)\"") }
                } else {
                    let start = i
                    while i < u.count, u[i] != 44, u[i] != 125, u[i] != 32, u[i] != 9 { i += 1 }
                    let raw = String(decoding: u[start..<i], as: UTF8.self)
                    if raw.isEmpty { return fail("expected a value for \"\(key)\"") }
                    if raw != "null" { pairs.append((key, Substring(raw))) }
                }
                ws()
                guard i < u.count else { return fail("expected ',' or '}'") }
                if u[i] == 44 { i += 1; continue }
                if u[i] == 125 { i += 1; break }
                return fail("expected ',' or '}'")
            }
        }
        ws()
        if i != u.count { return fail("unexpected text after the object") }
        return .success(pairs)
    }
}

extension String {
    func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }
}
