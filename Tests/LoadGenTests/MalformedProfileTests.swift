import FlashSaleTestSupport
import XCTest
import FlashSaleCore
@testable import LoadGen

/// A valid profile; each malformed case edits one spot of it.
private let base = """
name: table
seed: 3
duration: 10s
campaign:
  window: { opens: "day 0 10:00", closes: "day 0 12:00", waves: ["10:00-10:30"] }
  regions: [east, north]
  items:
    - { id: pro-license, kind: license, stock: 100 }
    - { id: m1-east, kind: hardware, model: M1, vendor: deli, tier: 2, region: east, stock: 50 }
    - { id: subsidy, kind: subsidy, stock: 1000000 }
  offers:
    - id: kickoff
      kind: bundle
      components: [ { item: pro-license, quantity: 1 }, { item: subsidy, quantity: 100 } ]
      price: { list: 398000, discount: 50%, activation-extra: 5% }
      min-level: basic
      limit: 1
    - { id: m1-reserve, kind: reservation, model: M1, hold: 5m, limit: 1, max-quantity: 5 }
population:
  organisations: 1000
  certification: { none: 0.1, basic: 0.9 }
  regions: { east: 0.5, north: 0.5 }
  activated: 0.3
traffic:
  start: "day 0 09:59:50"
  time-scale: 1
  phases:
    - { constant: 2000/s, for: 5s }
    - { ramp: { from: 1000/s, to: 20000/s }, for: 5s }
  popularity: { zipf: 1.0 }
  quantity: { 1: 0.8, 2: 0.2 }
  behaviour:
    retransmit: 0.05
    confirm: 0.7
    cancel: 0.1
    confirm-delay: { uniform: [10s, 4m] }
"""

private struct Case {
    let name: String
    let old: String
    let new: String
    let kind: ProfileError.Kind
    let keyPath: String
    /// The line is where this text appears in the edited profile.
    let lineOf: String
    let message: String
}

private let cases: [Case] = [
    Case(name: "not YAML", old: "  regions: [east, north]", new: "  regions: [east, north",
         kind: .syntax, keyPath: "", lineOf: "  items:", message: "not valid YAML"),
    Case(name: "tab indentation", old: "seed: 3", new: "seed: 3\n\tduration: 10s",
         kind: .syntax, keyPath: "", lineOf: "\tduration", message: "not valid YAML"),
    Case(name: "duplicate key", old: "seed: 3", new: "seed: 3\nseed: 4",
         kind: .duplicateKey, keyPath: "", lineOf: "seed: 3", message: "'seed' appears twice"),
    Case(name: "missing required key", old: "  organisations: 1000\n", new: "",
         kind: .missingKey, keyPath: "population.organisations", lineOf: "  certification:", message: "missing required key 'organisations'"),
    Case(name: "unknown key with suggestion", old: "kind: license, stock: 100", new: "kind: license, stok: 100",
         kind: .unknownKey, keyPath: "campaign.items[0].stok", lineOf: "stok: 100", message: "unknown key 'stok' (did you mean 'stock'?)"),
    Case(name: "unknown top-level key", old: "seed: 3", new: "seed: 3\ntrafic: {}",
         kind: .unknownKey, keyPath: "trafic", lineOf: "trafic:", message: "(did you mean 'traffic'?)"),
    Case(name: "wrong type", old: "organisations: 1000", new: "organisations: [1000]",
         kind: .wrongType, keyPath: "population.organisations", lineOf: "organisations: [1000]", message: "expected a positive integer (organisations), got a list"),
    Case(name: "wrong type: text for a mapping", old: "  popularity: { zipf: 1.0 }", new: "  popularity: [zipf]",
         kind: .wrongType, keyPath: "traffic.popularity", lineOf: "popularity: [zipf]", message: "expected a mapping"),
    Case(name: "zero stock", old: "kind: license, stock: 100", new: "kind: license, stock: 0",
         kind: .notPositive, keyPath: "campaign.items[0].stock", lineOf: "stock: 0", message: "expected a positive integer (initial stock), got 0"),
    Case(name: "negative rate", old: "to: 20000/s", new: "to: -5/s",
         kind: .notPositive, keyPath: "traffic.phases[1].ramp.to", lineOf: "to: -5/s", message: "expected a non-negative rate"),
    Case(name: "zero duration", old: "{ constant: 2000/s, for: 5s }", new: "{ constant: 2000/s, for: 0s }",
         kind: .notPositive, keyPath: "traffic.phases[0].for", lineOf: "for: 0s", message: "expected a positive duration"),
    Case(name: "probability above 1", old: "retransmit: 0.05", new: "retransmit: 1.5",
         kind: .probabilityRange, keyPath: "traffic.behaviour.retransmit", lineOf: "retransmit: 1.5", message: "expected a probability in 0...1, got 1.5"),
    Case(name: "confirm + cancel above 1", old: "cancel: 0.1", new: "cancel: 0.5",
         kind: .probabilityRange, keyPath: "traffic.behaviour.cancel", lineOf: "cancel: 0.5", message: "exceed 1"),
    Case(name: "distribution not summing to 1", old: "{ none: 0.1, basic: 0.9 }", new: "{ none: 0.1, basic: 0.8 }",
         kind: .distributionSum, keyPath: "population.certification", lineOf: "certification:", message: "expected probabilities summing to 1, got 0.9"),
    Case(name: "unknown component item", old: "{ item: subsidy, quantity: 100 }", new: "{ item: subsidi, quantity: 100 }",
         kind: .unknownItem, keyPath: "campaign.offers[0].components[1].item", lineOf: "item: subsidi", message: "unknown item 'subsidi' (did you mean 'subsidy'?)"),
    Case(name: "unknown region", old: "tier: 2, region: east", new: "tier: 2, region: west",
         kind: .unknownRegion, keyPath: "campaign.items[1].region", lineOf: "region: west", message: "unknown region 'west'; expected one of campaign.regions: east, north"),
    Case(name: "unknown region in population", old: "{ east: 0.5, north: 0.5 }", new: "{ east: 0.5, nort: 0.5 }",
         kind: .unknownRegion, keyPath: "population.regions.nort", lineOf: "nort: 0.5", message: "unknown region 'nort' (did you mean 'north'?)"),
    Case(name: "reservation model without hardware", old: "model: M1, hold: 5m", new: "model: M2, hold: 5m",
         kind: .noHardwareForModel, keyPath: "campaign.offers[1].model", lineOf: "model: M2", message: "no hardware item stocks model 'M2'"),
    Case(name: "duplicate item id", old: "- { id: subsidy, kind: subsidy", new: "- { id: pro-license, kind: subsidy",
         kind: .duplicateId, keyPath: "campaign.items[2].id", lineOf: "id: pro-license, kind: subsidy", message: "duplicate item id 'pro-license'"),
    Case(name: "duplicate offer id", old: "{ id: m1-reserve,", new: "{ id: kickoff,",
         kind: .duplicateId, keyPath: "campaign.offers[1].id", lineOf: "{ id: kickoff,", message: "duplicate offer id 'kickoff'"),
    Case(name: "window closes before it opens", old: "closes: \"day 0 12:00\"", new: "closes: \"day 0 09:00\"",
         kind: .windowOrder, keyPath: "campaign.window.closes", lineOf: "closes:", message: "the window closes (day 0 09:00) before it opens (day 0 10:00)"),
    Case(name: "bad time of day", old: "opens: \"day 0 10:00\"", new: "opens: \"day 0 25:00\"",
         kind: .badTime, keyPath: "campaign.window.opens", lineOf: "opens:", message: "expected a campaign time like \"day 0 10:00\""),
    Case(name: "bad wave", old: "[\"10:00-10:30\"]", new: "[\"10:00 to 10:30\"]",
         kind: .badTime, keyPath: "campaign.window.waves[0]", lineOf: "waves:", message: "expected a daily wave like \"10:00-10:30\""),
    Case(name: "bad duration", old: "hold: 5m", new: "hold: 5 minutes",
         kind: .badDuration, keyPath: "campaign.offers[1].hold", lineOf: "hold: 5 minutes", message: "expected a duration like \"500ms\""),
    Case(name: "bad rate", old: "to: 20000/s", new: "to: fast",
         kind: .badRate, keyPath: "traffic.phases[1].ramp.to", lineOf: "to: fast", message: "expected a rate like \"2000/s\", \"50k/s\" or 2000, got \"fast\""),
    Case(name: "unknown certification level", old: "min-level: basic", new: "min-level: gold",
         kind: .unknownLevel, keyPath: "campaign.offers[0].min-level", lineOf: "min-level: gold", message: "unknown certification level 'gold'; expected one of: none, basic, intermediate, advanced"),
    Case(name: "empty phases", old: "  phases:\n    - { constant: 2000/s, for: 5s }\n    - { ramp: { from: 1000/s, to: 20000/s }, for: 5s }", new: "  phases: []",
         kind: .emptyPhases, keyPath: "traffic.phases", lineOf: "phases: []", message: "no phases"),
    Case(name: "unknown offer in weights", old: "{ zipf: 1.0 }", new: "{ weights: { kickof: 0.5, m1-reserve: 0.5 } }",
         kind: .unknownOffer, keyPath: "traffic.popularity.weights.kickof", lineOf: "weights:", message: "unknown offer 'kickof' (did you mean 'kickoff'?)"),
    Case(name: "misspelt phase shape", old: "{ constant: 2000/s, for: 5s }", new: "{ constnat: 2000/s, for: 5s }",
         kind: .unknownKey, keyPath: "traffic.phases[0].constnat", lineOf: "constnat:", message: "unknown key 'constnat' (did you mean 'constant'?)"),
    Case(name: "phase without length", old: "{ constant: 2000/s, for: 5s }", new: "{ constant: 2000/s }",
         kind: .missingKey, keyPath: "traffic.phases[0].for", lineOf: "{ constant: 2000/s }", message: "missing required key 'for'"),
    Case(name: "unknown item kind", old: "kind: license, stock: 100", new: "kind: licence, stock: 100",
         kind: .invalidValue, keyPath: "campaign.items[0].kind", lineOf: "kind: licence", message: "unknown item kind 'licence' (did you mean 'license'?)"),
    // Values that used to crash a run (64-bit overflow): located errors now.
    Case(name: "list price too large", old: "list: 398000,", new: "list: 100000000000000000,",
         kind: .invalidValue, keyPath: "campaign.offers[0].price.list", lineOf: "list: 100000000000000000", message: "at most 1000000000000 fen"),
    Case(name: "hold too long", old: "hold: 5m", new: "hold: 1e300s",
         kind: .invalidValue, keyPath: "campaign.offers[1].hold", lineOf: "hold: 1e300s", message: "at most 10 years"),
    Case(name: "window closes at an absurd time", old: "closes: \"day 0 12:00\"", new: "closes: \"1e300s\"",
         kind: .badTime, keyPath: "campaign.window.closes", lineOf: "closes:", message: "expected a campaign time"),
    Case(name: "time scale beyond the campaign clock", old: "time-scale: 1", new: "time-scale: 1e16",
         kind: .invalidValue, keyPath: "traffic.time-scale", lineOf: "time-scale: 1e16", message: "expected under 100000 days"),
    Case(name: "rate beyond 1G/s", old: "to: 20000/s", new: "to: 1e12/s",
         kind: .invalidValue, keyPath: "traffic.phases[1].ramp.to", lineOf: "to: 1e12/s", message: "at most 1G/s"),
    Case(name: "limit above 255", old: "      limit: 1\n", new: "      limit: 300\n",
         kind: .invalidValue, keyPath: "campaign.offers[0].limit", lineOf: "limit: 300", message: "expected at most 255"),
    // An order of max-quantity used to wrap the 64-bit unit count: a negative take "succeeded", sold
    // beyond stock, and the run (and every restart on its journal) trapped.
    Case(name: "units per order beyond 64 bits", old: "{ item: subsidy, quantity: 100 } ]", new: "{ item: subsidy, quantity: 5000000000000000000 } ]\n      max-quantity: 2",
         kind: .invalidValue, keyPath: "campaign.offers[0].components[1].quantity", lineOf: "quantity: 5000000000000000000",
         message: "an order of max-quantity 2 would take 5000000000000000000 × 2 units of subsidy, more than 64 bits hold"),
    Case(name: "hold shorter than a millisecond", old: "hold: 5m", new: "hold: 0.1ms",
         kind: .notPositive, keyPath: "campaign.offers[1].hold", lineOf: "hold: 0.1ms", message: "expected at least 1ms"),
    // A reservation's stock is the sum of its model's items: past Int64 it trapped building the report
    // (exit 132), and on every restart.
    Case(name: "model stock sum overflows", old: "    - { id: subsidy, kind: subsidy, stock: 1000000 }",
         new: "    - { id: m1-north, kind: hardware, model: M1, vendor: deli, region: north, stock: 9223372036854775800 }\n    - { id: subsidy, kind: subsidy, stock: 1000000 }",
         kind: .invalidValue, keyPath: "campaign.items[2].stock", lineOf: "stock: 9223372036854775800",
         message: "the hardware items of model M1 would stock more than 9223372036854775807 units together"),
    // Discounts stacking to 100% or more loaded and priced orders at 0.
    Case(name: "discounts stack to 110%", old: "discount: 50%, activation-extra: 5%", new: "discount: 50%, activation-extra: 60%",
         kind: .invalidValue, keyPath: "campaign.offers[0].price.activation-extra", lineOf: "activation-extra: 60%",
         message: "discount 50% + activation-extra 60% = 110%"),
    Case(name: "discounts stack to exactly 100%", old: "discount: 50%, activation-extra: 5%", new: "discount: 50%, activation-extra: 50%",
         kind: .invalidValue, keyPath: "campaign.offers[0].price.activation-extra", lineOf: "activation-extra: 50%",
         message: "= 100%"),
    Case(name: "discount alone 100%", old: "discount: 50%, activation-extra: 5%", new: "discount: 100%",
         kind: .invalidValue, keyPath: "campaign.offers[0].price.discount", lineOf: "discount: 100%",
         message: "a discount of 100% prices every order at 0"),
]

final class MalformedProfileTests: XCTestCase {
    func testBaseProfileIsValid() throws {
        let p = try LoadProfile.parse(yaml: base, file: "table.yaml")
        XCTAssertEqual(p.campaign.offers.count, 2)
        // YAML allows a byte order mark (editors on Windows write one).
        XCTAssertEqual(try LoadProfile.parse(yaml: "\u{FEFF}" + base, file: "bom.yaml").campaign.offers.count, 2)
    }

    func testEveryMalformedProfileGetsASpecificLocatedError() {
        XCTAssertGreaterThanOrEqual(Set(cases.map(\.kind)).count, 12)
        for c in cases {
            XCTAssertTrue(base.contains(c.old), "\(c.name): the base profile lacks \(c.old)")
            let yaml = base.replacingOccurrences(of: c.old, with: c.new)
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            guard let expectedLine = lines.firstIndex(where: { $0.contains(c.lineOf) }).map({ $0 + 1 }) else {
                XCTFail("\(c.name): no line contains \(c.lineOf)"); continue
            }
            do {
                _ = try LoadProfile.parse(yaml: yaml, file: "bad.yaml")
                XCTFail("\(c.name): parsed, expected \(c.kind)")
            } catch {
                XCTAssertEqual(error.kind, c.kind, "\(c.name): \(error)")
                XCTAssertEqual(error.keyPath, c.keyPath, "\(c.name): \(error)")
                XCTAssertEqual(error.line, expectedLine, "\(c.name): \(error)")
                XCTAssertNotNil(error.column, "\(c.name): \(error)")
                XCTAssertTrue(error.message.contains(c.message), "\(c.name): \(error.message)")
                XCTAssertEqual(error.file, "bad.yaml")
                let expectedPrefix = "bad.yaml:\(expectedLine):"
                XCTAssertTrue(error.description.hasPrefix(expectedPrefix), "\(c.name): \(error.description)")
                XCTAssertTrue(error.description.contains(c.message), "\(c.name): \(error.description)")
            }
        }
    }

    /// A population the machine cannot hold is refused at its line, at once: before this check a profile
    /// with 4 billion organisations ran for minutes and ended in the OOM killer (exit 137).
    func testAPopulationTooLargeForThisMachineIsRefusedWhereItIsWritten() throws {
        let count = Int(UInt32.max)
        let perOrganisation = MachineMemory.bytesPerOrganisation(offerCount: 2)
        guard let limit = MachineMemory.limit?.bytes, limit / 5 * 4 / perOrganisation < count else {
            throw XCTSkip("this machine could hold \(count) organisations")
        }
        let yaml = base.replacingOccurrences(of: "organisations: 1000", with: "organisations: \(count)")
        XCTAssertThrowsError(try LoadProfile.parse(yaml: yaml, file: "huge.yaml")) { e in
            let e = e as! ProfileError
            XCTAssertEqual(e.kind, .invalidValue)
            XCTAssertEqual(e.keyPath, "population.organisations")
            XCTAssertEqual(e.line, 20)
            XCTAssertTrue(e.message.contains("of memory"), e.message)
            XCTAssertTrue(e.message.contains("expected at most \(limit / 5 * 4 / perOrganisation) organisations"), e.message)
        }
    }

    /// The memory limit is the lowest on the way from the process's cgroup to the root, in cgroup v2
    /// (`memory.max`, "max" meaning none) and v1 (`memory.limit_in_bytes`) alike.
    func testCgroupMemoryLimitIsTheLowestOnThePathToTheRoot() throws {
        let root = NSTemporaryDirectory() + "cgroup-\(UInt64.random(in: 0...UInt64.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ path: String, _ text: String) throws {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: full, atomically: true, encoding: .utf8)
        }
        // v2: the job's own cgroup has no limit, its parent slice has 2 GB, the root none.
        try write("sys/user.slice/job/memory.max", "max\n")
        try write("sys/user.slice/memory.max", "2000000000\n")
        try write("proc-v2", "0::/user.slice/job\n")
        XCTAssertEqual(MachineMemory.cgroupLimitBytes(procSelfCgroup: root + "/proc-v2", root: root + "/sys"), 2_000_000_000)
        // v1 (as on this kind of VM): the memory controller's own hierarchy, "unlimited" at the root.
        try write("sys/memory/process_api/x/memory.limit_in_bytes", "5000000000\n")
        try write("sys/memory/memory.limit_in_bytes", "9223372036854771712\n")
        try write("proc-v1", "9:name=systemd:/\n4:memory:/process_api/x\n0::/\n")
        XCTAssertEqual(MachineMemory.cgroupLimitBytes(procSelfCgroup: root + "/proc-v1", root: root + "/sys"), 5_000_000_000)
        // No limit anywhere: nil (physical memory decides).
        try write("proc-none", "0::/other\n")
        XCTAssertNil(MachineMemory.cgroupLimitBytes(procSelfCgroup: root + "/proc-none", root: root + "/sys"))
    }

    /// Traffic that never meets the sale window is valid but almost certainly a mistake: it is warned
    /// about, and a profile whose traffic does meet the window is not.
    func testTrafficOutsideTheWindowIsWarnedAbout() throws {
        // The table's base profile itself ends its 10 s of traffic as the window opens: warned.
        XCTAssertEqual(try LoadProfile.parse(yaml: base, file: "base.yaml").warnings.count, 1)
        let inside = base.replacingOccurrences(of: "start: \"day 0 09:59:50\"", with: "start: \"day 0 09:59:55\"")
        XCTAssertEqual(try LoadProfile.parse(yaml: inside, file: "ok.yaml").warnings, [])
        for shipped in ["ci-smoke", "kaigong-opening", "hardware-prestock", "campaign-month", "seckill-parity"] {
            let path = CommandRunner.profilePath(shipped)
            XCTAssertEqual(try LoadProfile.load(path: path).warnings, [], shipped)
        }
        let early = try LoadProfile.parse(yaml: base.replacingOccurrences(of: "start: \"day 0 09:59:50\"", with: "start: \"day 0 08:00\""),
                                          file: "early.yaml")
        XCTAssertEqual(early.warnings.count, 1)
        XCTAssertTrue(early.warnings[0].contains("before campaign.window opens (day 0 10:00:00)"), early.warnings[0])
        let late = try LoadProfile.parse(yaml: base.replacingOccurrences(of: "start: \"day 0 09:59:50\"", with: "start: \"day 0 13:00\""),
                                         file: "late.yaml")
        XCTAssertTrue(late.warnings.first?.contains("after campaign.window closes (day 0 12:00:00)") ?? false, "\(late.warnings)")
    }

    /// Invalid UTF-8 used to name only the file, control characters only the line: both now give the
    /// line and column of the first bad byte.
    func testInvalidUTF8AndControlCharactersAreLocatedAtTheFirstBadByte() throws {
        // base line 7: "  items:"; put the bad byte after "  ite" (column 6).
        let lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[6], "  items:")
        let path = NSTemporaryDirectory() + "flashsale-badutf8-\(getpid()).yaml"
        defer { try? FileManager.default.removeItem(atPath: path) }
        for (label, bad) in [("lone continuation", [UInt8(0x80)]), ("0xFF", [0xFF]), ("truncated sequence", [0xE4, 0xB8]),
                             ("overlong", [0xC0, 0xAF])] {
            var bytes = Array(lines[0..<6].joined(separator: "\n").utf8) + Array("\n  ite".utf8)
            bytes += bad + Array("ms:\n".utf8) + Array(lines[7...].joined(separator: "\n").utf8)
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            XCTAssertThrowsError(try LoadProfile.load(path: path)) { e in
                let e = e as! ProfileError
                XCTAssertEqual(e.line, 7, "\(label): \(e)")
                XCTAssertEqual(e.column, 6, "\(label): \(e)")
                XCTAssertTrue(e.description.hasPrefix(path + ":7:6: error:"), "\(label): \(e)")
                XCTAssertTrue(e.message.contains("not UTF-8"), "\(label): \(e)")
            }
        }
        // Multi-byte characters before it count as one column each.
        let accented = base.replacingOccurrences(of: "name: table", with: "name: tablé\u{4E2D}")
        var bytes = Array(accented.utf8)
        bytes.insert(0xFF, at: Array("name: tablé\u{4E2D}".utf8).count)
        XCTAssertThrowsError(try LoadProfile.parse(bytes: bytes, file: "u.yaml")) { e in
            XCTAssertEqual((e as! ProfileError).description.prefix(11), "u.yaml:1:13", "\(e)")
        }
        // Control characters (C0, DEL, C1, NUL), in plain and quoted scalars, LF and CR LF files.
        for (label, char, lineEnd) in [("SOH", "\u{01}", "\n"), ("NUL", "\u{00}", "\n"), ("DEL", "\u{7F}", "\n"),
                                       ("C1", "\u{9B}", "\n"), ("ESC in CRLF", "\u{1B}", "\r\n"), ("BEL quoted", "\u{07}", "\n")] {
            var ls = lines
            ls[6] = label == "BEL quoted" ? "  \"ite\(char)\": 1" : "  ite" + char + "ms:"
            let yaml = ls.joined(separator: lineEnd)
            XCTAssertThrowsError(try LoadProfile.parse(yaml: yaml, file: "c.yaml")) { e in
                let e = e as! ProfileError
                XCTAssertEqual(e.kind, .syntax, "\(label): \(e)")
                XCTAssertEqual(e.line, 7, "\(label): \(e)")
                XCTAssertEqual(e.column, label == "BEL quoted" ? 7 : 6, "\(label): \(e)")
            }
        }
    }

    func testUnreadableFileAndNonMappingDocument() {
        XCTAssertThrowsError(try LoadProfile.load(path: "/nonexistent/profile.yaml")) { e in
            let e = e as! ProfileError
            XCTAssertEqual(e.kind, .unreadable)
            XCTAssertTrue(e.description.hasPrefix("/nonexistent/profile.yaml: error:"))
            XCTAssertTrue(e.message.contains("no such file"), e.message)
        }
        // A directory, and bytes that are not UTF-8: each says which.
        XCTAssertThrowsError(try LoadProfile.load(path: NSTemporaryDirectory())) { e in
            XCTAssertTrue((e as! ProfileError).message.contains("is a directory"), "\(e)")
        }
        let binary = NSTemporaryDirectory() + "flashsale-binary-\(getpid()).yaml"
        XCTAssertTrue(FileManager.default.createFile(atPath: binary, contents: Data([0xFF, 0xFE, 0x00, 0x80])))
        defer { try? FileManager.default.removeItem(atPath: binary) }
        XCTAssertThrowsError(try LoadProfile.load(path: binary)) { e in
            XCTAssertTrue((e as! ProfileError).message.contains("not UTF-8 text"), "\(e)")
        }
        XCTAssertThrowsError(try LoadProfile.parse(yaml: "- just\n- a list\n", file: "l.yaml")) { e in
            let e = e as! ProfileError
            XCTAssertEqual(e.kind, .syntax)
            XCTAssertEqual(e.line, 1)
            XCTAssertTrue(e.message.contains("expected a YAML mapping"))
        }
        XCTAssertThrowsError(try LoadProfile.parse(yaml: "", file: "e.yaml")) { e in
            XCTAssertEqual((e as! ProfileError).kind, .syntax)
        }
        // A tab used for indentation: the scanner's own words, and what to do about them.
        XCTAssertThrowsError(try LoadProfile.parse(yaml: base.replacingOccurrences(of: "  organisations: 1000", with: "\torganisations: 1000"),
                                                   file: "tab.yaml")) { e in
            let e = e as! ProfileError
            XCTAssertEqual(e.kind, .syntax)
            XCTAssertTrue(e.message.contains("indented with a tab: YAML indents with spaces only"), e.message)
        }
    }

    func testUnitSyntax() {
        XCTAssertEqual(Units.durationSeconds("500ms"), 0.5)
        XCTAssertEqual(Units.durationSeconds("30m"), 1800)
        XCTAssertEqual(Units.durationSeconds("3d"), 259_200)
        XCTAssertEqual(Units.durationSeconds("1.5s"), 1.5)
        XCTAssertNil(Units.durationSeconds("5 parsecs"))
        XCTAssertEqual(Units.ratePerSecond("50k/s"), 50_000)
        XCTAssertEqual(Units.ratePerSecond("1M/s"), 1_000_000)
        XCTAssertEqual(Units.ratePerSecond("600/min"), 10)
        XCTAssertEqual(Units.ratePerSecond("2000"), 2000)
        XCTAssertNil(Units.ratePerSecond("2000/fortnight"))
        XCTAssertEqual(Units.campaignMillis("day 1 10:00:30"), 86_400_000 + 36_000_000 + 30_000)
        XCTAssertEqual(Units.campaignMillis("10:00"), 36_000_000)
        XCTAssertEqual(Units.campaignMillis("day 30"), 30 * 86_400_000)
        XCTAssertEqual(Units.campaignMillis("36h"), 36 * 3_600_000)
        XCTAssertNil(Units.campaignMillis("day x"))
        XCTAssertNil(Units.timeOfDayMillis("10:60"))
        XCTAssertEqual(Units.suggestion(for: "time-scal", among: ["time-scale", "start"]), "time-scale")
        XCTAssertNil(Units.suggestion(for: "banana", among: ["time-scale", "start"]))
    }
}

final class PopulationEdgeTests: XCTestCase {
    func testAnOfferNobodyCanBuyIsAnError() {
        // 10 organisations with a 1% advanced share: rounding leaves no advanced organisation
        let yaml = """
        name: tiny
        campaign:
          window: { opens: "10:00", closes: "11:00" }
          regions: [east]
          items: [ { id: a, kind: license, stock: 5 } ]
          offers:
            - { id: a, kind: bundle, item: a, min-level: advanced }
        population:
          organisations: 10
          certification: { none: 0.99, advanced: 0.01 }
        traffic:
          phases: [ { constant: 10/s, for: 1s } ]
        """
        XCTAssertThrowsError(try LoadProfile.parse(yaml: yaml, file: "tiny.yaml")) { e in
            let e = e as! ProfileError
            XCTAssertEqual(e.kind, .invalidValue)
            XCTAssertEqual(e.keyPath, "campaign.offers[0].min-level")
            XCTAssertEqual(e.line, 7)
            XCTAssertTrue(e.message.contains("no organisation is certified 'advanced'"), e.message)
        }
    }
}
