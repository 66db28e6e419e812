//! Rules for credentials: which passwords an account may have, and how long sign-in waits after
//! wrong passwords.
//!
//! A password needs [`MIN_PASSWORD_CHARS`] characters, must not be on the common-password list
//! shipped in the binary (`data/common-passwords.txt`, the 10 000 most common passwords from
//! OWASP SecLists), nor be such a password with digits or symbols appended (`sunshine2024!`),
//! nor one character repeated, nor the account's e-mail address or its local part.
//!
//! ```
//! use vivacampo_core::credentials::{check_password, PasswordProblem};
//! assert_eq!(check_password("qwertyuiop", "ana@x.io"), Err(PasswordProblem::TooCommon));
//! assert_eq!(check_password("ana.souza@x.io", "Ana.Souza@x.io"), Err(PasswordProblem::SameAsEmail));
//! assert_eq!(check_password("pasto-verde-na-chuva", "ana@x.io"), Ok(()));
//! ```

use std::collections::HashSet;
use std::sync::OnceLock;
use std::time::Duration;

/// Fewest characters (Unicode scalar values) a password may have.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most characters a password may have (Argon2 takes any length; this bounds the work).
pub const MAX_PASSWORD_CHARS: usize = 256;

const COMMON: &str = include_str!("../data/common-passwords.txt");

/// Why a password is refused; [`PasswordProblem::reason`] is the word the API sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("password must have at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("this password is one of the most common ones; choose another")]
    TooCommon,
    #[error("password must not be the e-mail address")]
    SameAsEmail,
}

impl PasswordProblem {
    /// `too_short`, `too_long`, `too_common` or `same_as_email`.
    pub fn reason(self) -> &'static str {
        match self {
            PasswordProblem::TooShort => "too_short",
            PasswordProblem::TooLong => "too_long",
            PasswordProblem::TooCommon => "too_common",
            PasswordProblem::SameAsEmail => "same_as_email",
        }
    }
}

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .filter(|l| !l.starts_with("# ") && !l.is_empty())
            .collect()
    })
}

/// Whether `password` (any case) is on the list, alone or with digits and symbols appended.
pub fn is_common(password: &str) -> bool {
    let lower = password.to_lowercase();
    let base = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let mut chars = lower.chars();
    let first = chars.next();
    let repeated = first.is_some_and(|f| chars.all(|c| c == f));
    repeated
        || common().contains(lower.as_str())
        || (base.chars().count() >= 4 && common().contains(base))
}

/// Checks a new password for the account with `email`.
pub fn check_password(password: &str, email: &str) -> Result<(), PasswordProblem> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    let email = email.trim().to_lowercase();
    let lower = password.trim().to_lowercase();
    let local = email.split_once('@').map_or(email.as_str(), |(l, _)| l);
    if lower == email || (!local.is_empty() && lower == local) {
        return Err(PasswordProblem::SameAsEmail);
    }
    if is_common(password) {
        return Err(PasswordProblem::TooCommon);
    }
    Ok(())
}

/// Wrong passwords an account may have in a row before sign-in makes it wait.
pub const FREE_FAILURES: u32 = 5;
/// Longest wait, however many failures: an attacker can delay a real user this much at most.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);

/// How long an account's next sign-in must wait after `failures` wrong passwords in a row:
/// nothing for the first [`FREE_FAILURES`], then 1 s, 2 s, 4 s, … up to [`MAX_BACKOFF`].
pub fn login_backoff(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_the_seclists_top_10k() {
        assert_eq!(common().len(), 10_000);
        assert!(common().contains("password"));
        assert!(common().contains("eyphed"), "the last entry");
    }

    #[test]
    fn reasons() {
        let email = "ana.souza@fazenda.com.br";
        let cases = [
            ("123456789", Err(PasswordProblem::TooShort)),
            ("        ", Err(PasswordProblem::TooShort)),
            ("1234567890", Err(PasswordProblem::TooCommon)),
            ("QwertyUiop", Err(PasswordProblem::TooCommon)),
            ("password2024!", Err(PasswordProblem::TooCommon)),
            ("sunshine12345", Err(PasswordProblem::TooCommon)),
            ("          ", Err(PasswordProblem::TooCommon)),
            ("zzzzzzzzzzzz", Err(PasswordProblem::TooCommon)),
            (
                "Ana.Souza@Fazenda.com.br",
                Err(PasswordProblem::SameAsEmail),
            ),
            ("ana.souza", Err(PasswordProblem::TooShort)),
            ("ANA.SOUZA.", Ok(())),
            ("segredo-forte", Ok(())),
            ("vivacampo-demo", Ok(())),
            ("long-password", Ok(())),
        ];
        for (password, expected) in cases {
            assert_eq!(check_password(password, email), expected, "{password:?}");
        }
        assert_eq!(
            check_password("ana.souza.silva", "ana.souza.silva@x.io"),
            Err(PasswordProblem::SameAsEmail)
        );
        assert_eq!(
            check_password(&"é".repeat(256), email).map_err(|p| p.reason()),
            Err("too_common")
        );
        assert_eq!(
            check_password(&"ab".repeat(129), email),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(PasswordProblem::TooShort.reason(), "too_short");
    }

    #[test]
    fn backoff_doubles_after_five_failures_up_to_a_cap() {
        let secs: Vec<u64> = (0..=16).map(|n| login_backoff(n).as_secs()).collect();
        assert_eq!(
            secs,
            [
                0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900
            ]
        );
        assert_eq!(login_backoff(u32::MAX), MAX_BACKOFF);
    }
}
