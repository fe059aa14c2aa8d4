import Foundation
import FlashSaleRun
import XCTest
@testable import FlashSaleCore
@testable import LoadGen
@testable import OrderLog
@testable import Pipeline

/// Seeded, deterministic fuzzing of the shipped profiles: numbers made 0, negative, huge, 2^63−1,
/// fractional; lines deleted, duplicated, swapped; keys swapped; control characters and invalid UTF-8
/// inserted; files truncated; units changed. Every variant either loads and runs (briefly, in
/// process: pipeline, audit, report) with its invariants intact, or fails with a `ProfileError`
/// located at `file:line:column:`. A subset also runs the built binary, where a trap cannot hide:
/// exit 0 or 2 (and then a located error), nothing else, in bounded time.
final class ProfileFuzzTests: XCTestCase {
    static let seed: UInt64 = 0x5EED_F022

    static let shipped: [(name: String, bytes: [UInt8])] = {
        ["campaign-month", "ci-smoke", "hardware-prestock", "kaigong-opening", "seckill-parity"].map { name in
            let path = "\(PipelineFixtures.root)/LoadProfiles/\(name).yaml"
            return (name, Array(FileManager.default.contents(atPath: path) ?? Data()))
        }
    }()

    /// Variant `k`: 1–3 mutations of one shipped profile, a function of (seed, k) only.
    static func variant(_ k: Int) -> (source: String, bytes: [UInt8], mutations: [String]) {
        var g = SplitMix64(seed: seed &+ UInt64(k) &* 0x9E37_79B9)
        let (name, original) = shipped[k % shipped.count]
        var bytes = original
        var applied: [String] = []
        for _ in 0...Int(g.next() % 3) {
            let (what, next) = mutate(bytes, &g)
            applied.append(what)
            bytes = next
        }
        return (name, bytes, applied)
    }

    static let numbers = ["0", "-1", "-7", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                          "18446744073709551615", "4294967296", "2147483648", "1e300", "1e-300", "0.5", "1.5",
                          "0.0001", "99999999999999", "nan", "inf", "-0", "1e18", "255", "256", "65536", "100"]
    static let units = [("s", "ms"), ("s", "d"), ("s", "h"), ("ms", "s"), ("/s", "/min"), ("/s", "/h"), ("k/", "M/"),
                        ("k/", "G/"), ("%", ""), ("m", "min"), ("s", "x"), ("day 0", "day 99999"), ("10:00", "25:00"),
                        ("0.", "1."), (": ", ": -")]
    static let controls: [[UInt8]] = [[0x01], [0x00], [0x7F], [0x1B], [0xC2, 0x9B], [0x09], [0x0D], [0x0B],
                                      [0xFF], [0x80], [0xC0, 0xAF], [0xE4, 0xB8], [0xED, 0xA0, 0x80], [0xEF, 0xBF, 0xBE]]

    static func mutate(_ bytes: [UInt8], _ g: inout SplitMix64) -> (String, [UInt8]) {
        var lines = split(bytes)
        func pick(_ n: Int) -> Int { n == 0 ? 0 : Int(g.next() % UInt64(n)) }
        let l = pick(lines.count)
        switch g.next() % 10 {
        case 0, 1, 2:  // a number in a line
            let text = String(decoding: lines[l], as: UTF8.self)
            let spans = numberSpans(text)
            guard !spans.isEmpty else { return ("no-op", bytes) }
            let span = spans[pick(spans.count)]
            let replacement = numbers[pick(numbers.count)]
            var scalars = Array(text.unicodeScalars)
            scalars.replaceSubrange(span, with: replacement.unicodeScalars)
            lines[l] = Array(String(String.UnicodeScalarView(scalars)).utf8)
            return ("line \(l + 1): number → \(replacement)", join(lines))
        case 3:
            lines.remove(at: l)
            return ("delete line \(l + 1)", join(lines))
        case 4:
            lines.insert(lines[l], at: l)
            return ("duplicate line \(l + 1)", join(lines))
        case 5:  // swap two lines, or the keys of two lines
            let m = pick(lines.count)
            if g.next() % 2 == 0 { lines.swapAt(l, m); return ("swap lines \(l + 1), \(m + 1)", join(lines)) }
            let a = String(decoding: lines[l], as: UTF8.self), b = String(decoding: lines[m], as: UTF8.self)
            guard let ka = key(a), let kb = key(b) else { return ("no-op", bytes) }
            lines[l] = Array(a.replacingOccurrences(of: ka + ":", with: kb + ":").utf8)
            lines[m] = Array(b.replacingOccurrences(of: kb + ":", with: ka + ":").utf8)
            return ("swap keys \(ka) (line \(l + 1)), \(kb) (line \(m + 1))", join(lines))
        case 6:  // a control character or invalid UTF-8
            var out = bytes
            let at = pick(out.count + 1)
            let c = controls[pick(controls.count)]
            out.insert(contentsOf: c, at: at)
            return ("insert \(c) at byte \(at)", out)
        case 7:
            let at = pick(bytes.count)
            return ("truncate at byte \(at)", Array(bytes[0..<at]))
        default:  // units and other little words
            let (from, to) = units[pick(units.count)]
            let text = String(decoding: lines[l], as: UTF8.self)
            guard let r = text.range(of: from) else { return ("no-op", bytes) }
            lines[l] = Array(text.replacingCharacters(in: r, with: to).utf8)
            return ("line \(l + 1): \(from) → \(to)", join(lines))
        }
    }

    static func split(_ bytes: [UInt8]) -> [[UInt8]] { bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init) }
    static func join(_ lines: [[UInt8]]) -> [UInt8] { Array(lines.joined(separator: [0x0A])) }

    /// Ranges (in scalars) of the digit runs in `text`, with a fraction part.
    static func numberSpans(_ text: String) -> [Range<Int>] {
        let s = Array(text.unicodeScalars)
        var out: [Range<Int>] = []
        var i = 0
        func digit(_ k: Int) -> Bool { k < s.count && ("0"..."9").contains(s[k]) }
        while i < s.count {
            if digit(i) {
                let start = i
                while digit(i) || (i < s.count && s[i] == "." && digit(i + 1)) { i += 1 }
                out.append(start..<i)
            } else { i += 1 }
        }
        return out
    }

    static func key(_ line: String) -> String? {
        let t = line.drop { $0 == " " || $0 == "-" || $0 == "{" }
        guard let colon = t.firstIndex(of: ":") else { return nil }
        let k = String(t[..<colon])
        return !k.isEmpty && k.allSatisfy({ $0.isLetter || $0 == "-" }) ? k : nil
    }

    /// `file:line:column: error:` with positive line and column.
    static func isLocated(_ description: String, file: String) -> Bool {
        guard description.hasPrefix(file + ":") else { return false }
        let parts = description.dropFirst(file.count + 1).split(separator: ":", maxSplits: 2)
        guard parts.count == 3, let line = Int(parts[0]), let column = Int(parts[1]), line > 0, column > 0 else { return false }
        return parts[2].hasPrefix(" error: ")
    }

    func testMutatedShippedProfilesLoadAndRunOrFailLocated() throws {
        let variants = 1500
        var loaded = 0, refused = 0, ran = 0
        var kinds: [ProfileError.Kind: Int] = [:]
        let dir = PipelineFixtures.temporaryDirectory("fuzz")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let started = Date()
        for k in 0..<variants {
            let v = Self.variant(k)
            let file = "fuzz-\(k).yaml"
            let profile: LoadProfile
            do {
                profile = try LoadProfile.parse(bytes: v.bytes, file: file)
            } catch {
                refused += 1
                kinds[error.kind, default: 0] += 1
                XCTAssertTrue(Self.isLocated(error.description, file: file), "variant \(k) of \(v.source) \(v.mutations): \(error.description)")
                continue
            }
            loaded += 1
            // Every loaded variant is runnable: a brief run (a few thousand requests) through the
            // pipeline, read back and reported, within a deadline.
            guard ran < 400 else { continue }
            ran += 1
            let segs = dir + "/\(k)"
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var failure: String?
            DispatchQueue.global().async {
                defer { done.signal() }
                do {
                    // The run as `flashsale run` makes it: journal, audit read back, report and invariants.
                    var c = RunConfiguration(profile: profile, profileLabel: file, lanes: 2, segments: segs, durability: .none)
                    c.source = TrafficGenerator(profile: profile, requestLimit: 3000)
                    c.paceOverride = .max
                    let i = try RunSession(c, diagnostics: { _ in }).execute().report.invariants
                    if i.oversold + i.conservationViolations + i.segmentMismatches + i.outcomeMismatches != 0 {
                        failure = "invariants failed: \(i)"
                    }
                } catch {
                    failure = "run failed: \(error)"
                }
            }
            if done.wait(timeout: .now() + 20) == .timedOut {
                return XCTFail("variant \(k) of \(v.source) \(v.mutations) did not finish a 3000-request run in 20 s")
            }
            if let failure { XCTFail("variant \(k) of \(v.source) \(v.mutations): \(failure)") }
            try? FileManager.default.removeItem(atPath: segs)
        }
        XCTAssertGreaterThan(loaded, 100)
        XCTAssertGreaterThan(refused, 500)
        print("fuzz: \(variants) variants, \(loaded) loaded (\(ran) run), \(refused) refused in \(String(format: "%.1f", Date().timeIntervalSince(started))) s; kinds: \(kinds.map { "\($0.key.rawValue) \($0.value)" }.sorted().joined(separator: ", "))")
    }

    /// The built binary on a subset: a trap (exit 132/134/139) or a hang cannot hide there.
    func testMutatedShippedProfilesNeverCrashTheBinary() throws {
        let binary = PipelineFixtures.root + "/.build/release/flashsale"
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw XCTSkip("no release binary at \(binary)") }
        let dir = PipelineFixtures.temporaryDirectory("fuzz-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var statuses: [Int32: Int] = [:]
        let started = Date()
        for k in stride(from: 0, to: 1500, by: 6) {   // 250 variants
            let v = Self.variant(k)
            let path = dir + "/v\(k).yaml"
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(v.bytes)))
            let p = Process()
            p.executableURL = URL(fileURLWithPath: binary)
            p.arguments = ["run", path, "--rate", "20000", "--duration", "0.2", "--progress", "never"]
            p.currentDirectoryURL = URL(fileURLWithPath: dir)
            let err = Pipe()
            p.standardOutput = FileHandle.nullDevice
            p.standardError = err
            try p.run()
            nonisolated(unsafe) var stderr = Data()
            let drained = DispatchSemaphore(value: 0)
            DispatchQueue.global().async { stderr = err.fileHandleForReading.readDataToEndOfFile(); drained.signal() }
            if drained.wait(timeout: .now() + 30) == .timedOut {
                p.terminate()
                XCTFail("variant \(k) of \(v.source) \(v.mutations): no exit within 30 s")
            }
            p.waitUntilExit()
            let status = p.terminationStatus
            statuses[status, default: 0] += 1
            let text = String(decoding: stderr, as: UTF8.self)
            XCTAssertTrue(status == 0 || status == 2, "variant \(k) of \(v.source) \(v.mutations): exit \(status) (\(p.terminationReason == .uncaughtSignal ? "signal" : "exit")): \(text)")
            if status == 2 {
                // The CLI prints `flashsale: FILE:LINE:COLUMN: error: …` (after any warnings).
                let errors = text.split(separator: "\n").filter { $0.contains(" error: ") }
                XCTAssertEqual(errors.count, 1, "variant \(k): \(text)")
                let first = errors.first.map { String($0.hasPrefix("flashsale: ") ? $0.dropFirst(11) : $0) } ?? ""
                XCTAssertTrue(Self.isLocated(first, file: path), "variant \(k): \(text)")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        print("fuzz (binary): exit statuses \(statuses.sorted { $0.key < $1.key }) in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
    }
}
