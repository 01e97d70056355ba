//! The input contract shipped in the repository (docs/hits.md and
//! docs/hit.schema.json) agrees with itself and with the engine.

use std::collections::BTreeSet;
use std::path::Path;

use hitmap::{Event, Hit, HitType};
use serde_json::Value;

fn docs(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema_fields() -> BTreeSet<String> {
    let schema: Value = serde_json::from_str(&docs("hit.schema.json")).unwrap();
    schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn the_field_table_and_the_schema_name_the_same_fields() {
    let md = docs("hits.md");
    let table: BTreeSet<String> = md
        .lines()
        .skip_while(|l| !l.starts_with("## Hit record"))
        .take_while(|l| !l.starts_with("- "))
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next().map(str::to_owned))
        .collect();
    assert_eq!(table, schema_fields());
}

#[test]
fn every_field_the_engine_writes_is_in_the_schema() {
    let hit = Hit::new(1, 1_717_200_000, "v", HitType::Event)
        .with_url("https://x.org/")
        .with_title("t")
        .with_referrer("https://r.org/")
        .with_user("u")
        .with_device("desktop")
        .with_browser("Firefox")
        .with_os("Linux")
        .with_country("gb")
        .with_language("en-gb")
        .with_search("k")
        .with_event(Event {
            category: "c".into(),
            action: "a".into(),
            name: Some("n".into()),
            value: Some(1.5),
        })
        .with_dim("department", "HR");
    let v: Value = serde_json::from_str(&hit.to_ndjson()).unwrap();
    let written: BTreeSet<String> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(written, schema_fields());
    // And what it writes, it reads back.
    let mut e = hitmap::Engine::in_memory();
    e.add_site(hitmap::SiteConfig::new(1)).unwrap();
    assert_eq!(
        e.ingest_ndjson(hit.to_ndjson().as_bytes())
            .unwrap()
            .accepted,
        1
    );
}
