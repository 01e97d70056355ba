//! Countries from IP addresses, through a MaxMind-format database
//! (`.mmdb`: GeoLite2 / GeoIP2 Country or City, DB-IP's lite databases,
//! ...): the record's `country.iso_code`, lower case, as hits carry it.
//! Lookups are cached per database record, so a busy log costs a tree
//! walk per line and one decode per network.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use crate::{Error, Result};

/// An open GeoIP database.
pub struct Geo {
    reader: maxminddb::Reader<Vec<u8>>,
    countries: HashMap<usize, Option<String>, foldhash::fast::RandomState>,
}

impl std::fmt::Debug for Geo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Geo")
            .field("database_type", &self.reader.metadata().database_type)
            .finish()
    }
}

impl Geo {
    /// Opens a database file.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file when it cannot be read or is not
    /// a MaxMind database.
    ///
    /// # Examples
    /// ```
    /// let err = hitmap_intake::enrich::Geo::open("/no/GeoLite2-Country.mmdb".as_ref()).unwrap_err();
    /// assert!(err.to_string().contains("/no/GeoLite2-Country.mmdb"));
    /// ```
    pub fn open(path: &Path) -> Result<Geo> {
        let reader = maxminddb::Reader::open_readfile(path).map_err(|e| {
            Error::Config(format!(
                "geoip: {} is not a readable MaxMind database (.mmdb): {e}",
                path.display()
            ))
        })?;
        Ok(Geo {
            reader,
            countries: HashMap::default(),
        })
    }

    /// The lower-case ISO country code of an address; `None` for text
    /// that is not an address, an address the database does not know, or
    /// a record without a country.
    pub fn country(&mut self, ip: &str) -> Option<String> {
        let ip: IpAddr = ip.trim().parse().ok()?;
        let found = self.reader.lookup(ip).ok()?;
        let offset = found.offset()?;
        if let Some(c) = self.countries.get(&offset) {
            return c.clone();
        }
        let code: Option<String> = found
            .decode_path::<String>(&maxminddb::path!["country", "iso_code"])
            .ok()
            .flatten()
            .map(|c| c.to_ascii_lowercase())
            .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_lowercase()));
        self.countries.insert(offset, code.clone());
        code
    }
}
