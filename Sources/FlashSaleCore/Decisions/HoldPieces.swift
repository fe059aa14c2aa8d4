/// Where a hold's units came from: up to `HoldPieces.capacity` (item, quantity) pieces, stored
/// inline so that a decision never allocates.
public struct HoldPieces: Sendable, Equatable {
    /// A reservation that would need more pieces than this is refused as SOLD_OUT.
    public static let capacity = 4

    public private(set) var count: Int = 0
    @usableFromInline var p0: UInt64 = 0
    @usableFromInline var p1: UInt64 = 0
    @usableFromInline var p2: UInt64 = 0
    @usableFromInline var p3: UInt64 = 0

    public init() {}

    /// The piece at `index`: a stock item index and a unit count.
    @inlinable
    public subscript(index: Int) -> (item: Int, quantity: Int64) {
        let packed: UInt64
        switch index {
        case 0: packed = p0
        case 1: packed = p1
        case 2: packed = p2
        default: packed = p3
        }
        return (Int(packed >> 32), Int64(packed & 0xFFFF_FFFF))
    }

    /// Appends a piece; returns false when full.
    @discardableResult
    public mutating func append(item: Int, quantity: Int64) -> Bool {
        guard count < Self.capacity else { return false }
        let packed = UInt64(item) << 32 | UInt64(UInt32(truncatingIfNeeded: quantity))
        switch count {
        case 0: p0 = packed
        case 1: p1 = packed
        case 2: p2 = packed
        default: p3 = packed
        }
        count += 1
        return true
    }

    /// Drops the last `k` pieces.
    public mutating func removeLast(_ k: Int) {
        precondition(k >= 0 && k <= count)
        count -= k
    }

    /// Total units over all pieces.
    public var totalQuantity: Int64 {
        var sum: Int64 = 0
        for i in 0..<count { sum += self[i].quantity }
        return sum
    }
}
