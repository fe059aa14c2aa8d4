/// What a request asks for. Raw values are part of the segment and capture formats.
public enum RequestKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Buy an offer: a bundle is taken at once, a hardware reservation becomes a hold.
    case buy = 0
    /// Confirm the hold created by the reservation whose request id is `reference`.
    case confirm = 1
    /// Cancel the hold created by the reservation whose request id is `reference`.
    case cancel = 2
    /// Not sent by clients: a hold's expiry, emitted by the lane that owns the hold.
    case expire = 3

    public var name: String {
        switch self {
        case .buy: "buy"
        case .confirm: "confirm"
        case .cancel: "cancel"
        case .expire: "expire"
        }
    }

    public var description: String { name }

    public init?(name: String) {
        guard let k = RequestKind.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = k
    }
}
