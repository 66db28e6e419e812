//! IANA time zone names: a farm's time zone must be one the tz database knows.
//!
//! The list is generated from the tz database by `scripts/tz-names.sh` (zones and their
//! backward-compatible links, such as `America/Sao_Paulo`, `Brazil/East` and `UTC`).

mod names;

pub use names::NAMES;

/// Whether `name` is a zone or link name of the IANA tz database (exact, case-sensitive).
pub fn is_iana(name: &str) -> bool {
    NAMES.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_for_binary_search() {
        assert!(NAMES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn zones_and_links_are_known_and_others_are_not() {
        for name in [
            "America/Sao_Paulo",
            "America/Argentina/Buenos_Aires",
            "Brazil/East",
            "UTC",
            "Etc/GMT+3",
            "Europe/Lisbon",
        ] {
            assert!(is_iana(name), "{name}");
        }
        for name in [
            "Mars/Olympus",
            "america/sao_paulo",
            "America/Sao Paulo",
            "",
            "../etc/passwd",
            "Factory",
            "America/Sao_Paulo\0",
        ] {
            assert!(!is_iana(name), "{name:?}");
        }
    }
}
