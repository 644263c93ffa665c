//! Media a provider hosts (MMS media, Messenger/Instagram attachment URLs, WhatsApp media ids),
//! fetched into [`crate::attachment`] storage after the message itself is stored.
//!
//! A webhook must answer quickly and must not fail because a media server is slow, so the
//! webhook only records what to fetch ([`queue`], in the message's transaction); `dispatch`
//! [`claim`]s due fetches under a lease, downloads them (with the provider's credentials,
//! following redirects, at most [`attachment::MAX_BYTES`]) and [`record`]s the result, retried
//! on the same schedule as replies. A fetched file joins its message and is announced with a
//! `message.attachment` event; a file that breaks the attachment limits, or a source that fails
//! for good, is noted on the message for operators instead.

use serde::Serialize;
use serde_json::Value;

use crate::attachment::{self, AttachmentRef, NewAttachment};
use crate::channel::Channel;
use crate::channel::send::Providers;
use crate::event::{self, EventKind, Visibility};
use crate::outbox::{LEASE_MS, RetrySchedule};
use crate::store::{Database, DbError, Row, SqlValue};

/// The source of a WhatsApp Cloud media id (looked up through the Graph API first).
const WHATSAPP_MEDIA: &str = "whatsapp-media:";
/// The most fetches one pass makes.
pub const BATCH: i64 = 10;

/// A file a provider hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMedia {
    pub source: String,
    /// The type the provider declared, if it did (else the download's `Content-Type`).
    pub content_type: Option<String>,
    pub name: Option<String>,
}

impl RemoteMedia {
    /// A media URL (Twilio `MediaUrlN`, Messenger/Instagram `payload.url`).
    pub fn url(url: &str, content_type: Option<&str>) -> RemoteMedia {
        RemoteMedia {
            source: url.to_owned(),
            content_type: content_type.map(str::to_owned),
            name: None,
        }
    }
    /// A WhatsApp Cloud media id.
    pub fn whatsapp(id: &str, content_type: Option<&str>, name: Option<&str>) -> RemoteMedia {
        RemoteMedia {
            source: format!("{WHATSAPP_MEDIA}{id}"),
            content_type: content_type.map(str::to_owned),
            name: name.map(str::to_owned),
        }
    }
}

const INSERT: &str = "INSERT INTO media_fetches
     (message_id, conversation_id, channel, source, content_type, name, next_attempt_at, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (message_id, source) DO NOTHING";

/// Records what to fetch for a just-stored message; call in its transaction.
pub fn queue(
    db: &dyn Database,
    conversation_id: i64,
    message_id: i64,
    channel: Channel,
    media: &[RemoteMedia],
    now: i64,
) -> Result<(), DbError> {
    for item in media.iter().take(attachment::MAX_PER_MESSAGE) {
        db.execute(
            INSERT,
            &[
                message_id.into(),
                conversation_id.into(),
                channel.as_str().into(),
                item.source.as_str().into(),
                item.content_type.as_deref().into(),
                item.name.as_deref().into(),
                now.into(),
            ],
        )?;
    }
    Ok(())
}

/// A fetch claimed by one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaJob {
    pub id: i64,
    pub message_id: i64,
    pub conversation_id: i64,
    pub channel: Channel,
    pub source: String,
    pub content_type: Option<String>,
    pub name: Option<String>,
    /// Including this one.
    pub attempts: i64,
}

const DUE: &str = "SELECT 1 AS due FROM media_fetches
     WHERE done_at IS NULL AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1)
     LIMIT 1";
const CLAIM: &str = "UPDATE media_fetches SET lease_until = ?1 + ?2, attempts = attempts + 1
     WHERE id IN (SELECT id FROM media_fetches
                   WHERE done_at IS NULL AND next_attempt_at <= ?1
                     AND (lease_until IS NULL OR lease_until <= ?1)
                   ORDER BY next_attempt_at, id LIMIT ?3)
     RETURNING id, message_id, conversation_id, channel, source, content_type, name, attempts";

/// Whether any fetch is due now.
pub fn is_due(db: &dyn Database, now: i64) -> Result<bool, DbError> {
    Ok(!db.execute(DUE, &[now.into()])?.is_empty())
}

fn job(row: &Row<'_>) -> Result<MediaJob, DbError> {
    let channel = row.str("channel")?;
    Ok(MediaJob {
        id: row.i64("id")?,
        message_id: row.i64("message_id")?,
        conversation_id: row.i64("conversation_id")?,
        channel: Channel::parse(channel)
            .ok_or_else(|| DbError::Decode(format!("unknown channel {channel}")))?,
        source: row.str("source")?.to_owned(),
        content_type: row.opt_str("content_type")?.map(str::to_owned),
        name: row.opt_str("name")?.map(str::to_owned),
        attempts: row.i64("attempts")?,
    })
}

/// Claims up to [`BATCH`] due fetches; call inside a write transaction.
pub fn claim(db: &dyn Database, now: i64) -> Result<Vec<MediaJob>, DbError> {
    let rows = db.execute(CLAIM, &[now.into(), LEASE_MS.into(), BATCH.into()])?;
    rows.iter().map(|row| job(&row)).collect()
}

/// An HTTP GET to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGet {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// The first request for a fetch: Twilio media with the account's credentials, a WhatsApp
/// media id looked up through the Graph API with the WhatsApp token, a Messenger/Instagram URL
/// as is (Meta signs those URLs). `Err`: the channel is not configured for it.
pub fn first_request(providers: &Providers, job: &MediaJob) -> Result<HttpGet, String> {
    if let Some(id) = job.source.strip_prefix(WHATSAPP_MEDIA) {
        let meta = &providers.meta;
        if meta.whatsapp_token.is_empty() {
            return Err("WhatsApp media need whatsapp_token".into());
        }
        return Ok(HttpGet {
            url: format!("{}/{id}", meta.graph_base.trim_end_matches('/')),
            headers: vec![(
                "authorization".into(),
                format!("Bearer {}", meta.whatsapp_token),
            )],
        });
    }
    let headers = match job.channel {
        Channel::Sms | Channel::Whatsapp => {
            let twilio = &providers.twilio;
            if twilio.account_sid.is_empty() || twilio.auth_token.is_empty() {
                return Err("MMS media need twilio_account_sid and twilio_auth_token".into());
            }
            use base64::Engine as _;
            let credentials = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", twilio.account_sid, twilio.auth_token));
            vec![("authorization".into(), format!("Basic {credentials}"))]
        }
        _ => Vec::new(),
    };
    Ok(HttpGet {
        url: job.source.clone(),
        headers,
    })
}

/// For a WhatsApp media id: the download request that follows the Graph API's answer
/// (`{"url": ..., "mime_type": ...}`), with the declared type. `None` for other sources.
pub fn second_request(
    providers: &Providers,
    job: &MediaJob,
    lookup: &[u8],
) -> Option<Result<(HttpGet, Option<String>), String>> {
    if !job.source.starts_with(WHATSAPP_MEDIA) {
        return None;
    }
    let answer: Value = serde_json::from_slice(lookup).unwrap_or(Value::Null);
    let Some(url) = answer.get("url").and_then(Value::as_str) else {
        return Some(Err("the Graph API gave no media URL".into()));
    };
    let request = HttpGet {
        url: url.to_owned(),
        headers: vec![(
            "authorization".into(),
            format!("Bearer {}", providers.meta.whatsapp_token),
        )],
    };
    let declared = answer
        .get("mime_type")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some(Ok((request, declared)))
}

/// What a fetch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    File { content_type: String, data: Vec<u8> },
    Retry(String),
    Failed(String),
}

/// Whether an HTTP status of a media download is worth retrying.
pub fn retryable(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

#[derive(Serialize)]
struct AttachmentAdded<'a> {
    message_id: i64,
    attachment: &'a AttachmentRef,
}

#[derive(Serialize)]
struct AttachmentLost<'a> {
    message_id: i64,
    error: &'a str,
}

const DONE: &str =
    "UPDATE media_fetches SET done_at = ?2, lease_until = NULL, last_error = ?3 WHERE id = ?1";
const AGAIN: &str = "UPDATE media_fetches SET next_attempt_at = ?2, lease_until = NULL, last_error = ?3 WHERE id = ?1";
const STILL_WANTED: &str =
    "SELECT 1 AS wanted FROM media_fetches WHERE id = ?1 AND done_at IS NULL";
const STORE: &str = "INSERT INTO attachments
     (conversation_id, message_id, name, content_type, size, sha256, data, created_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id";

/// Records one fetch's outcome; call inside a write transaction. Returns the events written.
pub fn record(
    db: &dyn Database,
    job: &MediaJob,
    fetched: Fetched,
    schedule: &RetrySchedule,
    now: i64,
) -> Result<Vec<(i64, i64)>, DbError> {
    // Erasing a customer (`privacy`) deletes their pending fetches, possibly while one runs:
    // a file fetched in flight must not bring their data back.
    if db.execute(STILL_WANTED, &[job.id.into()])?.is_empty() {
        return Ok(Vec::new());
    }
    let error: String = match fetched {
        Fetched::File { content_type, data } => {
            let declared = job.content_type.as_deref().unwrap_or(&content_type);
            let name = job.name.clone().unwrap_or_default();
            match NewAttachment::from_provider(&name, declared, data) {
                Ok(file) => {
                    let mut added = AttachmentRef {
                        id: 0,
                        name: file.name().to_owned(),
                        content_type: file.content_type().to_owned(),
                        size: file.size() as i64,
                        removed: false,
                    };
                    let sha256 = file.sha256();
                    added.id = db
                        .execute(
                            STORE,
                            &[
                                job.conversation_id.into(),
                                job.message_id.into(),
                                added.name.as_str().into(),
                                added.content_type.as_str().into(),
                                added.size.into(),
                                sha256.into(),
                                SqlValue::Blob(file.into_data()),
                                now.into(),
                            ],
                        )?
                        .first()
                        .ok_or_else(|| DbError::Decode("INSERT ... RETURNING gave no row".into()))?
                        .i64("id")?;
                    db.execute(DONE, &[job.id.into(), now.into(), None::<&str>.into()])?;
                    let event = event::append(
                        db,
                        job.conversation_id,
                        EventKind::MessageAttachment,
                        Visibility::Public,
                        &AttachmentAdded {
                            message_id: job.message_id,
                            attachment: &added,
                        },
                        now,
                    )?;
                    return Ok(vec![(job.conversation_id, event)]);
                }
                // A file that breaks the limits will break them next time too.
                Err(why) => why,
            }
        }
        Fetched::Retry(why) if job.attempts < schedule.attempts() => {
            let wait = schedule.steps()[(job.attempts - 1) as usize];
            db.execute(
                AGAIN,
                &[job.id.into(), (now + wait).into(), why.as_str().into()],
            )?;
            return Ok(Vec::new());
        }
        Fetched::Retry(why) => format!(
            "(a file could not be fetched after {} attempts: {why})",
            job.attempts
        ),
        Fetched::Failed(why) => format!("(a file could not be fetched: {why})"),
    };
    db.execute(DONE, &[job.id.into(), now.into(), error.as_str().into()])?;
    let event = event::append(
        db,
        job.conversation_id,
        EventKind::MessageAttachment,
        Visibility::Internal,
        &AttachmentLost {
            message_id: job.message_id,
            error: &error,
        },
        now,
    )?;
    Ok(vec![(job.conversation_id, event)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::Clock;
    use crate::inbound::{self, InboundMessage, Sender};
    use crate::message::MessageBody;
    use crate::testing::TestHost;

    fn mms(host: &TestHost, urls: &[&str]) -> i64 {
        let message = InboundMessage {
            channel: Channel::Sms,
            sender: Sender::Phone(crate::contact::PhoneNumber::parse("f", "+14155550100").unwrap()),
            name: None,
            external_id: "MM1".into(),
            body: MessageBody::parse("(1 attachment)").unwrap(),
            email: None,
            attachments: vec![],
            media: urls
                .iter()
                .map(|u| RemoteMedia::url(u, Some("image/png")))
                .collect(),
        };
        inbound::receive(&host.ctx(), &message)
            .unwrap()
            .message_id
            .unwrap()
    }

    fn column(host: &TestHost, sql: &str) -> Option<String> {
        host.ctx()
            .db
            .execute(sql, &[])
            .unwrap()
            .first()
            .and_then(|r| r.opt_str("v").unwrap().map(str::to_owned))
    }

    #[test]
    fn a_fetched_file_joins_its_message_and_is_announced() {
        let host = TestHost::new();
        let message_id = mms(
            &host,
            &["https://api.twilio.com/ME1", "https://api.twilio.com/ME1"],
        );
        let db = host.ctx().db;
        let jobs = claim(db, host.clock.now_ms()).unwrap();
        assert_eq!(jobs.len(), 1, "one fetch per source");
        assert!(claim(db, host.clock.now_ms()).unwrap().is_empty(), "leased");
        let file = Fetched::File {
            content_type: "image/png".into(),
            data: b"\x89PNG\r\n\x1a\nxx".to_vec(),
        };
        let events = record(
            db,
            &jobs[0],
            file,
            &RetrySchedule::default(),
            host.clock.now_ms(),
        )
        .unwrap();
        assert_eq!(events.len(), 1);
        let listed = crate::message::get(db, message_id)
            .unwrap()
            .unwrap()
            .attachments;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].name, "attachment.png");
        assert_eq!(
            column(
                &host,
                "SELECT kind || '/' || visibility AS v FROM events ORDER BY id DESC LIMIT 1"
            )
            .as_deref(),
            Some("message.attachment/public")
        );
        assert!(!is_due(db, host.clock.now_ms() + LEASE_MS).unwrap());
    }

    #[test]
    fn a_file_fetched_while_its_customer_is_erased_is_not_stored() {
        let host = TestHost::new();
        let message_id = mms(&host, &["https://api.twilio.com/ME9"]);
        let db = host.ctx().db;
        let job = claim(db, host.clock.now_ms()).unwrap().remove(0);
        // The erasure commits while the download runs.
        let conversation = crate::message::get(db, message_id)
            .unwrap()
            .unwrap()
            .conversation_id;
        crate::privacy::erase_conversations(db, &[conversation], host.clock.now_ms()).unwrap();
        let file = Fetched::File {
            content_type: "image/png".into(),
            data: b"\x89PNG\r\n\x1a\nxx".to_vec(),
        };
        let events = record(
            db,
            &job,
            file,
            &RetrySchedule::default(),
            host.clock.now_ms(),
        )
        .unwrap();
        assert!(events.is_empty());
        assert_eq!(
            column(&host, "SELECT COUNT(*) || '' AS v FROM attachments").as_deref(),
            Some("0")
        );
    }

    #[test]
    fn failures_are_retried_then_noted_for_operators_and_bad_files_are_never_kept() {
        let host = TestHost::new();
        mms(&host, &["https://api.twilio.com/ME1"]);
        let db = host.ctx().db;
        let schedule = RetrySchedule::parse("1000").unwrap();
        let job = claim(db, host.clock.now_ms()).unwrap().remove(0);
        assert!(
            record(
                db,
                &job,
                Fetched::Retry("HTTP 503".into()),
                &schedule,
                host.clock.now_ms()
            )
            .unwrap()
            .is_empty()
        );
        host.clock.advance(1000);
        let job = claim(db, host.clock.now_ms()).unwrap().remove(0);
        record(
            db,
            &job,
            Fetched::Retry("HTTP 503".into()),
            &schedule,
            host.clock.now_ms(),
        )
        .unwrap();
        assert_eq!(
            column(&host, "SELECT last_error AS v FROM media_fetches").as_deref(),
            Some("(a file could not be fetched after 2 attempts: HTTP 503)")
        );
        assert!(!is_due(db, host.clock.now_ms() + 10_000).unwrap());

        let host = TestHost::new();
        mms(&host, &["https://api.twilio.com/ME2"]);
        let db = host.ctx().db;
        let job = claim(db, host.clock.now_ms()).unwrap().remove(0);
        let html = Fetched::File {
            content_type: "text/html".into(),
            data: b"<script>".to_vec(),
        };
        let mut job = job;
        job.content_type = None;
        record(db, &job, html, &schedule, host.clock.now_ms()).unwrap();
        assert_eq!(
            column(&host, "SELECT COUNT(*) || '' AS v FROM attachments").as_deref(),
            Some("0")
        );
        assert!(
            column(&host, "SELECT last_error AS v FROM media_fetches")
                .unwrap()
                .contains("not allowed")
        );
    }
}
