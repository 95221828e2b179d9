//! CIDR allow lists: the address ranges a provider calls from (Alibaba and Tencent publish
//! theirs). A URL token can leak through logs and proxies; a source address is a second fence.

use intake_adapter::AdapterError;
use std::net::IpAddr;

/// One network, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a single host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `addr/prefix` or a bare address.
    pub fn parse(text: &str) -> Result<Cidr, AdapterError> {
        let text = text.trim();
        let bad = || AdapterError::Malformed(format!("not a CIDR: {text:?}"));
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => max,
        };
        if prefix > max {
            return Err(bad());
        }
        Ok(Cidr { network, prefix })
    }

    /// True when `ip` lies in this network. An IPv4-mapped IPv6 peer (`::ffff:1.2.3.4`, what a
    /// dual-stack listener reports) is compared as the IPv4 address it is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u128::from(u32::from(net)), self.prefix, 32)
                    == masked(u128::from(u32::from(ip)), self.prefix, 32)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), self.prefix, 128)
                    == masked(u128::from(ip), self.prefix, 128)
            }
            _ => false,
        }
    }
}

fn masked(value: u128, prefix: u8, bits: u32) -> u128 {
    let host_bits = bits.saturating_sub(u32::from(prefix));
    if host_bits >= 128 {
        0
    } else {
        value >> host_bits
    }
}

/// Checks `peer` against `allow`: an empty list allows everyone; otherwise the peer must be
/// known and inside one entry. Entries that failed to parse (`None`) match nothing.
pub(crate) fn check(allow: &[Option<Cidr>], peer: Option<IpAddr>) -> Result<(), AdapterError> {
    if allow.is_empty() {
        return Ok(());
    }
    let Some(peer) = peer else {
        return Err(AdapterError::Forbidden(
            "caller address unknown and an allow list is configured".into(),
        ));
    };
    if allow.iter().flatten().any(|cidr| cidr.contains(peer)) {
        Ok(())
    } else {
        Err(AdapterError::Forbidden(format!(
            "{peer} is not on the provider's allow list"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn v4_v6_and_mapped() {
        let net = Cidr::parse("106.11.0.0/16").unwrap();
        assert!(net.contains(ip("106.11.34.2")));
        assert!(!net.contains(ip("106.12.0.1")));
        assert!(net.contains(ip("::ffff:106.11.1.1")));
        let v6 = Cidr::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("106.11.1.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("10.1.2.3").unwrap().contains(ip("10.1.2.3")));
        assert!(!Cidr::parse("10.1.2.3").unwrap().contains(ip("10.1.2.4")));
        for bad in ["10.0.0.0/33", "x/8", "10.0.0.0/", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allow_list_checks() {
        assert!(check(&[], None).is_ok());
        let list = vec![Cidr::parse("10.0.0.0/8").ok(), None];
        assert!(check(&list, Some(ip("10.9.9.9"))).is_ok());
        assert!(matches!(
            check(&list, Some(ip("11.0.0.1"))),
            Err(AdapterError::Forbidden(_))
        ));
        assert!(matches!(
            check(&list, None),
            Err(AdapterError::Forbidden(_))
        ));
        assert!(check(&[None], Some(ip("10.0.0.1"))).is_err(), "fail closed");
    }
}
