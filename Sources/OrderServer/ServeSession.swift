import FlashSaleCore
import FlashSaleSystem
import OrderLog
import Pipeline

/// `flashsale serve` without the command line: a campaign's `OrderService` behind an `OrderHTTPServer`
/// (and, when configured, a `BinaryOrderServer` on the same loops), started (the journal opened or
/// resumed, holds expiring on the campaign clock), then stopped (taking no more orders, answering those
/// in flight, sealing the segments) and reported on.
///
/// The CLI adds options, files, signals and exit codes; tests can run a session in-process.
public final class ServeSession {
    public struct Configuration {
        public var rules: CampaignRules
        /// Where and how to listen: address, campaign clock, tokens, limits and deadlines.
        public var server: OrderHTTPServer.Configuration
        public var lanes: Int
        /// nil: a temporary journal, removed when the session stops.
        public var segments: String?
        public var durability: Durability
        /// How segment files are written (`--segment-io`; `auto` is buffered for a server: paced traffic).
        public var segmentIO: SegmentIO = .auto
        /// Where to serve the binary protocol (`--binary-listen`); nil: HTTP only. Clock and tokens are `server`'s.
        public var binary: BinaryOrderServer.Configuration?
        /// The timeline's interval in seconds (the report's `timeline`, `--timeline FILE`), and a callback
        /// for each interval as it closes (on the journal's queue).
        public var timelineInterval: Double = 1
        public var onTimelineInterval: (@Sendable (TimelineInterval) -> Void)?
        /// Intervals the report keeps (the newest; the stream gets every one): an hour at 1 s by default.
        public var timelineKeep = 3600

        public init(rules: CampaignRules, server: OrderHTTPServer.Configuration, lanes: Int, segments: String?, durability: Durability,
                    binary: BinaryOrderServer.Configuration? = nil) {
            self.rules = rules
            self.server = server
            self.lanes = lanes
            self.segments = segments
            self.durability = durability
            self.binary = binary
        }
    }

    /// Why a session could not start or stop: `badInput` (a directory of another campaign, a damaged
    /// journal) or `runtimeFailure` (the disk, the network); one line, without the program's name.
    public struct Failure: Error, CustomStringConvertible {
        public enum Kind: Sendable { case badInput, runtimeFailure }
        public let kind: Kind
        public let message: String
        public var description: String { message }
    }

    public let configuration: Configuration
    public let service: OrderService
    public let server: OrderHTTPServer
    /// The address served, as a URL (`http://127.0.0.1:8080`; the bound port when 0 was asked for).
    public let address: String
    /// The binary protocol's server, when configured.
    public let binaryServer: BinaryOrderServer?
    /// Its address, as a URL (`fsbin://127.0.0.1:9090`; the bound port when 0 was asked for).
    public let binaryAddress: String?

    /// Opens (or resumes) the journal and starts listening.
    public init(_ c: Configuration) throws(Failure) {
        configuration = c
        var writer = SegmentWriterOptions()
        writer.durability = c.durability
        var options = PipelineOptions(lanes: c.lanes, pace: .open, overloadPolicy: .shed, segmentsDirectory: c.segments, writer: writer)
        options.segmentIO = c.segmentIO
        let clock = c.server.clock
        let start = System.monotonicNanos()
        // With a wall clock, holds expire on time even when no traffic comes.
        let expiryClock: (@Sendable () -> Int64)? = clock == .request ? nil
            : { @Sendable in clock.campaignMillis(nanosSinceStart: System.monotonicNanos() &- start) ?? 0 }
        do {
            service = try OrderService(rules: c.rules, options: options, clock: expiryClock, expireEveryMillis: expiryClock == nil ? nil : 50)
        } catch let e as PipelineError {
            switch e {
            case .cannotWrite, .journalFailed: throw Failure(kind: .runtimeFailure, message: "\(e)")
            default: throw Failure(kind: .badInput, message: "\(e)")
            }
        } catch {
            throw Failure(kind: .badInput, message: "\(error)")   // a damaged or foreign segment directory
        }
        service.startTimeline(every: c.timelineInterval, keep: c.timelineKeep, onInterval: c.onTimelineInterval)
        server = OrderHTTPServer(service: service, configuration: c.server)
        do {
            let bound = try server.start()
            let host = c.server.host
            address = "http://\(Self.bracketed(host)):\(bound.port ?? c.server.port)"
        } catch {
            try? service.stop()
            throw Failure(kind: .runtimeFailure, message: "cannot listen on \(c.server.host):\(c.server.port): \(error)")
        }
        if let b = c.binary {
            let binary = BinaryOrderServer(attachedTo: server, configuration: b)
            do {
                let bound = try binary.start()
                binaryAddress = "fsbin://\(Self.bracketed(b.host)):\(bound.port ?? b.port)"
                binaryServer = binary
            } catch {
                try? server.stop()
                throw Failure(kind: .runtimeFailure, message: "cannot listen on \(b.host):\(b.port) (--binary-listen): \(error)")
            }
        } else {
            binaryServer = nil
            binaryAddress = nil
        }
    }

    static func bracketed(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// "window opens day 0 10:00:00 (in 10 s)", "(open now: campaign time …)" or "(campaign time from each request)".
    public var window: String {
        let opensAt = configuration.rules.campaign.window.opensMillis
        var text = "window opens \(SaleWindow.describe(opensAt))"
        if let now = configuration.server.clock.campaignMillis(nanosSinceStart: 0) {
            let inMillis = opensAt - now
            text += inMillis > 0 ? " (in \(Self.seconds(inMillis)))" : " (open now: campaign time \(SaleWindow.describe(now)))"
        } else {
            text += " (campaign time from each request)"
        }
        return text
    }

    /// Stops taking orders (both protocols), answers those in flight, seals the segments.
    public func stop() throws(Failure) {
        do { try server.stop() } catch { throw Failure(kind: .runtimeFailure, message: "\(error)") }
    }

    /// What happened, after `stop()`.
    public func report(profile: String, clock: String, peakRSSBytes: Int) -> ServeReport {
        ServeReport(profile: profile, address: address, clock: clock, service: service, server: server, peakRSSBytes: peakRSSBytes,
                    binary: binaryServer.map { ($0, binaryAddress ?? "") })
    }

    static func seconds(_ ms: Int64) -> String { ms % 1000 == 0 ? "\(ms / 1000) s" : "\(Double(ms) / 1000) s" }
}
