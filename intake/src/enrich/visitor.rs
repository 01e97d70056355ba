//! Visitor keys: who a request comes from, without keeping who they are.
//!
//! A request with a visitor id (the tracker's `_id`, a user id) is keyed by
//! it; otherwise by a keyed hash (SipHash-2-4 under a 128-bit secret) of
//! the IP address and the user agent, as Matomo recognises visitors by
//! their configuration. The raw IP never reaches the store, and without
//! the secret a key cannot be traced back to an address by trying them
//! all.
//!
//! The secret is the user's (`--visitor-secret`, `HITMAP_VISITOR_SECRET`)
//! or, by default, a random one made for the store on first use and kept
//! in its manifest under [`SECRET_CURSOR`], so that a store's keys stay
//! stable across runs and machines.

use std::hash::Hasher;

use siphasher::sip::SipHasher24;

use crate::{Error, Result};

/// The manifest entry holding a store's visitor-key secret.
pub const SECRET_CURSOR: &str = "intake:visitor-secret";

/// Makes visitor keys under one secret.
#[derive(Clone)]
pub struct VisitorKeys {
    key: [u8; 16],
}

impl std::fmt::Debug for VisitorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitorKeys(..)")
    }
}

impl VisitorKeys {
    /// Keys under `secret` (any text; the same secret gives the same keys).
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::enrich::VisitorKeys;
    /// let a = VisitorKeys::new("s3cret").key(&["10.0.0.1", "Firefox"]);
    /// assert_eq!(a.len(), 16);
    /// assert_eq!(a, VisitorKeys::new("s3cret").key(&["10.0.0.1", "Firefox"]));
    /// assert_ne!(a, VisitorKeys::new("other").key(&["10.0.0.1", "Firefox"]));
    /// assert_ne!(a, VisitorKeys::new("s3cret").key(&["10.0.0.1F", "irefox"]));
    /// ```
    pub fn new(secret: &str) -> VisitorKeys {
        VisitorKeys {
            key: xxhash_rust::xxh3::xxh3_128(secret.as_bytes()).to_le_bytes(),
        }
    }

    /// A new random secret, as 32 hex digits.
    ///
    /// # Errors
    /// The system has no randomness to give.
    pub fn random_secret() -> Result<String> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)
            .map_err(|e| Error::Config(format!("no random secret for visitor keys: {e}")))?;
        Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// The keys of a store: under `explicit` when given, else the secret
    /// the store keeps, else a new random one. The second value is the
    /// secret to commit with the first batch (`None` when the store
    /// already has it or the secret is the user's).
    ///
    /// # Errors
    /// No randomness for a new secret.
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::enrich::{SECRET_CURSOR, VisitorKeys};
    /// let e = hitmap::Engine::in_memory();
    /// let (_, new) = VisitorKeys::for_store(&e, None)?;
    /// assert_eq!(new.unwrap().len(), 32);
    /// let (_, new) = VisitorKeys::for_store(&e, Some("mine"))?;
    /// assert!(new.is_none());
    /// # Ok::<(), hitmap_intake::Error>(())
    /// ```
    pub fn for_store(
        engine: &hitmap::Engine,
        explicit: Option<&str>,
    ) -> Result<(VisitorKeys, Option<String>)> {
        if let Some(s) = explicit {
            return Ok((VisitorKeys::new(s), None));
        }
        if let Some(s) = engine.cursor(SECRET_CURSOR) {
            return Ok((VisitorKeys::new(s), None));
        }
        let s = VisitorKeys::random_secret()?;
        Ok((VisitorKeys::new(&s), Some(s)))
    }

    /// The key of a visitor identified by `parts` (IP and user agent, or
    /// a user id): 16 hex digits, like Matomo's visitor ids.
    pub fn key(&self, parts: &[&str]) -> String {
        let mut h = SipHasher24::new_with_key(&self.key);
        for p in parts {
            // Length-prefixed: ("ab", "c") and ("a", "bc") differ.
            h.write_u64(p.len() as u64);
            h.write(p.as_bytes());
        }
        let v = h.finish();
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..16)
            .map(|i| char::from(HEX[((v >> (60 - 4 * i)) & 0xf) as usize]))
            .collect()
    }
}

/// Matomo's IP anonymisation: masks the last `bytes` (0 to 4) bytes of an
/// IPv4 address; an IPv6 address keeps its first 80, 64 or 48 bits for 1,
/// 2 or 3 and more. Text that is not an address is returned as it is.
///
/// # Examples
/// ```
/// use hitmap_intake::enrich::anonymize_ip;
/// assert_eq!(anonymize_ip("192.168.17.42", 2), "192.168.0.0");
/// assert_eq!(anonymize_ip("2001:db8:1:2:3:4:5:6", 1), "2001:db8:1:2:3::");
/// assert_eq!(anonymize_ip("not an ip", 2), "not an ip");
/// ```
pub fn anonymize_ip(ip: &str, bytes: u8) -> String {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    if bytes == 0 {
        return ip.to_string();
    }
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => {
            let mask = u32::MAX
                .checked_shl(8 * u32::from(bytes.min(4)))
                .unwrap_or(0);
            Ipv4Addr::from(u32::from(v4) & mask).to_string()
        }
        Ok(IpAddr::V6(v6)) => {
            // Matomo keeps 80, 64 or 48 bits for 1, 2 or 3 (and more) bytes.
            let keep: u32 = match bytes {
                1 => 80,
                2 => 64,
                _ => 48,
            };
            let mask = u128::MAX.checked_shl(128 - keep).unwrap_or(0);
            Ipv6Addr::from(u128::from(v6) & mask).to_string()
        }
        Err(_) => ip.to_string(),
    }
}
