//! Text from a peer shown on a terminal: control, bidi and zero-width characters
//! escaped so a server cannot move the cursor, recolour or reorder the screen.
//! Pipes get the bytes unchanged; this is only for terminals.

use std::borrow::Cow;
use std::fmt::Write;

/// Characters that change how surrounding text is displayed without being seen.
fn is_invisible_formatting(c: char) -> bool {
    matches!(c,
        '\u{200b}'..='\u{200f}'   // zero-width space/joiners, LRM, RLM
        | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidi isolates
        | '\u{feff}'              // zero-width no-break space (BOM)
        | '\u{061c}'              // Arabic letter mark
    )
}

/// Escapes control characters as `\xNN` (tab kept), and bidi/zero-width ones as `\u{NNNN}`.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    let needs = |c: char| (c.is_control() && c != '\t') || is_invisible_formatting(c);
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            if (c as u32) < 0x100 {
                let _ = write!(out, "\\x{:02x}", c as u32);
            } else {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
        } else if is_invisible_formatting(c) {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// For serialised JSON: bidi and zero-width characters (only ever inside strings)
/// become `\uNNNN` escapes, which keeps the line valid JSON.
pub fn json_for_terminal(json: &str) -> Cow<'_, str> {
    let needs = |c: char| is_invisible_formatting(c) || ('\u{7f}'..='\u{9f}').contains(&c);
    if !json.chars().any(needs) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if needs(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(
            for_terminal("hello\tworld ünïcode"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn escapes_cursor_movement_and_bidi() {
        assert_eq!(for_terminal("a\u{1b}[2Jb\r\u{7}"), "a\\x1b[2Jb\\x0d\\x07");
        assert_eq!(for_terminal("x\u{202e}y\u{200b}"), "x\\u{202e}y\\u{200b}");
        assert_eq!(for_terminal("c1\u{9b}"), "c1\\x9b");
    }

    #[test]
    fn json_escapes_stay_json() {
        let escaped = json_for_terminal("\"a\u{202e}b\"");
        assert_eq!(escaped, "\"a\\u202eb\"");
        let back: String = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back, "a\u{202e}b");
    }
}
