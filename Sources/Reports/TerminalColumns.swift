/// How many terminal columns a string takes, so that tables of offer and item ids stay aligned when
/// the ids are Chinese, Japanese, Korean or emoji.
///
/// Guarantees: each extended grapheme cluster (`Character`) counts once, so combining marks and
/// zero-width joiners add nothing; a cluster counts 2 when it is drawn wide (East Asian Wide or
/// Fullwidth, UAX #11, or an emoji shown as a picture: by default, with VS16 or as a keycap), 0 when it
/// is an invisible format character (zero-width space, BOM), 1 otherwise. Control characters count 1
/// (the tables never contain them). This is the rule terminals apply (wcwidth), for the ranges that
/// occur in ids; ambiguous-width characters (Greek, Cyrillic, box drawing) count 1, as in
/// non-CJK locales.
public enum TerminalColumns {
    public static func width(of s: String) -> Int {
        var columns = 0
        for c in s { columns += width(of: c) }
        return columns
    }

    /// Columns of one grapheme cluster: 0 for an invisible format character (zero-width space, joiner,
    /// BOM), 2 when drawn wide, 1 otherwise.
    static func width(of c: Character) -> Int {
        let scalars = c.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if scalars.count == 1 && first.value < 0x1100 && first.value != 0xAD { return 1 }  // fast path: Latin, Greek, Cyrillic...
        if scalars.count == 1 && first.properties.generalCategory == .format { return 0 }
        return isWide(c) ? 2 : 1
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
        // An emoji drawn as a picture: by default, or asked for with VS16 (U+FE0F) or as a keycap (U+20E3).
        if first.properties.isEmojiPresentation { return true }
        if first.properties.isEmoji, scalars.contains(where: { $0.value == 0xFE0F || $0.value == 0x20E3 }) { return true }
        if first.value < 0x1100 { return false }
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
