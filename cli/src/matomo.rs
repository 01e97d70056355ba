//! `hitmap import-matomo`: Matomo's database through the `mysql` crate
//! into a store, once or continuously (`--follow`). The queries, the
//! mapping and the checkpoint are `hitmap_intake::matomo`'s; this file is
//! the client and the command's output.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use hitmap_intake::matomo::{self, Database, ImportOptions, Summary, Value};
use mysql::prelude::Queryable;

use crate::CliError;

/// A MySQL or MariaDB connection as the importer's [`Database`].
pub struct MysqlDatabase {
    conn: mysql::Conn,
}

impl MysqlDatabase {
    /// Connects to `dsn`: `mysql://user:password@host:port/database`, or
    /// `mysql://user@localhost/database?socket=/run/mysqld/mysqld.sock`.
    ///
    /// # Errors
    /// [`CliError::Usage`] for a malformed DSN, [`CliError::Intake`] when
    /// the server cannot be reached.
    pub fn connect(dsn: &str) -> Result<MysqlDatabase, CliError> {
        let opts = mysql::Opts::from_url(dsn).map_err(|e| {
            CliError::Usage(format!(
                "--dsn {:?}: {e}; write mysql://user:password@host:3306/database (or ?socket=/path/to/mysqld.sock)",
                redact(dsn)
            ))
        })?;
        let conn = mysql::Conn::new(opts).map_err(|e| {
            hitmap_intake::Error::Database(format!("cannot connect to {}: {e}", redact(dsn)))
        })?;
        Ok(MysqlDatabase { conn })
    }
}

/// The DSN without its password, for messages.
fn redact(dsn: &str) -> String {
    match (dsn.find("://"), dsn.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let user = &dsn[s + 3..at];
            let user = user.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &dsn[..s + 3], &dsn[at..])
        }
        _ => dsn.to_string(),
    }
}

impl Database for MysqlDatabase {
    fn query(&mut self, sql: &str) -> Result<Vec<Vec<Value>>, String> {
        // The binary protocol: integers arrive as integers, not text.
        let rows: Vec<mysql::Row> = self.conn.exec(sql, ()).map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .map(|r| r.unwrap().into_iter().map(value).collect())
            .collect())
    }
}

fn value(v: mysql::Value) -> Value {
    match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Int(i) => Value::Int(i),
        mysql::Value::UInt(u) => {
            i64::try_from(u).map_or_else(|_| Value::Text(u.to_string()), Value::Int)
        }
        mysql::Value::Float(f) => Value::Float(f64::from(f)),
        mysql::Value::Double(f) => Value::Float(f),
        // The row's own bytes become the text, not a copy of them.
        mysql::Value::Bytes(b) => Value::Text(
            String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
        other => Value::Text(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// What `hitmap import-matomo` was asked.
#[derive(Debug, Clone)]
pub struct ImportArgs {
    /// The connection string.
    pub dsn: String,
    /// What to import and how.
    pub options: ImportOptions,
    /// Run again every `interval` until stopped.
    pub follow: bool,
    /// Pause between runs of `--follow`.
    pub interval: Duration,
    /// Show progress on stderr.
    pub progress: bool,
}

/// Runs the import (once, or forever with `--follow`) and returns the
/// summary of the last run.
///
/// # Errors
/// A connection, schema, checkpoint or store error; what was committed
/// before it stays and the next run resumes there.
pub fn import(dir: &Path, args: &ImportArgs) -> Result<String, CliError> {
    let mut engine = hitmap::Engine::open(dir)?;
    let mut db = Some(connect(&args.dsn)?);
    loop {
        let started = Instant::now();
        let bar = args.progress.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar
        });
        let mut on_batch = |p: &matomo::Progress| {
            if let Some(bar) = &bar {
                let rate = p.rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!(
                    "site {}: {} rows, {} hits, at idlink_va {} ({rate:.0} rows/s)",
                    p.site, p.rows, p.hits, p.cursor
                ));
                bar.tick();
            }
        };
        let result = match db.as_mut() {
            Some(conns) => {
                matomo::import_pipelined(&mut engine, conns, &args.options, &mut on_batch)
            }
            None => connect(&args.dsn)
                .map_err(|e| hitmap_intake::Error::Database(e.to_string()))
                .and_then(|conns| {
                    let conns = db.insert(conns);
                    matomo::import_pipelined(&mut engine, conns, &args.options, &mut on_batch)
                }),
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        // Each round leaves day files, not a write-ahead log to replay.
        let result = result.and_then(|summary| {
            engine.seal()?;
            Ok(summary)
        });
        match result {
            Ok(summary) => {
                let report = describe(&summary, started.elapsed());
                if !args.follow {
                    return Ok(report);
                }
                eprint!("{report}");
            }
            // Following, a lost connection or a restarting server is
            // waited out: what was committed stays, the next run resumes.
            Err(hitmap_intake::Error::Database(e)) if args.follow => {
                eprintln!("hitmap: {e}; retrying in {} s", args.interval.as_secs());
                db = None;
            }
            Err(e) => return Err(e.into()),
        }
        std::thread::sleep(args.interval);
    }
}

/// The import's two connections: one reads the actions, the other their
/// visits, names and conversions at the same time
/// ([`matomo::import_pipelined`]).
fn connect(dsn: &str) -> Result<[MysqlDatabase; 2], CliError> {
    Ok([MysqlDatabase::connect(dsn)?, MysqlDatabase::connect(dsn)?])
}

fn describe(summary: &Summary, took: Duration) -> String {
    let mut out = String::new();
    let secs = took.as_secs_f64().max(1e-3);
    let _ = writeln!(
        out,
        "imported {} rows as {} hits in {:.1} s ({:.0} rows/s)",
        summary.rows(),
        summary.hits(),
        secs,
        summary.rows() as f64 / secs
    );
    for s in &summary.sites {
        let _ = writeln!(
            out,
            "  site {}: {} rows, {} hits, checkpoint idlink_va {}{}",
            s.site,
            s.rows,
            s.hits,
            s.cursor,
            if s.settling {
                " (newer rows wait for the next run)"
            } else {
                ""
            }
        );
        if s.conversions.0 > 0 {
            let _ = writeln!(
                out,
                "    {} recorded conversions (manual goals, orders, carts), {} taken",
                s.conversions.0, s.conversions.1
            );
        }
        for (why, n) in &s.skipped {
            let _ = writeln!(out, "    skipped {n}: {why}");
        }
        for (why, n) in &s.rejected {
            let _ = writeln!(out, "    rejected {n}: {why}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            super::redact("mysql://matomo:s3cret@db:3306/matomo"),
            "mysql://matomo:***@db:3306/matomo"
        );
        assert_eq!(super::redact("not a dsn"), "not a dsn");
    }
}
