//! Matomo's visit recognition, for `--matomo-visitors`: which visit (and
//! visitor) a log line joins when Matomo's importer sends it to Matomo's
//! tracker (`core/Tracker/VisitorRecognizer.php`, `Model::findVisitor`).
//!
//! Matomo's importer sends no visitor id, so Matomo's tracker recognises
//! a request by its *config id* (a hash of the address and the agent)
//! against the visits it has stored, in the order requests arrive:
//!
//! - a request without a user id joins the visit of the same site and
//!   config id whose last request is nearest before the end of a window
//!   of 30 minutes around it (the latest last request in
//!   `[t - 30 min, t + 30 min]`), whoever its visitor is;
//! - a request with a user id looks for its user's visitor first (the
//!   latest visit of that visitor that ended no later than `t + 30 min`,
//!   however long ago), then as above among visits without a user or of
//!   the same user;
//! - the visit found continues when its last request is less than 30
//!   minutes before `t` (or after it) and on the same local day
//!   (Matomo's `create_new_visit_after_midnight`); otherwise a new visit
//!   starts for the visitor found; with nothing found, a new visitor starts (Matomo
//!   gives it a random id; here a key of the line's config and time).
//!
//! So an access log imported twice (or two logs of the same visitors)
//! adds to the visits of the first import, as in Matomo. Each line gets
//! its visitor key and an explicit visit id ([`hitmap::Hit::visit`]):
//! the engine keeps Matomo's visits whatever the gaps and arrival order.
//! The visits kept for recognition can be saved between imports
//! ([`Recognizer::load`], [`Recognizer::save`]): the newest
//! [`Recognizer::LIMIT`] visits, by their last request.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use crate::Error;

/// Matomo's visit window (`visit_standard_length`).
const WINDOW: i64 = 30 * 60;

/// One visit as Matomo's `log_visit` row knows it for recognition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Visit {
    site: u32,
    config: u64,
    visitor: u64,
    /// The user id's key of its last request with one (`user_id`).
    user: Option<u64>,
    first: i64,
    last: i64,
    /// The local day of `last` (days since 1970-01-01 in the site's zone).
    last_day: i64,
}

/// The visitor and visit a line joins (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Joined {
    /// The visitor's key.
    pub visitor: u64,
    /// The visit's first request's time: with the visitor, the visit's id.
    pub first: i64,
}

/// The visits Matomo's tracker would know, by site and config id and by
/// site and visitor.
#[derive(Debug, Default)]
pub struct Recognizer {
    visits: Vec<Visit>,
    by_config: HashMap<(u32, u64), Vec<u32>>,
    by_visitor: HashMap<(u32, u64), Vec<u32>>,
}

impl Recognizer {
    /// Visits kept (in memory and saved): beyond it, the older half (by
    /// last request) is forgotten, as a request more than 30 minutes
    /// from a visit's requests cannot join it by its config id.
    pub const LIMIT: usize = 250_000;

    /// The visit a request of `site` at `ts` (on local day `day`, days
    /// since 1970-01-01 in the site's time zone) joins: `config` is the
    /// key of its address and agent, `user` its user id's key, `fresh` the
    /// key a new visitor gets (asked only when one starts).
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::logs::Recognizer;
    /// let mut r = Recognizer::default();
    /// let a = r.join(1, 1_000, 0, 7, None, || 100);
    /// // The same address and agent 20 minutes later: the same visit.
    /// assert_eq!(r.join(1, 2_200, 0, 7, None, || 101), a);
    /// // An hour after that: a new visit, and (no id) a new visitor.
    /// assert_eq!(r.join(1, 5_800, 0, 7, None, || 102).visitor, 102);
    /// // Past local midnight: a new visit of the same visitor.
    /// let b = r.join(1, 6_000, 1, 7, None, || 103);
    /// assert_eq!((b.visitor, b.first), (102, 6_000));
    /// ```
    pub fn join(
        &mut self,
        site: u32,
        ts: i64,
        day: i64,
        config: u64,
        user: Option<u64>,
        fresh: impl FnOnce() -> u64,
    ) -> Joined {
        let latest = |ids: Option<&Vec<u32>>, ok: &dyn Fn(&Visit) -> bool| {
            ids.into_iter()
                .flatten()
                .map(|&i| i as usize)
                .filter(|&i| ok(&self.visits[i]))
                // The latest last request; the newest visit on a tie.
                .max_by_key(|&i| (self.visits[i].last, i))
        };
        let in_window = |v: &Visit| v.last >= ts - WINDOW && v.last <= ts + WINDOW;
        let found = match user {
            Some(u) => {
                latest(self.by_visitor.get(&(site, u)), &|v| v.last <= ts + WINDOW).or_else(|| {
                    latest(self.by_config.get(&(site, config)), &|v| {
                        in_window(v) && v.user.is_none_or(|x| x == u)
                    })
                })
            }
            None => latest(self.by_config.get(&(site, config)), &in_window),
        };
        let visitor = match found {
            Some(i) => {
                let v = &mut self.visits[i];
                if v.last > ts - WINDOW && v.last_day == day {
                    if ts >= v.last {
                        (v.last, v.last_day) = (ts, day);
                    }
                    if user.is_some() {
                        v.user = user;
                    }
                    return Joined {
                        visitor: v.visitor,
                        first: v.first,
                    };
                }
                v.visitor
            }
            None => user.unwrap_or_else(fresh),
        };
        self.push(Visit {
            site,
            config,
            visitor,
            user,
            first: ts,
            last: ts,
            last_day: day,
        });
        if self.visits.len() > Self::LIMIT {
            self.forget_older_half();
        }
        Joined { visitor, first: ts }
    }

    fn push(&mut self, v: Visit) {
        let i = self.visits.len() as u32;
        self.by_config
            .entry((v.site, v.config))
            .or_default()
            .push(i);
        self.by_visitor
            .entry((v.site, v.visitor))
            .or_default()
            .push(i);
        self.visits.push(v);
    }

    fn forget_older_half(&mut self) {
        let mut kept = std::mem::take(&mut self.visits);
        kept.sort_by_key(|v| std::cmp::Reverse(v.last));
        kept.truncate(Self::LIMIT / 2);
        kept.reverse();
        self.by_config.clear();
        self.by_visitor.clear();
        for v in kept {
            self.push(v);
        }
    }

    /// The visits saved by [`Recognizer::save`]; an empty recognizer when
    /// `path` does not exist.
    ///
    /// # Errors
    /// A file that cannot be read or is not one `save` wrote (the message
    /// names it: move it away to start over).
    pub fn load(path: &Path) -> crate::Result<Recognizer> {
        let mut r = Recognizer::default();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(r),
            Err(e) => return Err(state_error(path, &e)),
        };
        for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
            let line = line.map_err(|e| state_error(path, &e))?;
            if n == 0 {
                if line != HEADER {
                    return Err(state_error(
                        path,
                        &"not a Matomo visitors state (first line)",
                    ));
                }
                continue;
            }
            let v = parse_visit(&line)
                .ok_or_else(|| state_error(path, &format!("line {}: {line:?}", n + 1)))?;
            r.push(v);
        }
        if r.visits.len() > Self::LIMIT {
            r.forget_older_half();
        }
        Ok(r)
    }

    /// Writes the visits to `path` (a new file moved over the old one).
    ///
    /// # Errors
    /// The file cannot be written.
    ///
    /// # Examples
    /// ```
    /// use hitmap_intake::logs::Recognizer;
    /// let path = std::env::temp_dir().join(format!("hitmap-recognizer-doc-{}", std::process::id()));
    /// let mut r = Recognizer::default();
    /// let a = r.join(3, 1_000, 0, 7, Some(9), || 100);
    /// r.save(&path)?;
    /// let mut again = Recognizer::load(&path)?;
    /// assert_eq!(again.join(3, 1_500, 0, 7, None, || 101), a);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, path: &Path) -> crate::Result<()> {
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        let write = || -> std::io::Result<()> {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            writeln!(out, "{HEADER}")?;
            for v in &self.visits {
                let user = v.user.map_or("-".to_owned(), |u| format!("{u:016x}"));
                writeln!(
                    out,
                    "{} {:016x} {:016x} {user} {} {} {}",
                    v.site, v.config, v.visitor, v.first, v.last, v.last_day
                )?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| state_error(path, &e))
    }
}

/// The first line of a saved state.
const HEADER: &str = "hitmap matomo-visitors 1: site config visitor user first last last_day";

fn parse_visit(line: &str) -> Option<Visit> {
    let mut f = line.split(' ');
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    let v = Visit {
        site: f.next()?.parse().ok()?,
        config: hex(f.next()?)?,
        visitor: hex(f.next()?)?,
        user: match f.next()? {
            "-" => None,
            u => Some(hex(u)?),
        },
        first: f.next()?.parse().ok()?,
        last: f.next()?.parse().ok()?,
        last_day: f.next()?.parse().ok()?,
    };
    f.next().is_none().then_some(v)
}

fn state_error(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::Input(format!(
        "Matomo visitors state {}: {e} (a file --matomo-visitors-state wrote; move it away to start over)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Matomo's fixture of the IIS log imported twice
    /// (`ManySitesImportedLogs`): the second import, without user ids,
    /// joins the first one's visits, the newest one first.
    #[test]
    fn a_second_import_joins_the_first_ones_visits_as_matomo() {
        let mut r = Recognizer::default();
        let t = 1_345_050_000;
        let (c1, c2, c3) = (1, 2, 3);
        let (user1, user2) = (11, 12);
        // First import, with user ids.
        let v58 = r.join(1, t, 0, c1, Some(user1), || 100);
        assert_eq!(
            r.join(1, t, 0, c2, Some(user1), || 101),
            v58,
            "the user's visit"
        );
        let v59 = r.join(1, t, 0, c3, None, || 102);
        assert_eq!(v59.visitor, 102);
        // Exactly 30 minutes later: found by its config id, not the same
        // visit; the visitor is the one found.
        let v60 = r.join(1, t + 1800, 0, c3, Some(user2), || 103);
        assert_eq!(
            v60,
            Joined {
                visitor: 102,
                first: t + 1800
            }
        );
        // Second import, no user ids.
        assert_eq!(r.join(1, t, 0, c1, None, || 104), v58);
        let v67 = r.join(1, t, 0, c2, None, || 105);
        assert_eq!(
            v67.visitor, 105,
            "a config the user's visit did not start with"
        );
        assert_eq!(
            r.join(1, t, 0, c3, None, || 106),
            v60,
            "the visit with the latest last request"
        );
        assert_eq!(r.join(1, t + 1800, 0, c3, None, || 107), v60);
        // Another site shares nothing.
        assert_eq!(r.join(2, t, 0, c1, None, || 108).visitor, 108);
    }

    #[test]
    fn a_user_finds_its_visitor_however_long_ago() {
        let mut r = Recognizer::default();
        let a = r.join(1, 0, 0, 1, Some(9), || 100);
        let b = r.join(1, 86_400, 0, 2, Some(9), || 101);
        assert_eq!((b.visitor, b.first), (a.visitor, 86_400));
        // A user's request does not join another user's visit by config.
        let c = r.join(1, 86_400, 0, 2, Some(8), || 102);
        assert_eq!(c.visitor, 8);
        // A visit ends no later than 30 minutes after the request: a
        // user's later visit is not found from before it.
        let d = r.join(1, 40_000, 0, 3, Some(8), || 103);
        assert_eq!((d.visitor, d.first), (8, 40_000));
    }

    #[test]
    fn the_state_reads_back_and_refuses_what_it_did_not_write() {
        let dir = std::env::temp_dir().join(format!("hitmap-recognizer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state");
        assert!(Recognizer::load(&path).unwrap().visits.is_empty());
        let mut r = Recognizer::default();
        r.join(1, 10, 0, 1, None, || 5);
        r.join(2, 20, 0, 1, Some(3), || 6);
        r.save(&path).unwrap();
        assert_eq!(Recognizer::load(&path).unwrap().visits, r.visits);
        std::fs::write(&path, "something else\n").unwrap();
        let e = Recognizer::load(&path).unwrap_err().to_string();
        assert!(e.contains("move it away"), "{e}");
        std::fs::write(&path, format!("{HEADER}\n1 zz\n")).unwrap();
        assert!(Recognizer::load(&path).is_err());
        assert!(path.exists(), "never deleted");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn older_visits_are_forgotten_beyond_the_limit() {
        let mut r = Recognizer::default();
        for i in 0..=Recognizer::LIMIT as i64 {
            r.join(1, i * 4000, 0, i as u64, None, || i as u64);
        }
        assert_eq!(r.visits.len(), Recognizer::LIMIT / 2);
        let newest = Recognizer::LIMIT as i64 * 4000;
        let again = r.join(1, newest + 60, 0, Recognizer::LIMIT as u64, None, || 0);
        assert_eq!(again.first, newest, "the newest visits are kept");
    }
}
