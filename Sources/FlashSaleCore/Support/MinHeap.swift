/// Elements a `MinHeap` can order: `precedes` is a strict weak order ("comes out first").
public protocol HeapOrdered {
    func precedes(_ other: Self) -> Bool
}

/// A binary min-heap in an array: O(log n) push and removal of the top, no allocation once its
/// array has grown to the largest size it held.
public struct MinHeap<Element: HeapOrdered> {
    @usableFromInline var items: [Element] = []

    public init() {}

    public var count: Int { items.count }
    public var isEmpty: Bool { items.isEmpty }
    /// The element that comes out first, if any.
    public var top: Element? { items.first }

    public mutating func push(_ element: Element) {
        items.append(element)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[i].precedes(items[parent]) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    /// Removes and returns the top element.
    @discardableResult
    public mutating func popTop() -> Element? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && items[l].precedes(items[m]) { m = l }
            if r < n && items[r].precedes(items[m]) { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return first
    }
}
