//! Package URLs (purl) for the packages the readers find: `pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?arch=amd64&distro=debian-12`.
//!
//! Follows the purl specification (ECMA-427, clause 5, <https://github.com/package-url/purl-spec>):
//! every component is percent-encoded except the alphanumerics, `.-_~` and the colon (`:` is
//! never encoded, so a Debian epoch stays `1:1.3`); `+` becomes `%2B`; qualifiers are sorted
//! by key and a qualifier with an empty value is left out. The `deb`, `apk` and `rpm` type
//! definitions make the namespace (the vendor) lowercase, and the name too for `deb` and `apk`
//! (an RPM name is case-sensitive).
//!
//! Builds strings only: it never parses a purl and never checks that a package exists.

use std::fmt::Write as _;

use super::Distro;

/// A package URL type this crate emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurlType {
    /// `deb`: Debian and derivatives (dpkg, distroless, chisel).
    Deb,
    /// `apk`: Alpine and other apk distributions.
    Apk,
    /// `rpm`.
    Rpm,
}

impl PurlType {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Deb => "deb",
            Self::Apk => "apk",
            Self::Rpm => "rpm",
        }
    }
}

/// The namespace for a package URL: the distribution's `ID` when known, else `default`
/// (`debian`, `alpine`…).
#[must_use]
pub fn distro_namespace<'a>(distro: &'a Distro, default: &'a str) -> &'a str {
    if distro.id.is_empty() {
        default
    } else {
        &distro.id
    }
}

/// `pkg:<type>/<namespace>/<name>@<version>?arch=<arch>&distro=<id>-<version_id>&epoch=<epoch>`.
///
/// The `distro` qualifier is `<ID>-<VERSION_ID>` (or `<ID>` alone), left out when the
/// distribution is unknown; an empty version or arch is left out; `epoch` is RPM's (its
/// version string carries no epoch).
#[must_use]
pub fn package_url(
    purl_type: PurlType,
    namespace: &str,
    distro: &Distro,
    name: &str,
    version: &str,
    arch: &str,
    epoch: Option<u32>,
) -> String {
    let mut out = format!("pkg:{}/", purl_type.as_str());
    push_encoded(&mut out, &namespace.to_lowercase());
    out.push('/');
    if purl_type == PurlType::Rpm {
        push_encoded(&mut out, name);
    } else {
        push_encoded(&mut out, &name.to_lowercase());
    }
    if !version.is_empty() {
        out.push('@');
        push_encoded(&mut out, version);
    }
    let distro_qualifier = match (distro.id.as_str(), distro.version_id.as_str()) {
        ("", _) => String::new(),
        (id, "") => id.to_owned(),
        (id, version_id) => format!("{id}-{version_id}"),
    };
    let epoch = epoch.map(|epoch| epoch.to_string()).unwrap_or_default();
    // Sorted by key, as the canonical form wants.
    let qualifiers = [
        ("arch", arch),
        ("distro", distro_qualifier.as_str()),
        ("epoch", epoch.as_str()),
    ];
    let mut separator = '?';
    for (key, value) in qualifiers {
        if value.is_empty() {
            continue;
        }
        out.push(separator);
        out.push_str(key);
        out.push('=');
        push_encoded(&mut out, value);
        separator = '&';
    }
    out
}

/// Appends `text` percent-encoded per ECMA-427 §5.4: UTF-8 bytes outside the alphanumerics,
/// `.-_~` and `:` become `%XX` (uppercase hex).
fn push_encoded(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkgdb::testing::distro;

    #[test]
    fn encodes_plus_keeps_colon_and_sorts_qualifiers() {
        assert_eq!(
            package_url(
                PurlType::Deb,
                "debian",
                &distro("debian", "12"),
                "curl",
                "7.88.1-10+deb12u5",
                "amd64",
                None
            ),
            "pkg:deb/debian/curl@7.88.1-10%2Bdeb12u5?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            package_url(
                PurlType::Deb,
                "ubuntu",
                &distro("ubuntu", "24.04"),
                "zlib1g",
                "1:1.3.dfsg-3.1ubuntu2.1",
                "arm64",
                None
            ),
            "pkg:deb/ubuntu/zlib1g@1:1.3.dfsg-3.1ubuntu2.1?arch=arm64&distro=ubuntu-24.04"
        );
    }

    #[test]
    fn unknown_distribution_uses_the_default_namespace_and_no_distro_qualifier() {
        assert_eq!(
            package_url(
                PurlType::Apk,
                distro_namespace(&Distro::default(), "alpine"),
                &Distro::default(),
                "musl",
                "1.2.4-r0",
                "",
                None
            ),
            "pkg:apk/alpine/musl@1.2.4-r0"
        );
        assert_eq!(
            package_url(
                PurlType::Deb,
                "debian",
                &distro("debian", ""),
                "Foo",
                "",
                "all",
                None
            ),
            "pkg:deb/debian/foo?arch=all&distro=debian"
        );
    }

    #[test]
    fn encodes_separators_and_non_ascii_inside_components() {
        assert_eq!(
            package_url(
                PurlType::Rpm,
                "fedora",
                &Distro::default(),
                "a/b",
                "1.0 ü?&",
                "x86_64",
                None
            ),
            "pkg:rpm/fedora/a%2Fb@1.0%20%C3%BC%3F%26?arch=x86_64"
        );
    }

    #[test]
    fn rpm_names_keep_their_case_and_the_epoch_is_a_qualifier() {
        assert_eq!(
            package_url(
                PurlType::Rpm,
                "Fedora",
                &distro("fedora", "32"),
                "SDL2",
                "0.0.1-rls",
                "x86_64",
                Some(1)
            ),
            "pkg:rpm/fedora/SDL2@0.0.1-rls?arch=x86_64&distro=fedora-32&epoch=1"
        );
    }
}
