//! Files in conversations: MMS media, email attachments, Messenger/Instagram/WhatsApp media and
//! widget uploads.
//!
//! Limits are explicit: at most [`MAX_BYTES`] per file and [`MAX_PER_MESSAGE`] files per
//! message, of the types in [`ALLOWED_TYPES`] only. Types a browser would run or render as a
//! page (HTML, SVG, scripts) are never accepted, and everything is served with
//! `X-Content-Type-Options: nosniff` and a `Content-Disposition` from [`disposition`], so a file
//! cannot become a page on our origin. Files live in the database (one backup holds
//! everything); they are read only through [`for_visitor`] and [`for_operator`].
//!
//! A provider's file that breaks a limit is dropped with a note in the message rather than
//! refusing the message (the provider would retry it forever); a visitor's upload that breaks one
//! is refused with a 4xx saying which.

use serde::{Deserialize, Serialize};

use crate::channel::signature::sha256_hex;
use crate::input::InvalidInput;
use crate::secret::TokenHash;
use crate::store::{Database, DbError, SqlValue};

/// The largest file kept: large enough for phone photos and PDFs, small enough to sit in SQLite.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// The most files one message keeps.
pub const MAX_PER_MESSAGE: usize = 10;
/// File names are cut to this many characters.
const MAX_NAME_CHARS: usize = 120;

/// Media types accepted, and the extension a file of that type gets when it has no name.
pub const ALLOWED_TYPES: &[(&str, &str)] = &[
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/gif", "gif"),
    ("image/webp", "webp"),
    ("image/heic", "heic"),
    ("application/pdf", "pdf"),
    ("text/plain", "txt"),
    ("text/csv", "csv"),
    ("text/vcard", "vcf"),
    ("text/x-vcard", "vcf"),
    ("audio/mpeg", "mp3"),
    ("audio/ogg", "ogg"),
    ("audio/amr", "amr"),
    ("audio/mp4", "m4a"),
    ("audio/aac", "aac"),
    ("video/mp4", "mp4"),
    ("video/3gpp", "3gp"),
    ("video/quicktime", "mov"),
    ("application/zip", "zip"),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "docx",
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "xlsx",
    ),
    ("application/msword", "doc"),
    ("application/vnd.ms-excel", "xls"),
];

/// Raster images a browser may show inline: they cannot run script.
const INLINE_TYPES: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// A file about to be stored with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAttachment {
    name: String,
    content_type: &'static str,
    data: Vec<u8>,
}

/// An attachment as messages list it (the bytes are fetched separately).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub id: i64,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// Retention removed the bytes (`retention`); the name and size stay so the timeline can
    /// say so. Absent (false) for every file that can be downloaded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
}

/// A stored file, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// Why a file was not accepted, in words for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    TooLarge,
    Empty,
    TypeNotAllowed(String),
    /// The bytes are not what the declared image type says.
    ContentMismatch,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::TooLarge => write!(f, "larger than {} MiB", MAX_BYTES / (1024 * 1024)),
            Refused::Empty => f.write_str("empty"),
            Refused::TypeNotAllowed(t) => write!(f, "type {t} is not allowed"),
            Refused::ContentMismatch => f.write_str("its content does not match its type"),
        }
    }
}

/// The media type without parameters, lower-cased, if it is one we accept.
fn allowed_type(content_type: &str) -> Option<&'static str> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let essence = match essence.as_str() {
        "image/jpg" | "image/pjpeg" => "image/jpeg".to_owned(),
        _ => essence,
    };
    ALLOWED_TYPES
        .iter()
        .find(|(t, _)| *t == essence)
        .map(|(t, _)| *t)
}

/// Whether image bytes start the way their type says (other types are not sniffed: they are
/// always downloaded, never rendered).
fn content_matches(content_type: &str, data: &[u8]) -> bool {
    match content_type {
        "image/png" => data.starts_with(b"\x89PNG\r\n\x1a\n"),
        "image/jpeg" => data.starts_with(&[0xFF, 0xD8, 0xFF]),
        "image/gif" => data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a"),
        "image/webp" => data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP",
        _ => true,
    }
}

/// A file name safe to show and to put in a header: no path, no control or quote characters,
/// at most [`MAX_NAME_CHARS`]; `attachment.<ext>` when nothing is left.
fn clean_name(name: &str, content_type: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>' | '\\'))
        .take(MAX_NAME_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim().to_owned();
    if cleaned.is_empty() {
        let ext = ALLOWED_TYPES
            .iter()
            .find(|(t, _)| *t == content_type)
            .map_or("bin", |(_, e)| *e);
        format!("attachment.{ext}")
    } else {
        cleaned
    }
}

impl NewAttachment {
    /// Checks a file against the limits.
    pub fn new(name: &str, content_type: &str, data: Vec<u8>) -> Result<NewAttachment, Refused> {
        let Some(content_type) = allowed_type(content_type) else {
            let shown: String = content_type.chars().take(60).collect();
            return Err(Refused::TypeNotAllowed(shown));
        };
        if data.is_empty() {
            return Err(Refused::Empty);
        }
        if data.len() > MAX_BYTES {
            return Err(Refused::TooLarge);
        }
        if !content_matches(content_type, &data) {
            return Err(Refused::ContentMismatch);
        }
        Ok(NewAttachment {
            name: clean_name(name, content_type),
            content_type,
            data,
        })
    }

    /// A file a provider delivered: refused files become a line for the message text
    /// ("(photo.exe was not kept: type application/x-msdownload is not allowed)").
    pub fn from_provider(
        name: &str,
        content_type: &str,
        data: Vec<u8>,
    ) -> Result<NewAttachment, String> {
        NewAttachment::new(name, content_type, data).map_err(|why| {
            let shown = clean_name(name, "");
            format!("({shown} was not kept: {why})")
        })
    }

    /// A file a visitor or operator uploaded: refused with the field and the reason.
    pub fn from_upload(
        name: &str,
        content_type: &str,
        data: Vec<u8>,
    ) -> Result<NewAttachment, InvalidInput> {
        NewAttachment::new(name, content_type, data)
            .map_err(|why| InvalidInput::new("file", why.to_string()))
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn content_type(&self) -> &str {
        self.content_type
    }
    pub fn size(&self) -> usize {
        self.data.len()
    }
    pub fn sha256(&self) -> String {
        sha256_hex(&self.data)
    }
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }
}

/// `Content-Disposition` for serving a file: raster images inline, everything else as a
/// download; the name as a plain ASCII fallback and RFC 5987 UTF-8.
pub fn disposition(file: &StoredFile) -> String {
    let kind = if INLINE_TYPES.contains(&file.content_type.as_str()) {
        "inline"
    } else {
        "attachment"
    };
    let ascii: String = file
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != '%' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = file
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

const INSERT_PENDING: &str = "INSERT INTO attachments
     (conversation_id, message_id, name, content_type, size, sha256, data, created_at)
     VALUES (?1, NULL, ?2, ?3, ?4, ?5, ?6, ?7)";
const FOR_VISITOR: &str = "SELECT a.name, a.content_type, a.data FROM attachments a
     JOIN conversations c ON c.id = a.conversation_id
     WHERE a.id = ?1 AND a.conversation_id = ?2 AND a.message_id IS NOT NULL
       AND c.visitor_contact_id = (SELECT contact_id FROM visitor_tokens WHERE token_hash = ?3)
       AND a.sha256 != 'removed-by-retention'";
/// Files whose bytes retention removed (`retention`) keep their row as a marker and are not
/// found.
const FOR_OPERATOR: &str = "SELECT name, content_type, data FROM attachments
     WHERE id = ?1 AND conversation_id = ?2 AND message_id IS NOT NULL
       AND sha256 != 'removed-by-retention'";

/// Stores files for the message about to be inserted into `conversation_id`, in the same
/// transaction: the message's insert claims them (the `messages_publish` trigger).
pub fn stage(
    db: &dyn Database,
    conversation_id: i64,
    files: &[NewAttachment],
    now: i64,
) -> Result<(), DbError> {
    for file in files.iter().take(MAX_PER_MESSAGE) {
        db.execute(
            INSERT_PENDING,
            &[
                conversation_id.into(),
                file.name.as_str().into(),
                file.content_type.into(),
                (file.data.len() as i64).into(),
                sha256_hex(&file.data).into(),
                SqlValue::Blob(file.data.clone()),
                now.into(),
            ],
        )?;
    }
    Ok(())
}

fn stored(rows: crate::store::Rows) -> Result<Option<StoredFile>, DbError> {
    rows.first()
        .map(|row| {
            Ok(StoredFile {
                name: row.str("name")?.to_owned(),
                content_type: row.str("content_type")?.to_owned(),
                data: row.bytes("data")?.to_vec(),
            })
        })
        .transpose()
}

/// A file of a conversation, if the visitor holding `token` owns that conversation.
pub fn for_visitor(
    db: &dyn Database,
    token: &TokenHash,
    conversation_id: i64,
    attachment_id: i64,
) -> Result<Option<StoredFile>, DbError> {
    stored(db.execute(
        FOR_VISITOR,
        &[
            attachment_id.into(),
            conversation_id.into(),
            SqlValue::Blob(token.0.to_vec()),
        ],
    )?)
}

/// A file of a conversation, for a signed-in operator.
pub fn for_operator(
    db: &dyn Database,
    conversation_id: i64,
    attachment_id: i64,
) -> Result<Option<StoredFile>, DbError> {
    stored(db.execute(
        FOR_OPERATOR,
        &[attachment_id.into(), conversation_id.into()],
    )?)
}

/// Reads the JSON list the message queries build (`json_group_array` of id, name, type, size).
pub fn refs_from_json(json: Option<&str>) -> Result<Vec<AttachmentRef>, DbError> {
    match json {
        None => Ok(Vec::new()),
        Some(text) => serde_json::from_str(text)
            .map_err(|e| DbError::Decode(format!("attachments list: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0000";

    #[test]
    fn limits_and_types() {
        assert!(NewAttachment::new("a.png", "image/png", PNG.to_vec()).is_ok());
        assert_eq!(
            NewAttachment::new("a.png", "image/png", b"<script>".to_vec()),
            Err(Refused::ContentMismatch)
        );
        assert!(matches!(
            NewAttachment::new("a.svg", "image/svg+xml", b"<svg/>".to_vec()),
            Err(Refused::TypeNotAllowed(_))
        ));
        assert!(matches!(
            NewAttachment::new("a.html", "text/html; charset=utf-8", b"x".to_vec()),
            Err(Refused::TypeNotAllowed(_))
        ));
        assert_eq!(
            NewAttachment::new("a.txt", "text/plain", vec![]),
            Err(Refused::Empty)
        );
        assert_eq!(
            NewAttachment::new("a.txt", "text/plain", vec![b'a'; MAX_BYTES + 1]),
            Err(Refused::TooLarge)
        );
        assert!(
            NewAttachment::new("a.txt", "TEXT/PLAIN; charset=utf-8", vec![b'a'; MAX_BYTES]).is_ok()
        );
        let jpg = NewAttachment::new("p.jpg", "image/jpg", vec![0xFF, 0xD8, 0xFF, 0]).unwrap();
        assert_eq!(jpg.content_type(), "image/jpeg");
    }

    #[test]
    fn provider_refusals_become_a_note() {
        let note =
            NewAttachment::from_provider("../../evil.exe", "application/x-msdownload", vec![1])
                .unwrap_err();
        assert_eq!(
            note,
            "(evil.exe was not kept: type application/x-msdownload is not allowed)"
        );
    }

    #[test]
    fn names_lose_paths_and_quotes() {
        let file =
            NewAttachment::new("C:\\tmp\\\"quote\".txt", "text/plain", b"x".to_vec()).unwrap();
        assert_eq!(file.name(), "quote.txt");
        let file = NewAttachment::new("", "image/png", PNG.to_vec()).unwrap();
        assert_eq!(file.name(), "attachment.png");
        let file = NewAttachment::new("..", "text/plain", b"x".to_vec()).unwrap();
        assert_eq!(file.name(), "attachment.txt");
    }

    #[test]
    fn dispositions() {
        let image = StoredFile {
            name: "café photo.png".into(),
            content_type: "image/png".into(),
            data: vec![],
        };
        assert_eq!(
            disposition(&image),
            "inline; filename=\"caf_ photo.png\"; filename*=UTF-8''caf%C3%A9%20photo.png"
        );
        let pdf = StoredFile {
            name: "a.pdf".into(),
            content_type: "application/pdf".into(),
            data: vec![],
        };
        assert!(disposition(&pdf).starts_with("attachment; "));
    }

    proptest! {
        #[test]
        fn checks_never_panic(name in "\\PC{0,200}", t in "\\PC{0,80}", data in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(file) = NewAttachment::new(&name, &t, data) {
                let stored = StoredFile { name: file.name().to_owned(), content_type: file.content_type().to_owned(), data: vec![] };
                let header = disposition(&stored);
                prop_assert!(header.chars().all(|c| !c.is_control() && c.is_ascii()));
            }
        }
    }
}
