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
        if mallocsOnly { return [.mallocCountTotal] }
        return [.wallClock, .throughput, .mallocCountTotal] + (instructionsEnabled ? [.instructions] : [])
    }

    /// FLASHSALE_BENCH_MALLOCS_ONLY=1: measure and check only the malloc counts (and exact byte counts),
    /// the figures that do not depend on how busy the machine is. CI runs the thresholds check this way:
    /// time tolerances would flake on a shared runner, malloc counts cannot.
    public static var mallocsOnly: Bool {
        if let v = getenv("FLASHSALE_BENCH_MALLOCS_ONLY") { return String(cString: v) == "1" }
        return false
    }

    public static var instructionsEnabled: Bool {
        if let v = getenv("FLASHSALE_BENCH_INSTRUCTIONS") { return String(cString: v) == "1" }
        return false
    }

    /// Tolerances for `swift package benchmark thresholds check`, which compares this run's p90 with the p90
    /// stored in Thresholds/ (written by `thresholds update`): `time` percent either way on wallClock
    /// (this VM is noisy; nil: recorded but not checked), malloc counts within `mallocs` (absolute,
    /// per measured iteration: 0 where the hot path must not allocate), instructions 10%.
    /// Both directions count: a p90 better than the tolerance is reported as an improvement (exit code 4),
    /// the signal to run `thresholds update` again.
    public static func thresholds(time: Double?, mallocs: Int = 0) -> [BenchmarkMetric: BenchmarkThresholds] {
        if mallocsOnly { return [.mallocCountTotal: .init(absolute: [.p90: mallocs])] }
        let timeTolerance: BenchmarkThresholds = time.map { .init(relative: [.p90: $0]) } ?? .init()
        var t: [BenchmarkMetric: BenchmarkThresholds] = [
            .wallClock: timeTolerance,
            // Not checked: it mirrors wallClock, and 1.38.1 stores a prefersLarger metric's raw-histogram p90
            // but checks the polarity-adjusted one (the low end), so it would trip on spread alone.
            .throughput: .init(),
            .mallocCountTotal: .init(absolute: [.p90: mallocs]),
        ]
        if instructionsEnabled { t[.instructions] = .init(relative: [.p90: 10]) }
        return t
    }
}

// Benchmark names carry no spaces or slashes: `thresholds update` writes Thresholds/TARGET.NAME.p90.json with
// them replaced by `_`, but `thresholds check` (1.38.1) looks the file up under the name as it is.
