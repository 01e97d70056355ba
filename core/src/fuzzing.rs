//! Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`).
//! Not part of the API: they reach decoders that are private, with the
//! envelope's checksum made right so the fuzzer gets past it.

use std::sync::OnceLock;

use crate::engine::Engine;
use crate::hit::Hit;
use crate::site::SiteConfig;
use crate::store::codec::{self, Kind, seal};
use crate::store::format;

/// A small engine with a few visits, for decoders that need a site's
/// dictionaries and for the API target.
pub fn sample_engine() -> Engine {
    let mut e = Engine::in_memory();
    let _ = e.add_site(
        SiteConfig::new(1)
            .section("News", ["/news"])
            .dimension("department")
            .goal(crate::goal::Goal::new(
                1,
                "News",
                crate::goal::GoalMatch::Url,
                crate::goal::PatternType::Contains,
                "/news",
            )),
    );
    let _ = e.ingest([
        Hit::pageview(1, 1_717_200_000, "a", "https://x.org/news/a")
            .with_device("smartphone")
            .with_dim("department", "HR"),
        Hit::pageview(1, 1_717_200_030, "a", "https://x.org/about").with_title("About"),
        Hit::pageview(1, 1_717_300_000, "b", "https://x.org/news/b")
            .with_referrer("https://www.google.com/search?q=x"),
        // Recorded conversions: a day file's conversions section.
        Hit::new(1, 1_717_200_040, "a", crate::hit::HitType::Order).with_conversion(
            crate::hit::Conversion {
                order_id: Some("A-1".into()),
                revenue: Some(12.5),
                tax: Some(2.0),
                items: vec![
                    crate::hit::Item::new("MUG")
                        .category("K")
                        .price(6.25)
                        .quantity(2),
                ],
                ..crate::hit::Conversion::default()
            },
        ),
        Hit::new(1, 1_717_200_050, "c", crate::hit::HitType::Goal)
            .with_conversion(crate::hit::Conversion::goal(1)),
    ]);
    // Day archives, not live parts: the store seeds encode them.
    let _ = e.seal();
    e
}

fn sample_dicts() -> &'static crate::raw::SiteDicts {
    static DICTS: OnceLock<crate::raw::SiteDicts> = OnceLock::new();
    DICTS.get_or_init(|| {
        let e = sample_engine();
        e.sites.get(&1).map(|s| s.dicts.clone()).unwrap_or_default()
    })
}

/// A version 1 day file and its dictionaries (from the golden store).
const V1_DAY: &[u8] = include_bytes!("../tests/golden/store-v1/site-1/days/2025-01-01-3.day");
const V1_DICTS: &[u8] = include_bytes!("../tests/golden/store-v1/site-1/dicts-3.bin");

fn v1_dicts() -> &'static crate::raw::SiteDicts {
    static DICTS: OnceLock<crate::raw::SiteDicts> = OnceLock::new();
    DICTS.get_or_init(|| format::decode_dicts(V1_DICTS).unwrap_or_default())
}

/// A version 2 day file and its dictionaries (from the golden store).
const V2_DAY: &[u8] = include_bytes!("../tests/golden/store-v2/site-1/days/2025-01-01-3.day");
const V2_DICTS: &[u8] = include_bytes!("../tests/golden/store-v2/site-1/dicts-3.bin");

fn v2_dicts() -> &'static crate::raw::SiteDicts {
    static DICTS: OnceLock<crate::raw::SiteDicts> = OnceLock::new();
    DICTS.get_or_init(|| format::decode_dicts(V2_DICTS).unwrap_or_default())
}

/// Feeds `data` to one of the store's decoders: the first byte picks
/// which, the rest is the body, sealed (and for a day, compressed) so that
/// the envelope and the checksum pass and the decoder itself is tested.
pub fn store_decoders(data: &[u8]) {
    let _ = codec::open(Kind::Day, data);
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 11 {
        0 => {
            let _ = format::decode_config(&seal(Kind::Config, body));
        }
        1 => {
            let _ = format::decode_dicts(&seal(Kind::Dicts, &format::compress(body)));
        }
        // Format version 2, which this build still reads.
        2 => {
            let sealed = codec::seal_in(Kind::Day, 2, &format::compress(body));
            let _ = format::decode_day(&sealed, v2_dicts());
        }
        // Today's day files (without and with recorded conversions), read
        // whole and for a segmented summary.
        3 => {
            for version in [codec::DAY_VERSION, codec::CONVERSIONS_VERSION] {
                let sealed = codec::seal_in(Kind::Day, version, body);
                let _ = format::decode_day(&sealed, sample_dicts());
                let some = crate::archive::Columns::SUMMARY
                    .with(crate::archive::Columns::DIMS)
                    .with(crate::archive::Columns::URLS)
                    .with(crate::archive::Columns::CONVERSIONS);
                let _ = format::decode_day_columns(&sealed, sample_dicts(), some);
            }
        }
        4 => {
            let mut e = Engine::in_memory();
            let _ = e.import_day(&seal(Kind::Bundle, body));
        }
        5 => {
            let sealed = seal(Kind::History, &format::compress(body));
            let _ = format::decode_history(&sealed, 64);
        }
        // Format version 1, which this build still reads.
        6 => {
            let sealed = codec::seal_in(Kind::Day, 1, &format::compress(body));
            let _ = format::decode_day(&sealed, v1_dicts());
        }
        7 => {
            let _ = format::decode_dicts(&codec::seal_in(Kind::Dicts, 1, body));
        }
        9 => {
            let sealed = seal(Kind::Page, &format::compress(body));
            let month = chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap_or_default();
            // The month of `sample_engine`'s hits (the seeds' pages).
            let _ = format::decode_page(&sealed, month, 64);
        }
        10 => {
            let _ = format::decode_totals(&seal(Kind::Totals, &format::compress(body)), 64);
        }
        _ => {
            let sealed = seal(Kind::Rollup, body);
            for span in crate::rollup::SPANS {
                let _ = format::decode_rollup(&sealed, span, 1 << 16, 1 << 16);
            }
        }
    }
}

/// Well-formed inputs for [`store_decoders`] (selector byte, then body),
/// made from [`sample_engine`]: the seeds of the `store` fuzz target.
pub fn store_seeds() -> Vec<Vec<u8>> {
    let e = sample_engine();
    let Some(site) = e.sites.get(&1) else {
        return Vec::new();
    };
    let body = |sealed: &[u8], kind: Kind| {
        codec::open(kind, sealed)
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    };
    let unpacked = |packed: &[u8]| {
        packed
            .get(9..)
            .and_then(|z| zstd::bulk::decompress(z, 1 << 20).ok())
            .unwrap_or_default()
    };
    let mut seeds = vec![
        [
            &[0u8][..],
            &body(&format::encode_config(&site.config), Kind::Config),
        ]
        .concat(),
        [
            &[1u8][..],
            &unpacked(&body(&format::encode_dicts(&site.dicts), Kind::Dicts)),
        ]
        .concat(),
        [&[6u8][..], &unpacked(&body(V1_DAY, Kind::Day))].concat(),
        // A small version 1 dictionary file (the fuzzer's inputs stop at 4 KiB).
        [
            &[7u8][..],
            &body(
                include_bytes!("../tests/golden/store-v1/site-2/dicts-4.bin"),
                Kind::Dicts,
            ),
        ]
        .concat(),
    ];
    if let Some(day) = site.days.values().next() {
        let sealed = format::encode_day(day);
        let packed = body(&sealed, Kind::Day);
        seeds.push([&[3u8][..], &packed].concat());
        seeds.push([&[2u8][..], &unpacked(&body(V2_DAY, Kind::Day))].concat());
    }
    // A version 3 store's one table, which this build still reads.
    let history = body(
        include_bytes!("../tests/golden/store-v3/site-1/visitors-3.bin"),
        Kind::History,
    );
    seeds.push([&[5u8][..], &unpacked(&history)].concat());
    if let Ok((pages, Some(totals))) = site.history.read_all() {
        for (month, page) in pages {
            let sealed = format::encode_page(month, page);
            seeds.push([&[9u8][..], &unpacked(&body(&sealed, Kind::Page))].concat());
        }
        let sealed = format::encode_totals(totals);
        seeds.push([&[10u8][..], &unpacked(&body(&sealed, Kind::Totals))].concat());
    }
    if let Some((&day, a)) = site.days.iter().next() {
        let month = crate::rollup::month_of(day);
        let keys = site.visit_keys();
        for keys in [None, Some(&keys)] {
            let rollup = crate::rollup::Rollup::build(month, [(day, a)], keys);
            let sealed = format::encode_rollup(&rollup);
            seeds.push([&[8u8][..], &body(&sealed, Kind::Rollup)].concat());
        }
    }
    if let Some((&day, _)) = site.days.iter().next()
        && let Ok(bundle) = e.export_day(1, day)
    {
        seeds.push([&[4u8][..], &body(&bundle, Kind::Bundle)].concat());
    }
    seeds
}

/// Reads every line of `data` with the NDJSON reader as used (fast path
/// first) and with the serde reader alone, and panics where they differ:
/// the same hit, or the same reason.
pub fn ndjson_paths_agree(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.split('\n') {
        crate::ndjson::assert_paths_agree(line);
    }
}
