//! Countries from a MaxMind-format database: a small IPv4 database
//! written here by the format's specification (MaxMind DB 2.0), read by
//! the `maxminddb` crate through `Geo` and the log importer.

use std::io::BufRead;

use hitmap::{Engine, SiteConfig};
use hitmap_intake::enrich::Geo;
use hitmap_intake::logs::{LogOptions, import};

/// Record values of one search-tree node side.
#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(u32),
    Data(usize),
}

fn string(s: &str) -> Vec<u8> {
    assert!(s.len() < 29);
    let mut out = vec![0x40 | s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

fn uint(kind: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![(kind << 5) | bytes.len() as u8];
    out.extend_from_slice(bytes);
    out
}

/// An IPv4 database of `networks` (address, prefix length, country code),
/// 24-bit records; networks must not nest.
fn mmdb(networks: &[([u8; 4], u8, &str)]) -> Vec<u8> {
    let mut data = Vec::new();
    let mut offsets = std::collections::HashMap::new();
    let mut nodes: Vec<[Rec; 2]> = vec![[Rec::Empty; 2]];
    for &(addr, prefix, code) in networks {
        let off = *offsets.entry(code).or_insert_with(|| {
            let at = data.len();
            // {"country": {"iso_code": code}}
            data.push(0xE1);
            data.extend(string("country"));
            data.push(0xE1);
            data.extend(string("iso_code"));
            data.extend(string(code));
            at
        });
        let bits = u32::from_be_bytes(addr);
        let mut node = 0usize;
        for i in 0..prefix {
            let side = ((bits >> (31 - i)) & 1) as usize;
            if i + 1 == prefix {
                nodes[node][side] = Rec::Data(off);
            } else {
                node = match nodes[node][side] {
                    Rec::Node(n) => n as usize,
                    _ => {
                        nodes.push([Rec::Empty; 2]);
                        let n = nodes.len() - 1;
                        nodes[node][side] = Rec::Node(n as u32);
                        n
                    }
                };
            }
        }
    }
    let count = nodes.len();
    let mut out = Vec::new();
    for n in &nodes {
        for r in n {
            let v = match *r {
                Rec::Empty => count,
                Rec::Node(i) => i as usize,
                Rec::Data(off) => count + 16 + off,
            } as u32;
            out.extend_from_slice(&v.to_be_bytes()[1..]);
        }
    }
    out.extend_from_slice(&[0u8; 16]);
    out.extend_from_slice(&data);
    out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
    out.push(0xE0 | 9); // the metadata map, 9 pairs
    out.extend(string("node_count"));
    out.extend(uint(6, &(count as u32).to_be_bytes()));
    out.extend(string("record_size"));
    out.extend(uint(5, &24u16.to_be_bytes()));
    out.extend(string("ip_version"));
    out.extend(uint(5, &4u16.to_be_bytes()));
    out.extend(string("database_type"));
    out.extend(string("Test-Country"));
    out.extend(string("languages"));
    out.extend([0x01, 0x04]); // an array (extended type 11) of one
    out.extend(string("en"));
    out.extend(string("binary_format_major_version"));
    out.extend(uint(5, &2u16.to_be_bytes()));
    out.extend(string("binary_format_minor_version"));
    out.extend(uint(5, &0u16.to_be_bytes()));
    out.extend(string("build_epoch"));
    out.extend([0x08, 0x02]); // uint64 (extended type 9), 8 bytes
    out.extend_from_slice(&1_700_000_000u64.to_be_bytes());
    out.extend(string("description"));
    out.push(0xE1);
    out.extend(string("en"));
    out.extend(string("test"));
    out
}

pub(crate) fn database(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("test-country.mmdb");
    std::fs::write(
        &path,
        mmdb(&[([10, 0, 0, 0], 8, "DE"), ([20, 1, 0, 0], 16, "FR")]),
    )
    .unwrap();
    path
}

pub(crate) fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hitmap-geo-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn countries_from_a_maxmind_database() {
    let dir = tempdir("lookup");
    let mut geo = Geo::open(&database(&dir)).unwrap();
    assert_eq!(geo.country("10.200.3.4").as_deref(), Some("de"));
    assert_eq!(geo.country("10.1.1.1").as_deref(), Some("de"));
    assert_eq!(geo.country("20.1.255.1").as_deref(), Some("fr"));
    assert_eq!(geo.country("20.2.0.1"), None);
    assert_eq!(geo.country("192.168.1.1"), None);
    assert_eq!(geo.country("not an address"), None);
    assert_eq!(geo.country("2001:db8::1"), None);
    // Not a database: a clear error naming the file.
    let bad = dir.join("bad.mmdb");
    std::fs::write(&bad, b"hello").unwrap();
    let err = Geo::open(&bad).unwrap_err().to_string();
    assert!(err.contains("bad.mmdb") && err.contains("MaxMind"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn imported_logs_carry_countries() {
    let dir = tempdir("import");
    let db = database(&dir);
    let log = [
        r#"10.0.0.1 - - [10/Feb/2012:16:42:07 +0000] "GET /a HTTP/1.1" 200 1 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0""#,
        r#"10.9.9.9 - - [10/Feb/2012:16:43:07 +0000] "GET /b HTTP/1.1" 200 1 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0""#,
        r#"20.1.2.3 - - [10/Feb/2012:16:44:07 +0000] "GET /c HTTP/1.1" 200 1 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0""#,
        r#"30.1.2.3 - - [10/Feb/2012:16:45:07 +0000] "GET /d HTTP/1.1" 200 1 "-" "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0""#,
    ]
    .join("\n");
    let mut engine = Engine::in_memory();
    engine.add_site(SiteConfig::new(1)).unwrap();
    let mut o = LogOptions::default();
    o.set("geoip", db.to_str().unwrap()).unwrap();
    let input: Box<dyn BufRead + Send> = Box::new(std::io::Cursor::new(log.into_bytes()));
    let s = import(
        &mut engine,
        vec![("x".into(), input.into())],
        &o,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(s.pageviews, 4);
    let hits = engine.export_hits(1, "2012-02-10", "2012-02-10").unwrap();
    let countries: Vec<Option<&str>> = hits.iter().map(|h| h.country.as_deref()).collect();
    assert_eq!(countries, [Some("de"), Some("de"), Some("fr"), None]);
    let report = engine
        .api("method=UserCountry.getCountry&idSite=1&period=day&date=2012-02-10&format=json")
        .unwrap();
    let rows: serde_json::Value = serde_json::from_str(&report).unwrap();
    let visits = |label: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == label)
            .map(|r| r["nb_visits"].as_u64().unwrap())
    };
    assert_eq!(
        (visits("Germany"), visits("France"), visits("Unknown")),
        (Some(2), Some(1), Some(1)),
        "{report}"
    );
    // A database that is not one stops the import before it starts.
    let mut bad = LogOptions::default();
    bad.set("geoip", "/no/such.mmdb").unwrap();
    let err = import(&mut engine, vec![], &bad, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("/no/such.mmdb"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A city database (Matomo's test GeoIP2 City database, copied for the
/// conformance suite): region code and English name, city and
/// coordinates, as Matomo's GeoIP2 provider reads them; records without
/// a region or city give the country and coordinates alone.
#[test]
fn regions_cities_and_coordinates_from_a_city_database() {
    let db = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../conformance/matomo/data/GeoIP2-City.mmdb");
    let mut geo = Geo::open(&db).unwrap();
    let ashburn = geo.locate("72.44.32.10").cloned().unwrap();
    assert_eq!(
        ashburn,
        hitmap_intake::enrich::Location {
            country: Some("us".into()),
            region: Some("VA".into()),
            region_name: Some("Virginia".into()),
            city: Some("Ashburn".into()),
            latitude: Some(39.044),
            longitude: Some(-77.488),
        }
    );
    // A code that is not ISO's letters is kept as the database has it.
    let tabriz = geo.locate("95.81.66.139").unwrap();
    assert_eq!(
        (tabriz.region.as_deref(), tabriz.city.as_deref()),
        (Some("01"), Some("Tabriz"))
    );
    let japan = geo.locate("175.41.192.40").unwrap();
    assert_eq!(
        (
            japan.country.as_deref(),
            japan.region.as_deref(),
            japan.city.as_deref()
        ),
        (Some("jp"), None, None)
    );
    assert_eq!(geo.country("72.44.32.10").as_deref(), Some("us"));
    assert_eq!(geo.locate("203.38.78.246"), None);
    assert_eq!(geo.locate("2001:db8::1"), None);
    // The hit takes the region, city and coordinates.
    let mut hit = hitmap::Hit::pageview(1, 0, "v", "https://x.org/");
    ashburn.fill(&mut hit);
    assert_eq!(
        (
            hit.region.as_deref(),
            hit.region_name.as_deref(),
            hit.city.as_deref()
        ),
        (Some("VA"), Some("Virginia"), Some("Ashburn"))
    );
    assert_eq!((hit.latitude, hit.longitude), (Some(39.044), Some(-77.488)));
    assert!(hit.validate().is_ok());
}
