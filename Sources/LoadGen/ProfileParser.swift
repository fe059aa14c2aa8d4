import FlashSaleCore
import Yams

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension LoadProfile {
    /// Reads and validates a profile file.
    public static func load(path: String) throws(ProfileError) -> LoadProfile {
        guard let bytes = readWholeFile(path) else {
            let why = unreadableReason(path) ?? "read failed"
            throw ProfileError(.unreadable, file: path, line: nil, column: nil, keyPath: "",
                               message: "cannot read the file: \(why) (expected a readable UTF-8 YAML file)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw invalidUTF8(bytes, file: path)
        }
        return try parse(yaml: text, file: path)
    }

    /// Parses and validates a profile given as bytes (which must be UTF-8); `file` names it in errors.
    public static func parse(bytes: [UInt8], file: String) throws(ProfileError) -> LoadProfile {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw invalidUTF8(bytes, file: file) }
        return try parse(yaml: text, file: file)
    }

    /// The error for bytes that are not UTF-8: the line and column of the first bad byte.
    static func invalidUTF8(_ bytes: [UInt8], file: String) -> ProfileError {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        decoding: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .error: break decoding
            case .emptyInput: break decoding   // not reached for bytes that failed validation
            }
        }
        let (line, column) = Located.lineAndColumn(of: offset, in: bytes)
        let bad = bytes[min(offset, bytes.count - 1)]
        return ProfileError(.syntax, file: file, line: line, column: column, keyPath: "",
                            message: "not UTF-8 text: invalid byte 0x\(String(bad, radix: 16, uppercase: true)) at byte offset \(offset); expected a UTF-8 YAML file")
    }

    /// Parses and validates a profile; `file` names it in errors.
    public static func parse(yaml: String, file: String) throws(ProfileError) -> LoadProfile {
        // YAML allows a byte order mark; editors on Windows write one.
        try ProfileParser(file: file).parse(yaml.hasPrefix("\u{FEFF}") ? String(yaml.dropFirst()) : yaml)
    }
}

/// Lines and columns as the errors count them: lines 1-based, split at LF, CR LF or a lone CR (as the
/// YAML parser does); columns 1-based, in Unicode scalars.
enum Located {
    /// Where byte `offset` of `bytes` is; the bytes before it must be UTF-8.
    static func lineAndColumn(of offset: Int, in bytes: [UInt8]) -> (line: Int, column: Int) {
        var line = 1, lineStart = 0
        var i = 0
        let end = min(offset, bytes.count)
        while i < end {
            if bytes[i] == 0x0A || (bytes[i] == 0x0D && (i + 1 >= bytes.count || bytes[i + 1] != 0x0A)) {
                line += 1
                lineStart = i + 1
            }
            i += 1
        }
        // Scalars from the line start: every byte that is not a UTF-8 continuation byte starts one.
        var column = 1
        for b in bytes[lineStart..<end] where b & 0xC0 != 0x80 { column += 1 }
        return (line, column)
    }

    /// The first scalar YAML does not allow in a stream (C0 controls other than tab, LF, CR; DEL; C1
    /// controls other than NEL; surrogates; U+FFFE, U+FFFF), as a byte offset into the UTF-8 text.
    static func firstForbiddenScalar(in text: String) -> (offset: Int, scalar: Unicode.Scalar)? {
        var offset = 0
        for u in text.unicodeScalars {
            let v = u.value
            let allowed = v == 0x09 || v == 0x0A || v == 0x0D || (0x20...0x7E).contains(v) || v == 0x85
                || (0xA0...0xD7FF).contains(v) || (0xE000...0xFFFD).contains(v) || (0x10000...0x10FFFF).contains(v)
            if !allowed { return (offset, u) }
            offset += UTF8.width(u)
        }
        return nil
    }
}

func readWholeTextFile(_ path: String) -> String? {
    readWholeFile(path).flatMap { String(validating: $0, as: UTF8.self) }
}

func readWholeFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, 65536, f) }
        if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
        if n < 65536 { break }
    }
    if ferror(f) != 0 { return nil }
    return bytes
}

/// "12.3 GB" (decimal gigabytes, one decimal).
extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

func gigabytes(_ bytes: Int) -> String {
    let tenths = (bytes + 50_000_000) / 100_000_000
    return "\(tenths / 10).\(tenths % 10) GB"
}

struct ProfileParser {
    let file: String
    static let itemKeys = ["id", "kind", "stock", "model", "vendor", "tier", "region", "per-organisation-cap", "allotment"]
    static let commonItemKeys = ["id", "kind", "stock", "per-organisation-cap", "allotment"]
    /// At most this many allotments (waves or days) per item.
    static let maxAllotments = 10_000
    static let trafficKeys = ["start", "time-scale", "requests", "arrivals", "phases", "popularity", "quantity", "behaviour"]

    func parse(_ yaml: String) throws(ProfileError) -> LoadProfile {
        let root: Node
        do {
            guard let r = try Yams.compose(yaml: yaml) else {
                throw ProfileError(.syntax, file: file, line: 1, column: 1, keyPath: "",
                                   message: "empty document; expected a mapping with keys name, seed, duration, campaign, population, traffic")
            }
            root = r
        } catch let e as ProfileError {
            throw e
        } catch let e as YamlError {
            throw Self.syntaxError(e, file: file)
        } catch {
            throw ProfileError(.syntax, file: file, line: 1, column: 1, keyPath: "", message: "not YAML: \(error)")
        }
        let top = YValue(node: root, path: "", file: file, fallbackMark: nil)
        guard case .mapping = root else {
            throw top.fail(.syntax, "expected a YAML mapping with keys name, seed, duration, campaign, population, traffic, got \(top.shown)")
        }
        return try readProfile(top)
    }

    static func syntaxError(_ e: YamlError, file: String) -> ProfileError {
        func located(_ what: String, _ context: YamlError.Context?, _ problem: String, _ mark: Mark) -> ProfileError {
            var msg = "not valid YAML (\(what)): \(problem)"
            if let c = context { msg += " (\(c.text) at line \(c.mark.line), column \(c.mark.column))" }
            return ProfileError(.syntax, file: file, line: mark.line, column: mark.column, keyPath: "", message: msg)
        }
        switch e {
        case .scanner(let c, let p, let m, let yaml):
            var problem = p
            // A tab where YAML expects indentation gives "found character that cannot start any token".
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            if m.line >= 1, m.line <= lines.count, lines[m.line - 1].prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                problem += "; the line is indented with a tab: YAML indents with spaces only"
            }
            return located("scanner", c, problem, m)
        case .parser(let c, let p, let m, _): return located("parser", c, p, m)
        case .composer(let c, let p, let m, _): return located("composer", c, p, m)
        case .reader(let problem, let offset, let value, let yaml):
            // Control characters and the like: the reader gives a character offset (or none); the
            // location is that of the first scalar YAML forbids, found here, else of the offset.
            let bytes = Array(yaml.utf8)
            var byteOffset: Int?
            var shown = problem
            if let bad = Located.firstForbiddenScalar(in: yaml) {
                byteOffset = bad.offset
                shown += " (U+\(String(bad.scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)))"
            } else if let offset, let index = yaml.index(yaml.startIndex, offsetBy: offset, limitedBy: yaml.endIndex) {
                byteOffset = yaml.utf8.distance(from: yaml.utf8.startIndex, to: index)
                if value >= 0 { shown += " (U+\(String(value, radix: 16, uppercase: true).leftPadded(to: 4)))" }
            }
            let (line, column) = Located.lineAndColumn(of: byteOffset ?? 0, in: bytes)
            return ProfileError(.syntax, file: file, line: line, column: column, keyPath: "",
                                message: "not valid YAML (reader): \(shown); expected printable text (a control character must be written as an escape in a double-quoted string)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ProfileError(.duplicateKey, file: file, line: context.mark.line, column: context.mark.column, keyPath: "",
                                message: "key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) appears twice in one mapping; expected each key once")
        default:
            return ProfileError(.syntax, file: file, line: 1, column: 1, keyPath: "", message: "not valid YAML: \(e)")
        }
    }

    // MARK: - top level

    func readProfile(_ top: YValue) throws(ProfileError) -> LoadProfile {
        let m = try top.map(allowed: ["name", "seed", "duration", "campaign", "population", "traffic"])
        let name = try m.required("name", "the profile's name").identifier("a profile name")
        var seed: UInt64 = 1
        if let s = m.optional("seed") {
            let text = try s.string("a seed (a non-negative integer)")
            guard let v = UInt64(text.filter { $0 != "_" }) else { throw s.wrongType("a seed (a non-negative integer below 2^64)") }
            seed = v
        }
        let campaignNode = try m.required("campaign", "a mapping with window, regions, items, offers")
        let c = try readCampaign(campaignNode)
        let populationNode = try m.required("population", "a mapping with organisations, certification, regions, activated")
        let pop = try readPopulation(populationNode, regions: c.regions, tags: c.tags, capCount: c.caps.count,
                                     offers: c.offers, offerNodes: c.offerNodes)
        let trafficNode = try m.required("traffic", "a mapping with start, time-scale, phases, ...")
        var traffic = try readTraffic(trafficNode, window: c.window, offers: c.offers)

        let phaseSeconds = traffic.phaseSeconds
        // Where a whole-traffic problem is reported: at the key, or at `traffic` when the key is absent.
        func trafficKey(_ key: String) -> YValue { (try? trafficNode.map(allowed: Self.trafficKeys))?.optional(key) ?? trafficNode }
        if !(phaseSeconds <= YValue.longestDurationSeconds) {   // each phase is capped; their sum must be too
            throw trafficKey("phases").fail(.invalidValue, "the phases last \(Int(min(phaseSeconds, 1e15))) s in all; expected at most 10 years (3650d)")
        }
        var duration = phaseSeconds
        if let d = m.optional("duration") {
            duration = try d.durationSeconds()
            // The phases are stretched or squeezed to fill the duration, and the time scale with them
            // (as `--duration` does): the run covers the same campaign time, so a spike written at
            // 10:00 still lands at 10:00 (it used to move, and most requests fell outside the window).
            let f = duration / phaseSeconds
            if abs(f - 1) > 1e-12 {
                traffic.phases = traffic.phases.map { $0.scaled(by: f) }
                traffic.timeScale /= f
            }
        }
        // The campaign time a run covers (phases × time-scale as written, which `duration` does not
        // change) must fit the campaign clock, like "day N" < 100000.
        let campaignSpanDays = duration * traffic.timeScale / 86_400
        if !(campaignSpanDays < 100_000) {
            throw trafficKey("time-scale").fail(.invalidValue, "phases of \(phaseSeconds) s at time-scale \(traffic.timeScale * duration / phaseSeconds) cover \(Int(min(campaignSpanDays, 1e15))) days of campaign time; expected under 100000 days (lower the time-scale or the phases)",
                                                path: trafficNode.child("time-scale"))
        }

        let population = pop.generate(regionCount: c.regions.count, seed: seed)
        let highest = population.organisations.last?.level ?? .none   // levels come in ascending id blocks
        for (i, offer) in c.offers.enumerated() where highest < offer.minimumLevel {
            throw c.offerNodes[i].fail(.invalidValue, "no organisation is certified '\(offer.minimumLevel)' or above (population too small for its certification shares); expected at least one eligible organisation",
                                       path: c.offerNodes[i].child("min-level"))
        }
        // Eligibility beyond the level (regions, tags, allow-list) must admit someone certified enough.
        for (i, offer) in c.offers.enumerated() where !offer.eligibility.isEveryone {
            let admitted = population.organisations.indices.contains {
                population.organisations[$0].level >= offer.minimumLevel
                    && offer.eligibility.admits(population.organisations[$0], id: UInt32($0))
            }
            if !admitted {
                let keys = ["id", "kind", "price", "min-level", "limit", "max-quantity", "eligibility", "waves", "components", "item", "model", "hold"]
                let at = (try? c.offerNodes[i].map(allowed: keys))?.optional("eligibility") ?? c.offerNodes[i]
                throw at.fail(.invalidValue, "no organisation of the population passes this offer's eligibility and min-level '\(offer.minimumLevel)' together; expected at least one (levels come in id blocks, none first: an allow-list of low ids may hold only uncertified organisations)")
            }
        }
        let campaign = Campaign(name: name, window: c.window, regions: c.regions, items: c.items,
                                offers: c.offers, population: population, tags: c.tags, caps: c.caps)
        for problem in campaign.validate() {
            throw mapCampaignProblem(problem, campaign: campaignNode, itemNodes: c.itemNodes, offerNodes: c.offerNodes,
                                     populationNode: populationNode)
        }
        return LoadProfile(name: name, seed: seed, durationSeconds: duration, campaign: campaign,
                           traffic: traffic, populationSpec: pop, file: file)
    }

    func mapCampaignProblem(_ problem: String, campaign: YValue, itemNodes: [YValue], offerNodes: [YValue],
                            populationNode: YValue) -> ProfileError {
        let head = problem.prefix { $0 != " " && $0 != ":" }
        func index(_ prefix: String) -> Int? {
            guard head.hasPrefix(prefix + "["), head.hasSuffix("]") else { return nil }
            return Int(head.dropFirst(prefix.count + 1).dropLast())
        }
        var node = campaign
        if let i = index("items"), i < itemNodes.count { node = itemNodes[i] }
        else if let i = index("offers"), i < offerNodes.count { node = offerNodes[i] }
        else if head == "organisation" { node = populationNode }
        else if head == "window" || head == "regions" {
            node = YValue(node: campaign.node, path: campaign.child(String(head)), file: file, fallbackMark: campaign.mark)
        }
        return node.fail(.invalidCampaign, "the campaign is unusable: \(problem)")
    }

    // MARK: - campaign

    struct CampaignParts {
        var window: SaleWindow
        var regions: [String]
        var items: [StockItem]
        var offers: [Offer]
        var itemNodes: [YValue]
        var offerNodes: [YValue]
        var tags: [String]
        var caps: [Campaign.Cap]
    }

    /// What an offer's keys may refer to.
    struct OfferContext {
        var items: [StockItem]
        var declared: [String: [Int]]
        var declaredOrder: [String]
        var regions: [String]
        var tags: [String]
        var window: SaleWindow

        /// The id `item` was declared with (an allotment's item is named `ID@dayN…`).
        func declaredName(of item: StockItem) -> String {
            guard let k = items.firstIndex(of: item) else { return item.name }
            return declaredOrder.first { declared[$0]?.contains(k) ?? false } ?? item.name
        }
    }

    func readCampaign(_ v: YValue) throws(ProfileError) -> CampaignParts {
        let m = try v.map(allowed: ["window", "regions", "tags", "items", "offers"])
        let window = try readWindow(try m.required("window", "a mapping with opens, closes and optional waves"))

        let regionsNode = try m.required("regions", "a list of region names")
        var regions: [String] = []
        for r in try regionsNode.list(nonEmpty: true, of: "region names") {
            let name = try r.identifier("a region name")
            if regions.contains(name) { throw r.fail(.duplicateId, "duplicate region '\(name)'; expected each region once") }
            regions.append(name)
        }
        guard regions.count <= 255 else { throw regionsNode.fail(.invalidValue, "expected at most 255 regions, got \(regions.count)") }
        var tags: [String] = []
        if let tagsNode = m.optional("tags") {
            for t in try tagsNode.list(of: "organisation tags") {
                let name = try t.identifier("a tag name")
                if tags.contains(name) { throw t.fail(.duplicateId, "duplicate tag '\(name)'; expected each tag once") }
                tags.append(name)
            }
            guard tags.count <= 32 else { throw tagsNode.fail(.invalidValue, "expected at most 32 tags, got \(tags.count)") }
        }

        // Items as declared; an item with an allotment becomes one item per allotment (`id@day3`, …),
        // each on sale from its wave or day on: `declared` maps the declared id to them.
        var items: [StockItem] = []
        var itemNodes: [YValue] = []
        var declared: [String: [Int]] = [:]
        var declaredOrder: [String] = []
        var caps: [Campaign.Cap] = []
        for node in try m.required("items", "a list of stock items").list(nonEmpty: true, of: "stock items") {
            let spec = try readItem(node, regions: regions)
            var item = spec.item
            if declared[item.name] != nil {
                throw node.fail(.duplicateId, "duplicate item id '\(item.name)'; expected unique item ids", path: node.child("id"))
            }
            if let cap = spec.cap {
                item.cap = caps.count
                caps.append(Campaign.Cap(name: item.name, perOrganisation: cap))
            }
            declaredOrder.append(item.name)
            guard let allotment = spec.allotment else {
                declared[item.name] = [items.count]
                items.append(item)
                itemNodes.append(node)
                continue
            }
            var indices: [Int] = []
            for part in try allotments(of: item, allotment, window: window) {
                indices.append(items.count)
                items.append(part)
                itemNodes.append(node)
            }
            declared[item.name] = indices
        }
        guard items.count <= Int(UInt16.max) else {
            throw v.fail(.invalidValue, "expected at most 65535 stock items (allotments included), got \(items.count)", path: v.child("items"))
        }
        // A reservation's stock is the sum of its model's items (reports and audits add them up): that
        // sum must fit 64 bits like each stock does (it used to trap building the report, on restart too).
        var modelStock: [String: Int64] = [:]
        for (k, item) in items.enumerated() {
            guard case .hardware(let model, _, _, _) = item.kind else { continue }
            let (sum, overflow) = modelStock[model, default: 0].addingReportingOverflow(item.initial)
            if overflow {
                let node = itemNodes[k]
                let stockNode = (try? node.map(allowed: Self.itemKeys))?.optional("stock") ?? node
                throw stockNode.fail(.invalidValue, "the hardware items of model \(model) would stock more than \(Int64.max) units together (64 bits); expected their stocks to sum to at most that")
            }
            modelStock[model] = sum
        }

        var offers: [Offer] = []
        var offerNodes: [YValue] = []
        var offerIds = Set<String>()
        let context = OfferContext(items: items, declared: declared, declaredOrder: declaredOrder, regions: regions,
                                   tags: tags, window: window)
        for node in try m.required("offers", "a list of offers").list(nonEmpty: true, of: "offers") {
            let offer = try readOffer(node, context)
            if !offerIds.insert(offer.name).inserted {
                throw node.fail(.duplicateId, "duplicate offer id '\(offer.name)'; expected unique offer ids", path: node.child("id"))
            }
            offers.append(offer)
            offerNodes.append(node)
        }
        guard offers.count <= Int(UInt16.max) else { throw v.fail(.invalidValue, "expected at most 65535 offers") }
        return CampaignParts(window: window, regions: regions, items: items, offers: offers,
                             itemNodes: itemNodes, offerNodes: offerNodes, tags: tags, caps: caps)
    }

    func readWindow(_ v: YValue) throws(ProfileError) -> SaleWindow {
        let m = try v.map(allowed: ["opens", "closes", "waves"])
        let opens = try m.required("opens", "a campaign time like \"day 0 10:00\"").campaignMillis()
        let closesNode = try m.required("closes", "a campaign time like \"day 0 12:00\"")
        let closes = try closesNode.campaignMillis()
        guard closes > opens else {
            throw closesNode.fail(.windowOrder, "the window closes (\(Self.showTime(closes))) before it opens (\(Self.showTime(opens))); expected closes after opens")
        }
        let waves = try m.optional("waves").map { w throws(ProfileError) in try readWaves(w) } ?? []
        return SaleWindow(opensMillis: opens, closesMillis: closes, waves: waves)
    }

    /// A list of daily waves like "10:00-10:30".
    func readWaves(_ w: YValue) throws(ProfileError) -> [SaleWindow.Wave] {
        var waves: [SaleWindow.Wave] = []
        for wave in try w.list(of: "daily waves like \"10:00-10:30\"") {
            let text = try wave.string("a daily wave like \"10:00-10:30\"")
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let a = Units.timeOfDayMillis(String(parts[0])),
                  let b = Units.timeOfDayMillis(String(parts[1])) else {
                throw wave.fail(.badTime, "expected a daily wave like \"10:00-10:30\" (HH:MM[:SS]-HH:MM[:SS]), got \"\(text)\"")
            }
            guard b > a else { throw wave.fail(.windowOrder, "the wave ends before it starts; expected start < end within one day, got \"\(text)\"") }
            waves.append(.init(startOfDayMillis: a, endOfDayMillis: b))
        }
        return waves
    }

    /// "10:00-10:30" (seconds when not whole minutes).
    static func showWave(_ w: SaleWindow.Wave) -> String {
        func clock(_ ms: Int64) -> String {
            let h = ms / 3_600_000, mi = ms / 60_000 % 60, s = ms / 1000 % 60
            func two(_ x: Int64) -> String { x < 10 ? "0\(x)" : "\(x)" }
            return "\(two(h)):\(two(mi))" + (s != 0 ? ":\(two(s))" : "")
        }
        return clock(w.startOfDayMillis) + "-" + clock(w.endOfDayMillis)
    }

    static func showTime(_ ms: Int64) -> String {
        let day = ms / 86_400_000, rest = ms % 86_400_000
        let h = rest / 3_600_000, mi = rest / 60_000 % 60, s = rest / 1000 % 60
        func two(_ x: Int64) -> String { x < 10 ? "0\(x)" : "\(x)" }
        return "day \(day) \(two(h)):\(two(mi))" + (s != 0 ? ":\(two(s))" : "")
    }

    /// An item as declared: the stock item, its per-organisation cap, its allotment.
    struct ItemSpec {
        var item: StockItem
        var cap: Int64?
        var allotment: Allotment?
    }

    /// Stock released in equal parts per wave or per day (`allotment: { units, per, carry-over }`).
    struct Allotment {
        var units: Int64
        var perWave: Bool
        var carryOver: Bool
        var node: YValue
        /// The `per` value (where a per-wave allotment without waves is reported).
        var perNode: YValue
    }

    func readItem(_ v: YValue, regions: [String]) throws(ProfileError) -> ItemSpec {
        let spec = try readStockItem(v, regions: regions)
        let m = try v.map(allowed: Self.itemKeys)
        var cap: Int64?
        if let c = m.optional("per-organisation-cap") { cap = try c.positiveInt64("units one organisation may take across offers") }
        var allotment: Allotment?
        if let a = m.optional("allotment") {
            let am = try a.map(allowed: ["units", "per", "carry-over"])
            let units = try am.required("units", "the units released each wave or day").positiveInt64("units per allotment")
            let perNode = try am.required("per", "wave or day")
            let per = try perNode.string("wave or day")
            guard per == "wave" || per == "day" else { throw perNode.fail(.invalidValue, "expected wave or day, got \"\(per)\"") }
            var carry = true
            if let c = am.optional("carry-over") { carry = try c.bool("whether units unsold in one allotment stay on sale later") }
            allotment = Allotment(units: units, perWave: per == "wave", carryOver: carry, node: a, perNode: perNode)
        }
        return ItemSpec(item: spec, cap: cap, allotment: allotment)
    }

    /// The allotments of `item`: one item per wave (or day) of the window that releases units, named
    /// `ID@dayN` (`ID@dayN-HH:MM` per wave), each `units` (the last one what is left), on sale from its
    /// wave or day to the end of the window (carry-over) or of that wave or day.
    func allotments(of item: StockItem, _ a: Allotment, window: SaleWindow) throws(ProfileError) -> [StockItem] {
        let day = SaleWindow.dayMillis
        var periods: [(from: Int64, until: Int64, label: String)] = []
        if a.perWave && window.waves.isEmpty {
            throw a.perNode.fail(.invalidValue, "an allotment per wave needs campaign.window.waves; expected per: day, or waves in the window")
        }
        let firstDay = window.opensMillis / day, lastDay = (window.closesMillis - 1) / day
        guard lastDay - firstDay < Int64(Self.maxAllotments) else {
            throw a.node.fail(.invalidValue, "the window spans \(lastDay - firstDay + 1) days, each releasing an allotment; expected at most \(Self.maxAllotments) allotments")
        }
        for d in firstDay...lastDay {
            for w in a.perWave ? window.waves : [SaleWindow.Wave(startOfDayMillis: 0, endOfDayMillis: day)] {
                let from = max(window.opensMillis, d * day + w.startOfDayMillis)
                let until = min(window.closesMillis, d * day + w.endOfDayMillis)
                guard from < until else { continue }
                let label = a.perWave ? "day\(d)-" + String(Self.showTime(d * day + w.startOfDayMillis).split(separator: " ").last!) : "day\(d)"
                periods.append((from, until, label))
                guard periods.count <= Self.maxAllotments else {
                    throw a.node.fail(.invalidValue, "expected at most \(Self.maxAllotments) allotments (waves in the window), got more")
                }
            }
        }
        guard !periods.isEmpty else { throw a.node.fail(.invalidValue, "no wave of the window releases units; expected at least one") }
        var left = item.initial
        var parts: [StockItem] = []
        for (k, p) in periods.enumerated() where left > 0 {
            let units = k == periods.count - 1 ? left : min(a.units, left)
            left -= units
            var part = item
            part.name = item.name + "@" + p.label
            part.initial = units
            part.sellableFromMillis = p.from
            part.sellableUntilMillis = a.carryOver ? window.closesMillis : p.until
            parts.append(part)
        }
        return parts
    }

    func readStockItem(_ v: YValue, regions: [String]) throws(ProfileError) -> StockItem {
        let first = try v.map(allowed: Self.itemKeys)
        let kindNode = try first.required("kind", "license, hardware or subsidy")
        let kind = try kindNode.string("an item kind (license, hardware or subsidy)")
        let m: YMap
        switch kind {
        case "license", "subsidy": m = try v.map(allowed: Self.commonItemKeys)
        case "hardware": m = first
        default:
            var msg = "unknown item kind '\(kind)'"
            if let s = Units.suggestion(for: kind, among: ["license", "hardware", "subsidy"]) { msg += " (did you mean '\(s)'?)" }
            throw kindNode.fail(.invalidValue, msg + "; expected license, hardware or subsidy")
        }
        let idNode = try m.required("id", "the item's id")
        let id = try idNode.identifier("an item id")
        // `@` names an item's allotments (`pro-license@day3`): a declared id with one could clash.
        guard !id.contains("@") else { throw idNode.fail(.invalidValue, "an item id may not contain '@' (it names allotments, e.g. \(id.split(separator: "@").first ?? "id")@day3); got '\(id)'") }
        let stock = try m.required("stock", "the initial stock (a positive integer)").positiveInt64("initial stock")
        switch kind {
        case "hardware":
            let model = try m.required("model", "the hardware model, e.g. M1").identifier("a model name")
            let vendor = try m.required("vendor", "the vendor holding the stock").identifier("a vendor name")
            var tier = 1
            if let t = m.optional("tier") { tier = try t.positiveInt("vendor tier", max: 1000) }
            let regionNode = try m.required("region", "one of the campaign regions (\(regions.joined(separator: ", ")))")
            let region = try resolveRegion(try regionNode.identifier("a region name"), regionNode, regions)
            return StockItem(name: id, kind: .hardware(model: model, vendor: vendor, vendorTier: tier, region: UInt8(region)), initial: stock)
        case "subsidy": return StockItem(name: id, kind: .subsidy, initial: stock)
        default: return StockItem(name: id, kind: .license, initial: stock)
        }
    }

    func resolveRegion(_ name: String, _ v: YValue, _ regions: [String]) throws(ProfileError) -> Int {
        guard let i = regions.firstIndex(of: name) else {
            var msg = "unknown region '\(name)'"
            if let s = Units.suggestion(for: name, among: regions) { msg += " (did you mean '\(s)'?)" }
            throw v.fail(.unknownRegion, msg + "; expected one of campaign.regions: " + regions.joined(separator: ", "))
        }
        return i
    }

    func readOffer(_ v: YValue, _ context: OfferContext) throws(ProfileError) -> Offer {
        let items = context.items
        let common = ["id", "kind", "price", "min-level", "limit", "max-quantity", "eligibility", "waves"]
        let first = try v.map(allowed: common + ["components", "item", "model", "hold"])
        let kindNode = try first.required("kind", "bundle or reservation")
        let kindText = try kindNode.string("an offer kind (bundle or reservation)")
        let m: YMap
        switch kindText {
        case "bundle": m = try v.map(allowed: common + ["components", "item"])
        case "reservation": m = try v.map(allowed: common + ["model", "hold"])
        default:
            var msg = "unknown offer kind '\(kindText)'"
            if let s = Units.suggestion(for: kindText, among: ["bundle", "reservation"]) { msg += " (did you mean '\(s)'?)" }
            throw kindNode.fail(.invalidValue, msg + "; expected bundle or reservation")
        }
        let id = try m.required("id", "the offer's id").identifier("an offer id")
        let kind: Offer.Kind
        var picks: [Offer.Pick] = []
        var quantityNodes: [YValue] = []  // where each component's quantity is written (the component when omitted)
        var pickNodes: [YValue] = []
        var pickSourceNodes: [YValue] = []  // the `model` (or `item`) each pick was written with
        func stockedModel(_ modelNode: YValue) throws(ProfileError) -> String {
            let model = try modelNode.identifier("a model name")
            let stocked = items.contains { if case .hardware(let mm, _, _, _) = $0.kind { mm == model } else { false } }
            guard stocked else {
                throw modelNode.fail(.noHardwareForModel, "no hardware item stocks model '\(model)'; expected a model of a hardware item in campaign.items")
            }
            return model
        }
        if kindText == "bundle" {
            var components: [Offer.Component] = []
            quantityNodes = []
            /// A component on a declared item: fixed, or a pick among its allotments.
            func add(_ node: YValue, quantity q: Int64, quantityNode: YValue) throws(ProfileError) {
                let name = try node.identifier("an item id")
                guard let parts = context.declared[name] else {
                    var msg = "unknown item '\(name)'"
                    if let s = Units.suggestion(for: name, among: context.declaredOrder) { msg += " (did you mean '\(s)'?)" }
                    throw node.fail(.unknownItem, msg + "; expected an id from campaign.items")
                }
                if parts.count == 1 && items[parts[0]].sellableFromMillis == .min {
                    components.append(.init(item: parts[0], quantityPerUnit: q))
                    quantityNodes.append(quantityNode)
                } else {
                    picks.append(Offer.Pick(source: .items(parts), quantityPerUnit: q))
                    pickNodes.append(quantityNode)
                    pickSourceNodes.append(node)
                }
            }
            if let single = m.optional("item") {
                if m.has("components") { throw single.fail(.invalidValue, "give either 'item' or 'components', not both") }
                try add(single, quantity: 1, quantityNode: single)
            } else {
                let list = try m.required("components", "a list of { item, quantity } or { model, quantity } (or 'item: ID' for a single item)")
                for c in try list.list(nonEmpty: true, of: "components { item, quantity } or { model, quantity }") {
                    let cm = try c.map(allowed: ["item", "model", "quantity"])
                    var q: Int64 = 1
                    let qn = cm.optional("quantity")
                    if let qn { q = try qn.positiveInt64("units per unit ordered") }
                    if let modelNode = cm.optional("model") {
                        // "N units of model M": allocated like a reservation (own region first, higher tier first).
                        if cm.has("item") { throw modelNode.fail(.invalidValue, "give either 'item' or 'model' in a component, not both") }
                        picks.append(Offer.Pick(source: .model(try stockedModel(modelNode)), quantityPerUnit: q))
                        pickNodes.append(qn ?? c)
                        pickSourceNodes.append(modelNode)
                    } else {
                        try add(try cm.required("item", "an item id from campaign.items (or 'model: M')"), quantity: q, quantityNode: qn ?? c)
                    }
                }
                guard picks.count <= HoldPieces.capacity else {
                    throw list.fail(.invalidValue, "\(picks.count) components are chosen at decision time (models or allotted items); expected at most \(HoldPieces.capacity), the pieces a decision journals",
                                    at: m.entries.first { $0.key == "components" }?.keyMark)
                }
            }
            kind = .bundle(components: components)
        } else {
            let modelNode = try m.required("model", "the hardware model reserved")
            let model = try stockedModel(modelNode)
            if let capped = items.first(where: { if case .hardware(model, _, _, _) = $0.kind { $0.cap != nil } else { false } }) {
                throw modelNode.fail(.invalidValue, "item \(context.declaredName(of: capped)) of model \(model) has a per-organisation-cap; caps apply to bundles only (a reservation's items are chosen as it is decided)")
            }
            let hold = try m.required("hold", "a hold time like \"5m\"").durationMillis()
            kind = .reservation(model: model, holdMillis: hold)
        }
        var level = CertificationLevel.none
        if let l = m.optional("min-level") { level = try l.level() }
        var limit = 1
        if let l = m.optional("limit") { limit = try l.positiveInt("accepted orders per organisation", max: 255) }
        var maxQuantity = 1
        if let q = m.optional("max-quantity") { maxQuantity = try q.positiveInt("largest quantity per request", max: Int(Int32.max)) }
        // Units are 64-bit: an order of max-quantity must not overflow them (it used to wrap around,
        // "take" a negative amount, sell beyond stock and then trap).
        if case .bundle(let components) = kind {
            for (k, c) in components.enumerated() where c.quantityPerUnit.multipliedReportingOverflow(by: Int64(maxQuantity)).overflow {
                throw quantityNodes[k].fail(.invalidValue, "an order of max-quantity \(maxQuantity) would take \(c.quantityPerUnit) × \(maxQuantity) units of \(items[c.item].name), more than 64 bits hold; lower the quantity or max-quantity")
            }
            for (k, p) in picks.enumerated() where p.quantityPerUnit.multipliedReportingOverflow(by: Int64(maxQuantity)).overflow {
                throw pickNodes[k].fail(.invalidValue, "an order of max-quantity \(maxQuantity) would take \(p.quantityPerUnit) × \(maxQuantity) units, more than 64 bits hold; lower the quantity or max-quantity")
            }
            // A cap is checked before stock is taken: a component chosen at decision time must be under one cap or none.
            for (k, p) in picks.enumerated() where Set(Campaign.candidates(of: p, in: items).map { items[$0].cap }).count > 1 {
                throw pickSourceNodes[k].fail(.invalidValue, "the items this component may take from are under different per-organisation caps; expected one cap for all of them, or none")
            }
        }
        let eligibility = try m.optional("eligibility").map { e throws(ProfileError) in try readEligibility(e, context) } ?? .everyone
        var waves: [SaleWindow.Wave] = []
        if let w = m.optional("waves") {
            waves = try readWaves(w)
            // An offer's waves lie inside the campaign's own (when it has any).
            let list = try w.list(of: "daily waves")
            for (k, wave) in waves.enumerated() where !context.window.waves.isEmpty
                && !context.window.waves.contains(where: { $0.startOfDayMillis <= wave.startOfDayMillis && wave.endOfDayMillis <= $0.endOfDayMillis }) {
                let campaignWaves = context.window.waves.map(Self.showWave).joined(separator: ", ")
                throw list[k].fail(.windowOrder, "the offer's wave \(Self.showWave(wave)) is not inside one of campaign.window.waves (\(campaignWaves)); expected an offer's waves inside the campaign's")
            }
        }
        var price = Offer.PriceRule(listPriceFen: 0)
        if let p = m.optional("price") {
            let pm = try p.map(allowed: ["list", "discount", "activation-extra"])
            let list = try pm.required("list", "the list price in fen")
            price.listPriceFen = try list.int64("a list price in fen (an integer)")
            if price.listPriceFen < 0 { throw list.fail(.invalidValue, "expected a list price ≥ 0 fen, got \(price.listPriceFen)") }
            // Prices are computed in 64-bit fen: list × 100 (percentages) × quantity must not overflow.
            if price.listPriceFen > 1_000_000_000_000 {
                throw list.fail(.invalidValue, "expected a list price of at most 1000000000000 fen (10 billion yuan), got \(price.listPriceFen)")
            }
            if price.listPriceFen.multipliedReportingOverflow(by: Int64(maxQuantity) * 100).overflow {
                throw list.fail(.invalidValue, "an order of max-quantity \(maxQuantity) at \(price.listPriceFen) fen would overflow the 64-bit price; lower the price or max-quantity")
            }
            // Discounts that reach 100% sell for nothing (the price rule clamps at 0): refused where they stack up.
            if let d = pm.optional("discount") {
                price.discountPercent = try d.percent()
                if price.discountPercent >= 100 {
                    throw d.fail(.invalidValue, "a discount of \(price.discountPercent)% prices every order at 0; expected a discount below 100%")
                }
            }
            if let d = pm.optional("activation-extra") {
                price.activationExtraPercent = try d.percent()
                let total = price.discountPercent + price.activationExtraPercent
                if total >= 100 {
                    throw d.fail(.invalidValue, "discount \(price.discountPercent)% + activation-extra \(price.activationExtraPercent)% = \(total)% prices activated organisations' orders at 0; expected the two together below 100%")
                }
            }
        }
        return Offer(name: id, kind: kind, minimumLevel: level, limitPerOrganisation: limit,
                     maxQuantity: maxQuantity, price: price, picks: picks, eligibility: eligibility, waves: waves)
    }

    /// `eligibility: { regions: [...], tags: [...], any-tags: [...], organisations: [3, "100-199", ...] }`.
    func readEligibility(_ v: YValue, _ context: OfferContext) throws(ProfileError) -> Offer.Eligibility {
        let m = try v.map(allowed: ["regions", "tags", "any-tags", "organisations"])
        var e = Offer.Eligibility()
        if let r = m.optional("regions") {
            var regions: [UInt8] = []
            for node in try r.list(nonEmpty: true, of: "region names") {
                regions.append(UInt8(try resolveRegion(try node.identifier("a region name"), node, context.regions)))
            }
            e.regions = regions
        }
        func tagBits(_ key: String) throws(ProfileError) -> UInt32 {
            guard let t = m.optional(key) else { return 0 }
            var bits: UInt32 = 0
            for node in try t.list(nonEmpty: true, of: "tag names") {
                let name = try node.identifier("a tag name")
                guard let i = context.tags.firstIndex(of: name) else {
                    throw node.fail(.invalidValue, Self.unknownTag(name, context.tags))
                }
                bits |= 1 << UInt32(i)
            }
            return bits
        }
        e.allTags = try tagBits("tags")
        e.anyTags = try tagBits("any-tags")
        if let o = m.optional("organisations") {
            var ranges: [ClosedRange<UInt32>] = []
            for node in try o.list(nonEmpty: true, of: "organisation ids or ranges like \"100-199\"") {
                let text = try node.string("an organisation id or a range like \"100-199\"")
                let ends = text.split(separator: "-", omittingEmptySubsequences: false).map { UInt32($0.trimmingSpaces()) }
                guard (ends.count == 1 || ends.count == 2), let lo = ends.first!, let hi = ends.last! else {
                    throw node.wrongType("an organisation id (0…4294967295) or a range like \"100-199\"")
                }
                guard lo <= hi else {
                    throw node.fail(.invalidValue, "the range \"\(text)\" ends before it starts; expected \"low-high\" with low ≤ high")
                }
                ranges.append(lo...hi)
            }
            e.organisations = ranges
        }
        return e
    }

    static func unknownTag(_ name: String, _ tags: [String]) -> String {
        var msg = "unknown tag '\(name)'"
        if let s = Units.suggestion(for: name, among: tags) { msg += " (did you mean '\(s)'?)" }
        return msg + "; expected one of campaign.tags" + (tags.isEmpty ? " (none declared)" : ": " + tags.joined(separator: ", "))
    }

    // MARK: - population

    func readPopulation(_ v: YValue, regions: [String], tags: [String], capCount: Int, offers: [Offer],
                        offerNodes: [YValue]) throws(ProfileError) -> PopulationSpec {
        let m = try v.map(allowed: ["organisations", "certification", "regions", "activated", "tags"])
        let countNode = try m.required("organisations", "the number of organisations")
        let count = try countNode.positiveInt("organisations", max: Int(UInt32.max))
        let perOrganisation = MachineMemory.bytesPerOrganisation(offerCount: offers.count, capCount: capCount)
        // Refused here, in a millisecond, rather than by the OOM killer minutes into building the population.
        if let limit = MachineMemory.limit, count > limit.bytes / 5 * 4 / perOrganisation {
            let fits = limit.bytes / 5 * 4 / perOrganisation
            throw countNode.fail(.invalidValue, "\(count) organisations need about \(gigabytes(count * perOrganisation)) of memory (\(perOrganisation) B each with \(offers.count) offers) and \(limit.source) \(gigabytes(limit.bytes)); "
                + (fits > 0 ? "expected at most \(fits) organisations here (80% of that memory)" : "not even one organisation fits in 80% of that memory"))
        }
        // An allow-list names organisations of the population: located at the entry (Campaign.validate()
        // would only name the offer).
        for (i, o) in offers.enumerated() {
            guard let list = o.eligibility.organisations, let k = list.firstIndex(where: { Int($0.upperBound) >= count }) else { continue }
            let entry = (try? offerNodes[i].entry("eligibility")?.entry("organisations")?.list(of: "organisation ids"))?[k]
            throw (entry ?? offerNodes[i]).fail(.invalidValue, "organisation \(list[k].upperBound) is beyond the population (\(count) organisations, ids 0-\(count - 1)); expected allow-list ids below population.organisations",
                                                path: entry == nil ? offerNodes[i].child("eligibility.organisations") : nil)
        }
        var cert = [Double](repeating: 0.25, count: 4)
        if let c = m.optional("certification") {
            cert = [0, 0, 0, 0]
            for (level, p) in try c.distribution(of: "certification levels", resolve: { (s, node) throws(ProfileError) in try node.level() }) {
                cert[Int(level.rawValue)] += p
            }
        }
        var reg = [Double](repeating: 1 / Double(regions.count), count: regions.count)
        if let r = m.optional("regions") {
            reg = [Double](repeating: 0, count: regions.count)
            for (i, p) in try r.distribution(of: "regions", resolve: { (s, node) throws(ProfileError) in try resolveRegion(s, node, regions) }) {
                reg[i] += p
            }
        }
        var activated = 0.0
        if let a = m.optional("activated") { activated = try a.probability() }
        var tagShares = [Double](repeating: 0, count: tags.count)
        if let t = m.optional("tags") {
            // Each tag independently: { manufacturing: 0.3, large: 0.1 } (not a distribution).
            if case .mapping(let raw) = t.node {
                for k in raw.keys {
                    guard let name = k.string, !tags.contains(name) else { continue }
                    throw t.fail(.unknownKey, Self.unknownTag(name, tags), at: k.mark, path: t.child(name))
                }
            }
            for entry in try t.map(allowed: tags).entries {
                tagShares[tags.firstIndex(of: entry.key)!] = try entry.value.probability()
            }
        }
        // every offer must be reachable by someone
        for (i, o) in offers.enumerated() {
            let share = cert[Int(o.minimumLevel.rawValue)...].reduce(0, +)
            if share <= 0 {
                throw offerNodes[i].fail(.invalidValue, "no organisation is certified '\(o.minimumLevel)' or above; expected population.certification to give this level a share",
                                         path: offerNodes[i].child("min-level"))
            }
        }
        return PopulationSpec(organisations: count, certification: cert, regions: reg, activated: activated, tags: tagShares)
    }

    // MARK: - traffic

    func readTraffic(_ v: YValue, window: SaleWindow, offers: [Offer]) throws(ProfileError) -> TrafficSpec {
        let m = try v.map(allowed: Self.trafficKeys)
        var spec = TrafficSpec(startMillis: window.opensMillis, phases: [])
        if let s = m.optional("start") { spec.startMillis = try s.campaignMillis() }
        if let t = m.optional("time-scale") {
            spec.timeScale = try t.double("a time scale (campaign ms per run ms), e.g. 1 or 86400")
            guard spec.timeScale > 0 else { throw t.fail(.notPositive, "expected a positive time scale, got \(spec.timeScale)") }
        }
        if let r = m.optional("requests") { spec.requestLimit = try r.positiveInt("a cap on the total number of requests") }
        if let a = m.optional("arrivals") {
            let s = try a.string("poisson or uniform")
            switch s {
            case "poisson": spec.arrivals = .poisson
            case "uniform", "deterministic": spec.arrivals = .uniform
            default: throw a.fail(.invalidValue, "unknown arrival process '\(s)'; expected poisson or uniform")
            }
        }
        let phasesNode = try m.required("phases", "a non-empty list of phases")
        spec.phases = try readPhases(phasesNode)
        guard !spec.phases.isEmpty else {
            throw phasesNode.fail(.emptyPhases, "no phases; expected at least one of { constant: R, for: D }, { ramp: {from, to}, for: D }, { step: [...] }, { spike: {...}, for: D }, { pause: D }")
        }
        guard spec.phaseSeconds > 0 else { throw phasesNode.fail(.notPositive, "the phases last no time") }
        guard spec.expectedArrivals > 0 else { throw phasesNode.fail(.notPositive, "the phases offer no requests (all rates are zero)") }

        if let p = m.optional("popularity") { spec.popularity = try readPopularity(p, offers: offers) }
        if let q = m.optional("quantity") {
            let dist = try q.distribution(of: "quantities", resolve: { (s, node) throws(ProfileError) -> Int32 in
                guard let v = Int32(s), v > 0 else {
                    throw node.fail(.wrongType, "expected a positive integer quantity as key, got \"\(s)\"")
                }
                return v
            })
            spec.quantities = dist.map(\.0)
            spec.quantityProbabilities = dist.map(\.1)
        }
        if let b = m.optional("behaviour") { spec.behaviour = try readBehaviour(b) }
        return spec
    }

    func readPhases(_ v: YValue, depth: Int = 0) throws(ProfileError) -> [TrafficSpec.Phase] {
        var out: [TrafficSpec.Phase] = []
        for p in try v.list(of: "phases") {
            let shapes = ["constant", "ramp", "step", "spike", "pause", "repeat"]
            guard case .mapping(let raw) = p.node else {
                throw p.wrongType("a phase mapping with one of \(shapes.joined(separator: ", "))")
            }
            let present = raw.keys.compactMap(\.string).filter { shapes.contains($0) }
            guard let shape = present.first else {
                _ = try p.map(allowed: shapes + ["for", "phases"]) // reports unknown keys with suggestions first
                throw p.fail(.missingKey, "a phase needs one of: \(shapes.joined(separator: ", "))")
            }
            guard present.count == 1 else {
                throw p.fail(.invalidValue, "a phase has exactly one shape; got \(present.joined(separator: " and "))")
            }
            switch shape {
            case "constant":
                let m = try p.map(allowed: ["constant", "for"])
                let r = try m.required("constant", "a rate").rate()
                out.append(.constant(rate: r, seconds: try m.required("for", "the phase's length").durationSeconds()))
            case "pause":
                let m = try p.map(allowed: ["pause"])
                out.append(.constant(rate: 0, seconds: try m.required("pause", "a duration").durationSeconds()))
            case "ramp":
                let m = try p.map(allowed: ["ramp", "for"])
                let rm = try m.required("ramp", "a mapping { from: R, to: R }").map(allowed: ["from", "to"])
                let a = try rm.required("from", "a rate").rate(allowZero: true)
                let toNode = try rm.required("to", "a rate")
                let b = try toNode.rate(allowZero: true)
                if a == 0 && b == 0 { throw toNode.fail(.notPositive, "a ramp from 0 to 0 offers nothing; expected a positive rate at one end") }
                out.append(.ramp(from: a, to: b, seconds: try m.required("for", "the phase's length").durationSeconds()))
            case "step":
                let m = try p.map(allowed: ["step"])
                for s in try m.required("step", "a list of { rate, for }").list(nonEmpty: true, of: "steps { rate, for }") {
                    let sm = try s.map(allowed: ["rate", "for"])
                    let r = try sm.required("rate", "a rate").rate(allowZero: true)
                    out.append(.constant(rate: r, seconds: try sm.required("for", "the step's length").durationSeconds()))
                }
            case "spike":
                let m = try p.map(allowed: ["spike", "for"])
                let sm = try m.required("spike", "a mapping { base, peak, at, rise }").map(allowed: ["base", "peak", "at", "rise"])
                var base = 0.0
                if let b = sm.optional("base") { base = try b.rate(allowZero: true) }
                let peak = try sm.required("peak", "the peak rate").rate()
                let at = try sm.required("at", "when the step happens, from the phase start").durationSeconds(allowZero: true)
                var rise = 1.0
                if let r = sm.optional("rise") { rise = try r.durationSeconds() }
                out.append(.spike(base: base, peak: peak, atSeconds: at, riseSeconds: rise,
                                  seconds: try m.required("for", "the phase's length").durationSeconds()))
            default: // repeat
                let m = try p.map(allowed: ["repeat", "phases"])
                let times = try m.required("repeat", "how many times").positiveInt("repetitions", max: 100_000)
                guard depth < 4 else { throw p.fail(.invalidValue, "repeats nest at most 4 deep") }
                let inner = try m.required("phases", "the phases to repeat")
                let body = try readPhases(inner, depth: depth + 1)
                guard !body.isEmpty else { throw inner.fail(.emptyPhases, "no phases to repeat; expected at least one phase") }
                guard body.count * times + out.count <= 1_000_000 else { throw p.fail(.invalidValue, "expected at most 1,000,000 phases after expansion") }
                for _ in 0..<times { out.append(contentsOf: body) }
            }
        }
        return out
    }

    func readPopularity(_ v: YValue, offers: [Offer]) throws(ProfileError) -> TrafficSpec.Popularity {
        if case .scalar = v.node {
            let s = try v.string()
            guard s == "uniform" else { throw v.fail(.invalidValue, "expected uniform, { zipf: S } or { weights: { offer: p, ... } }, got \"\(s)\"") }
            return .uniform
        }
        let m = try v.map(allowed: ["zipf", "weights"])
        if let z = m.optional("zipf") {
            if m.has("weights") { throw z.fail(.invalidValue, "give either zipf or weights, not both") }
            let s = try z.double("a Zipf exponent (a number ≥ 0)")
            guard s >= 0 else { throw z.fail(.invalidValue, "expected a Zipf exponent ≥ 0, got \(s)") }
            return .zipf(s: s)
        }
        let w = try m.required("weights", "offer ids to probabilities (or zipf: S)")
        let names = offers.map(\.name)
        var weights = [Double](repeating: 0, count: offers.count)
        for (i, p) in try w.distribution(of: "offer ids", resolve: { (s, node) throws(ProfileError) -> Int in
            guard let i = names.firstIndex(of: s) else {
                var msg = "unknown offer '\(s)'"
                if let g = Units.suggestion(for: s, among: names) { msg += " (did you mean '\(g)'?)" }
                throw node.fail(.unknownOffer, msg + "; expected an id from campaign.offers")
            }
            return i
        }) { weights[i] += p }
        return .weights(weights)
    }

    func readBehaviour(_ v: YValue) throws(ProfileError) -> TrafficSpec.Behaviour {
        let m = try v.map(allowed: ["retransmit", "early", "ineligible", "confirm", "cancel", "confirm-delay"])
        var b = TrafficSpec.Behaviour()
        if let x = m.optional("retransmit") { b.retransmit = try x.probability() }
        if let x = m.optional("early") { b.early = try x.probability() }
        if let x = m.optional("ineligible") { b.ineligible = try x.probability() }
        if let x = m.optional("confirm") { b.confirm = try x.probability() }
        if let x = m.optional("cancel") {
            b.cancel = try x.probability()
            guard b.confirm + b.cancel <= 1 + 1e-9 else {
                throw x.fail(.probabilityRange, "confirm (\(b.confirm)) + cancel (\(b.cancel)) exceed 1; expected at most 1 together")
            }
        }
        if let d = m.optional("confirm-delay") {
            if case .scalar = d.node {
                b.confirmDelay = .fixed(millis: try d.durationMillis())
            } else {
                let dm = try d.map(allowed: ["uniform", "exponential", "fixed"])
                if let u = dm.optional("uniform") {
                    let ends = try u.list(of: "two durations [min, max]")
                    guard ends.count == 2 else { throw u.wrongType("two durations [min, max]") }
                    let lo = try ends[0].durationMillis(), hi = try ends[1].durationMillis()
                    guard hi >= lo else { throw ends[1].fail(.invalidValue, "expected max ≥ min") }
                    b.confirmDelay = .uniform(minMillis: lo, maxMillis: hi)
                } else if let e = dm.optional("exponential") {
                    b.confirmDelay = .exponential(meanMillis: Double(try e.durationMillis()))
                } else {
                    b.confirmDelay = .fixed(millis: try dm.required("fixed", "uniform: [min, max], exponential: mean or fixed: d").durationMillis())
                }
            }
        }
        return b
    }
}

extension YValue {
    /// The value of `key` when this is a mapping that has it, unchecked (to locate a problem in keys already read).
    func entry(_ key: String) -> YValue? {
        guard case .mapping(let m) = node else { return nil }
        for (k, v) in m where k.string == key { return YValue(node: v, path: child(key), file: file, fallbackMark: k.mark) }
        return nil
    }
}
