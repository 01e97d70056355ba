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

/// The most periods one request may ask for.
const MAX_PERIODS: u32 = 10_000;

fn date_err(value: &str, reason: &str) -> Error {
    Error::Date {
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Parses `YYYY-MM-DD`.
///
/// # Examples
/// ```
/// assert!(hitmap::parse_day("2024-02-29").is_ok());
/// assert!(hitmap::parse_day("2023-02-29").is_err());
/// ```
pub fn parse_day(s: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| date_err(s, "expected a real calendar day written YYYY-MM-DD"))
}

impl Period {
    /// The period of this kind that contains `day` (for `Range`: the day).
    pub fn containing(self, day: NaiveDate) -> PeriodRange {
        let (from, to) = match self {
            Period::Day | Period::Range => (day, day),
            Period::Week => {
                let from = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
                (from, from + Days::new(6))
            }
            Period::Month => {
                let from = day.with_day(1).expect("day 1 exists");
                (from, from + Months::new(1) - Days::new(1))
            }
            Period::Year => {
                let from = NaiveDate::from_ymd_opt(day.year(), 1, 1).expect("Jan 1 exists");
                (
                    from,
                    NaiveDate::from_ymd_opt(day.year(), 12, 31).expect("Dec 31 exists"),
                )
            }
        };
        self.labelled(from, to)
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

    /// The period right before `p`.
    fn previous(self, p: &PeriodRange) -> Option<PeriodRange> {
        Some(self.containing(p.from.pred_opt()?))
    }

    /// Expands a `date` expression. The flag says whether the answer is a
    /// map of periods (`lastN`, `previousN`, `A,B` with a non-range period)
    /// rather than one object.
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
    /// # Ok::<(), hitmap::Error>(())
    /// ```
    pub fn expand(self, date: &str, today: NaiveDate) -> Result<(Vec<PeriodRange>, bool)> {
        let single = |d: &str| -> Result<NaiveDate> {
            match d {
                "today" => Ok(today),
                "yesterday" => today.pred_opt().ok_or_else(|| date_err(d, "no day before")),
                _ => parse_day(d),
            }
        };
        let count = |n: &str| -> Result<u32> {
            match n.parse::<u32>() {
                Ok(n) if (1..=MAX_PERIODS).contains(&n) => Ok(n),
                _ => Err(date_err(date, "lastN and previousN take N from 1 to 10000")),
            }
        };
        let relative = date
            .strip_prefix("last")
            .map(|n| (n, false))
            .or_else(|| date.strip_prefix("previous").map(|n| (n, true)));
        if let Some((n, previous)) = relative {
            let n = count(n)?;
            if self == Period::Range {
                let end = if previous {
                    today
                        .pred_opt()
                        .ok_or_else(|| date_err(date, "no day before"))?
                } else {
                    today
                };
                let from = end - Days::new(u64::from(n - 1));
                return Ok((vec![self.labelled(from, end)], false));
            }
            let mut p = self.containing(today);
            if previous {
                p = self
                    .previous(&p)
                    .ok_or_else(|| date_err(date, "out of range"))?;
            }
            let mut out = vec![p];
            for _ in 1..n {
                let prev = self
                    .previous(out.last().expect("non-empty"))
                    .ok_or_else(|| date_err(date, "reaches before the calendar starts"))?;
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
            let mut out = vec![self.containing(from)];
            while out.last().expect("non-empty").to < to {
                if out.len() as u32 >= MAX_PERIODS {
                    return Err(date_err(date, "covers more than 10000 periods"));
                }
                let next = out
                    .last()
                    .expect("non-empty")
                    .to
                    .succ_opt()
                    .expect("before 9999");
                out.push(self.containing(next));
            }
            return Ok((out, true));
        }
        Ok((vec![self.containing(single(date)?)], false))
    }
}
