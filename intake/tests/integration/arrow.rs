//! DataFrames in: Arrow columns give the same hits, rejects and answers
//! as the same records through NDJSON.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, StructArray,
    TimestampMillisecondArray,
};
use arrow_schema::{DataType, Field, Fields};
use hitmap::sample::{self, SampleConfig};
use hitmap::{Engine, Hit, IngestOutcome, Query};
use hitmap_intake::Error;
use hitmap_intake::arrow::{ArrowOptions, ingest_batches};

fn strings(hits: &[Hit], f: impl Fn(&Hit) -> Option<&str>) -> ArrayRef {
    Arc::new(hits.iter().map(f).collect::<StringArray>())
}

/// The hits as one record batch; times as milliseconds in UTC when
/// `timestamps`, else Unix seconds.
fn batch(hits: &[Hit], timestamps: bool) -> RecordBatch {
    let ts: ArrayRef = if timestamps {
        Arc::new(
            TimestampMillisecondArray::from(
                hits.iter().map(|h| h.ts * 1000 + 999).collect::<Vec<_>>(),
            )
            .with_timezone("Europe/Paris"),
        )
    } else {
        Arc::new(Int64Array::from(
            hits.iter().map(|h| h.ts).collect::<Vec<_>>(),
        ))
    };
    let (mut cat, mut act, mut name) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let mut value = Float64Builder::new();
    for h in hits {
        let e = h.event.as_ref();
        cat.append_option(e.map(|e| &e.category));
        act.append_option(e.map(|e| &e.action));
        name.append_option(e.and_then(|e| e.name.as_ref()));
        value.append_option(e.and_then(|e| e.value));
    }
    let event = StructArray::new(
        Fields::from(vec![
            Field::new("category", DataType::Utf8, true),
            Field::new("action", DataType::Utf8, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("value", DataType::Float64, true),
        ]),
        vec![
            Arc::new(cat.finish()) as ArrayRef,
            Arc::new(act.finish()),
            Arc::new(name.finish()),
            Arc::new(value.finish()),
        ],
        None,
    );
    let dim = |n: &str| -> ArrayRef {
        strings(hits, |h| {
            h.dims.iter().find(|d| d.0 == n).map(|d| d.1.as_str())
        })
    };
    let dims = StructArray::new(
        Fields::from(
            ["department", "office", "role"]
                .map(|n| Field::new(n, DataType::Utf8, true))
                .to_vec(),
        ),
        vec![dim("department"), dim("office"), dim("role")],
        None,
    );
    RecordBatch::try_from_iter([
        (
            "site",
            Arc::new(Int64Array::from(
                hits.iter().map(|h| i64::from(h.site)).collect::<Vec<_>>(),
            )) as ArrayRef,
        ),
        ("ts", ts),
        ("visitor", strings(hits, |h| Some(h.visitor.as_str()))),
        ("type", strings(hits, |h| Some(h.kind.name()))),
        ("url", strings(hits, |h| h.url.as_deref())),
        ("title", strings(hits, |h| h.title.as_deref())),
        ("referrer", strings(hits, |h| h.referrer.as_deref())),
        ("user", strings(hits, |h| h.user.as_deref())),
        ("device", strings(hits, |h| h.device.as_deref())),
        ("browser", strings(hits, |h| h.browser.as_deref())),
        ("os", strings(hits, |h| h.os.as_deref())),
        ("country", strings(hits, |h| h.country.as_deref())),
        ("language", strings(hits, |h| h.language.as_deref())),
        ("search", strings(hits, |h| h.search.as_deref())),
        ("event", Arc::new(event)),
        ("dims", Arc::new(dims)),
        (
            "new_visit",
            Arc::new(
                hits.iter()
                    .map(|h| Some(h.new_visit))
                    .collect::<BooleanArray>(),
            ),
        ),
    ])
    .unwrap()
}

fn engine(cfg: &SampleConfig) -> Engine {
    let mut e = Engine::in_memory();
    e.add_site(sample::site_config(cfg)).unwrap();
    e
}

fn answers(e: &Engine) -> String {
    let q = e
        .query(&Query::site(1).range("2025-01-01", "2025-01-31"))
        .unwrap();
    format!(
        "{:?}\n{:?}",
        q.visits_summary(),
        e.export_hits(1, "2025-01-01", "2025-01-31").unwrap()
    )
}

fn rejects(o: &IngestOutcome) -> Vec<(u64, &str)> {
    o.rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect()
}

#[test]
fn arrow_columns_equal_ndjson_lines() {
    let cfg = SampleConfig {
        visitors: 150,
        days: 20,
        ..SampleConfig::default()
    };
    let mut hits: Vec<Hit> = sample::generate(&cfg).collect();
    // Rows the contract refuses, at known places.
    hits[5].site = 0;
    hits[9].visitor = String::new();
    hits[12].url = None;
    let ndjson: String = hits.iter().map(|h| h.to_ndjson() + "\n").collect();
    let mut by_lines = engine(&cfg);
    let want = by_lines.ingest_ndjson(ndjson.as_bytes()).unwrap();
    assert_eq!(
        rejects(&want).iter().map(|r| r.0).collect::<Vec<_>>(),
        [6, 10, 13]
    );

    // Two batches and small chunks: row numbers run across them.
    let (a, b) = hits.split_at(hits.len() / 3);
    let mut by_columns = engine(&cfg);
    let options = ArrowOptions {
        chunk_rows: 300,
        ..ArrowOptions::default()
    };
    let got = ingest_batches(
        &mut by_columns,
        [Ok(batch(a, false)), Ok(batch(b, false))],
        &options,
    )
    .unwrap();
    assert_eq!(got.accepted, want.accepted);
    assert_eq!(rejects(&got), rejects(&want));
    assert!(got.batches > 3);
    assert_eq!(answers(&by_columns), answers(&by_lines));

    // The same columns again are recognised chunk by chunk.
    let again = ingest_batches(
        &mut by_columns,
        [Ok(batch(a, false)), Ok(batch(b, false))],
        &options,
    )
    .unwrap();
    assert_eq!((again.accepted, again.skipped_batches), (0, got.batches));
    assert_eq!(again.skipped_lines, hits.len() as u64);

    // Timestamps with a zone (milliseconds, floored to the second).
    let mut by_times = engine(&cfg);
    let t = ingest_batches(
        &mut by_times,
        [Ok(batch(&hits, true))],
        &ArrowOptions::default(),
    )
    .unwrap();
    assert_eq!(rejects(&t), rejects(&want));
    assert_eq!(answers(&by_times), answers(&by_lines));
}

#[test]
fn columns_that_cannot_be_read_stop_the_call_and_keep_what_was_committed() {
    let cfg = SampleConfig::default();
    let hits: Vec<Hit> = sample::generate(&cfg).take(10).collect();
    let good = batch(&hits, false);
    let with = |name: &str, col: ArrayRef| {
        let mut cols: Vec<(String, ArrayRef)> = good
            .schema()
            .fields()
            .iter()
            .zip(good.columns())
            .map(|(f, c)| (f.name().clone(), c.clone()))
            .filter(|(n, _)| n != name)
            .collect();
        cols.push((name.to_owned(), col));
        RecordBatch::try_from_iter(cols).unwrap()
    };
    let naive: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![0i64; 10]));
    let cases = [
        (
            with("colour", strings(&hits, |_| Some("red"))),
            "column `colour` is not a field",
        ),
        (with("ts", naive), "without a time zone"),
        (
            with("visitor", Arc::new(Int64Array::from(vec![1i64; 10]))),
            "column `visitor`: expected strings",
        ),
    ];
    for (bad, says) in cases {
        let mut e = engine(&cfg);
        // A good batch first: committed; the bad one stops the call.
        let r = ingest_batches(
            &mut e,
            [Ok(good.clone()), Ok(bad)],
            &ArrowOptions {
                chunk_rows: 5,
                ..ArrowOptions::default()
            },
        );
        match r {
            Err(Error::Format(m)) => assert!(m.contains(says), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            e.export_hits(1, "2025-01-01", "2025-12-31").unwrap().len(),
            10
        );
    }
    // A stream's batches share its schema: a bad first batch ingests nothing.
    let mut e = engine(&cfg);
    let bad = with("colour", strings(&hits, |_| Some("red")));
    assert!(
        ingest_batches(
            &mut e,
            [Ok(bad), Ok(good.clone())],
            &ArrowOptions::default()
        )
        .is_err()
    );
    assert!(
        e.export_hits(1, "2025-01-01", "2025-12-31")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn dimensions_as_a_map_equal_dimensions_as_a_struct() {
    use arrow_array::builder::MapBuilder;
    let cfg = SampleConfig {
        visitors: 40,
        days: 3,
        ..SampleConfig::default()
    };
    let hits: Vec<Hit> = sample::generate(&cfg).collect();
    let as_struct = batch(&hits, false);
    let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for h in &hits {
        for (k, v) in &h.dims {
            map.keys().append_value(k);
            map.values().append_value(v);
        }
        map.append(true).unwrap();
    }
    let mut cols: Vec<(String, ArrayRef)> = as_struct
        .schema()
        .fields()
        .iter()
        .zip(as_struct.columns())
        .filter(|(f, _)| f.name() != "dims")
        .map(|(f, c)| (f.name().clone(), c.clone()))
        .collect();
    cols.push(("dims".into(), Arc::new(map.finish())));
    let as_map = RecordBatch::try_from_iter(cols).unwrap();
    let (mut a, mut b) = (engine(&cfg), engine(&cfg));
    ingest_batches(&mut a, [Ok(as_struct)], &ArrowOptions::default()).unwrap();
    ingest_batches(&mut b, [Ok(as_map)], &ArrowOptions::default()).unwrap();
    let hits_a = a.export_hits(1, "2025-01-01", "2025-01-03").unwrap();
    assert!(hits_a.iter().any(|h| !h.dims.is_empty()));
    assert_eq!(
        hits_a,
        b.export_hits(1, "2025-01-01", "2025-01-03").unwrap()
    );
}
