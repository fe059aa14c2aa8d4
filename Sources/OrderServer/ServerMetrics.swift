import Dispatch
import FlashSaleCore
import Foundation
import NIOCore
import Pipeline
import Prometheus
import Synchronization
import WireProtocol

/// `GET /metrics`: the service's figures in the Prometheus text exposition format.
///
/// Pull-based: nothing is recorded per order on a shared structure. Decisions by outcome come from the
/// journal's acknowledged counts, answers by status and the answer-latency histogram from per-event-loop
/// counters (each loop writes its own), the journal's and the process's figures from their sources; all
/// are gathered when scraped, off the event loops, and set into a `PrometheusCollectorRegistry`.
final class ServerMetrics: @unchecked Sendable {  // the registry is thread-safe; `exported` behind a Mutex
    let registry = PrometheusCollectorRegistry()
    let decisions: [Counter]
    let answers: [String: Counter]
    let connections, batchesInFlight, journalBytes, journalRecords, durableWatermark, residentBytes: Gauge
    let fsyncs: Counter
    private let exported = Mutex<[String: Int]>([:])
    /// The binary protocol's series, made on the first scrape of a server that has one.
    private let binarySeries = Mutex<BinarySeries?>(nil)
    struct BinarySeries: Sendable {
        let connections: Gauge
        let frames: [Counter]
        let answers: [Counter]
        let errors: [Counter]
    }
    /// Upper bounds of the answer-latency buckets, seconds.
    static let latencyBounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    static let statuses = ["200", "400", "401", "403", "404", "405", "408", "413", "429", "503"]
    /// Binary frames received, by type (`other`: any type that is not a client frame's).
    static let binaryFrameTypes = ["hello", "orders", "heartbeat", "goodbye", "other"]

    @inline(__always)
    static func binaryFrameIndex(_ type: UInt8) -> Int { type >= 1 && type <= 4 ? Int(type) - 1 : 4 }

    init() {
        let registry = self.registry
        decisions = Outcome.allCases.map {
            registry.makeCounter(descriptor: prometheusMetric("flashsale_decisions_total", help: "Decisions acknowledged (durable and answered), by outcome; hold expiries included"), labels: [("outcome", $0.name)])
        }
        var a: [String: Counter] = [:]
        for s in Self.statuses {
            a[s] = registry.makeCounter(descriptor: prometheusMetric("flashsale_http_answers_total", help: "HTTP answers written, by status (429: shed, nothing decided)"), labels: [("status", s)])
        }
        answers = a
        connections = registry.makeGauge(descriptor: prometheusMetric("flashsale_connections", help: "Open client connections"))
        batchesInFlight = registry.makeGauge(descriptor: prometheusMetric("flashsale_batches_in_flight", help: "Lane batches handed to lanes and not yet answered"))
        journalBytes = registry.makeGauge(descriptor: prometheusMetric("flashsale_journal_bytes", help: "Bytes the journal wrote (compressed, framed)"))
        journalRecords = registry.makeGauge(descriptor: prometheusMetric("flashsale_journal_records", help: "Records the journal wrote since start"))
        durableWatermark = registry.makeGauge(descriptor: prometheusMetric("flashsale_durable_watermark", help: "Highest journal sequence known durable"))
        residentBytes = registry.makeGauge(descriptor: prometheusMetric("flashsale_resident_memory_bytes", help: "Resident set size of the process"))
        fsyncs = registry.makeCounter(descriptor: prometheusMetric("flashsale_journal_fsyncs_total", help: "fsyncs of the journal since start"))
    }

    /// Adds `to − last exported` to a counter (counters only go up; figures are totals).
    private func advance(_ counter: Counter, key: String, to total: Int) {
        let delta = exported.withLock { e -> Int in
            let d = total - e[key, default: 0]
            if d > 0 { e[key] = total }
            return d
        }
        if delta > 0 { counter.increment(by: Int64(delta)) }
    }

    /// The exposition text (call off the event loops: it waits for each loop's counters).
    func scrape(_ server: OrderHTTPServer) -> String {
        let service = server.service
        let counts = service.outcomeCounts()
        for (i, c) in decisions.enumerated() where i < counts.count { advance(c, key: "d\(i)", to: counts[i]) }
        var loops = server.mergedLoopFigures()
        if let binary = server.binary {
            let b = binary.mergedLoopFigures()
            loops.add(b)
            let series = binarySeries(registry)
            series.connections.set(Double(binary.openConnections))
            for (i, c) in series.frames.enumerated() { advance(c, key: "bf\(i)", to: b.binaryFrames[i]) }
            for (i, c) in series.answers.enumerated() { advance(c, key: "ba\(i)", to: b.binaryAnswers[i]) }
            for (i, c) in series.errors.enumerated() { advance(c, key: "be\(i)", to: b.binaryErrors[i + 1]) }
        }
        let buckets = loops.latencyBuckets, sumNanos = loops.latencySumNanos
        for (i, s) in Self.statuses.enumerated() { advance(answers[s]!, key: "s\(s)", to: loops.answers[i]) }
        let figures = service.journalFigures()
        connections.set(Double(server.connections.load(ordering: .relaxed)))
        batchesInFlight.set(Double(service.batchesInFlight))
        journalBytes.set(Double(figures.stats.compressedBytes))
        journalRecords.set(Double(figures.stats.records))
        durableWatermark.set(Double(figures.durableWatermark))
        residentBytes.set(Double(Self.residentBytes()))
        advance(fsyncs, key: "fsyncs", to: Int(figures.stats.fsyncs))
        var text = registry.emitToString()
        // The answer-latency histogram, from the loops' buckets (cumulative, as the format wants).
        text += "# HELP flashsale_answer_latency_seconds Time from an order's arrival to its answer (durable decision), HTTP and binary\n"
        text += "# TYPE flashsale_answer_latency_seconds histogram\n"
        var cumulative: UInt64 = 0
        for (i, bound) in Self.latencyBounds.enumerated() {
            cumulative &+= buckets[i]
            text += "flashsale_answer_latency_seconds_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        cumulative &+= buckets[Self.latencyBounds.count]
        text += "flashsale_answer_latency_seconds_bucket{le=\"+Inf\"} \(cumulative)\n"
        text += "flashsale_answer_latency_seconds_sum \(Double(sumNanos) / 1e9)\n"
        text += "flashsale_answer_latency_seconds_count \(cumulative)\n"
        return text
    }

    private func binarySeries(_ registry: PrometheusCollectorRegistry) -> BinarySeries {
        binarySeries.withLock { s in
            if let s { return s }
            let made = BinarySeries(
                connections: registry.makeGauge(descriptor: prometheusMetric("flashsale_binary_connections", help: "Open binary-protocol (fsbin) connections")),
                frames: Self.binaryFrameTypes.map {
                    registry.makeCounter(descriptor: prometheusMetric("flashsale_binary_frames_total", help: "Binary frames received, by type"), labels: [("type", $0)])
                },
                answers: (0..<6).map {
                    registry.makeCounter(descriptor: prometheusMetric("flashsale_binary_answers_total", help: "Binary answers written, by status (DECIDED: a durable decision; the others decided nothing)"), labels: [("status", WireAnswer.Status(rawValue: UInt8($0))!.name)])
                },
                errors: WireError.Code.allCases.map {
                    registry.makeCounter(descriptor: prometheusMetric("flashsale_binary_errors_total", help: "Binary ERROR frames sent (each closes its connection), by code"), labels: [("code", $0.name)])
                })
            s = made
            return made
        }
    }

    /// VmRSS of this process, bytes (0 where /proc is not there).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }
}

/// One event loop's own counters (written only on the loop; copied on the loop for a scrape).
struct LoopFigures: Sendable {
    var answers = [Int](repeating: 0, count: ServerMetrics.statuses.count)
    var latencyBuckets = [UInt64](repeating: 0, count: ServerMetrics.latencyBounds.count + 1)
    var latencySumNanos: UInt64 = 0
    /// Binary protocol: frames received by type (`ServerMetrics.binaryFrameTypes`), answers by status
    /// (`WireAnswer.Status` raw value), ERROR frames sent by code (raw value), connections accepted.
    var binaryFrames = [Int](repeating: 0, count: ServerMetrics.binaryFrameTypes.count)
    var binaryAnswers = [Int](repeating: 0, count: 6)
    var binaryErrors = [Int](repeating: 0, count: 10)
    var binaryConnectionsAccepted = 0

    mutating func add(_ other: LoopFigures) {
        for i in answers.indices { answers[i] += other.answers[i] }
        for i in binaryFrames.indices { binaryFrames[i] += other.binaryFrames[i] }
        for i in binaryAnswers.indices { binaryAnswers[i] += other.binaryAnswers[i] }
        for i in binaryErrors.indices { binaryErrors[i] += other.binaryErrors[i] }
        binaryConnectionsAccepted += other.binaryConnectionsAccepted
        for i in latencyBuckets.indices { latencyBuckets[i] &+= other.latencyBuckets[i] }
        latencySumNanos &+= other.latencySumNanos
    }

    mutating func countAnswer(status: UInt) {
        let i: Int
        switch status {  // the index of `status` in `ServerMetrics.statuses`
        case 200: i = 0
        case 400: i = 1
        case 401: i = 2
        case 403: i = 3
        case 404: i = 4
        case 405: i = 5
        case 408: i = 6
        case 413: i = 7
        case 429: i = 8
        case 503: i = 9
        default: return
        }
        answers[i] += 1
    }

    mutating func recordLatency(nanos: UInt64) {
        latencySumNanos &+= nanos
        let seconds = Double(nanos) / 1e9
        var i = 0
        while i < ServerMetrics.latencyBounds.count && seconds > ServerMetrics.latencyBounds[i] { i += 1 }
        latencyBuckets[i] &+= 1
    }
}

/// A metric's whole Prometheus name (`flashsale_decisions_total`) and help text, as swift-prometheus's
/// descriptor API takes them (the name is not split into namespace, name and unit).
func prometheusMetric(_ name: String, help: String) -> MetricNameDescriptor {
    MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
}
