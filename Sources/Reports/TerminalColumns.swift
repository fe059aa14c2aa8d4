/// How many terminal columns a string takes, so that tables of offer and item ids stay aligned when
/// the ids are Chinese, Japanese, Korean or emoji.
///
/// Guarantees: each extended grapheme cluster (`Character`) counts once, so combining marks and
/// zero-width joiners add nothing; a cluster counts 2 when it is drawn wide (East Asian Wide or
/// Fullwidth, UAX #11, or an emoji shown as a picture), 1 otherwise. Control characters count 1
/// (the tables never contain them). This is the rule terminals apply (wcwidth), for the ranges that
/// occur in ids; ambiguous-width characters (Greek, Cyrillic, box drawing) count 1, as in
/// non-CJK locales.
public enum TerminalColumns {
    public static func width(of s: String) -> Int {
        var columns = 0
        for c in s {
            columns += isWide(c) ? 2 : 1
        }
        return columns
    }

    /// `s` followed by spaces up to `columns` columns (nothing added when it is already as wide).
    public static func padded(_ s: String, to columns: Int) -> String {
        let w = width(of: s)
        return w >= columns ? s : s + String(repeating: " ", count: columns - w)
    }

    /// Spaces up to `columns` columns, then `s`.
    public static func leftPadded(_ s: String, to columns: Int) -> String {
        let w = width(of: s)
        return w >= columns ? s : String(repeating: " ", count: columns - w) + s
    }

    static func isWide(_ c: Character) -> Bool {
        let scalars = c.unicodeScalars
        guard let first = scalars.first else { return false }
        if first.value < 0x1100 { return false }  // fast path: Latin, Greek, Cyrillic...
        // An emoji drawn as a picture: by default, or asked for with VS16 (U+FE0F).
        if first.properties.isEmojiPresentation { return true }
        if first.properties.isEmoji, scalars.contains(where: { $0.value == 0xFE0F }) { return true }
        switch first.value {
        case 0x1100...0x115F,    // Hangul Jamo initials
             0x2E80...0x303E,    // CJK radicals, Kangxi, CJK symbols and punctuation
             0x3041...0x33FF,    // Hiragana, Katakana, Bopomofo, Hangul compatibility, CJK compatibility
             0x3400...0x4DBF,    // CJK extension A
             0x4E00...0x9FFF,    // CJK unified ideographs
             0xA000...0xA4CF,    // Yi
             0xA960...0xA97F,    // Hangul Jamo extended A
             0xAC00...0xD7A3,    // Hangul syllables
             0xF900...0xFAFF,    // CJK compatibility ideographs
             0xFE10...0xFE19,    // vertical forms
             0xFE30...0xFE6F,    // CJK compatibility forms, small form variants
             0xFF00...0xFF60,    // fullwidth forms
             0xFFE0...0xFFE6,    // fullwidth signs
             0x1B000...0x1B2FF,  // Kana supplement and extensions
             0x20000...0x3FFFD:  // CJK extensions B and later, planes 2 and 3
            return true
        default:
            return false
        }
    }
}
