//! Any text as a goal (JSON with Matomo's field names): a goal or an
//! error that names the field; a goal that is accepted answers Goals.get
//! and its segment over the sample hits, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(goal) = hitmap::Goal::from_json(&text) else {
        return;
    };
    let id = goal.id();
    let mut e = hitmap::fuzzing::sample_engine();
    if e.set_goal(1, goal).is_err() {
        return;
    }
    let _ = e.api(&format!(
        "method=Goals.get&idSite=1&period=year&date=2024-01-01&idGoal={id}"
    ));
    if let Ok(q) = hitmap::Query::site(1).segment(&format!("visitConvertedGoalId=={id}")) {
        let _ = e.query(&q).map(|s| s.visits_summary());
    }
});
