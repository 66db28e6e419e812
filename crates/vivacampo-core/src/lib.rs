//! Domain types and rules of VivaCampo. Nothing here does I/O: no HTTP, no SQL, no files.
//!
//! - [`baseline`]: the baseline and anomaly of weekly index values.
//! - [`credentials`]: the password rule and the sign-in backoff after wrong passwords.
//! - [`tenancy`]: roles, tenant kinds and statuses, plans and their quotas.
//! - [`geometry`]: field (AOI) geometry parsing, validation and geodesic area.
//! - [`jobs`]: job types, statuses and the retry policy.
//! - [`flags`]: feature flags and how global and per-tenant values combine.
//! - [`weeks`]: ISO-week arithmetic used to name field-weeks.
//! - [`metrics`]: an in-process registry that renders the Prometheus text format.
//! - [`signals`]: detection rules (which fields need attention and why) and their lifecycle.
//! - [`weather`]: daily weather, degree days, weekly aggregates and the weather grid.
//! - [`text`]: rules for names and e-mail addresses.
//! - [`timezone`]: the IANA time zone names a farm may use.
//! - [`net`]: which addresses webhooks may reach (public ones, unless allowed).

pub mod baseline;
pub mod credentials;
pub mod flags;
pub mod geometry;
pub mod jobs;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod signals;
pub mod tenancy;
pub mod text;
pub mod timezone;
pub mod weather;
pub mod weeks;

/// Declares a string-valued enum whose wire form is its SCREAMING_CASE name, with `as_str`,
/// `FromStr` and serde that agree with each other.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire form (as stored and as sent in JSON).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(crate::UnknownValue {
                        kind: stringify!($name),
                        value: s.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use wire_enum;

/// A string that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of {}", expected.join(", "))]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}
