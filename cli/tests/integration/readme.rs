//! README's command-line and HTTP snippets, run as written, so they cannot
//! rot: every `hitmap` line of the shell block (in a fresh folder, the
//! server started on a free port instead of 8080), then every `curl` URL.

use std::process::Command;

use crate::TempDir;

fn block_after(readme: &str, heading: &str, nth: usize) -> Vec<String> {
    let section = readme
        .split_once(heading)
        .expect("the heading is in README")
        .1;
    let block = section
        .split("```sh\n")
        .nth(nth + 1)
        .expect("a sh block")
        .split("```")
        .next()
        .unwrap();
    block
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.trim().is_empty())
        .collect()
}

/// Runs one README line with `sh` in `dir` (the tested binary first on
/// PATH), failing with its output unless it succeeds; returns its stdout.
fn sh(line: &str, dir: &std::path::Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env("PATH", path_with_hitmap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{line}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// PATH with the tested `hitmap` binary first, so README lines run as
/// written.
fn path_with_hitmap() -> String {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_hitmap"))
        .parent()
        .unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Whether an answer holds a count above zero anywhere.
pub(crate) fn has_data(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Number(n) => n.as_f64().is_some_and(|x| x > 0.0),
        serde_json::Value::Array(a) => a.iter().any(has_data),
        serde_json::Value::Object(o) => o.values().any(has_data),
        _ => false,
    }
}

#[test]
fn the_readme_command_line_works_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let heading = "## Use it from the command line and over HTTP";
    let commands = block_after(&readme, heading, 0);
    let curls = block_after(&readme, heading, 1);
    assert!(commands.len() >= 8 && curls.len() >= 3);
    let dir = TempDir::new("readme");
    let path = path_with_hitmap();
    let mut serve_line = None;
    for line in &commands {
        assert!(line.starts_with("hitmap "), "{line}");
        if line.starts_with("hitmap serve") {
            serve_line = Some(line.clone());
            continue;
        }
        let out = sh(line, &dir.0);
        if line.starts_with("hitmap report") || line.starts_with("hitmap pages") {
            assert!(
                out.lines().count() > 2 && out.chars().any(|c| ('1'..='9').contains(&c)),
                "{line} shows no data:\n{out}"
            );
        }
    }
    assert!(
        std::fs::read_to_string(dir.join("visits.csv"))
            .unwrap()
            .lines()
            .count()
            > 10
    );
    // The server line, on a free port; then each curl URL through it.
    let serve = serve_line
        .expect("a serve line")
        .split('#')
        .next()
        .unwrap()
        .trim()
        .replace("127.0.0.1:8080", "127.0.0.1:0");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {serve}"))
        .current_dir(&dir.0)
        .env("PATH", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut first).unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    for line in &curls {
        let url = line
            .split('\'')
            .nth(1)
            .expect("a quoted URL")
            .replace("http://127.0.0.1:8080", &base);
        let mut resp = agent.get(&url).call().unwrap();
        let body = resp.body_mut().read_to_string().unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{url}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(!body.contains("\"result\":\"error\""), "{url}: {v}");
        // The sample ends yesterday: every example shows data.
        assert!(has_data(&v), "{url} answers no data: {v}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_readme_log_import_works_as_written() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let commands = block_after(&readme, "## Import web-server logs", 0);
    assert_eq!(commands.len(), 3);
    let dir = TempDir::new("readme-logs");
    let mut last = String::new();
    for line in &commands {
        assert!(line.starts_with("hitmap "), "{line}");
        // The log is the repository's; the store goes to a fresh folder.
        let line = line.replace(" intake/tests/", &format!(" {root}/intake/tests/"));
        last = sh(&line, &dir.0);
    }
    // 17 page views from 17 (IP, user agent) pairs: 17 visits, one user.
    let v: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(
        (v["nb_visits"].as_u64(), v["nb_users"].as_u64()),
        (Some(17), Some(1)),
        "{last}"
    );
}

#[test]
fn the_readme_tracking_section_works_as_written() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let lines = block_after(&readme, "## Track visits live (Matomo's tracker)", 0);
    assert_eq!(lines.len(), 4, "{lines:?}");
    let dir = TempDir::new("readme-track");
    sh(&lines[0], &dir.0);
    // The server on a free port instead of 8080.
    let serve = lines[1].replace("127.0.0.1:8080", "127.0.0.1:0");
    let args: Vec<&str> = serve.split_whitespace().skip(1).collect();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_hitmap"))
        .args(&args)
        .current_dir(&dir.0)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    let base = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url_of = |line: &str| {
        let url = line.split('\'').nth(1).unwrap();
        url.replace("http://127.0.0.1:8080", &base)
    };
    let mut resp = agent.get(&url_of(&lines[2])).call().unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "image/gif");
    let _ = resp.body_mut().read_to_vec();
    let mut resp = agent.get(&url_of(&lines[3])).call().unwrap();
    let body = resp.body_mut().read_to_string().unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["nb_visits"].as_u64(), v["nb_actions"].as_u64()),
        (Some(1), Some(1)),
        "{body}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn the_readme_object_storage_section_works_as_written() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let lines = block_after(&readme, "## Object storage and serverless", 0);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let dir = TempDir::new("readme-s3");
    let store = crate::sample_store(&dir.0);
    std::fs::rename(&store, dir.join("metrics")).unwrap();
    // `hitmap publish ./metrics s3://…`, against moto on loopback.
    let env = crate::object_store::env();
    let out = Command::new("sh")
        .arg("-c")
        .arg(&lines[0])
        .current_dir(&dir.0)
        .env("PATH", path_with_hitmap())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // `hitmap serve s3://… --cache-mb 128` answers as the folder does.
    let args: Vec<&str> = lines[1]
        .split('#')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(args[..2], ["hitmap", "serve"], "{args:?}");
    let bucket = crate::server::Server::start_with_env(args[2], &args[3..], &env);
    let folder = crate::server::Server::start(&dir.join("metrics"), &[]);
    let q = "/index.php?module=API&method=VisitsSummary.get&idSite=1&period=month&date=2025-01-01";
    let agent = crate::server::agent();
    let a = agent.get(format!("{}{q}", bucket.base)).call().unwrap();
    let b = agent.get(format!("{}{q}", folder.base)).call().unwrap();
    assert_eq!(a.status().as_u16(), 200);
    assert_eq!(
        a.into_body().read_to_string().unwrap(),
        b.into_body().read_to_string().unwrap()
    );
}
