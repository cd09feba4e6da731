//! Enums whose variants each have a stable code: the word reports, JSON, metrics and messages
//! use for them (`scc`, `unchanged`, `hazards/shells`, …).
//!
//! [`coded_enum!`] declares such an enum with each variant's code written once, next to the
//! variant, and gives it what every one of them needs: `ALL`, `code()`, `from_code()` and
//! `Display`. Serde derives stay on the enums that are serialised; this module's tests check
//! that each one's serde spelling is its code.
//!
//! This module holds only the macro: no types, no I/O.

/// Declares a fieldless enum whose variants carry a stable code.
///
/// ```text
/// coded_enum! {
///     /// Which engine a reference asked for.
///     #[derive(Clone, Copy, Debug, PartialEq, Eq)]
///     pub enum EngineKind {
///         /// `docker:` references.
///         Docker = "docker",
///         /// `podman:` references.
///         Podman = "podman",
///     }
/// }
/// ```
///
/// The enum gets `ALL` (every variant, in declaration order), `const fn code(self)`,
/// `fn from_code(&str) -> Option<Self>` (the inverse of `code`) and a `Display` that writes
/// the code (padded to the width asked for, like a `str`). The enum must be `Copy`.
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $code:literal, )+
        }
    ) => {
        $(#[$meta])*
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [Self; [$($code),+].len()] = [$(Self::$variant),+];

            /// The stable code, as reports, JSON and messages write it.
            #[must_use]
            pub const fn code(self) -> &'static str {
                match self {
                    $( Self::$variant => $code, )+
                }
            }

            /// The variant whose [`code`](Self::code) is `code`.
            #[must_use]
            pub fn from_code(code: &str) -> ::std::option::Option<Self> {
                Self::ALL.into_iter().find(|variant| variant.code() == code)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                formatter.pad(self.code())
            }
        }
    };
}

pub(crate) use coded_enum;

#[cfg(test)]
mod tests {
    coded_enum! {
        /// A test enum.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Fruit {
            /// An apple.
            Apple = "apple",
            /// A blood orange.
            BloodOrange = "blood-orange",
        }
    }

    #[test]
    fn codes_round_trip_and_display_pads() {
        assert_eq!(Fruit::ALL, [Fruit::Apple, Fruit::BloodOrange]);
        for fruit in Fruit::ALL {
            assert_eq!(Fruit::from_code(fruit.code()), Some(fruit));
            assert_eq!(fruit.to_string(), fruit.code());
        }
        assert_eq!(Fruit::from_code("pear"), None);
        assert_eq!(Fruit::from_code("Apple"), None);
        assert_eq!(format!("[{:<8}]", Fruit::Apple), "[apple   ]");
    }

    /// Each variant serialises to its code (and, where the enum is read back, reads from it).
    fn assert_serialised_as_codes<T>(all: &[T], code: fn(&T) -> &'static str)
    where
        T: serde::Serialize + std::fmt::Debug,
    {
        for variant in all {
            assert_eq!(
                serde_json::to_value(variant).unwrap(),
                serde_json::json!(code(variant)),
                "{variant:?}"
            );
        }
    }

    /// Each variant of an enum that is also read back reads from its code.
    fn assert_read_from_codes<T>(all: &[T], code: fn(&T) -> &'static str)
    where
        T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        for variant in all {
            let read: T = serde_json::from_value(serde_json::json!(code(variant))).unwrap();
            assert_eq!(&read, variant);
        }
    }

    #[test]
    fn serialised_enums_spell_their_codes() {
        use crate::{diff, finding, gate, manifest, triage};
        assert_serialised_as_codes(&finding::Source::ALL, |v| v.code());
        assert_serialised_as_codes(&finding::BinaryRole::ALL, |v| v.code());
        assert_serialised_as_codes(&triage::Verdict::ALL, |v| v.code());
        assert_serialised_as_codes(&triage::playbook::Action::ALL, |v| v.code());
        assert_serialised_as_codes(&gate::Verdict::ALL, |v| v.code());
        assert_serialised_as_codes(&gate::RuleId::ALL, |v| v.code());
        assert_serialised_as_codes(&diff::Difference::ALL, |v| v.code());
        assert_serialised_as_codes(&manifest::PackageDigest::ALL, |v| v.code());
        assert_serialised_as_codes(&manifest::Kind::ALL, |v| v.code());
        assert_read_from_codes(&manifest::PackageDigest::ALL, |v| v.code());
        assert_read_from_codes(&manifest::Kind::ALL, |v| v.code());
    }
}
