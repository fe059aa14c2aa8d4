import CJemalloc
#if canImport(Glibc)
import Glibc
#endif

/// The process's memory as the kernel and the allocator see it.
///
/// The `flashsale` executable links jemalloc, which then serves every `malloc` in the process;
/// `jemalloc` reads jemalloc's own statistics (nil if another allocator is in charge).
public struct MemoryStats: Sendable, Codable, Equatable {
    /// Peak resident set size (VmHWM), bytes.
    public var peakRSSBytes: Int
    /// Current resident set size (VmRSS), bytes.
    public var rssBytes: Int
    /// jemalloc `stats.allocated`: bytes in live allocations.
    public var jemallocAllocatedBytes: Int?
    /// jemalloc `stats.resident`: bytes in pages jemalloc holds resident.
    public var jemallocResidentBytes: Int?

    private enum CodingKeys: String, CodingKey {
        case peakRSSBytes = "peakRssBytes", rssBytes, jemallocAllocatedBytes, jemallocResidentBytes
        case oldPeakRSSBytes = "peakRSSBytes"   // camelCase reports before 0.14
    }

    public init(peakRSSBytes: Int, rssBytes: Int, jemallocAllocatedBytes: Int?, jemallocResidentBytes: Int?) {
        self.peakRSSBytes = peakRSSBytes
        self.rssBytes = rssBytes
        self.jemallocAllocatedBytes = jemallocAllocatedBytes
        self.jemallocResidentBytes = jemallocResidentBytes
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        peakRSSBytes = try c.decodeIfPresent(Int.self, forKey: .peakRSSBytes) ?? c.decode(Int.self, forKey: .oldPeakRSSBytes)
        rssBytes = try c.decode(Int.self, forKey: .rssBytes)
        jemallocAllocatedBytes = try c.decodeIfPresent(Int.self, forKey: .jemallocAllocatedBytes)
        jemallocResidentBytes = try c.decodeIfPresent(Int.self, forKey: .jemallocResidentBytes)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(peakRSSBytes, forKey: .peakRSSBytes)
        try c.encode(rssBytes, forKey: .rssBytes)
        try c.encodeIfPresent(jemallocAllocatedBytes, forKey: .jemallocAllocatedBytes)
        try c.encodeIfPresent(jemallocResidentBytes, forKey: .jemallocResidentBytes)
    }

    public static func current() -> MemoryStats {
        let status = procStatus()
        return MemoryStats(peakRSSBytes: status["VmHWM"] ?? 0, rssBytes: status["VmRSS"] ?? 0,
                           jemallocAllocatedBytes: jemallocStat("stats.allocated"),
                           jemallocResidentBytes: jemallocStat("stats.resident"))
    }

    /// Reads one `size_t` statistic from jemalloc after refreshing its statistics epoch.
    public static func jemallocStat(_ name: String) -> Int? {
        var epoch: UInt64 = 1
        var newEpoch: UInt64 = 1
        var epochSize = MemoryLayout<UInt64>.size
        guard mallctl("epoch", &epoch, &epochSize, &newEpoch, epochSize) == 0 else { return nil }
        var value: Int = 0
        var size = MemoryLayout<Int>.size
        guard mallctl(name, &value, &size, nil, 0) == 0 else { return nil }
        return value
    }

    /// `/proc/self/status` sizes (kB lines) in bytes.
    static func procStatus() -> [String: Int] {
        guard let f = fopen("/proc/self/status", "r") else { return [:] }
        defer { fclose(f) }
        var result: [String: Int] = [:]
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard let colon = s.firstIndex(of: ":") else { continue }
            let key = String(s[..<colon])
            let digits = s[s.index(after: colon)...].filter(\.isNumber)
            if s.hasSuffix("kB\n"), let kb = Int(digits) { result[key] = kb * 1024 }
        }
        return result
    }
}
