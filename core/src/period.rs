//! Periods and the Reporting API's `date` expressions, in a site's local
//! calendar.


use std::str::FromStr;

use chrono::{Datelike, Days, Months, NaiveDate};

use crate::error::{Error, Result};

/// A reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A local day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
    /// A calendar year.
    Year,
    /// Any range of days.
    Range,
}

impl FromStr for Period {
    type Err = Error;
    fn from_str(s: &str) -> Result<Period> {
        Ok(match s {
            "day" => Period::Day,
            "week" => Period::Week,
            "month" => Period::Month,
            "year" => Period::Year,
            "range" => Period::Range,
            _ => {
                return Err(Error::Request(format!(
                    "unknown period '{s}': use day, week, month, year or range"
                )));
            }
        })
    }
}

/// One period to answer: its label in the API's map and its days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodRange {
    /// `YYYY-MM-DD` (day), `YYYY-MM-DD,YYYY-MM-DD` (week, range),
    /// `YYYY-MM` (month) or `YYYY` (year).
    pub label: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
}

/// The most periods one request may ask for: ten years of days. A longer
/// series is asked in pieces, or with a coarser period.
pub const MAX_PERIODS: usize = 3660;

/// The first day hitmap answers for: dates run from 0001-01-01 to
/// 9999-12-31 (a week or a period containing 9999-12-31 may end a few
/// days later).
pub const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The last day hitmap answers for, see [`FIRST_DAY`].
pub const LAST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
    Some(d) => d,
    None => NaiveDate::MAX,
};

fn date_err(value: &str, reason: &str) -> Error {
    Error::Date {
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Parses `YYYY-MM-DD`, a day from 0001-01-01 to 9999-12-31.
///
/// # Examples
/// ```
/// assert!(hitmap::parse_day("2024-02-29").is_ok());
/// assert!(hitmap::parse_day("2023-02-29").is_err());
/// assert!(hitmap::parse_day("+262142-12-31").is_err());
/// ```
pub fn parse_day(s: &str) -> Result<NaiveDate> {
    let well_formed = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !well_formed {
        return Err(date_err(
            s,
            "expected a day written YYYY-MM-DD, from 0001-01-01 to 9999-12-31",
        ));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| (FIRST_DAY..=LAST_DAY).contains(d))
        .ok_or_else(|| {
            date_err(
                s,
                "expected a real calendar day written YYYY-MM-DD, from 0001-01-01 to 9999-12-31",
            )
        })
}

impl Period {
    /// The period of this kind that contains `day` (for `Range`: the day).
    /// `None` only outside chrono's calendar (far beyond year 9999).
    pub fn containing(self, day: NaiveDate) -> Option<PeriodRange> {
        let (from, to) = match self {
            Period::Day | Period::Range => (day, day),
            Period::Week => {
                let from = day
                    .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))?;
                (from, from.checked_add_days(Days::new(6))?)
            }
            Period::Month => {
                let from = day.with_day(1)?;
                let next = from.checked_add_months(Months::new(1))?;
                (from, next.pred_opt()?)
            }
            Period::Year => (
                NaiveDate::from_ymd_opt(day.year(), 1, 1)?,
                NaiveDate::from_ymd_opt(day.year(), 12, 31)?,
            ),
        };
        Some(self.labelled(from, to))
    }

    fn labelled(self, from: NaiveDate, to: NaiveDate) -> PeriodRange {
        let label = match self {
            Period::Day => from.format("%Y-%m-%d").to_string(),
            Period::Week | Period::Range => {
                format!("{},{}", from.format("%Y-%m-%d"), to.format("%Y-%m-%d"))
            }
            Period::Month => from.format("%Y-%m").to_string(),
            Period::Year => from.format("%Y").to_string(),
        };
        PeriodRange { label, from, to }
    }

    /// The period right before `p`, if it starts on or after [`FIRST_DAY`].
    fn previous(self, p: &PeriodRange) -> Option<PeriodRange> {
        self.containing(p.from.pred_opt()?)
            .filter(|q| q.from >= FIRST_DAY)
    }

    /// Expands a `date` expression. The flag says whether the answer is a
    /// map of periods (`lastN`, `previousN`, `A,B` with a non-range period)
    /// rather than one object. At most [`MAX_PERIODS`] periods, all within
    /// [`FIRST_DAY`] to [`LAST_DAY`].
    ///
    /// # Examples
    /// ```
    /// use hitmap::{Period, parse_day};
    /// let today = parse_day("2026-03-18")?;
    /// let (months, multi) = Period::Month.expand("last3", today)?;
    /// assert!(multi);
    /// assert_eq!(months.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["2026-01", "2026-02", "2026-03"]);
    /// let (weeks, _) = Period::Week.expand("2026-03-18", today)?;
    /// assert_eq!(weeks[0].label, "2026-03-16,2026-03-22");
    /// let (range, multi) = Period::Range.expand("previous7", today)?;
    /// assert_eq!((range[0].label.as_str(), multi), ("2026-03-11,2026-03-17", false));
    /// assert!(Period::Day.expand("last100000", today).is_err());
    /// let (month, _) = Period::Month.expand("lastMonth", today)?;
    /// assert_eq!(month[0].label, "2026-02");
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn expand(self, date: &str, today: NaiveDate) -> Result<(Vec<PeriodRange>, bool)> {
        let outside = || date_err(date, "reaches outside 0001-01-01 to 9999-12-31");
        if !(FIRST_DAY..=LAST_DAY).contains(&today) {
            return Err(date_err(
                &today.to_string(),
                "today is outside 0001-01-01 to 9999-12-31",
            ));
        }
        let single = |d: &str| -> Result<NaiveDate> {
            match d {
                "today" => Ok(today),
                "yesterday" => today
                    .pred_opt()
                    .filter(|d| *d >= FIRST_DAY)
                    .ok_or_else(|| date_err(d, "no day before 0001-01-01")),
                // Matomo 4.1+: a day a week, month or year before today.
                "lastWeek" => today
                    .checked_sub_days(Days::new(7))
                    .filter(|d| *d >= FIRST_DAY)
                    .ok_or_else(outside),
                "lastMonth" | "lastYear" => today
                    .checked_sub_months(Months::new(if d == "lastMonth" { 1 } else { 12 }))
                    .filter(|d| *d >= FIRST_DAY)
                    .ok_or_else(outside),
                _ => parse_day(d),
            }
        };
        let count = |n: &str| -> Result<usize> {
            match n.parse::<usize>() {
                Ok(n) if (1..=MAX_PERIODS).contains(&n) => Ok(n),
                _ => Err(date_err(
                    date,
                    &format!("lastN and previousN take N from 1 to {MAX_PERIODS}"),
                )),
            }
        };
        let containing = |d: NaiveDate| self.containing(d).ok_or_else(outside);
        let relative = date
            .strip_prefix("last")
            .filter(|_| !matches!(date, "lastWeek" | "lastMonth" | "lastYear"))
            .map(|n| (n, false))
            .or_else(|| date.strip_prefix("previous").map(|n| (n, true)));
        if let Some((n, previous)) = relative {
            let n = count(n)?;
            if self == Period::Range {
                let end = if previous {
                    single("yesterday")?
                } else {
                    today
                };
                let back = u64::try_from(n.saturating_sub(1)).map_err(|_| outside())?;
                let from = end
                    .checked_sub_days(Days::new(back))
                    .filter(|d| *d >= FIRST_DAY)
                    .ok_or_else(outside)?;
                return Ok((vec![self.labelled(from, end)], false));
            }
            let mut p = containing(today)?;
            if previous {
                p = self.previous(&p).ok_or_else(outside)?;
            }
            let mut out = Vec::with_capacity(n);
            out.push(p);
            while out.len() < n {
                let prev = out
                    .last()
                    .and_then(|p| self.previous(p))
                    .ok_or_else(outside)?;
                out.push(prev);
            }
            out.reverse();
            return Ok((out, true));
        }
        if let Some((a, b)) = date.split_once(',') {
            let (from, to) = (single(a)?, single(b)?);
            if from > to {
                return Err(date_err(date, "the range ends before it starts"));
            }
            if self == Period::Range {
                return Ok((vec![self.labelled(from, to)], false));
            }
            let mut out = vec![containing(from)?];
            while let Some(last) = out.last().map(|p| p.to).filter(|t| *t < to) {
                if out.len() >= MAX_PERIODS {
                    return Err(date_err(
                        date,
                        &format!(
                            "covers more than {MAX_PERIODS} periods: ask for a shorter range or a longer period"
                        ),
                    ));
                }
                out.push(containing(last.succ_opt().ok_or_else(outside)?)?);
            }
            return Ok((out, true));
        }
        Ok((vec![containing(single(date)?)?], false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_outside_years_1_to_9999_are_errors_not_panics() {
        let today = parse_day("2026-03-18").unwrap();
        for p in [
            Period::Day,
            Period::Week,
            Period::Month,
            Period::Year,
            Period::Range,
        ] {
            for d in [
                "+262142-12-31",
                "-262143-01-01",
                "-262143-01-01,1970-01-01",
                "0000-12-31",
                "10000-01-01",
                "9999-12-31,+10000-01-01",
            ] {
                assert!(p.expand(d, today).is_err(), "{p:?} {d}");
            }
            // The edges of the calendar answer.
            assert!(p.expand("9999-12-31", today).is_ok(), "{p:?}");
            assert!(p.expand("0001-01-01", today).is_ok(), "{p:?}");
            // lastN reaching before year 1 is an error.
            let first = parse_day("0001-01-05").unwrap();
            assert!(p.expand("last3660", first).is_err(), "{p:?}");
            let last = parse_day("9999-12-31").unwrap();
            assert!(p.expand("last3", last).is_ok(), "{p:?}");
        }
        assert!(Period::Day.expand("today", NaiveDate::MAX).is_err());
        assert!(Period::Day.expand("yesterday", FIRST_DAY).is_err());
    }

    #[test]
    fn the_period_cap_is_enforced() {
        let today = parse_day("2026-03-18").unwrap();
        assert_eq!(Period::Day.expand("last3660", today).unwrap().0.len(), 3660);
        assert!(Period::Day.expand("last3661", today).is_err());
        assert!(Period::Day.expand("2000-01-01,2026-01-01", today).is_err());
        assert_eq!(
            Period::Range
                .expand("2000-01-01,2026-01-01", today)
                .unwrap()
                .0
                .len(),
            1
        );
    }
}
