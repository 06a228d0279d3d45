//! Text from the host made safe to show: control characters replaced, length bounded.

/// `s` with control characters (escape sequences, bells, NULs, line breaks) replaced by
/// `?` and at most `max` characters kept (`...` marks a cut) (pure).
pub fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max + 3));
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push_str("...");
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

/// The longest line shown from any log.
pub const LINE_MAX: usize = 300;

/// A log line made safe to show: [`clean`] to [`LINE_MAX`] characters, trailing spaces
/// removed.
pub fn line(s: &str) -> String {
    clean(s.trim_end(), LINE_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_replaced_and_length_bounded() {
        assert_eq!(clean("a\x1b[0mb\r\n", 100), "a?[0mb??");
        assert_eq!(clean("héllo", 2), "hé...");
        assert_eq!(clean("", 5), "");
        assert_eq!(line(&"x".repeat(1000)).chars().count(), LINE_MAX + 3);
    }
}
