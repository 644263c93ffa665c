//! How the website widget looks and what it asks, set by admins (`GET/PATCH /api/admin/widget`)
//! and served to the widget in `GET /api/widget/config`.
//!
//! Stored in the `settings` key-value table under `widget.*` keys (no migration); a key that
//! is absent means its default. Every value is parsed on the way in, so what the widget reads is
//! always well formed: the accent colour is a `#rrggbb` that white text is readable on (WCAG
//! contrast at least 4.5:1), the position is `left` or `right`, texts are bounded.

use serde::{Deserialize, Serialize};

use crate::chat::ChatError;
use crate::input::{InvalidInput, bounded_text};
use crate::store::{Database, DbError};

/// Whether a pre-chat field is asked, and whether the visitor must answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FieldMode {
    Off,
    Optional,
    Required,
}

impl FieldMode {
    fn parse(field: &'static str, text: &str) -> Result<FieldMode, InvalidInput> {
        match text {
            "off" => Ok(FieldMode::Off),
            "optional" => Ok(FieldMode::Optional),
            "required" => Ok(FieldMode::Required),
            _ => Err(InvalidInput::new(
                field,
                "must be off, optional or required",
            )),
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            FieldMode::Off => "off",
            FieldMode::Optional => "optional",
            FieldMode::Required => "required",
        }
    }
}

/// Which side of the page the launcher sits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    Left,
    Right,
}

/// Light, dark, or whatever the visitor's system prefers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorScheme {
    Auto,
    Light,
    Dark,
}

/// An accent colour `#rrggbb` (lower case) on which white text has a contrast ratio of at
/// least 4.5:1 (WCAG AA for normal text): the launcher, the visitor's bubbles and buttons use it
/// with white text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct AccentColor(String);

/// The least contrast ratio against white an accent colour must have.
pub const MIN_CONTRAST: f64 = 4.5;

impl AccentColor {
    pub fn parse(text: &str) -> Result<AccentColor, InvalidInput> {
        let text = text.trim().to_ascii_lowercase();
        let hex = text
            .strip_prefix('#')
            .filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()))
            .ok_or_else(|| InvalidInput::new("accent_color", "must be a colour like #4f46e5"))?;
        let ratio = contrast_with_white(hex);
        if ratio < MIN_CONTRAST {
            return Err(InvalidInput::new(
                "accent_color",
                format!(
                    "is too light for white text (contrast {ratio:.2}:1, at least {MIN_CONTRAST}:1 needed)"
                ),
            ));
        }
        Ok(AccentColor(text))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// WCAG 2 contrast ratio of white against the colour `hex` (six hex digits).
fn contrast_with_white(hex: &str) -> f64 {
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)) / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    1.05 / (luminance + 0.05)
}

/// The widget's settings as the widget and the console read them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WidgetSettings {
    /// Shown in the chat's header; empty means the `business_name` variable.
    pub business_name: String,
    /// The first words in an empty chat; empty means the widget's own (translated) greeting.
    pub greeting: String,
    pub accent_color: AccentColor,
    pub position: Position,
    pub color_scheme: ColorScheme,
    /// Operators' initials beside their messages.
    pub show_avatars: bool,
    pub prechat_name: FieldMode,
    pub prechat_email: FieldMode,
    /// The topic picker (`GET /api/widget/topics`), feeding routing.
    pub prechat_topic: FieldMode,
    /// Outside business hours or with nobody available, offer "leave a message" (an email
    /// and/or phone and the message) in place of the chat. Off by default: the widget then only
    /// says that nobody is there and when the team opens, and lets the visitor write anyway
    /// (the assistant may answer, and operators see it when they are back).
    pub offline_form: bool,
}

impl Default for WidgetSettings {
    fn default() -> Self {
        WidgetSettings {
            business_name: String::new(),
            greeting: String::new(),
            accent_color: AccentColor("#4f46e5".into()),
            position: Position::Right,
            color_scheme: ColorScheme::Auto,
            show_avatars: true,
            prechat_name: FieldMode::Off,
            prechat_email: FieldMode::Off,
            prechat_topic: FieldMode::Off,
            offline_form: false,
        }
    }
}

/// `PATCH /api/admin/widget` body: the fields to change.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetSettingsPatch {
    pub business_name: Option<String>,
    pub greeting: Option<String>,
    pub accent_color: Option<String>,
    pub position: Option<String>,
    pub color_scheme: Option<String>,
    pub show_avatars: Option<bool>,
    pub prechat_name: Option<String>,
    pub prechat_email: Option<String>,
    pub prechat_topic: Option<String>,
    pub offline_form: Option<bool>,
}

const NAME_MAX_CHARS: usize = 80;
const GREETING_MAX_CHARS: usize = 300;

const GET: &str = "SELECT key, value FROM settings WHERE key LIKE 'widget.%'";
const SET: &str = "INSERT INTO settings (key, value) VALUES (?1, ?2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

fn position(text: &str) -> Result<Position, InvalidInput> {
    match text {
        "left" => Ok(Position::Left),
        "right" => Ok(Position::Right),
        _ => Err(InvalidInput::new("position", "must be left or right")),
    }
}

fn color_scheme(text: &str) -> Result<ColorScheme, InvalidInput> {
    match text {
        "auto" => Ok(ColorScheme::Auto),
        "light" => Ok(ColorScheme::Light),
        "dark" => Ok(ColorScheme::Dark),
        _ => Err(InvalidInput::new(
            "color_scheme",
            "must be auto, light or dark",
        )),
    }
}

/// Applies one stored `key = value` to `settings`. Values were parsed when saved; one that no
/// longer parses (written by hand) keeps the default rather than breaking the widget.
fn apply(settings: &mut WidgetSettings, key: &str, value: &str) {
    match key {
        "widget.business_name" => settings.business_name = value.to_owned(),
        "widget.greeting" => settings.greeting = value.to_owned(),
        "widget.accent_color" => {
            if let Ok(c) = AccentColor::parse(value) {
                settings.accent_color = c;
            }
        }
        "widget.position" => {
            if let Ok(p) = position(value) {
                settings.position = p;
            }
        }
        "widget.color_scheme" => {
            if let Ok(s) = color_scheme(value) {
                settings.color_scheme = s;
            }
        }
        "widget.show_avatars" => settings.show_avatars = value == "true",
        "widget.offline_form" => settings.offline_form = value == "true",
        "widget.prechat_name" | "widget.prechat_email" | "widget.prechat_topic" => {
            if let Ok(mode) = FieldMode::parse("prechat", value) {
                match key {
                    "widget.prechat_name" => settings.prechat_name = mode,
                    "widget.prechat_email" => settings.prechat_email = mode,
                    _ => settings.prechat_topic = mode,
                }
            }
        }
        _ => {}
    }
}

pub fn load(db: &dyn Database) -> Result<WidgetSettings, DbError> {
    let mut settings = WidgetSettings::default();
    for row in db.execute(GET, &[])?.iter() {
        apply(&mut settings, row.str("key")?, row.str("value")?);
    }
    Ok(settings)
}

/// Parses every field present in `patch` first (nothing is stored when one is wrong), then
/// stores them.
pub fn save(db: &dyn Database, patch: &WidgetSettingsPatch) -> Result<(), ChatError> {
    let mut parsed: Vec<(&str, String)> = Vec::new();
    if let Some(v) = &patch.business_name {
        parsed.push((
            "widget.business_name",
            bounded_text("business_name", v, 0, NAME_MAX_CHARS)?,
        ));
    }
    if let Some(v) = &patch.greeting {
        parsed.push((
            "widget.greeting",
            bounded_text("greeting", v, 0, GREETING_MAX_CHARS)?,
        ));
    }
    if let Some(v) = &patch.accent_color {
        parsed.push(("widget.accent_color", AccentColor::parse(v)?.0));
    }
    if let Some(v) = &patch.position {
        position(v)?;
        parsed.push(("widget.position", v.clone()));
    }
    if let Some(v) = &patch.color_scheme {
        color_scheme(v)?;
        parsed.push(("widget.color_scheme", v.clone()));
    }
    for (key, field, value) in [
        ("widget.prechat_name", "prechat_name", &patch.prechat_name),
        (
            "widget.prechat_email",
            "prechat_email",
            &patch.prechat_email,
        ),
        (
            "widget.prechat_topic",
            "prechat_topic",
            &patch.prechat_topic,
        ),
    ] {
        if let Some(v) = value {
            parsed.push((key, FieldMode::parse(field, v)?.as_str().to_owned()));
        }
    }
    for (key, value) in [
        ("widget.show_avatars", patch.show_avatars),
        ("widget.offline_form", patch.offline_form),
    ] {
        if let Some(v) = value {
            parsed.push((key, v.to_string()));
        }
    }
    for (key, value) in parsed {
        db.execute(SET, &[key.into(), value.into()])?;
    }
    Ok(())
}

/// Whether anyone would answer a visitor writing now: the default business hours, and the
/// operators available right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Availability {
    /// Within business hours (or none are set).
    pub open: bool,
    /// When closed: the next opening (ms since the epoch), if within the horizon.
    pub next_opening_at: Option<i64>,
    pub available_operators: i64,
}

/// `GET /api/widget/config`: what the widget needs before the visitor writes.
#[derive(Debug, Clone, Serialize)]
pub struct WidgetConfig {
    #[serde(flatten)]
    pub settings: WidgetSettings,
    pub availability: Availability,
}

/// The widget's configuration now; `business_name` fills in when admins set none.
pub fn config(db: &dyn Database, business_name: &str, now: i64) -> Result<WidgetConfig, DbError> {
    let mut settings = load(db)?;
    if settings.business_name.is_empty() {
        settings.business_name = business_name.to_owned();
    }
    let reply = crate::hours::expected_reply(db, None, now)?;
    Ok(WidgetConfig {
        settings,
        availability: Availability {
            open: reply.open,
            next_opening_at: reply.next_opening_at,
            available_operators: crate::router::available_operators(db, now)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestDb;

    #[test]
    fn defaults_until_an_admin_changes_them() {
        let db = TestDb::new();
        assert_eq!(load(&db).unwrap(), WidgetSettings::default());
        let patch = WidgetSettingsPatch {
            accent_color: Some("#0F766E".into()),
            position: Some("left".into()),
            color_scheme: Some("dark".into()),
            prechat_email: Some("required".into()),
            greeting: Some("  Hello!  ".into()),
            offline_form: Some(true),
            ..Default::default()
        };
        save(&db, &patch).unwrap();
        let s = load(&db).unwrap();
        assert_eq!(s.accent_color.as_str(), "#0f766e");
        assert_eq!(s.position, Position::Left);
        assert_eq!(s.color_scheme, ColorScheme::Dark);
        assert_eq!(s.prechat_email, FieldMode::Required);
        assert_eq!(s.prechat_name, FieldMode::Off);
        assert_eq!(s.greeting, "Hello!");
        assert!(s.offline_form);
    }

    #[test]
    fn config_names_the_business_and_says_nobody_is_available() {
        let db = TestDb::new();
        let c = config(&db, "Acme", 1_700_000_000_000).unwrap();
        assert_eq!(c.settings.business_name, "Acme");
        assert!(c.availability.open, "no hours set: always open");
        assert_eq!(c.availability.available_operators, 0);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["accent_color"], "#4f46e5");
        assert_eq!(json["prechat_topic"], "off");
        assert_eq!(json["availability"]["available_operators"], 0);
    }

    #[test]
    fn a_colour_too_light_for_white_text_is_refused_and_nothing_is_stored() {
        let db = TestDb::new();
        let patch = WidgetSettingsPatch {
            position: Some("left".into()),
            accent_color: Some("#ffff00".into()),
            ..Default::default()
        };
        let err = save(&db, &patch).unwrap_err();
        assert!(err.to_string().contains("accent_color"), "{err}");
        assert_eq!(load(&db).unwrap().position, Position::Right);
    }

    #[test]
    fn contrast_matches_the_wcag_formula() {
        assert!((contrast_with_white("000000") - 21.0).abs() < 0.01);
        assert!((contrast_with_white("ffffff") - 1.0).abs() < 0.01);
        // #767676 is the classic lightest grey passing 4.5:1 on white.
        assert!(AccentColor::parse("#767676").is_ok());
        assert!(AccentColor::parse("#777777").is_err());
        assert!(AccentColor::parse("4f46e5").is_err());
        assert!(AccentColor::parse("#4f46e").is_err());
        assert!(AccentColor::parse("#gggggg").is_err());
    }

    #[test]
    fn bad_modes_and_positions_are_refused() {
        let db = TestDb::new();
        for patch in [
            WidgetSettingsPatch {
                prechat_topic: Some("sometimes".into()),
                ..Default::default()
            },
            WidgetSettingsPatch {
                position: Some("top".into()),
                ..Default::default()
            },
            WidgetSettingsPatch {
                color_scheme: Some("blue".into()),
                ..Default::default()
            },
            WidgetSettingsPatch {
                greeting: Some("x".repeat(301)),
                ..Default::default()
            },
        ] {
            assert!(save(&db, &patch).is_err());
        }
        assert_eq!(load(&db).unwrap(), WidgetSettings::default());
    }
}
