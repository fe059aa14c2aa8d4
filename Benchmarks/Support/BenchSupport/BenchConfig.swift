// Shared configuration of the flashsale benchmark targets: metrics and threshold tolerances.

import Benchmark

#if canImport(Glibc)
import Glibc
#endif

public enum BenchConfig {
    /// wallClock, throughput and mallocCountTotal everywhere; `instructions` only when
    /// FLASHSALE_BENCH_INSTRUCTIONS=1 (it needs perf_events: `perf stat -e instructions true` must
    /// print a count; on the 2-core dev VM it prints "<not supported>").
    public static var metrics: [BenchmarkMetric] {
        [.wallClock, .throughput, .mallocCountTotal] + (instructionsEnabled ? [.instructions] : [])
    }

    public static var instructionsEnabled: Bool {
        if let v = getenv("FLASHSALE_BENCH_INSTRUCTIONS") { return String(cString: v) == "1" }
        return false
    }

    /// Tolerances for `swift package benchmark thresholds check` (which compares p90 against the p90 stored
    /// in Thresholds/): `time` percent either way on wallClock and throughput (the VM is noisy), malloc
    /// counts exact unless `mallocs` (percent) is given, instructions 10%.
    public static func thresholds(time: Double, mallocs: Double? = nil) -> [BenchmarkMetric: BenchmarkThresholds] {
        var t: [BenchmarkMetric: BenchmarkThresholds] = [
            .wallClock: .init(relative: [.p90: time]),
            .throughput: .init(relative: [.p90: time]),
            .mallocCountTotal: mallocs.map { .init(relative: [.p90: $0], absolute: [.p90: 8]) }
                ?? .init(absolute: [.p90: 0]),
        ]
        if instructionsEnabled { t[.instructions] = .init(relative: [.p90: 10]) }
        return t
    }
}
