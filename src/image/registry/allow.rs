//! Which registries a service may fetch from: a guard against server-side request forgery, for
//! callers (like `exelock serve`) that fetch whatever image an untrusted finding names.
//!
//! A registry host may be reached only when it is listed (`host[:port]`, case-insensitive;
//! `docker.io`, `index.docker.io` and `registry-1.docker.io` are one registry) and every address
//! its name resolves to is a public one. Loopback, link-local, private (RFC 1918, `fc00::/7`),
//! shared (CGNAT, `100.64.0.0/10`), unspecified, multicast and broadcast addresses, and IPv6
//! forms embedding such an IPv4 address, are refused unless the host was listed as an IP
//! literal (the operator named that very address) or an allowed private range covers the
//! address. Refusals are final ([`Error::RegistryNotAllowed`]); a name that does not resolve
//! may be a passing DNS fault ([`Error::RegistryLookup`], transient).
//!
//! What this check does not cover, by design of a check made before the request:
//! - DNS rebinding: the name is resolved here and again by the HTTP client when it connects; a
//!   name whose answer changes between the two can still reach a refused address. Pinning the
//!   checked addresses into the client would close this; `oci-client` offers no hook for it.
//! - Redirects and token realms: an allowed registry may redirect blob downloads (to a CDN)
//!   or name a token service in its `WWW-Authenticate` challenge, and the client follows both
//!   without asking this list. Listing a registry trusts where it sends the client.
//! - Proxies: with `HTTPS_PROXY` set, the proxy connects, not this process.
//!
//! This module resolves names (blocking) and fetches nothing.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs as _};
use std::str::FromStr;

use crate::image::Error;

/// The names of Docker Hub's registry, all one registry.
const DOCKER_HUB_NAMES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// An IP range (`10.0.0.0/8`, `fd00::/8`, a bare address for one host).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressRange {
    network: IpAddr,
    prefix_length: u8,
}

impl AddressRange {
    /// Whether `address` is in the range; an IPv4-mapped IPv6 address counts as its IPv4 form.
    #[must_use]
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        match (self.network, address) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix_length))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix_length))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for AddressRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, length) = match text.split_once('/') {
            Some((address, length)) => (address, Some(length)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| {
            format!("{text:?} is not an address range: {address:?} is not an IP address (expected CIDR, e.g. 10.0.0.0/8 or fd00::/8)")
        })?;
        let network = canonical(network);
        let maximum: u8 = if network.is_ipv4() { 32 } else { 128 };
        let prefix_length = match length {
            None => maximum,
            Some(length) => length
                .parse::<u8>()
                .ok()
                .filter(|length| *length <= maximum)
                .ok_or_else(|| {
                    format!("{text:?} is not an address range: the prefix length must be 0 to {maximum} (got {length:?})")
                })?,
        };
        Ok(Self {
            network,
            prefix_length,
        })
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_length)
    }
}

/// A listed registry: a name, or an IP literal (trusted whatever kind of address it is).
#[derive(Clone, Debug, PartialEq, Eq)]
enum ListedHost {
    Name(String),
    Address(IpAddr),
}

/// A `host[:port]` split and normalised for comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostPort {
    host: ListedHost,
    port: Option<u16>,
}

impl HostPort {
    /// Parses `host`, `host:port`, `1.2.3.4:5`, `[::1]:5` or a bare IPv6 address.
    fn parse(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| format!("{text:?} is not a registry host[:port]: {why}");
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        if trimmed.contains(['/', '@', ' ']) {
            return Err(invalid(
                "a registry is a host name, not a URL or repository",
            ));
        }
        // A bare IPv6 address has several colons and no brackets.
        if let Ok(address) = trimmed.parse::<Ipv6Addr>() {
            return Ok(Self {
                host: ListedHost::Address(canonical(IpAddr::V6(address))),
                port: None,
            });
        }
        let (host, port) = if let Some(rest) = trimmed.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| invalid("an opening [ without a closing ]"))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| invalid("text after the ]"))?,
                ),
            };
            let address: Ipv6Addr = host
                .parse()
                .map_err(|_| invalid("brackets hold something other than an IPv6 address"))?;
            (ListedHost::Address(canonical(IpAddr::V6(address))), port)
        } else {
            let (host, port) = match trimmed.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (trimmed, None),
            };
            let host = match host.parse::<Ipv4Addr>() {
                Ok(address) => ListedHost::Address(IpAddr::V4(address)),
                Err(_) => {
                    let name = host.to_ascii_lowercase();
                    if !name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                    {
                        return Err(invalid("the host name has characters DNS names do not"));
                    }
                    ListedHost::Name(name)
                }
            };
            (host, port)
        };
        let port = port
            .map(|port| {
                port.parse::<u16>()
                    .map_err(|_| invalid(&format!("the port {port:?} is not a number up to 65535")))
            })
            .transpose()?;
        Ok(Self { host, port })
    }

    /// Whether a listed entry names this host: Docker Hub's names are one registry.
    fn matches(&self, listed: &Self) -> bool {
        if self.port != listed.port {
            return false;
        }
        match (&self.host, &listed.host) {
            (ListedHost::Address(ours), ListedHost::Address(theirs)) => ours == theirs,
            (ListedHost::Name(ours), ListedHost::Name(theirs)) => {
                ours == theirs
                    || (DOCKER_HUB_NAMES.contains(&ours.as_str())
                        && DOCKER_HUB_NAMES.contains(&theirs.as_str()))
            }
            _ => false,
        }
    }
}

/// The registries a caller may fetch from, and the private address ranges it may reach.
#[derive(Clone, Debug)]
pub struct RegistryAllowList {
    hosts: Vec<HostPort>,
    private: Vec<AddressRange>,
}

impl RegistryAllowList {
    /// A list of `host[:port]` entries (as in image references: `ghcr.io`, `registry:5000`,
    /// `127.0.0.1:5000`, `[::1]:5000`) and the private ranges that may be reached.
    ///
    /// # Errors
    /// An entry that is not a `host[:port]`, naming the entry.
    pub fn new(hosts: Vec<String>, private: Vec<AddressRange>) -> Result<Self, Error> {
        let hosts = hosts
            .iter()
            .map(|host| {
                HostPort::parse(host).map_err(|problem| Error::InvalidRegistryHost {
                    host: host.clone(),
                    problem,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { hosts, private })
    }

    /// Checks that `registry` (an image reference's `host[:port]`) may be fetched from,
    /// resolving its name with the system resolver (blocking).
    ///
    /// # Errors
    /// [`Error::RegistryNotAllowed`] (final) when it is not listed or resolves to an address
    /// that may not be reached; [`Error::RegistryLookup`] (transient) when the name does not
    /// resolve.
    pub fn check(&self, registry: &str) -> Result<(), Error> {
        self.check_with(registry, |name| {
            (name, 443)
                .to_socket_addrs()
                .map(|addresses| addresses.map(|address| address.ip()).collect())
        })
    }

    /// [`Self::check`] with another resolver (tests feed addresses without DNS).
    fn check_with(
        &self,
        registry: &str,
        resolve: impl Fn(&str) -> std::io::Result<Vec<IpAddr>>,
    ) -> Result<(), Error> {
        let refuse = |reason: String| Error::RegistryNotAllowed {
            registry: registry.to_owned(),
            reason,
        };
        let wanted = HostPort::parse(registry).map_err(refuse)?;
        if !self.hosts.iter().any(|listed| wanted.matches(listed)) {
            return Err(refuse(
                "it is not on the registry allow-list (--allow-registry)".to_owned(),
            ));
        }
        let name = match &wanted.host {
            // Listed as this very address: the operator chose it, private or not.
            ListedHost::Address(_) => return Ok(()),
            ListedHost::Name(name) => name,
        };
        let addresses = resolve(name).map_err(|source| Error::RegistryLookup {
            registry: registry.to_owned(),
            source,
        })?;
        if addresses.is_empty() {
            return Err(Error::RegistryLookup {
                registry: registry.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the name resolves to no address",
                ),
            });
        }
        for address in addresses {
            if let Some(kind) = restricted_kind(address)
                && !self.private.iter().any(|range| range.contains(address))
            {
                return Err(refuse(format!(
                    "{name} resolves to {address}, a {kind} address (allow it with --allow-private-address, or list the registry by its IP address)"
                )));
            }
        }
        Ok(())
    }
}

/// An IPv4-mapped IPv6 address as its IPv4 form; every other address as it is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// What kind of non-public address this is, or `None` for a public one.
fn restricted_kind(address: IpAddr) -> Option<&'static str> {
    match canonical(address) {
        IpAddr::V4(v4) => restricted_v4(v4),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if segments[0] & 0xffc0 == 0xfe80 {
                Some("link-local")
            } else if segments[0] & 0xfe00 == 0xfc00 {
                Some("private (unique local)")
            } else if segments[0] & 0xffc0 == 0xfec0 {
                Some("private (site-local)")
            } else if let Some(embedded) = embedded_v4(v6) {
                // NAT64 and the deprecated IPv4-compatible form carry an IPv4 address a
                // gateway may route to: judge that address.
                restricted_v4(embedded)
            } else {
                None
            }
        }
    }
}

fn restricted_v4(v4: Ipv4Addr) -> Option<&'static str> {
    let [first, second, ..] = v4.octets();
    if v4.is_loopback() {
        Some("loopback")
    } else if first == 0 {
        Some("unspecified")
    } else if v4.is_private() {
        Some("private")
    } else if v4.is_link_local() {
        Some("link-local")
    } else if first == 100 && second & 0xc0 == 64 {
        Some("shared (CGNAT)")
    } else if v4.is_multicast() {
        Some("multicast")
    } else if v4.is_broadcast() || first >= 240 {
        Some("reserved")
    } else {
        None
    }
}

/// The IPv4 address in a NAT64 (`64:ff9b::/96`) or IPv4-compatible (`::a.b.c.d`) address.
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = v6.segments();
    let tail = Ipv4Addr::from(u32::try_from(u128::from(v6) & 0xffff_ffff).ok()?);
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let compatible = segments[..6] == [0; 6];
    (nat64 || compatible).then_some(tail)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use rstest::rstest;

    use super::*;

    fn list(hosts: &[&str], private: &[&str]) -> RegistryAllowList {
        RegistryAllowList::new(
            hosts.iter().map(|&host| host.to_owned()).collect(),
            private.iter().map(|range| range.parse().unwrap()).collect(),
        )
        .unwrap()
    }

    /// A resolver answering every name with these addresses.
    fn answers(addresses: &[&str]) -> impl Fn(&str) -> std::io::Result<Vec<IpAddr>> {
        let addresses: Vec<IpAddr> = addresses.iter().map(|a| a.parse().unwrap()).collect();
        move |_| Ok(addresses.clone())
    }

    const PUBLIC: &[&str] = &["140.82.112.34", "2606:50c0:8000::154"];

    #[rstest]
    #[case::listed("ghcr.io", &["ghcr.io"])]
    #[case::case_insensitive("GHCR.io", &["ghcr.IO"])]
    #[case::with_port("registry.example:5000", &["registry.example:5000"])]
    #[case::docker_hub_alias("index.docker.io", &["docker.io"])]
    #[case::docker_hub_alias_back("docker.io", &["registry-1.docker.io"])]
    fn listed_hosts_with_public_addresses_are_allowed(
        #[case] registry: &str,
        #[case] hosts: &[&str],
    ) {
        list(hosts, &[])
            .check_with(registry, answers(PUBLIC))
            .unwrap();
    }

    #[rstest]
    #[case::unlisted("evil.example", &["ghcr.io"])]
    #[case::other_port("registry.example:5001", &["registry.example:5000"])]
    #[case::port_not_listed("registry.example:5000", &["registry.example"])]
    #[case::suffix_is_not_a_match("ghcr.io.evil.example", &["ghcr.io"])]
    #[case::other_address("127.0.0.2:5000", &["127.0.0.1:5000"])]
    fn unlisted_hosts_are_refused_without_a_lookup(#[case] registry: &str, #[case] hosts: &[&str]) {
        let error = list(hosts, &[])
            .check_with(registry, |_| {
                panic!("an unlisted host must not be resolved")
            })
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "registry {registry} is refused: it is not on the registry allow-list (--allow-registry)"
            )
        );
        assert!(!error.is_transient());
    }

    #[test]
    fn localhost_resolves_to_loopback_and_is_refused_unless_allowed() {
        let listed = list(&["localhost:5000"], &[]);
        let error = listed.check("localhost:5000").unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("registry localhost:5000 is refused: localhost resolves to ")
                && message.contains("a loopback address"),
            "{message}"
        );
        assert!(!error.is_transient());
        list(&["localhost:5000"], &["127.0.0.0/8", "::1/128"])
            .check("localhost:5000")
            .unwrap();
    }

    #[rstest]
    #[case::ipv4("127.0.0.1:5000", "127.0.0.1:5000")]
    #[case::ipv6("[::1]:5000", "[::1]:5000")]
    #[case::ipv6_long_form("[0:0:0:0:0:0:0:1]:5000", "[::1]:5000")]
    #[case::ipv6_bare("fd00::5", "fd00::5")]
    #[case::private_literal("10.1.2.3", "10.1.2.3")]
    fn hosts_listed_as_addresses_are_allowed_whatever_the_address(
        #[case] registry: &str,
        #[case] listed: &str,
    ) {
        list(&[listed], &[])
            .check_with(registry, |_| panic!("an address is not resolved"))
            .unwrap();
    }

    #[rstest]
    #[case::loopback("127.0.0.1", "loopback")]
    #[case::rfc1918_10("10.0.0.5", "private")]
    #[case::rfc1918_172("172.20.1.1", "private")]
    #[case::rfc1918_192("192.168.1.1", "private")]
    #[case::link_local_metadata("169.254.169.254", "link-local")]
    #[case::cgnat("100.64.0.1", "shared (CGNAT)")]
    #[case::unspecified("0.0.0.0", "unspecified")]
    #[case::multicast("224.0.0.1", "multicast")]
    #[case::v6_loopback("::1", "loopback")]
    #[case::v6_unique_local("fd12:3456::1", "private (unique local)")]
    #[case::v6_link_local("fe80::1", "link-local")]
    #[case::v6_unspecified("::", "unspecified")]
    #[case::v6_multicast("ff02::1", "multicast")]
    #[case::v4_mapped_private("::ffff:10.0.0.1", "private")]
    #[case::v4_mapped_loopback("::ffff:127.0.0.1", "loopback")]
    #[case::nat64_private("64:ff9b::a00:1", "private")]
    fn names_resolving_to_restricted_addresses_are_refused(
        #[case] address: &str,
        #[case] kind: &str,
    ) {
        let error = list(&["registry.example"], &[])
            .check_with("registry.example", answers(&["140.82.112.34", address]))
            .unwrap_err();
        let shown: IpAddr = address.parse().unwrap();
        assert_eq!(
            error.to_string(),
            format!(
                "registry registry.example is refused: registry.example resolves to {shown}, a {kind} address (allow it with --allow-private-address, or list the registry by its IP address)"
            )
        );
        assert!(!error.is_transient());
    }

    #[rstest]
    #[case::v4_range("10.0.0.5", "10.0.0.0/8")]
    #[case::v4_host("10.0.0.5", "10.0.0.5")]
    #[case::v4_mapped_by_v4_range("::ffff:10.0.0.5", "10.0.0.0/24")]
    #[case::v6_range("fd12:3456::1", "fd00::/8")]
    #[case::everything("192.168.9.9", "0.0.0.0/0")]
    fn allowed_private_ranges_cover_their_addresses(#[case] address: &str, #[case] range: &str) {
        list(&["registry.internal"], &[range])
            .check_with("registry.internal", answers(&[address]))
            .unwrap();
    }

    #[rstest]
    #[case::outside_v4("10.1.0.5", "10.0.0.0/16")]
    #[case::v6_range_for_v4("10.0.0.5", "fd00::/8")]
    #[case::outside_v6("fe80::1", "fd00::/8")]
    fn private_ranges_cover_nothing_outside_them(#[case] address: &str, #[case] range: &str) {
        let error = list(&["registry.internal"], &[range])
            .check_with("registry.internal", answers(&[address]))
            .unwrap_err();
        assert!(matches!(error, Error::RegistryNotAllowed { .. }), "{error}");
    }

    #[test]
    fn every_address_must_be_allowed() {
        let error = list(&["registry.internal"], &["10.0.0.0/8"])
            .check_with("registry.internal", answers(&["10.0.0.5", "192.168.0.5"]))
            .unwrap_err();
        assert!(error.to_string().contains("192.168.0.5"), "{error}");
    }

    #[test]
    fn a_name_that_does_not_resolve_is_transient() {
        let error = list(&["registry.example"], &[])
            .check_with("registry.example", |_| {
                Err(std::io::Error::other(
                    "temporary failure in name resolution",
                ))
            })
            .unwrap_err();
        assert!(error.is_transient(), "{error}");
        assert_eq!(
            error.to_string(),
            "registry registry.example: cannot resolve its name"
        );
    }

    #[rstest]
    #[case::url(
        "https://ghcr.io",
        "a registry is a host name, not a URL or repository"
    )]
    #[case::repository("ghcr.io/acme", "a registry is a host name, not a URL or repository")]
    #[case::bad_port("ghcr.io:https", "the port \"https\" is not a number up to 65535")]
    #[case::unclosed("[::1:5000", "an opening [ without a closing ]")]
    #[case::empty("", "it is empty")]
    fn bad_entries_are_named(#[case] entry: &str, #[case] problem: &str) {
        let error = RegistryAllowList::new(vec![entry.to_owned()], Vec::new()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "--allow-registry {entry:?}: {entry:?} is not a registry host[:port]: {problem}"
            )
        );
    }

    #[rstest]
    #[case::no_address(
        "nine/8",
        "\"nine/8\" is not an address range: \"nine\" is not an IP address (expected CIDR, e.g. 10.0.0.0/8 or fd00::/8)"
    )]
    #[case::too_long(
        "10.0.0.0/33",
        "\"10.0.0.0/33\" is not an address range: the prefix length must be 0 to 32 (got \"33\")"
    )]
    #[case::v6_too_long(
        "fd00::/129",
        "\"fd00::/129\" is not an address range: the prefix length must be 0 to 128 (got \"129\")"
    )]
    fn bad_ranges_are_named(#[case] text: &str, #[case] message: &str) {
        assert_eq!(text.parse::<AddressRange>().unwrap_err(), message);
    }

    #[test]
    fn ranges_display_as_cidr() {
        let range: AddressRange = "10.0.0.0/8".parse().unwrap();
        assert_eq!(range.to_string(), "10.0.0.0/8");
        let host: AddressRange = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(host.to_string(), "10.0.0.1/32");
    }
}
