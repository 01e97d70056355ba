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
        (
            "search_category",
            strings(hits, |h| h.search_category.as_deref()),
        ),
        (
            "search_count",
            Arc::new(
                hits.iter()
                    .map(|h| h.search_count.map(i64::from))
                    .collect::<Int64Array>(),
            ),
        ),
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

    // Text as string views (polars' export) and as large strings: read
    // as they come, with the same rejects and answers.
    for to in [DataType::Utf8View, DataType::LargeUtf8] {
        let whole = batch(&hits, false);
        let columns: Vec<(String, ArrayRef)> = whole
            .schema()
            .fields()
            .iter()
            .zip(whole.columns())
            .map(|(f, c)| {
                let c = match c.data_type() {
                    DataType::Utf8 => arrow_cast::cast(c, &to).unwrap(),
                    _ => c.clone(),
                };
                (f.name().clone(), c)
            })
            .collect();
        let recast = RecordBatch::try_from_iter(columns).unwrap();
        assert!(
            recast
                .schema()
                .fields()
                .iter()
                .any(|f| *f.data_type() == to)
        );
        let mut e = engine(&cfg);
        let got = ingest_batches(&mut e, [Ok(recast)], &ArrowOptions::default()).unwrap();
        assert_eq!(rejects(&got), rejects(&want), "{to}");
        assert_eq!(answers(&e), answers(&by_lines), "{to}");
    }

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
        // An integer field as floats: whole numbers only.
        (
            with(
                "search_count",
                Arc::new(arrow_array::Float64Array::from(vec![1.5; 10])),
            ),
            "column `search_count`: expected integers, got 1.5",
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
    // pandas keeps an integer column with missing values as floats (NaN
    // or null for missing): whole floats read as the integers.
    let floats: Vec<Option<f64>> = hits.iter().map(|h| h.search_count.map(f64::from)).collect();
    let as_floats = with(
        "search_count",
        Arc::new(arrow_array::Float64Array::from(
            floats
                .iter()
                .map(|x| Some(x.unwrap_or(f64::NAN)))
                .collect::<Vec<_>>(),
        )),
    );
    let mut by_floats = engine(&cfg);
    ingest_batches(&mut by_floats, [Ok(as_floats)], &ArrowOptions::default()).unwrap();
    let mut by_ints = engine(&cfg);
    ingest_batches(&mut by_ints, [Ok(good.clone())], &ArrowOptions::default()).unwrap();
    assert_eq!(answers(&by_floats), answers(&by_ints));
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
    // Columns of nulls with no type (every row lacks the field) are missing fields.
    for name in ["campaign", "local_hour", "visit"] {
        cols.push((
            name.into(),
            Arc::new(arrow_array::NullArray::new(hits.len())),
        ));
    }
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

/// Optional values of any shape in the required columns: the Arrow path
/// accepts and rejects exactly what NDJSON lines of the same values do,
/// with the same reasons, and never panics.
mod differential {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Row {
        site: Option<i64>,
        ts: Option<i64>,
        visitor: Option<String>,
        kind: Option<String>,
        url: Option<String>,
    }

    fn row() -> impl Strategy<Value = Row> {
        (
            prop::option::of(prop_oneof![
                1..4i64,
                any::<i64>(),
                Just(0i64),
                Just(1i64 << 31)
            ]),
            prop::option::of(prop_oneof![1_717_000_000..1_718_000_000i64, any::<i64>()]),
            prop::option::of(prop_oneof!["[a-c]{1,3}", Just(String::new()), "[a-z]{129}"]),
            prop::option::of(prop_oneof![
                Just("pageview".to_owned()),
                Just("download".to_owned()),
                Just("click".to_owned()),
                Just(String::new())
            ]),
            prop::option::of(prop_oneof![
                "https://x\\.org/[a-c]{0,2}",
                Just(String::new())
            ]),
        )
            .prop_map(|(site, ts, visitor, kind, url)| Row {
                site,
                ts,
                visitor,
                kind,
                url,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn arrow_rows_are_judged_like_ndjson_lines(
            rows in prop::collection::vec(row(), 1..40),
            ts_text in any::<bool>(),
        ) {
            // `ts` as RFC 3339 text: a valid time for small values, else
            // text that is not one.
            let as_text = |t: i64| match chrono::DateTime::from_timestamp(t % 4_000_000_000, 0) {
                Some(d) if t % 3 != 0 => d.to_rfc3339(),
                _ => format!("soon-{t}"),
            };
            let mut lines = String::new();
            for r in &rows {
                let mut o = serde_json::Map::new();
                if let Some(v) = r.site { o.insert("site".into(), v.into()); }
                if let Some(v) = r.ts {
                    let v: serde_json::Value = if ts_text { as_text(v).into() } else { v.into() };
                    o.insert("ts".into(), v);
                }
                if let Some(v) = &r.visitor { o.insert("visitor".into(), v.clone().into()); }
                if let Some(v) = &r.kind { o.insert("type".into(), v.clone().into()); }
                if let Some(v) = &r.url { o.insert("url".into(), v.clone().into()); }
                lines.push_str(&serde_json::Value::Object(o).to_string());
                lines.push('\n');
            }
            let ts: ArrayRef = if ts_text {
                Arc::new(rows.iter().map(|r| r.ts.map(as_text)).collect::<StringArray>())
            } else {
                Arc::new(rows.iter().map(|r| r.ts).collect::<Int64Array>())
            };
            let batch = RecordBatch::try_from_iter([
                ("site", Arc::new(rows.iter().map(|r| r.site).collect::<Int64Array>()) as ArrayRef),
                ("ts", ts),
                ("visitor", Arc::new(rows.iter().map(|r| r.visitor.clone()).collect::<StringArray>())),
                ("type", Arc::new(rows.iter().map(|r| r.kind.clone()).collect::<StringArray>())),
                ("url", Arc::new(rows.iter().map(|r| r.url.clone()).collect::<StringArray>())),
            ])
            .unwrap();
            let fresh = || {
                let mut e = Engine::in_memory();
                e.add_site(hitmap::SiteConfig::new(1)).unwrap();
                e.add_site(hitmap::SiteConfig::new(2)).unwrap();
                e
            };
            let (mut by_lines, mut by_columns) = (fresh(), fresh());
            let want = by_lines.ingest_ndjson(lines.as_bytes()).unwrap();
            let got = ingest_batches(&mut by_columns, [Ok(batch)], &ArrowOptions::default()).unwrap();
            prop_assert_eq!(got.accepted, want.accepted);
            prop_assert_eq!(rejects(&got), rejects(&want));
            for site in [1, 2] {
                prop_assert_eq!(
                    by_columns.export_hits(site, "1970-01-01", "9999-12-31").unwrap(),
                    by_lines.export_hits(site, "1970-01-01", "9999-12-31").unwrap()
                );
            }
        }
    }
}

/// Rows are read into hits on the engine's threads: the hits, rejects,
/// answers and chunk identities are the same on any number of them.
#[test]
fn rows_read_on_any_number_of_threads_give_the_same_chunks() {
    let cfg = SampleConfig {
        visitors: 600,
        days: 30,
        ..SampleConfig::default()
    };
    let mut hits: Vec<Hit> = sample::generate(&cfg).collect();
    assert!(hits.len() > 15_000, "{}", hits.len());
    // Rows refused here (a bad site) and by the engine (no visitor),
    // on either side of where the threads split a chunk.
    for i in [3, 4_100, 4_200, 8_191, 8_192, 12_000, hits.len() - 1] {
        hits[i].site = 0;
    }
    for i in [10, 6_000, 13_500] {
        hits[i].visitor = String::new();
    }
    let rows = batch(&hits, false);
    let options = ArrowOptions {
        chunk_rows: 13_000,
        ..ArrowOptions::default()
    };
    let mut one = engine(&cfg);
    one.set_query_threads(1);
    let want = ingest_batches(&mut one, [Ok(rows.clone())], &options).unwrap();
    assert_eq!(want.rejected.len(), 10);
    for threads in [2, 3] {
        let mut e = engine(&cfg);
        e.set_query_threads(threads);
        let got = ingest_batches(&mut e, [Ok(rows.clone())], &options).unwrap();
        assert_eq!(got.accepted, want.accepted, "{threads} threads");
        assert_eq!(rejects(&got), rejects(&want), "{threads} threads");
        assert_eq!(answers(&e), answers(&one), "{threads} threads");
        // One thread recognises every chunk the others wrote.
        e.set_query_threads(1);
        let again = ingest_batches(&mut e, [Ok(rows.clone())], &options).unwrap();
        assert_eq!((again.accepted, again.skipped_batches), (0, got.batches));
    }
}

/// Conversions as columns (`goal`, `revenue`, an `order` struct, `items`
/// as a list of structs or as JSON text) equal the same hits through
/// NDJSON.
#[test]
fn conversion_columns_equal_ndjson_lines() {
    use arrow_array::builder::{Int64Builder, ListBuilder, StructBuilder};
    let t = 1_717_200_000i64;
    let lines = [
        format!(r#"{{"site":1,"ts":{t},"visitor":"a","url":"https://x.org/shop"}}"#),
        format!(
            r#"{{"site":1,"ts":{},"visitor":"a","type":"goal","goal":2,"revenue":3.5}}"#,
            t + 5
        ),
        format!(
            r#"{{"site":1,"ts":{},"visitor":"a","type":"order","revenue":21,"order":{{"id":"A-1","tax":2}},"items":[{{"sku":"MUG","name":"Mug","category":["K","G"],"price":9.5,"quantity":2}},{{"sku":"PEN"}}]}}"#,
            t + 9
        ),
        format!(
            r#"{{"site":1,"ts":{},"visitor":"a","type":"cart","revenue":4,"items":[{{"sku":"INK","quantity":4}}]}}"#,
            t + 20
        ),
    ];
    let site = || {
        hitmap::SiteConfig::new(1)
            .ecommerce(true)
            .goal(hitmap::Goal::manual(2, "Called"))
    };
    let mut want = Engine::in_memory();
    want.add_site(site()).unwrap();
    let out = want.ingest_ndjson(lines.join("\n").as_bytes()).unwrap();
    assert_eq!(out.accepted, 4, "{:?}", out.rejected);
    let day = |e: &Engine| e.export_hits(1, "2024-06-01", "2024-06-01").unwrap();
    // Items as a list of structs.
    let item_fields = Fields::from(vec![
        Field::new("sku", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new(
            "category",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        Field::new("price", DataType::Float64, true),
        Field::new("quantity", DataType::Int64, true),
    ]);
    let mut items = ListBuilder::new(StructBuilder::from_fields(item_fields.clone(), 4));
    type Row<'a> = (
        &'a str,
        Option<&'a str>,
        &'a [&'a str],
        Option<f64>,
        Option<i64>,
    );
    let rows: [Option<Vec<Row>>; 4] = [
        None,
        None,
        Some(vec![
            ("MUG", Some("Mug"), &["K", "G"], Some(9.5), Some(2)),
            ("PEN", None, &[], None, None),
        ]),
        Some(vec![("INK", None, &[], None, Some(4))]),
    ];
    for row in &rows {
        match row {
            None => items.append(false),
            Some(list) => {
                for (sku, name, cats, price, quantity) in list {
                    let s = items.values();
                    s.field_builder::<StringBuilder>(0)
                        .unwrap()
                        .append_value(sku);
                    s.field_builder::<StringBuilder>(1)
                        .unwrap()
                        .append_option(*name);
                    let c = s
                        .field_builder::<ListBuilder<Box<dyn arrow_array::builder::ArrayBuilder>>>(
                            2,
                        );
                    match c {
                        Some(c) => {
                            for cat in *cats {
                                c.values()
                                    .as_any_mut()
                                    .downcast_mut::<StringBuilder>()
                                    .unwrap()
                                    .append_value(cat);
                            }
                            c.append(true);
                        }
                        None => panic!("category builder"),
                    }
                    s.field_builder::<Float64Builder>(3)
                        .unwrap()
                        .append_option(*price);
                    s.field_builder::<Int64Builder>(4)
                        .unwrap()
                        .append_option(*quantity);
                    s.append(true);
                }
                items.append(true);
            }
        }
    }
    let items_list: ArrayRef = Arc::new(items.finish());
    let items_json: ArrayRef = Arc::new(StringArray::from(vec![
        None,
        None,
        Some(
            r#"[{"sku":"MUG","name":"Mug","category":["K","G"],"price":9.5,"quantity":2},{"sku":"PEN"}]"#,
        ),
        Some(r#"[{"sku":"INK","quantity":4}]"#),
    ]));
    let order = StructArray::from(vec![
        (
            Arc::new(Field::new("id", DataType::Utf8, true)),
            Arc::new(StringArray::from(vec![None, None, Some("A-1"), None])) as ArrayRef,
        ),
        (
            Arc::new(Field::new("tax", DataType::Float64, true)),
            Arc::new(arrow_array::Float64Array::from(vec![
                None,
                None,
                Some(2.0),
                None,
            ])) as ArrayRef,
        ),
    ]);
    let order = StructArray::try_new(
        order.fields().clone(),
        order.columns().to_vec(),
        Some(vec![false, false, true, false].into()),
    )
    .unwrap();
    for items in [items_list, items_json] {
        let batch = RecordBatch::try_from_iter(vec![
            ("site", Arc::new(Int64Array::from(vec![1; 4])) as ArrayRef),
            (
                "ts",
                Arc::new(Int64Array::from(vec![t, t + 5, t + 9, t + 20])),
            ),
            ("visitor", Arc::new(StringArray::from(vec!["a"; 4]))),
            (
                "type",
                Arc::new(StringArray::from(vec![
                    None,
                    Some("goal"),
                    Some("order"),
                    Some("cart"),
                ])),
            ),
            (
                "url",
                Arc::new(StringArray::from(vec![
                    Some("https://x.org/shop"),
                    None,
                    None,
                    None,
                ])),
            ),
            (
                "goal",
                Arc::new(Int64Array::from(vec![None, Some(2), None, None])),
            ),
            (
                "revenue",
                Arc::new(arrow_array::Float64Array::from(vec![
                    None,
                    Some(3.5),
                    Some(21.0),
                    Some(4.0),
                ])),
            ),
            ("order", Arc::new(order.clone())),
            ("items", items),
        ])
        .unwrap();
        let mut got = Engine::in_memory();
        got.add_site(site()).unwrap();
        let out = ingest_batches(&mut got, [Ok(batch)], &ArrowOptions::default()).unwrap();
        assert_eq!(out.accepted, 4, "{:?}", out.rejected);
        assert_eq!(day(&got), day(&want));
        let q = "method=Goals.get&idSite=1&period=day&date=2024-06-01&format=json";
        assert_eq!(got.api(q).unwrap(), want.api(q).unwrap());
    }
}

/// A Parquet file's record batches and its row groups.
fn read_parquet(bytes: Vec<u8>) -> (Vec<RecordBatch>, usize) {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        bytes::Bytes::from(bytes),
    )
    .unwrap();
    let groups = reader.metadata().num_row_groups();
    let batches = reader
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (batches, groups)
}

#[test]
fn a_parquet_export_read_back_as_a_dataframe_gives_the_same_store() {
    use hitmap::{Campaign, Conversion, ExportKind, HitType, Item};
    let cfg = SampleConfig {
        visitors: 120,
        days: 9,
        ..SampleConfig::default()
    };
    let site = || {
        sample::site_config(&cfg)
            .dimension("plan")
            .dimension("team")
            .ecommerce(true)
            .goal(hitmap::Goal::manual(2, "Called"))
    };
    let mut hits: Vec<Hit> = sample::generate(&cfg).collect();
    // Every field of the contract, on a few visits.
    let t = hits[40].ts;
    let mut full = Hit::pageview(1, t + 7, "full", "https://intranet.example/shop?x=1")
        .with_title("Shop")
        .with_referrer("https://www.google.com/search?q=mugs");
    full.visit = Some("v-17".into());
    full.campaign = Some(Campaign {
        name: Some("spring".into()),
        source: Some("mail".into()),
        medium: None,
        keyword: Some("mugs".into()),
        content: None,
        id: Some("c1".into()),
    });
    full.browser_version = Some("120.0".into());
    full.os_version = Some("14.2".into());
    full.resolution = Some("1920x1080".into());
    full.local_hour = Some(9);
    full.new_visit = true;
    full.referrer_name = Some("Google".into());
    full.dims = vec![("team".into(), "blue".into())];
    full.perf = hitmap::Perf {
        times: [Some(26), Some(58), None, Some(255), Some(0), Some(90)],
        bandwidth: Some(5_609),
    };
    let mut goal = Hit::new(1, t + 9, "full", HitType::Goal).with_conversion(Conversion {
        goal: Some(2),
        revenue: Some(3.5),
        ..Conversion::default()
    });
    goal.visit = Some("v-17".into());
    let order = Hit::new(1, t + 20, "full", HitType::Order).with_conversion(Conversion {
        order_id: Some("A-1".into()),
        revenue: Some(21.0),
        tax: Some(2.0),
        discount: Some(0.5),
        items: vec![
            Item::new("MUG")
                .name("Mug")
                .category("K")
                .category("G")
                .price(9.5)
                .quantity(2),
            Item::new("PEN"),
        ],
        ..Conversion::default()
    });
    let cart = Hit::new(1, t + 900, "cart-only", HitType::Cart).with_conversion(Conversion {
        revenue: Some(4.0),
        items: vec![Item::new("INK").quantity(4)],
        ..Conversion::default()
    });
    let mut event = Hit::pageview(1, t + 30, "full", "https://intranet.example/video");
    event.kind = HitType::Event;
    event.event = Some(hitmap::Event {
        category: "Video".into(),
        action: "play".into(),
        name: Some("intro".into()),
        value: Some(1.25),
    });
    event.dims = vec![("plan".into(), "gold".into())];
    let browse = Hit::pageview(1, t + 890, "cart-only", "https://intranet.example/shop");
    let shown = Hit::new(1, t + 40, "full", HitType::Content)
        .with_url("https://intranet.example/video")
        .with_conversion(Conversion::content(
            hitmap::Content::new("Banner")
                .piece("/img/a.png")
                .target("https://x.org/t"),
        ));
    let clicked = Hit::new(1, t + 45, "full", HitType::Content)
        .with_url("https://intranet.example/video")
        .with_conversion(Conversion::content(
            hitmap::Content::new("Banner").interaction("click"),
        ));
    hits.extend([full, goal, order, browse, cart, event, shown, clicked]);

    let mut first = Engine::in_memory();
    first.add_site(site()).unwrap();
    let out = first.ingest(hits).unwrap();
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let (from, to) = ("2025-01-01", "2025-01-09");
    let days = first.site_days(1).unwrap().len();

    let mut file = Vec::new();
    let done = first
        .export_parquet(1, from, to, ExportKind::Hits, &mut file)
        .unwrap();
    let (batches, groups) = read_parquet(file);
    assert_eq!(groups, days, "a row group per day");
    assert_eq!(done.row_groups as usize, days);
    assert_eq!(
        batches.iter().map(|b| b.num_rows()).sum::<usize>() as u64,
        done.rows
    );
    let schema = batches[0].schema();
    assert_eq!(
        schema.field_with_name("ts").unwrap().data_type(),
        &DataType::Timestamp(arrow_schema::TimeUnit::Second, Some("UTC".into()))
    );
    assert!(matches!(
        schema.field_with_name("items").unwrap().data_type(),
        DataType::List(_)
    ));

    // Read back through the intake (what `Engine.ingest(df)` does).
    let mut second = Engine::in_memory();
    second.add_site(site()).unwrap();
    let back = ingest_batches(
        &mut second,
        batches.into_iter().map(Ok),
        &ArrowOptions::default(),
    )
    .unwrap();
    assert!(back.rejected.is_empty(), "{:?}", back.rejected);
    assert_eq!(back.accepted, done.rows);
    assert_eq!(
        first.export_hits(1, from, to).unwrap(),
        second.export_hits(1, from, to).unwrap()
    );
    for method in [
        "VisitsSummary.get",
        "Goals.get",
        "Goals.getItemsSku",
        "Goals.getItemsSku&abandonedCarts=1",
        "Referrers.getCampaigns",
        "DevicesDetection.getBrowserVersions",
        "Resolution.getResolution",
        "Events.getCategory",
        "CustomDimensions.getCustomDimension&idDimension=2",
        "Actions.getPageUrls&flat=1",
        "PagePerformance.get",
        "Bandwidth.get",
        "Contents.getContentNames&expanded=1",
    ] {
        let q = format!("method={method}&idSite=1&period=range&date={from},{to}&format=json");
        let a = first.api(&q).unwrap();
        assert_eq!(a, second.api(&q).unwrap(), "{method}");
        assert!(a.len() > 20, "{method}: {a}");
    }

    // Visits: a row per visit, typed, the records export_visits gives.
    let mut file = Vec::new();
    let done = first
        .export_parquet(1, from, to, ExportKind::Visits, &mut file)
        .unwrap();
    let (batches, groups) = read_parquet(file);
    assert_eq!(groups, days);
    let want = first.export_visits(1, from, to).unwrap();
    assert_eq!(done.rows as usize, want.len());
    let visitors: Vec<&str> = batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("visitor").unwrap().as_any();
            let s = c.downcast_ref::<StringArray>().unwrap();
            (0..arrow_array::Array::len(s)).map(move |i| s.value(i))
        })
        .collect();
    assert_eq!(
        visitors,
        want.iter().map(|v| v.visitor.as_str()).collect::<Vec<_>>()
    );
    let lengths: Vec<u32> = batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("length").unwrap().as_any();
            let s = c.downcast_ref::<arrow_array::UInt32Array>().unwrap();
            s.values().to_vec()
        })
        .collect();
    assert_eq!(lengths, want.iter().map(|v| v.length).collect::<Vec<_>>());
    assert_eq!(
        batches[0]
            .schema()
            .field_with_name("date")
            .unwrap()
            .data_type(),
        &DataType::Date32
    );
}
