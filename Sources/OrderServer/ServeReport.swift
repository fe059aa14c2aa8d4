import FlashSaleCore
import Foundation
import Pipeline

/// What `serve --report FILE` writes when the server stops (docs/http-api.md): decisions by outcome,
/// latency from arrival to durable decision, HTTP answers by status, the journal's figures.
public struct ServeReport: Codable, Sendable {
    public struct Latency: Codable, Sendable {
        public var kind: String; public var count: UInt64; public var p50, p90, p99, p999, max: UInt64
        // The run report's spelling: `p99.9` (docs/report.md).
        private enum CodingKeys: String, CodingKey { case kind, count, p50, p90, p99, p999 = "p99.9", max }
    }
    public struct Journal: Codable, Sendable { public var dir: String?; public var records, bytes, fsyncs, durableWatermark: UInt64 }
    public var profile, campaign, address: String
    public var lanes: Int
    public var durability, clock: String
    public var durationSeconds: Double
    public var decisions: Int
    public var outcomes: [String: Int]
    public var latencyMicros: Latency
    public var httpAnswers: [String: Int]
    public var journal: Journal
    public var resumedRecords: Int
    public var peakRSSBytes: Int
    /// The binary protocol (`--binary-listen`; absent without it): address, answers by status, ERROR
    /// frames by code, connections accepted.
    public struct Binary: Codable, Sendable {
        public var address: String
        public var answers: [String: Int]
        public var errors: [String: Int]
        public var connections: Int
    }
    public var binary: Binary?
    /// The served traffic interval by interval (the run report's `timeline`; the newest hour at 1 s):
    /// offered (shed included), decided, acknowledged, outcomes, shed, latency, in flight, durable lag, RSS.
    public var timeline: [TimelineInterval]

    private enum CodingKeys: String, CodingKey {
        case profile, campaign, address, lanes, durability, clock, durationSeconds, decisions, outcomes, latencyMicros, httpAnswers
        case journal, resumedRecords, peakRSSBytes = "peakRssBytes", binary, timeline
    }

    /// The report of a stopped server (call after `server.stop()`).
    public init(profile: String, address: String, clock: String, service: OrderService, server: OrderHTTPServer, peakRSSBytes: Int,
                binary: (server: BinaryOrderServer, address: String)? = nil) {
        let figures = service.journalFigures()
        let latency = service.latency()
        var outcomes: [String: Int] = [:]
        for (i, n) in service.outcomeCounts().enumerated() { outcomes[Outcome(rawValue: UInt8(i))?.name ?? "\(i)"] = n }
        self.profile = profile
        campaign = service.rules.campaign.name
        self.address = address
        lanes = service.options.lanes
        durability = service.options.writer.durability.rawValue
        self.clock = clock
        durationSeconds = Double(service.nanosSinceStart()) / 1e9
        decisions = figures.acknowledged
        self.outcomes = outcomes
        latencyMicros = Latency(kind: "arrival to durable decision", count: latency.count, p50: latency.micros(atPercentile: 50),
                                p90: latency.micros(atPercentile: 90), p99: latency.micros(atPercentile: 99),
                                p999: latency.micros(atPercentile: 99.9), max: latency.maxMicros)
        httpAnswers = server.finalAnswers
        journal = Journal(dir: service.options.segmentsDirectory, records: figures.stats.records, bytes: figures.stats.compressedBytes,
                          fsyncs: figures.stats.fsyncs, durableWatermark: figures.durableWatermark)
        resumedRecords = service.resumedRecords
        self.peakRSSBytes = peakRSSBytes
        timeline = service.timeline()
        if let binary {
            let f = binary.server.figures()
            self.binary = Binary(address: binary.address, answers: f.answers, errors: f.errors, connections: f.connections)
        }
    }

    /// Pretty-printed JSON with sorted snake_case keys, as every JSON flashsale writes (Reports' `ReportJSON`).
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
