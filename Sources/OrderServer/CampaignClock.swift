import Foundation

/// Where a served request's campaign time comes from.
public enum CampaignClock: Sendable, Equatable {
    /// From the request (`campaign_time_ms` in the body): deterministic tests and replays.
    case request
    /// Wall time mapped onto campaign time: campaign ms = `campaignMillisAtStart` + ms since the server started.
    case wall(campaignMillisAtStart: Int64)

    /// A wall clock whose campaign time is `opensMillis` `opensInMillis` after now (`--opens-in`).
    public static func opening(_ opensMillis: Int64, inMillis opensInMillis: Int64) -> CampaignClock {
        .wall(campaignMillisAtStart: opensMillis - opensInMillis)
    }

    /// A wall clock with day 0, 00:00 at `epoch` (`--campaign-epoch`), read at `now`.
    public static func epoch(_ epoch: Date, now: Date = Date()) -> CampaignClock {
        .wall(campaignMillisAtStart: Int64((now.timeIntervalSince(epoch) * 1000).rounded(.down)))
    }

    /// Campaign time `nanosSinceStart` after the server started (wall clocks only).
    public func campaignMillis(nanosSinceStart: UInt64) -> Int64? {
        guard case .wall(let base) = self else { return nil }
        return base &+ Int64(nanosSinceStart / 1_000_000)
    }
}
