/// A JSON object of scalars, as the order API's request bodies are: `{"request_id": 7, "offer": "m1"}`.
///
/// A small strict parser (RFC 8259 syntax; objects nested inside are refused, as are duplicate keys and
/// anything after the closing brace). It exists so that a body costs one pass over its bytes and no
/// Foundation, and so that every refusal can say what was wrong and where.
struct FlatJSON {
    enum Value: Equatable {
        case string(String)
        /// The number's text, exactly as sent (checked against each field's range by the caller).
        case number(String)
        case bool(Bool)
        case null
    }

    struct ParseError: Error, Equatable {
        var message: String
        /// The key whose value is at fault, when known.
        var field: String?
    }

    private(set) var values: [String: Value] = [:]

    subscript(key: String) -> Value? { values[key] }

    init(bytes: [UInt8]) throws(ParseError) {
        var i = 0
        let n = bytes.count
        func fail(_ message: String, _ field: String? = nil) -> ParseError { ParseError(message: message, field: field) }
        func skipSpace() { while i < n, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 } }
        func string() throws(ParseError) -> String {
            guard i < n, bytes[i] == 0x22 else { throw fail("expected a string") }
            i += 1
            var out: [UInt8] = []
            while true {
                guard i < n else { throw fail("unterminated string") }
                let c = bytes[i]
                i += 1
                if c == 0x22 { break }
                if c < 0x20 { throw fail("a control character inside a string") }
                if c != 0x5C { out.append(c); continue }
                guard i < n else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case 0x22, 0x5C, 0x2F: out.append(e)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    guard i + 4 <= n, let code = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
                        throw fail("a bad \\u escape")
                    }
                    i += 4
                    guard let scalar = Unicode.Scalar(code) else { throw fail("a \\u escape that is no character (surrogates are not accepted)") }
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("an unknown escape \\\(Character(Unicode.Scalar(e)))")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw fail("a string that is not UTF-8") }
            return s
        }
        skipSpace()
        guard i < n, bytes[i] == 0x7B else { throw fail("expected a JSON object {…}") }
        i += 1
        skipSpace()
        if i < n, bytes[i] == 0x7D {
            i += 1
        } else {
            while true {
                skipSpace()
                let key = try string()
                skipSpace()
                guard i < n, bytes[i] == 0x3A else { throw fail("expected ':' after the key", key) }
                i += 1
                skipSpace()
                guard i < n else { throw fail("the body ends inside the object", key) }
                let value: Value
                switch bytes[i] {
                case 0x22:
                    do { value = .string(try string()) } catch { throw fail(error.message, key) }
                case 0x74 where bytes[i...].starts(with: Array("true".utf8)): i += 4; value = .bool(true)
                case 0x66 where bytes[i...].starts(with: Array("false".utf8)): i += 5; value = .bool(false)
                case 0x6E where bytes[i...].starts(with: Array("null".utf8)): i += 4; value = .null
                case 0x2D, 0x30...0x39:
                    let start = i
                    if bytes[i] == 0x2D { i += 1 }
                    while i < n, (0x30...0x39).contains(bytes[i]) || bytes[i] == 0x2E || bytes[i] == 0x65 || bytes[i] == 0x45
                            || bytes[i] == 0x2B || bytes[i] == 0x2D { i += 1 }
                    value = .number(String(decoding: bytes[start..<i], as: UTF8.self))
                case 0x7B, 0x5B: throw fail("expected a string, number, true, false or null, got a nested object or list", key)
                default: throw fail("expected a string, number, true, false or null", key)
                }
                guard values[key] == nil else { throw fail("the key appears twice", key) }
                values[key] = value
                skipSpace()
                guard i < n else { throw fail("the body ends inside the object") }
                if bytes[i] == 0x2C { i += 1; continue }
                if bytes[i] == 0x7D { i += 1; break }
                throw fail("expected ',' or '}' after the value", key)
            }
        }
        skipSpace()
        guard i == n else { throw fail("something follows the JSON object") }
    }

    /// A required or optional integer field in `range`; nil when absent (or null).
    func integer(_ key: String, in range: ClosedRange<Int64>, required: Bool) throws(ParseError) -> Int64? {
        guard let v = values[key], v != .null else {
            if required { throw ParseError(message: "missing", field: key) }
            return nil
        }
        guard case .number(let text) = v else { throw ParseError(message: "expected an integer", field: key) }
        guard let x = Int64(text) else {
            throw ParseError(message: text.contains(".") || text.contains("e") || text.contains("E") ? "expected a whole number"
                             : "out of range (\(range.lowerBound)…\(range.upperBound))", field: key)
        }
        guard range.contains(x) else { throw ParseError(message: "out of range (\(range.lowerBound)…\(range.upperBound))", field: key) }
        return x
    }

    /// An unsigned 64-bit field (request ids) in `1...UInt64.max`.
    func requestId(_ key: String, required: Bool) throws(ParseError) -> UInt64? {
        guard let v = values[key], v != .null else {
            if required { throw ParseError(message: "missing", field: key) }
            return nil
        }
        let text: String
        switch v {
        case .number(let t): text = t
        case .string(let t): text = t  // a 64-bit id survives JavaScript clients only as a string
        default: throw ParseError(message: "expected a positive integer (or its decimal string)", field: key)
        }
        guard let x = UInt64(text), x > 0 else { throw ParseError(message: "expected a positive integer below 2^64", field: key) }
        return x
    }

    func string(_ key: String, required: Bool) throws(ParseError) -> String? {
        guard let v = values[key], v != .null else {
            if required { throw ParseError(message: "missing", field: key) }
            return nil
        }
        guard case .string(let s) = v else { throw ParseError(message: "expected a string", field: key) }
        return s
    }
}
