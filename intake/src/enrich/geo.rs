//! Locations from IP addresses, through a MaxMind-format database
//! (`.mmdb`: GeoLite2 / GeoIP2 Country or City, DB-IP's lite databases,
//! ...): the record's `country.iso_code`, lower case, as hits carry it,
//! and from a city database the region (code and English name), city
//! and coordinates, as Matomo's GeoIP2 provider reads them. Lookups are
//! cached per database record, so a busy log costs a tree walk per line
//! and one decode per network.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use crate::{Error, Result};

/// An open GeoIP database.
pub struct Geo {
    reader: maxminddb::Reader<Vec<u8>>,
    places: HashMap<usize, Option<Location>, foldhash::fast::RandomState>,
}

/// Where an address is, as far as the database knows: the hit contract's
/// `country`, `region`, `region_name`, `city`, `latitude` and `longitude`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// Lower-case ISO 3166-1 code (`us`).
    pub country: Option<String>,
    /// The region's code within its country (`VA`: ISO 3166-2 without
    /// the country part; the last subdivision for Great Britain, else the
    /// first, as Matomo's).
    pub region: Option<String>,
    /// The region's English name.
    pub region_name: Option<String>,
    /// The city's English name.
    pub city: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
}

impl Location {
    /// Sets a hit's region, region name, city and coordinates from this
    /// location (the country is the caller's: it has fallbacks).
    pub fn fill(&self, hit: &mut hitmap::Hit) {
        hit.region.clone_from(&self.region);
        hit.region_name.clone_from(&self.region_name);
        hit.city.clone_from(&self.city);
        hit.latitude = self.latitude;
        hit.longitude = self.longitude;
    }
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
            places: HashMap::default(),
        })
    }

    /// The lower-case ISO country code of an address; `None` for text
    /// that is not an address, an address the database does not know, or
    /// a record without a country.
    pub fn country(&mut self, ip: &str) -> Option<String> {
        self.locate(ip)?.country.clone()
    }

    /// Where an address is; `None` for text that is not an address or an
    /// address the database does not know.
    pub fn locate(&mut self, ip: &str) -> Option<&Location> {
        use maxminddb::path;
        let ip: IpAddr = ip.trim().parse().ok()?;
        let found = self.reader.lookup(ip).ok()?;
        let offset = found.offset()?;
        if let std::collections::hash_map::Entry::Vacant(slot) = self.places.entry(offset) {
            let text = |p: &[maxminddb::PathElement<'_>]| {
                found
                    .decode_path::<String>(p)
                    .ok()
                    .flatten()
                    .filter(|s| !s.is_empty())
            };
            let number = |p: &[maxminddb::PathElement<'_>]| {
                found
                    .decode_path::<f64>(p)
                    .ok()
                    .flatten()
                    .filter(|x| x.is_finite())
            };
            let country = text(&path!["country", "iso_code"])
                .map(|c| c.to_ascii_lowercase())
                .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_lowercase()));
            let subdivisions = found
                .decode_path::<Vec<serde_json::Value>>(&path!["subdivisions"])
                .ok()
                .flatten()
                .unwrap_or_default();
            let subdivision = if country.as_deref() == Some("gb") {
                subdivisions.last()
            } else {
                subdivisions.first()
            };
            let field = |k: &str, name: bool| {
                let v = subdivision?.get(k)?;
                let v = if name { v.get("en")? } else { v };
                v.as_str().filter(|s| !s.is_empty()).map(str::to_owned)
            };
            // A code that repeats its country (`GB-ENG`) loses that part.
            let region = field("iso_code", false).map(|r| {
                let r = r.to_ascii_uppercase();
                match country.as_deref() {
                    Some(c) => r
                        .strip_prefix(&format!("{}-", c.to_ascii_uppercase()))
                        .map_or(r.clone(), str::to_owned),
                    None => r,
                }
            });
            let place = Location {
                region,
                region_name: field("names", true),
                city: text(&path!["city", "names", "en"]),
                latitude: number(&path!["location", "latitude"]).filter(|x| x.abs() <= 90.0),
                longitude: number(&path!["location", "longitude"]).filter(|x| x.abs() <= 180.0),
                country,
            };
            let known = place != Location::default();
            slot.insert(known.then_some(place));
        }
        self.places.get(&offset)?.as_ref()
    }
}
