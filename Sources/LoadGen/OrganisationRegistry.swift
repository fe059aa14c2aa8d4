import FlashSaleCore

/// The organisations of a real sale, read from a file (`serve --organisations FILE`) instead of the
/// profile's synthetic population.
///
/// CSV with a header naming the columns `id,level,region,activated,tags` (any order; `activated` and
/// `tags` optional; `tags` separated by `;`), or NDJSON, one object a line with the same keys
/// (`"tags": "a;b"` or a list is not accepted: a string). Ids are dense: every id `0..<N` exactly once, in
/// any order. Levels are `none`, `basic`, `intermediate`, `advanced`; regions and tags are the campaign's
/// names. Memory: the population's 8 bytes per organisation, plus the line being read.
public enum OrganisationRegistry {
    /// What is wrong, and where: `FILE:LINE: field: problem`.
    public struct LoadError: Error, CustomStringConvertible, Equatable {
        public var file: String
        public var line: Int
        public var field: String
        public var message: String
        public var description: String { "\(file):\(line): \(field): \(message)" }
    }

    /// Reads `path` for `campaign` (its regions and tags name the values).
    public static func load(path: String, campaign: Campaign) throws(LoadError) -> Population {
        guard let text = readWholeTextFile(path) else {
            throw LoadError(file: path, line: 0, field: "file", message: "cannot read it (expected a UTF-8 CSV or NDJSON file)")
        }
        return try parse(text, file: path, campaign: campaign)
    }

    public static func parse(_ text: String, file: String, campaign: Campaign) throws(LoadError) -> Population {
        var rows: [(id: Int, org: Organisation, line: Int)] = []
        var header: [String]?
        let ndjson = text.drop(while: { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\u{FEFF}" }).first == "{"
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            if lineNumber == 1 && line.hasPrefix("\u{FEFF}") { line.removeFirst() }
            if line.trimmingSpaces().isEmpty { continue }
            func fail(_ field: String, _ message: String) -> LoadError { LoadError(file: file, line: lineNumber, field: field, message: message) }
            var values: [String: String] = [:]
            if ndjson {
                switch LineParser.flatJSONObject(line) {
                case .failure(let e): throw fail("line", e.message)
                case .success(let pairs): for (k, v) in pairs { values[k] = String(v) }
                }
            } else {
                let fields: [Substring]
                switch LineParser.splitCSV(line) {
                case .failure(let e): throw fail("line", e.message)
                case .success(let f): fields = f
                }
                guard let names = header else {
                    let h = fields.map { $0.trimmingSpaces().lowercased() }
                    for required in ["id", "level", "region"] where !h.contains(required) {
                        throw fail("header", "missing column '\(required)'; expected id,level,region[,activated][,tags]")
                    }
                    if let unknown = h.first(where: { !["id", "level", "region", "activated", "tags"].contains($0) }) {
                        throw fail("header", "unknown column '\(unknown)'; expected id, level, region, activated, tags")
                    }
                    header = h
                    continue
                }
                guard fields.count == names.count else { throw fail("line", "\(fields.count) fields; the header has \(names.count)") }
                for (k, v) in zip(names, fields) { values[k] = v.trimmingSpaces() }
            }
            if let unknown = values.keys.sorted().first(where: { !["id", "level", "region", "activated", "tags"].contains($0) }) {
                throw fail(unknown, "unknown field; expected id, level, region, activated, tags")
            }
            guard let idText = values["id"], let id = Int(idText), id >= 0, id < Int(UInt32.max) else {
                throw fail("id", "expected an organisation id, a non-negative integer, got \(values["id"].map { "'\($0)'" } ?? "nothing")")
            }
            guard let levelText = values["level"], let level = CertificationLevel.allCases.first(where: { "\($0)" == levelText.lowercased() }) else {
                throw fail("level", "expected none, basic, intermediate or advanced, got \(values["level"].map { "'\($0)'" } ?? "nothing")")
            }
            guard let regionText = values["region"], let region = campaign.regions.firstIndex(of: regionText) else {
                throw fail("region", "expected one of the campaign's regions (\(campaign.regions.joined(separator: ", "))), got \(values["region"].map { "'\($0)'" } ?? "nothing")")
            }
            var activated = false
            if let a = values["activated"], !a.isEmpty {
                switch a.lowercased() {
                case "true", "yes", "1": activated = true
                case "false", "no", "0": activated = false
                default: throw fail("activated", "expected true or false, got '\(a)'")
                }
            }
            var tags: UInt32 = 0
            if let t = values["tags"], !t.isEmpty {
                for name in t.split(separator: ";").map({ $0.trimmingSpaces() }) where !name.isEmpty {
                    guard let bit = campaign.tags.firstIndex(of: name) else {
                        throw fail("tags", "unknown tag '\(name)'; expected campaign.tags: " + (campaign.tags.isEmpty ? "(none declared)" : campaign.tags.joined(separator: ", ")))
                    }
                    tags |= 1 << UInt32(bit)
                }
            }
            rows.append((id, Organisation(level: level, region: UInt8(region), activated: activated, tags: tags), lineNumber))
        }
        guard !rows.isEmpty else { throw LoadError(file: file, line: 0, field: "file", message: "no organisations") }
        // Dense ids: each of 0..<N exactly once.
        var orgs = [Organisation?](repeating: nil, count: rows.count)
        for r in rows {
            guard r.id < rows.count else {
                throw LoadError(file: file, line: r.line, field: "id", message: "\(r.id) with \(rows.count) organisations; ids are 0…\(rows.count - 1), each once")
            }
            guard orgs[r.id] == nil else { throw LoadError(file: file, line: r.line, field: "id", message: "\(r.id) appears twice") }
            orgs[r.id] = r.org
        }
        return Population(orgs.map { $0! })
    }
}
