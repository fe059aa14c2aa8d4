import Histogram

/// Latency samples in microseconds, in an HdrHistogram (3 significant digits, 1 µs to 1 hour).
///
/// Recording is constant-time and allocation-free; recorders of several lanes merge exactly.
public struct LatencyRecorder: Sendable {
    public static let highestTrackableMicros: UInt64 = 3_600_000_000

    public internal(set) var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1,
                                                          highestTrackableValue: highestTrackableMicros,
                                                          numberOfSignificantValueDigits: .three)

    public init() {}

    /// Records one latency given in nanoseconds (clamped to the trackable range).
    public mutating func record(nanos: UInt64) {
        let micros = Swift.min(nanos / 1000, Self.highestTrackableMicros)
        _ = histogram.record(micros)
    }

    /// Records `count` equal samples.
    public mutating func record(nanos: UInt64, count: UInt64) {
        let micros = Swift.min(nanos / 1000, Self.highestTrackableMicros)
        _ = histogram.record(micros, count: count)
    }

    public mutating func merge(_ other: LatencyRecorder) { histogram.add(other.histogram) }

    public var count: UInt64 { histogram.totalCount }

    /// The value (µs) at `percentile` (0...100); 0 when empty.
    public func micros(atPercentile percentile: Double) -> UInt64 {
        count == 0 ? 0 : histogram.valueAtPercentile(percentile)
    }

    public var maxMicros: UInt64 { count == 0 ? 0 : histogram.max }
    public var minMicros: UInt64 { count == 0 ? 0 : histogram.min }
    public var meanMicros: Double { count == 0 ? 0 : histogram.mean }

    /// The percentile spectrum in HdrHistogram's text (.hgrm) format, values in microseconds (the unit of
    /// every latency flashsale writes), after a comment line saying which latency it holds.
    public func percentileSpectrum(kind: String) -> String {
        var text = "# flashsale latency: \(kind), microseconds (\(count) requests)\n"
        histogram.outputPercentileDistribution(to: &text, outputValueUnitScalingRatio: 1.0)
        return text
    }
}
