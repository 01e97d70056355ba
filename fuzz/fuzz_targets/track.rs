//! Any bytes as a tracking request: a query string (`matomo.php?...`) and
//! a bulk body. A request becomes a hit the engine takes, a ping, a bot
//! or a refusal with a reason, never a panic; the hit's referrer is
//! described from Matomo's lists without a panic either.
#![no_main]

use std::sync::Mutex;
use std::sync::OnceLock;

use hitmap::{Engine, SiteConfig};
use hitmap_intake::track::{Client, TrackOptions, Tracked, Tracker, bulk_requests};
use libfuzzer_sys::fuzz_target;

static STATE: OnceLock<Mutex<(Engine, Tracker)>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let state = STATE.get_or_init(|| {
        let mut engine = Engine::in_memory();
        engine.add_site(SiteConfig::new(1).host("x.org")).unwrap();
        let tracker = Tracker::new(&engine, TrackOptions { tokens: vec![hitmap_intake::track::TokenAccess::all("t")], ..TrackOptions::default() }).unwrap();
        Mutex::new((engine, tracker))
    });
    let mut guard = state.lock().unwrap();
    let (engine, tracker) = &mut *guard;
    let text = String::from_utf8_lossy(data);
    let client = Client {
        ip: "10.0.0.1",
        user_agent: Some(&text),
        accept_language: Some(&text),
        now: 1_717_243_200,
    };
    let site = SiteConfig::new(1).host("x.org");
    let mut check = |r: Result<Tracked, hitmap_intake::track::Refused>| {
        if let Ok(Tracked::Hit(h)) = r {
            let _ = hitmap::describe_referrer(h.url.as_deref(), h.referrer.as_deref(), &site);
            let out = engine.ingest([*h]).expect("an in-memory ingest does not fail");
            assert_eq!(out.accepted, 1, "the tracker made a hit the engine refuses: {:?}", out.rejected);
        }
    };
    check(tracker.track_query(&text, &client));
    check(tracker.track_query(&format!("idsite=1&rec=1&url=https%3A%2F%2Fx.org%2F&{text}"), &client));
    if let Ok((requests, token)) = bulk_requests(data) {
        for params in requests.iter().take(20) {
            check(tracker.track(params, &client, token.as_deref()));
        }
    }
    let _ = hitmap::describe_referrer(Some(&text), Some(&text), &site);
});
