//! The Matomo row mapping never panics, whatever a database returns, and
//! maps what it understands.

use std::collections::BTreeSet;

use hitmap_intake::matomo::{ActionName, Columns, Names, RowOutcome, Value};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int),
        (-5i64..20).prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        ".{0,12}".prop_map(Value::Text),
        "[0-9]{1,3}".prop_map(Value::Text),
    ]
}

fn columns() -> Columns {
    let visit: BTreeSet<String> = ["campaign_name", "campaign_source", "custom_dimension_1"]
        .into_iter()
        .map(String::from)
        .collect();
    let action: BTreeSet<String> = [
        "custom_dimension_2",
        "idaction_content_name",
        "idaction_content_piece",
        "idaction_content_target",
        "idaction_content_interaction",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    Columns::new(
        "matomo_",
        &visit,
        &action,
        &[
            ("visit".into(), 1, "department".into()),
            ("action".into(), 2, "variant".into()),
        ],
    )
}

proptest! {
    #[test]
    fn any_row_maps_or_is_skipped(
        action in prop::collection::vec(value(), 0..16),
        visit in prop::option::of(prop::collection::vec(value(), 0..18)),
        names in prop::collection::vec((0u64..20, ".{0,8}", prop::option::of(-2i64..16), prop::option::of(-1i64..5)), 0..10),
        keep in any::<bool>(),
        first in any::<bool>(),
    ) {
        let names: Names = names
            .into_iter()
            .map(|(id, name, kind, prefix)| (id, ActionName { name, kind, prefix }))
            .collect();
        let c = columns();
        match c.hit(&action, visit.as_deref(), &names, 1, keep, first) {
            RowOutcome::Hit(h) => {
                prop_assert_eq!(Some(h.ts), action.get(1).and_then(Value::int));
                prop_assert_eq!(h.visit.is_some(), keep && visit.as_ref().and_then(|v| v.first()).and_then(Value::int).is_some());
                // Whatever it holds, the engine takes it or rejects it
                // with a reason.
                let mut e = hitmap::Engine::in_memory();
                e.add_site(hitmap::SiteConfig::new(1)).unwrap();
                let out = e.ingest([*h]).unwrap();
                prop_assert_eq!(out.accepted + out.rejected.len() as u64, 1);
            }
            RowOutcome::Skip(reason) => prop_assert!(!reason.is_empty()),
        }
        let _ = Columns::id(&action);
        let _ = c.action_ids(&action).count();
    }
}

#[test]
fn a_page_view_row_becomes_a_page_view_hit() {
    let names: Names = [
        (
            7,
            ActionName {
                name: "x.org/news".into(),
                kind: Some(1),
                prefix: Some(3),
            },
        ),
        (
            8,
            ActionName {
                name: "News".into(),
                kind: Some(4),
                prefix: None,
            },
        ),
    ]
    .into_iter()
    .collect();
    let action = vec![
        Value::Int(1),
        Value::Int(1_717_200_000),
        Value::Int(42),
        Value::Int(7),
        Value::Int(8),
        Value::Null,
        Value::Null,
        Value::Null,
        Value::Text("b".into()),
    ];
    let visit = vec![
        Value::Int(42),
        Value::Text("00000000000000aa".into()),
        Value::Text("alice".into()),
        Value::Int(2),
        Value::Text("Google".into()),
        Value::Text("hitmap".into()),
        Value::Text("https://www.google.com/".into()),
        Value::Int(1),
        Value::Text("FF".into()),
        Value::Text("AND".into()),
        Value::Text("DE".into()),
        Value::Text("de-de,de;q=0.9".into()),
        Value::Text("spring".into()),
        Value::Text("mail".into()),
        Value::Text("HR".into()),
    ];
    let RowOutcome::Hit(h) = columns().hit(&action, Some(&visit), &names, 1, true, true) else {
        panic!("not a hit");
    };
    assert_eq!(h.url.as_deref(), Some("https://www.x.org/news"));
    assert_eq!(h.title.as_deref(), Some("News"));
    assert_eq!(h.visitor, "00000000000000aa");
    assert_eq!(h.visit.as_deref(), Some("42"));
    assert_eq!(h.user.as_deref(), Some("alice"));
    assert_eq!(h.referrer_type.as_deref(), Some("search"));
    assert_eq!(
        (h.referrer_name.as_deref(), h.referrer_keyword.as_deref()),
        (Some("Google"), Some("hitmap"))
    );
    assert_eq!(
        (h.device.as_deref(), h.browser.as_deref(), h.os.as_deref()),
        (Some("smartphone"), Some("Firefox"), Some("Android"))
    );
    assert_eq!(
        (h.country.as_deref(), h.language.as_deref()),
        (Some("de"), Some("de-de"))
    );
    let c = h.campaign.unwrap();
    assert_eq!(
        (c.name.as_deref(), c.source.as_deref()),
        (Some("spring"), Some("mail"))
    );
    assert_eq!(
        h.dims,
        vec![
            ("department".to_string(), "HR".to_string()),
            ("variant".to_string(), "b".to_string())
        ]
    );
    // A later row of the same visit carries only the action's own parts.
    let RowOutcome::Hit(later) = columns().hit(&action, Some(&visit), &names, 1, true, false)
    else {
        panic!("not a hit");
    };
    assert_eq!(
        (later.user, later.device, later.visit.as_deref()),
        (None, None, Some("42"))
    );
    assert_eq!(later.dims, vec![("variant".to_string(), "b".to_string())]);
}

/// PagePerformance's and Bandwidth's columns of `log_link_visit_action`,
/// when the database has them, are read after the action dimensions:
/// timings on page views only, as Matomo records them.
#[test]
fn load_timings_and_bandwidth_come_from_their_columns_when_they_exist() {
    let action_columns: BTreeSet<String> = ["custom_dimension_2", "time_server", "bandwidth"]
        .into_iter()
        .map(String::from)
        .collect();
    let c = Columns::new(
        "matomo_",
        &BTreeSet::new(),
        &action_columns,
        &[("action".into(), 2, "variant".into())],
    );
    let sql = c.actions_sql(1, 0, "", 10);
    assert!(
        sql.contains("custom_dimension_2, time_server, bandwidth FROM"),
        "{sql}"
    );
    let names: Names = [(
        7,
        ActionName {
            name: "x.org/a".into(),
            kind: Some(1),
            prefix: Some(0),
        },
    )]
    .into_iter()
    .collect();
    let visit = vec![Value::Int(42), Value::Text("00000000000000aa".into())];
    let row = |url: i64| {
        vec![
            Value::Int(1),
            Value::Int(1_717_200_000),
            Value::Int(42),
            Value::Int(url),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Int(198),
            Value::Int(5609),
        ]
    };
    let RowOutcome::Hit(h) = c.hit(&row(7), Some(&visit), &names, 1, false, false) else {
        panic!("not a hit");
    };
    assert_eq!(h.perf.times[hitmap::Perf::SERVER], Some(198));
    assert_eq!(h.perf.bandwidth, Some(5609));
}
