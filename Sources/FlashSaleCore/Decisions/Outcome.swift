/// The result of deciding one request. Raw values are part of the segment format
/// (docs/segment-format.md): never renumber, only append.
public enum Outcome: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// A bundle order was accepted: every component was taken.
    case accepted = 0
    /// A hardware reservation now holds units until its expiry (campaign time).
    case held = 1
    /// A hold was confirmed before its expiry: its units are sold.
    case confirmed = 2
    /// A hold ended without a sale (cancelled, or expired): its units went back to stock.
    case released = 3
    /// Not enough stock for the request; nothing was taken.
    case soldOut = 4
    /// The organisation already reached its per-offer limit.
    case limit = 5
    /// The request id was seen before: the original outcome is returned, nothing is taken.
    case duplicate = 6
    /// The organisation's certification level is below the offer's minimum.
    case ineligible = 7
    /// The request's campaign time is outside the sale window (or its daily waves).
    case outsideWindow = 8
    /// A confirm or cancel arrived once the hold had expired (at or after its expiry); the units were
    /// already returned.
    case holdExpired = 9
    /// The offer id does not exist in the campaign.
    case unknownOffer = 10
    /// Malformed: quantity ≤ 0 or above the offer's maximum, request id 0, a request routed to the
    /// wrong lane, or a request kind that does not fit the offer.
    case invalid = 11
    /// Shed by the pipeline under overload (open model); never reached a lane.
    case overload = 12
    /// A confirm or cancel named no hold of this organisation under this offer: never held (the
    /// reservation was refused or never sent), or another organisation's.
    case noHold = 13
    /// The organisation's cap on an item across offers (e.g. its share of a subsidy pool) would be
    /// exceeded; nothing was taken.
    case capReached = 14
    /// A confirm of a hold its organisation had cancelled; nothing is sold.
    case holdCancelled = 15
    /// A cancel of a hold already confirmed: the sale stands.
    case holdConfirmed = 16
    /// The organisation id is not in the campaign (its registry or population); nothing is taken.
    case unknownOrganisation = 17

    /// The upper-case name used in reports, dumps and docs (e.g. `SOLD_OUT`).
    public var name: String {
        switch self {
        case .accepted: "ACCEPTED"
        case .held: "HELD"
        case .confirmed: "CONFIRMED"
        case .released: "RELEASED"
        case .soldOut: "SOLD_OUT"
        case .limit: "LIMIT"
        case .duplicate: "DUPLICATE"
        case .ineligible: "INELIGIBLE"
        case .outsideWindow: "OUTSIDE_WINDOW"
        case .holdExpired: "HOLD_EXPIRED"
        case .unknownOffer: "UNKNOWN_OFFER"
        case .invalid: "INVALID"
        case .overload: "OVERLOAD"
        case .noHold: "NO_HOLD"
        case .capReached: "CAP_REACHED"
        case .holdCancelled: "HOLD_CANCELLED"
        case .holdConfirmed: "HOLD_CONFIRMED"
        case .unknownOrganisation: "UNKNOWN_ORGANISATION"
        }
    }

    public var description: String { name }

    /// Looks an outcome up by its report name (`SOLD_OUT`) or Swift name (`soldOut`).
    public init?(name: String) {
        let upper = name.uppercased()
        let squeezed = upper.filter { $0 != "_" }
        guard let match = Outcome.allCases.first(where: { $0.name == upper || $0.name.filter({ $0 != "_" }) == squeezed })
        else { return nil }
        self = match
    }

    /// Number of outcome codes; sizes per-outcome counter arrays.
    public static let count = Outcome.allCases.count
}
