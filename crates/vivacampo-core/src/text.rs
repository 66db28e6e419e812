//! Rules for the free text people give: names and e-mail addresses.
//!
//! Control characters (C0, DEL and C1, `\0` included) are refused in both: they cannot be
//! typed, one engine stores them while the other refuses them, and they hide text in logs.

/// Most characters a name (farm, field, workspace, person) may have.
pub const MAX_NAME_CHARS: usize = 200;

/// Longest e-mail address (RFC 5321 path limit).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Why a name is refused; [`NameError::reason`] is the API's `details.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    Empty,
    TooLong,
    ControlCharacter,
}

impl NameError {
    pub fn reason(self) -> &'static str {
        match self {
            NameError::Empty => "empty",
            NameError::TooLong => "too_long",
            NameError::ControlCharacter => "control_character",
        }
    }
}

/// Whether `text` holds a control character (C0, DEL or C1).
pub fn has_control(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// A name without its surrounding white space, or why it cannot be one. Its length counts as
/// sent, as the OpenAPI document's `maxLength` does.
pub fn name(raw: &str) -> Result<&str, NameError> {
    let name = raw.trim();
    // Before trimming: NEL (U+0085) is both white space and a control character.
    if has_control(raw) {
        Err(NameError::ControlCharacter)
    } else if name.is_empty() {
        Err(NameError::Empty)
    } else if raw.chars().count() > MAX_NAME_CHARS {
        Err(NameError::TooLong)
    } else {
        Ok(name)
    }
}

/// Whether `raw` (trimmed) looks like a deliverable address: `local@domain.tld`, no white space,
/// no control characters.
pub fn is_email(raw: &str) -> bool {
    let email = raw.trim();
    email.len() <= MAX_EMAIL_BYTES
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !email.contains(char::is_whitespace)
        && !has_control(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name("  Santa Rita "), Ok("Santa Rita"));
        assert_eq!(name("   "), Err(NameError::Empty));
        assert_eq!(name(&"a".repeat(201)), Err(NameError::TooLong));
        assert_eq!(name(&"é".repeat(200)), Ok("é".repeat(200).as_str()));
        for bad in [
            "a\0b", "a\u{1}b", "a\u{7f}b", "a\u{85}b", "a\u{9f}b", "a\nb", "a\tb", "ab\u{85}",
        ] {
            assert_eq!(name(bad), Err(NameError::ControlCharacter), "{bad:?}");
        }
    }

    #[test]
    fn emails() {
        assert!(is_email("ana@fazenda.com.br"));
        assert!(is_email(" ana@fazenda.com.br "));
        for bad in [
            "ana@localhost",
            "@x.io",
            "a b@x.io",
            "ana@.x.io",
            "ana@x.io.",
            "ana\0@x.io",
            "ana@x.io\u{0}",
            "an\u{1b}a@x.io",
            "ana@x\u{85}.io",
            "ana@x.io\u{85}",
        ] {
            assert!(!is_email(bad), "{bad:?}");
        }
    }
}
