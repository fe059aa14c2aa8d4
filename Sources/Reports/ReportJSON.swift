import Foundation

/// The one JSON style of every file flashsale writes (run and serve reports, timelines, baselines, gate
/// verdicts): snake_case keys, as the HTTP API's bodies (docs/http-api.md) and `segments dump` have them,
/// sorted, pretty-printed. Reading also takes the camelCase keys of reports written before 0.14.
public enum ReportJSON {
    public static func encoder(pretty: Bool = true) -> JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }

    /// snake_case keys back to the types' names (a camelCase key, without underscores, reads as itself).
    public static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
