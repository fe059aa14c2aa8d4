import ArgumentParser
import FlashSaleCore
import FlashSaleRun
import FlashSaleSystem
import Foundation
import LoadGen
import OrderLog
import OrderServer
import Pipeline
import Reports

/// `flashsale serve [PROFILE]`: the order processor of a real sale, over HTTP (docs/http-api.md).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the campaign's orders over HTTP/1.1 (POST /v1/orders, holds, offers, health) and, with --binary-listen, the binary protocol fsbin.",
        discussion: """
        Decides orders from real clients with the same lanes, journal and rules as `run`. An order's \
        200 answer is sent once its decision is durable per --durability; pipelined requests are \
        answered in order; 400/401/403/404/405/408/413/429/503 answers decide nothing (docs/http-api.md). \
        A --segments directory that holds records continues that campaign: a retry after a restart gets \
        its original decision. SIGTERM or Ctrl-C stops taking orders, answers those in flight, seals the \
        segments and exits 0 (SIGTERM) or 130 (Ctrl-C).
        """)

    @Argument(help: "A load profile (YAML): its campaign and population are served. Default: the built-in kaigong-opening demo.")
    var profile: String?

    @Option(help: ArgumentHelp("Address to listen on, HOST:PORT (port 0: any free port; the ready line says which).", valueName: "host:port"))
    var listen = "127.0.0.1:8080"

    @Option(name: .customLong("binary-listen"), help: ArgumentHelp("Also serve the binary order protocol fsbin on HOST:PORT (docs/wire-protocol.md): HELLO, then frames of up to 21,845 orders, answered as each decision is durable, in any order. Same lanes, journal, tokens and clock as HTTP; port 0 picks a free port (the ready line says fsbin://HOST:PORT). A non-loopback host needs --tokens or --allow-unauthenticated.", valueName: "host:port"))
    var binaryListen: String?

    @Option(help: ArgumentHelp("The organisations, instead of the profile's synthetic population: CSV (header id,level,region[,activated][,tags]) or NDJSON, ids 0…N−1 each once (docs/http-api.md).", valueName: "file"))
    var organisations: String?

    @OptionGroup(title: "Journal")
    var journal: JournalOptions
    var lanes: Int { journal.lanes }
    var segments: String? { journal.segments }
    var durability: Durability { journal.durability }

    @Option(help: ArgumentHelp("Campaign clock: wall (wall time mapped onto campaign time) or request (each request carries campaign_time_ms).", valueName: "wall|request"))
    var clock: ClockMode = .wall

    @Option(name: .customLong("opens-in"), help: ArgumentHelp("With --clock wall: the sale window opens this long after start, e.g. 10s or 2m (default 0s: open now).", valueName: "duration"))
    var opensIn: String?

    @Option(name: .customLong("campaign-epoch"), help: ArgumentHelp("With --clock wall: the instant of campaign day 0, 00:00 (RFC 3339, e.g. 2027-01-04T00:00:00+08:00).", valueName: "instant"))
    var campaignEpoch: String?

    @Option(help: ArgumentHelp("Write a JSON report here when the server stops: decisions by outcome, latency, HTTP answers by status, journal figures (docs/http-api.md).", valueName: "file.json"))
    var report: String?

    @Option(help: ArgumentHelp("Stream the served traffic's timeline here as it happens, one interval per line: NDJSON, or CSV when the name ends in .csv (offered, decided, acknowledged, outcomes, shed, latency percentiles, in flight, durable lag, RSS; the --report keeps the newest hour of them).", valueName: "file"))
    var timeline: String?

    @Option(help: ArgumentHelp("The timeline's interval in seconds, 0.01 to 3600.", valueName: "seconds"))
    var interval: Double = 1

    @Option(name: .customLong("max-connections"), help: ArgumentHelp("Connections served at once (HTTP, and binary apart); more are closed on accept.", valueName: "n"))
    var maxConnections = 4096

    @Option(name: .customLong("request-head-timeout"), help: ArgumentHelp("Once a request's first byte has arrived, its head (request line and headers) must be complete within this long, e.g. 10s or 500ms; otherwise it is answered 408 and the connection is closed (slow clients, slowloris).", valueName: "duration"))
    var requestHeadTimeout = "10s"

    @Option(name: .customLong("request-body-timeout"), help: ArgumentHelp("Once a request's head is complete, its body must be complete within this long; otherwise 408 and the connection is closed.", valueName: "duration"))
    var requestBodyTimeout = "10s"

    @Option(help: ArgumentHelp("Bearer tokens, one 'TOKEN ORGANISATION' per line: orders, holds and lookups then need 'Authorization: Bearer TOKEN' and may act only for that organisation (401, 403).", valueName: "file"))
    var tokens: String?

    @Flag(name: .customLong("allow-unauthenticated"), help: "Serve a non-loopback --listen address without --tokens.")
    var allowUnauthenticated = false

    @Option(help: ArgumentHelp("Event loop threads (tuning).", visibility: .hidden))
    var eventLoops: Int?

    @Flag(help: ArgumentHelp("Serve the network floor instead: a fixed 200 for every request, nothing decided (tools/bench-serve).", visibility: .hidden))
    var floor = false

    enum ClockMode: String, ExpressibleByArgument, CaseIterable { case wall, request }

    func parsedListen() throws -> (host: String, port: Int) { try Self.parseAddress(listen, option: "--listen", example: "127.0.0.1:8080") }

    static func parseAddress(_ text: String, option: String, example: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(option) \(text): expected HOST:PORT, e.g. \(example)")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("\(option) \(text): expected HOST:PORT, e.g. \(example)") }
        return (host, port)
    }

    func parsedBinaryListen() throws -> (host: String, port: Int)? {
        try binaryListen.map { try Self.parseAddress($0, option: "--binary-listen", example: "127.0.0.1:9090") }
    }

    func validate() throws {
        var addresses = [("--listen", listen, try parsedListen().host)]
        if let b = binaryListen, let parsed = try parsedBinaryListen() { addresses.append(("--binary-listen", b, parsed.host)) }
        for (option, text, host) in addresses {
            let loopback = host == "localhost" || host == "::1" || host.hasPrefix("127.")
            if !loopback && !allowUnauthenticated && tokens == nil {
                throw ValidationError("\(option) \(text) is not a loopback address: give --tokens FILE, or --allow-unauthenticated to let anyone there order for any organisation")
            }
        }
        if maxConnections < 1 { throw ValidationError("--max-connections must be at least 1") }
        if let e = eventLoops, e < 1 || e > 256 { throw ValidationError("--event-loops must be 1...256") }
        for (name, text) in [("--request-head-timeout", requestHeadTimeout), ("--request-body-timeout", requestBodyTimeout)] {
            guard let s = DurationText.seconds(text), s > 0, s <= 86_400 else {
                throw ValidationError("\(name) \(text): expected a duration above 0 and at most a day, like 10s or 500ms")
            }
        }
        if clock == .request && (opensIn != nil || campaignEpoch != nil) {
            throw ValidationError("--opens-in and --campaign-epoch set a wall clock; with --clock request each request carries its campaign time")
        }
        if opensIn != nil && campaignEpoch != nil { throw ValidationError("give --opens-in or --campaign-epoch, not both") }
        if let o = opensIn, DurationText.seconds(o) == nil { throw ValidationError("--opens-in \(o): expected a duration like 10s, 2m or 0") }
        if let e = campaignEpoch, ISO8601DateFormatter().date(from: e) == nil {
            throw ValidationError("--campaign-epoch \(e): expected an RFC 3339 instant like 2027-01-04T00:00:00+08:00")
        }
        try PipelineRunOptions.checkInterval(interval)
        try PipelineRunOptions.checkOutputPath(report, option: "--report", inputs: [profile, organisations, tokens])
        try PipelineRunOptions.checkOutputPath(timeline, option: "--timeline", inputs: [profile, organisations, tokens])
        try PipelineRunOptions.checkDistinct([("--report", report), ("--timeline", timeline)])
    }

    func run() throws {
        if floor { return try runFloor() }
        let named = try LoadedProfile(path: profile, generatesTraffic: false)
        var campaign = named.profile.campaign
        if let organisations {
            do { campaign.population = try OrganisationRegistry.load(path: organisations, campaign: campaign) } catch {
                FileHandle.standardError.write("flashsale: error: \(error)\n")
                throw ExitCodes.badInput
            }
        }
        let rules: CampaignRules
        do { rules = try CampaignRules(campaign) } catch {
            FileHandle.standardError.write("flashsale: \(error)\n")
            throw ExitCodes.badInput
        }
        var tokenTable: TokenTable?
        if let tokens {
            guard let text = try? String(contentsOfFile: tokens, encoding: .utf8) else {
                FileHandle.standardError.write("flashsale: --tokens \(tokens): cannot read it (expected a UTF-8 text file)\n")
                throw ExitCodes.badInput
            }
            do { tokenTable = try TokenTable(text: text, file: tokens, organisations: campaign.population.count) } catch {
                FileHandle.standardError.write("flashsale: error: \(error)\n")
                throw ExitCodes.badInput
            }
        }
        var campaignClock = CampaignClock.request
        if clock == .wall {
            if let e = campaignEpoch, let date = ISO8601DateFormatter().date(from: e) {
                campaignClock = .epoch(date)
            } else {
                let seconds = opensIn.flatMap(DurationText.seconds) ?? 0
                campaignClock = .opening(campaign.window.opensMillis, inMillis: Int64(seconds * 1000))
            }
        }
        var config = OrderHTTPServer.Configuration()
        (config.host, config.port) = try parsedListen()
        config.maxConnections = maxConnections
        config.tokens = tokenTable
        config.clock = campaignClock
        config.setRequestDeadlines(headSeconds: DurationText.seconds(requestHeadTimeout)!, bodySeconds: DurationText.seconds(requestBodyTimeout)!)
        if let e = eventLoops { config.eventLoops = e }
        var binary: BinaryOrderServer.Configuration?
        if let (host, port) = try parsedBinaryListen() {
            var b = BinaryOrderServer.Configuration()
            (b.host, b.port) = (host, port)
            b.maxConnections = maxConnections
            binary = b
        }
        var sessionConfig = ServeSession.Configuration(rules: rules, server: config, lanes: lanes, segments: segments, durability: durability, binary: binary)
        sessionConfig.segmentIO = journal.segmentIO
        sessionConfig.timelineInterval = interval
        sessionConfig.timelineKeep = max(1, Int((3600 / interval).rounded(.up)))
        let stream = try TimelineStream.open(timeline)
        if let stream { sessionConfig.onTimelineInterval = { stream.write($0) } }
        defer { stream?.close() }
        let session: ServeSession
        do {
            session = try ServeSession(sessionConfig)
        } catch {
            FileHandle.standardError.write("flashsale: \(error.message)\n")
            throw error.kind == .badInput ? ExitCodes.badInput : ExitCodes.runtimeFailure
        }
        let service = session.service
        // SIGTERM or Ctrl-C: stop taking orders, answer those in flight, seal. Installed before the ready
        // line, so a signal sent as soon as it is read is never lost (ignored between SIG_IGN and the source).
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var signalled: Int32 = 0
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let registered = DispatchSemaphore(value: 0)
        let sources = [SIGINT, SIGTERM].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { if signalled == 0 { signalled = sig; done.signal() } else { Foundation.exit(sig == SIGINT ? 130 : 143) } }
            s.setRegistrationHandler { registered.signal() }
            s.resume()
            return s
        }
        for _ in sources { registered.wait() }   // resume() registers asynchronously
        let resumed = service.resumedRecords > 0 ? ", resumed \(service.resumedRecords) records" : ""
        let binaryText = session.binaryAddress.map { ", binary \($0)" } ?? ""
        FileHandle.standardOutput.write(Data("flashsale serve: \(session.address)\(binaryText) · campaign \(campaign.name) · \(session.window) · lanes \(lanes), durability \(durability.rawValue)\(resumed)\n".utf8))

        // Wait for SIGTERM or Ctrl-C (handlers installed before the ready line), then drain.
        done.wait()
        FileHandle.standardError.write("flashsale serve: stopping: answering the orders in flight and sealing the segments\n")
        do { try session.stop() } catch {
            FileHandle.standardError.write("flashsale: \(error.message)\n")
            throw ExitCodes.runtimeFailure
        }
        for s in sources { s.cancel() }
        let figures = service.journalFigures()
        FileHandle.standardError.write("flashsale serve: stopped after \(figures.acknowledged) decisions; durable up to record \(figures.durableWatermark)\n")
        if let report {
            let r = session.report(profile: named.label, clock: clock.rawValue, peakRSSBytes: MemoryStats.current().peakRSSBytes)
            do { try OutputFile.write(try r.jsonData(), to: report, option: "--report") } catch let e as RunFailure {
                FileHandle.standardError.write("flashsale: \(e.message)\n")
                throw ExitCodes.runtimeFailure
            }
        }
        if signalled == SIGINT { throw ExitCodes.interrupted }
    }

    /// `--floor`: the bare NIO handler `tools/bench-serve` measures `serve` against.
    func runFloor() throws {
        let (host, port) = try parsedListen()
        let server = FloorHTTPServer(eventLoops: eventLoops ?? ProcessInfo.processInfo.activeProcessorCount)
        let bound = try server.start(host: host, port: port)
        FileHandle.standardOutput.write(Data("flashsale serve --floor: http://\(host):\(bound.port ?? port) · a fixed 200 for every request\n".utf8))
        let done = DispatchSemaphore(value: 0)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { done.signal() }
            s.resume()
            return s
        }
        done.wait()
        for s in sources { s.cancel() }
        server.stop()
    }

}
