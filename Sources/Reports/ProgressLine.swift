import Pipeline

/// The live progress line of a run (once a second on stderr): rates since the previous line, accepted
/// and held so far, sold-out offers, p99 and the durable watermark.
public struct ProgressLine: Sendable {
    private let offerCount: Int
    private var previous: ProgressSnapshot?

    public init(offerCount: Int) { self.offerCount = offerCount }

    /// The line for `p` (without a line end), remembering `p` for the next line's rates.
    public mutating func render(_ p: ProgressSnapshot) -> String {
        let last = previous
        previous = p
        let dt = max(1e-9, p.elapsedSeconds - (last?.elapsedSeconds ?? 0))
        let offeredRate = Double(p.offered - (last?.offered ?? 0)) / dt
        let ackedRate = Double(p.acknowledged - (last?.acknowledged ?? 0)) / dt
        let h = SummaryFormatter.human
        let start = "\(SummaryFormatter.fixed(p.elapsedSeconds, 1))s  offered \(h(offeredRate))/s  achieved \(h(ackedRate))/s"
            + "  accepted/held \(h(Double(p.accepted)))"
        if let unanswered = p.unanswered {
            // Against a server: its journal and stock are its own; what the client sees is what is unanswered.
            return start + "  p99 \(Self.micros(p.p99Micros))  unanswered \(unanswered)"
        }
        return start + "  sold-out \(p.soldOutOffers)/\(offerCount) offers  p99 \(Self.micros(p.p99Micros))  durable #\(p.durableWatermark)"
    }

    /// "850 µs", "1250 µs": one latency unit in every output.
    public static func micros(_ us: UInt64) -> String { "\(us) µs" }
}
