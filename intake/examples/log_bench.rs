//! The access-log importer's speed: a generated combined-format log
//! (realistic visits: pages, static files, errors, redirects, robots,
//! search and internal referrers, a few dozen real user agents) parsed,
//! enriched and ingested, in memory and into a durable store.
//!
//! ```text
//! cargo run --release -p hitmap-intake --example log_bench -- --lines 2000000 [--write FILE] [--store DIR]
//! ```
//!
//! `--write FILE` only writes the log (for Matomo's importer, see
//! scripts/bench-logs). Prints lines/s of wall time and per CPU second
//! (user + system time of the whole process, both threads), so "per core"
//! is measured rather than assumed.

use std::io::{BufWriter, Write};
use std::time::Instant;

use hitmap::{Engine, SiteConfig};
use hitmap_intake::logs::{LogOptions, import};

const AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.43 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.61",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
];

const BOTS: &[&str] = &[
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.4.0",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn apache_date(ts: i64) -> String {
    let t = chrono::DateTime::from_timestamp(ts, 0).unwrap_or_default();
    use chrono::{Datelike, Timelike};
    format!(
        "{:02}/{}/{}:{:02}:{:02}:{:02} +0000",
        t.day(),
        MONTHS[t.month0() as usize],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Writes `lines` lines of a combined log, in time order, from 2025-01-01.
fn generate(lines: u64, out: &mut impl Write) -> std::io::Result<()> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let start = 1_735_689_600i64; // 2025-01-01
    // ~200k lines a day.
    let per_day = 200_000u64;
    let mut written = 0u64;
    let mut ts = start;
    while written < lines {
        // One visit: 1-8 pages, each with its static files.
        let visitor = rng.below(40_000);
        let ip = format!(
            "10.{}.{}.{}",
            visitor >> 16 & 255,
            visitor >> 8 & 255,
            visitor & 255
        );
        let bot = rng.below(100) < 3;
        let agent = if bot {
            BOTS[rng.below(BOTS.len() as u64) as usize]
        } else {
            AGENTS[(visitor % AGENTS.len() as u64) as usize]
        };
        let pages = 1 + rng.below(8);
        let mut t = ts;
        let mut referrer = match rng.below(4) {
            0 => "https://www.google.com/search?q=intranet+payroll".to_string(),
            1 => "https://www.bing.com/search?q=holidays".to_string(),
            _ => "-".to_string(),
        };
        for _ in 0..pages {
            let page = rng.below(2000);
            let (path, status) = match rng.below(100) {
                0..=1 => (format!("/missing/{page}"), 404),
                2 => (format!("/old/{page}"), 301),
                3 => (format!("/files/report-{page}.pdf"), 200),
                _ => (
                    format!("/section{}/page-{page}?ref={}", page % 20, rng.below(5)),
                    200,
                ),
            };
            writeln!(
                out,
                "{ip} - - [{}] \"GET {path} HTTP/1.1\" {status} {} \"{referrer}\" \"{agent}\"",
                apache_date(t),
                1000 + rng.below(50_000)
            )?;
            written += 1;
            let own = format!("https://intranet.example.org{}", path);
            for asset in ["/static/app.css", "/static/app.js"] {
                if rng.below(3) == 0 {
                    writeln!(
                        out,
                        "{ip} - - [{}] \"GET {asset} HTTP/1.1\" 200 5120 \"{own}\" \"{agent}\"",
                        apache_date(t)
                    )?;
                    written += 1;
                }
            }
            referrer = own;
            t += 5 + rng.below(120) as i64;
        }
        // A visit every 86,400 / (per_day / 7.5 lines a visit) seconds.
        let gap = (86_400 * 15 / (2 * per_day as i64)).max(1);
        ts += rng.below(2 * gap as u64 + 1) as i64;
        if written.is_multiple_of(997) {
            ts += 1;
        }
    }
    Ok(())
}

/// Seconds of CPU (user + system) this process used so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let lines: u64 = arg("--lines").map_or(Ok(2_000_000), |s| s.parse())?;
    let dir = std::env::temp_dir().join(format!("hitmap-log-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let log = match arg("--write") {
        Some(f) => std::path::PathBuf::from(f),
        None => dir.join("access.log"),
    };
    let t = Instant::now();
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&log)?);
    generate(lines, &mut w)?;
    w.flush()?;
    drop(w);
    let bytes = std::fs::metadata(&log)?.len();
    eprintln!(
        "wrote {lines} lines, {:.0} MB, to {} in {:.1} s",
        bytes as f64 / 1e6,
        log.display(),
        t.elapsed().as_secs_f64()
    );
    if arg("--write").is_some() {
        return Ok(());
    }
    let mut options = LogOptions::default();
    options.set("log-format", "combined")?;
    options.set("visitor-secret", "bench")?;
    if let Some(b) = arg("--batch-bytes") {
        options.set("batch-bytes", &b)?;
    }
    let site = || SiteConfig::new(1).host("intranet.example.org");
    let run = |engine: &mut Engine, what: &str| -> Result<(), Box<dyn std::error::Error>> {
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let input = hitmap_intake::input::open(&log)?;
        let s = import(
            engine,
            vec![("access.log".into(), input.into())],
            &options,
            &mut |_| {},
        )?;
        let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        let peak = std::fs::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:").map(|v| v.trim().to_owned()))
            .unwrap_or_default();
        println!(
            "{what} (peak RSS so far {peak}): {} lines -> {} hits ({} skipped) in {wall:.2} s wall, {cpu:.2} s CPU: {:.0} lines/s wall, {:.0} lines per CPU second",
            s.lines,
            s.hits(),
            s.skipped.values().sum::<u64>(),
            s.lines as f64 / wall,
            s.lines as f64 / cpu.max(1e-9),
        );
        Ok(())
    };
    let mut memory = Engine::in_memory();
    memory.add_site(site())?;
    run(&mut memory, "in memory")?;
    let store = match arg("--store") {
        Some(s) => std::path::PathBuf::from(s),
        None => dir.join("store"),
    };
    let _ = std::fs::remove_dir_all(&store);
    let mut durable = Engine::open(&store)?;
    durable.add_site(site())?;
    run(&mut durable, "durable store")?;
    drop(durable);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
