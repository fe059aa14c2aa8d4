import FlashSaleCore
import NIOCore
import NIOHTTP1

/// HTTP/1.1 answers written straight into a connection's outgoing buffer: the same bytes NIO's
/// `HTTPResponseEncoder` wrote for the `HTTPResponseHead` + body + end the server used to send
/// (status line, headers in the same order, `Content-Length`), without the per-answer `HTTPHeaders`,
/// head, body buffer and three pipeline writes.
extension ByteBuffer {
    /// `value` in decimal, no allocation.
    @inlinable
    mutating func writeDecimal(_ value: UInt64) {
        if value < 10 {
            writeInteger(UInt8(0x30) &+ UInt8(value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var v = value
            var i = 20
            while v > 0 {
                i -= 1
                digits[i] = 0x30 &+ UInt8(v % 10)
                v /= 10
            }
            writeBytes(UnsafeBufferPointer(rebasing: digits[i..<20]))
        }
    }

    @inlinable
    mutating func writeDecimal(_ value: Int64) {
        if value < 0 {
            writeInteger(UInt8(ascii: "-"))
            writeDecimal(value.magnitude)
        } else {
            writeDecimal(UInt64(value))
        }
    }

    /// The status line, as `HTTPResponseEncoder` writes it for HTTP/1.1.
    mutating func writeStatusLine(_ status: HTTPResponseStatus) {
        if status == .ok {
            writeStaticString("HTTP/1.1 200 OK\r\n")
            return
        }
        writeStaticString("HTTP/1.1 ")
        writeDecimal(UInt64(status.code))
        writeStaticString(" ")
        writeString(status.reasonPhrase)
        writeStaticString("\r\n")
    }

    /// A whole answer: status line, `Content-Type` (unless `headers` has one), `Content-Length`,
    /// `Connection: close` unless `keepAlive`, `headers`, then `body` (omitted for a HEAD request; its
    /// length is still given).
    mutating func writeAnswer(status: HTTPResponseStatus, headers: [(String, String)], keepAlive: Bool,
                              body: ByteBuffer, omitBody: Bool) {
        writeStatusLine(status)
        if !headers.contains(where: { $0.0 == "Content-Type" }) {
            writeStaticString("Content-Type: application/json\r\n")
        }
        writeStaticString("Content-Length: ")
        writeDecimal(UInt64(body.readableBytes))
        writeStaticString("\r\n")
        if !keepAlive { writeStaticString("Connection: close\r\n") }
        for (name, value) in headers {
            writeString(name)
            writeStaticString(": ")
            writeString(value)
            writeStaticString("\r\n")
        }
        writeStaticString("\r\n")
        if !omitBody { writeImmutableBuffer(body) }
    }

    /// The JSON of a decision (as `OrderHTTPHandler.decisionJSON`).
    mutating func writeDecisionJSON(_ d: Decision, _ sequence: UInt64) {
        writeStaticString("{\"request_id\":")
        writeDecimal(d.requestId)
        writeStaticString(",\"outcome\":\"")
        writeString(d.outcome.name)
        writeStaticString("\"")
        if d.outcome == .duplicate {
            writeStaticString(",\"original_outcome\":\"")
            writeString(d.originalOutcome.name)
            writeStaticString("\"")
        }
        writeStaticString(",\"price_fen\":")
        writeDecimal(d.priceFen)
        if d.holdExpiryMillis != 0 {
            writeStaticString(",\"hold\":{\"id\":")
            writeDecimal(d.reference)
            writeStaticString(",\"expires_at_ms\":")
            writeDecimal(d.holdExpiryMillis)
            writeStaticString("}")
        } else if d.kind == .confirm || d.kind == .cancel {
            writeStaticString(",\"hold\":{\"id\":")
            writeDecimal(d.reference)
            writeStaticString("}")
        }
        writeStaticString(",\"sequence\":")
        writeDecimal(sequence)
        writeStaticString("}")
    }
}
