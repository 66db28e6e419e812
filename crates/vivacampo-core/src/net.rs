//! Which network addresses webhooks may reach: the public internet only, so that a workspace
//! administrator cannot make the server POST to itself, its database, a cloud metadata service
//! (169.254.169.254) or anything else on its private networks (server-side request forgery).
//! Setting `webhook_allow_private` lifts the rule for closed networks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether `ip` is an address of the public internet: not loopback, private (10/8, 172.16/12,
/// 192.168/16, fc00::/7), shared (CGNAT 100.64/10), link-local (169.254/16, fe80::/10),
/// unspecified, broadcast, multicast, documentation, benchmarking or reserved. IPv6 forms that
/// carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that address.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let not_public = a == 0 // "this network", 0.0.0.0
        || a == 10
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || a == 127
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !not_public
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let embedded_v4 =
        |high: u16, low: u16| Ipv4Addr::from((u32::from(high) << 16) | u32::from(low));
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match s {
        // Unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d: nothing public.
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64 (64:ff9b::/96) reaches the IPv4 address it carries.
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => is_public_v4(embedded_v4(high, low)),
        // Local-use NAT64 (64:ff9b:1::/48).
        [0x64, 0xff9b, 1, ..] => false,
        // Discard-only (100::/64).
        [0x100, 0, 0, 0, ..] => false,
        // IETF protocol assignments (2001::/23: Teredo, benchmarking, ORCHID, …) and
        // documentation (2001:db8::/32).
        [0x2001, b, ..] if b < 0x200 => false,
        [0x2001, 0xdb8, ..] => false,
        // 6to4 (2002::/16) reaches the IPv4 address it carries.
        [0x2002, high, low, ..] => is_public_v4(embedded_v4(high, low)),
        // Documentation (3fff::/20).
        [first, ..] if first & 0xfff0 == 0x3ff0 => false,
        // Unique local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10), multicast
        // (ff00::/8).
        [first, ..] if first & 0xfe00 == 0xfc00 || first >= 0xfe80 => false,
        _ => true,
    }
}

/// Whether a host name names this machine: `localhost` or a name under it (RFC 6761), in any
/// case, with or without the final dot.
pub fn is_localhost_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn public(text: &str) -> bool {
        is_public_ip(text.parse().unwrap())
    }

    #[test]
    fn addresses_that_are_not_public() {
        for text in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.255",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.10",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!public(text), "{text} counted as public");
        }
    }

    #[test]
    fn public_addresses() {
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.3.1",
            "192.169.0.1",
            "198.20.0.1",
            "203.0.114.1",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
        ] {
            assert!(public(text), "{text} counted as not public");
        }
    }

    #[test]
    fn localhost_names() {
        for name in [
            "localhost",
            "LocalHost",
            "localhost.",
            "api.localhost",
            "a.b.localhost.",
        ] {
            assert!(is_localhost_name(name), "{name}");
        }
        for name in [
            "localhost.example.com",
            "mylocalhost",
            "example.com",
            "127.0.0.1",
        ] {
            assert!(!is_localhost_name(name), "{name}");
        }
    }

    proptest! {
        #[test]
        fn private_ranges_are_never_public(low in any::<u32>()) {
            for (base, prefix) in [
                ([10, 0, 0, 0], 8),
                ([127, 0, 0, 0], 8),
                ([172, 16, 0, 0], 12),
                ([192, 168, 0, 0], 16),
                ([169, 254, 0, 0], 16),
                ([100, 64, 0, 0], 10),
                ([224, 0, 0, 0], 4),
            ] {
                let host_bits = low & (u32::MAX >> prefix);
                let v4 = Ipv4Addr::from(u32::from(Ipv4Addr::from(base)) | host_bits);
                prop_assert!(!is_public_ip(IpAddr::V4(v4)), "{}", v4);
                prop_assert!(!is_public_ip(IpAddr::V6(v4.to_ipv6_mapped())), "{}", v4);
            }
        }

        #[test]
        fn local_ipv6_ranges_are_never_public(low in any::<u128>()) {
            for (base, prefix) in [(0xfc00u128 << 112, 7), (0xfe80u128 << 112, 10), (0xff00u128 << 112, 8)] {
                let v6 = Ipv6Addr::from(base | (low & (u128::MAX >> prefix)));
                prop_assert!(!is_public_ip(IpAddr::V6(v6)), "{}", v6);
            }
        }
    }
}
