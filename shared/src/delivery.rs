//! How far each outbound message got: queued, sent, delivered, read, or failed.
//!
//! Providers report out of order (Twilio's callbacks race each other; Meta batches receipts), so
//! a state only ever moves forward: every change is one conditional `UPDATE` that matches only
//! when the new state ranks above the stored one ([`ADVANCE`]). `failed` ranks above everything
//! but cannot undo `delivered` or `read`: a late "undelivered" for a message the customer has
//! read is noise. Each change appends an operators-only `message.delivery` event, so consoles
//! update live.

use serde::Serialize;

use crate::channel::Channel;
use crate::event::{self, EventKind, Visibility};
use crate::store::{Database, DbError};

/// Delivery states, in the only order they may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    /// Final, unless the message was already delivered.
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }
}

/// The rank of a stored state in SQL, for the forward-only checks.
const RANK: &str = "CASE delivery WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2
     WHEN 'read' THEN 3 WHEN 'failed' THEN 4 ELSE -1 END";

/// The condition under which a message may move to state `?1`.
fn may_move() -> String {
    format!(
        "delivery IS NOT NULL AND author = 'operator' AND (
            CASE ?1 WHEN 'queued' THEN 0 WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2
                    WHEN 'read' THEN 3 WHEN 'failed' THEN 4 END > {RANK})
        AND NOT (?1 = 'failed' AND delivery IN ('delivered', 'read'))"
    )
}

/// One message moved to a new state (for the event and the announcement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub message_id: i64,
    pub conversation_id: i64,
    pub delivery: DeliveryStatus,
    /// The provider's reason for a failure (or the last retry), for the operator.
    pub error: Option<String>,
}

fn moved(
    db: &dyn Database,
    rows: crate::store::Rows,
    status: DeliveryStatus,
    error: Option<&str>,
    now: i64,
) -> Result<Vec<(i64, i64)>, DbError> {
    let mut appended = Vec::new();
    for row in rows.iter() {
        let change = Moved {
            message_id: row.i64("id")?,
            conversation_id: row.i64("conversation_id")?,
            delivery: status,
            error: error.map(str::to_owned),
        };
        let id = event::append(
            db,
            change.conversation_id,
            EventKind::MessageDelivery,
            Visibility::Internal,
            &change,
            now,
        )?;
        appended.push((change.conversation_id, id));
    }
    Ok(appended)
}

/// Moves the message with our id `message_id` forward to `status`. Returns the events written
/// (conversation, event id) for [`event::announce_each`] after the commit.
pub fn advance(
    db: &dyn Database,
    message_id: i64,
    status: DeliveryStatus,
    error: Option<&str>,
    now: i64,
) -> Result<Vec<(i64, i64)>, DbError> {
    let sql = format!(
        "UPDATE messages SET delivery = ?1, delivery_error = ?2, delivery_at = ?3
          WHERE id = ?4 AND {} RETURNING id, conversation_id",
        may_move()
    );
    let rows = db.execute(
        &sql,
        &[
            status.as_str().into(),
            error.into(),
            now.into(),
            message_id.into(),
        ],
    )?;
    moved(db, rows, status, error, now)
}

/// Tells operators that an attempt to send a still-queued message failed and will be retried.
pub fn note_retry(
    db: &dyn Database,
    message_id: i64,
    conversation_id: i64,
    note: &str,
    now: i64,
) -> Result<Vec<(i64, i64)>, DbError> {
    db.execute(
        "UPDATE messages SET delivery_error = ?2 WHERE id = ?1 AND delivery = 'queued'",
        &[message_id.into(), note.into()],
    )?;
    let change = Moved {
        message_id,
        conversation_id,
        delivery: DeliveryStatus::Queued,
        error: Some(note.to_owned()),
    };
    let id = event::append(
        db,
        conversation_id,
        EventKind::MessageDelivery,
        Visibility::Internal,
        &change,
        now,
    )?;
    Ok(vec![(conversation_id, id)])
}

/// Moves the message the provider knows as `external_id` on one of `channels` forward (Twilio
/// status callbacks, WhatsApp statuses). An id we never sent is ignored.
pub fn advance_by_provider_id(
    db: &dyn Database,
    channels: &[Channel],
    external_id: &str,
    status: DeliveryStatus,
    error: Option<&str>,
    now: i64,
) -> Result<Vec<(i64, i64)>, DbError> {
    let list: Vec<&str> = channels.iter().map(|c| c.as_str()).collect();
    let list = serde_json::to_string(&list).map_err(|e| DbError::Decode(e.to_string()))?;
    let sql = format!(
        "UPDATE messages SET delivery = ?1, delivery_error = ?2, delivery_at = ?3
          WHERE external_id = ?4 AND channel IN (SELECT value FROM json_each(?5)) AND {}
          RETURNING id, conversation_id",
        may_move()
    );
    let rows = db.execute(
        &sql,
        &[
            status.as_str().into(),
            error.into(),
            now.into(),
            external_id.into(),
            list.into(),
        ],
    )?;
    moved(db, rows, status, error, now)
}

/// Messenger/Instagram receipts: everything we sent on `channel` to the customer with channel id
/// `customer` up to `watermark_ms` is delivered (or read).
pub fn advance_up_to(
    db: &dyn Database,
    channel: Channel,
    customer: &str,
    watermark_ms: i64,
    status: DeliveryStatus,
    now: i64,
) -> Result<Vec<(i64, i64)>, DbError> {
    let sql = format!(
        "UPDATE messages SET delivery = ?1, delivery_error = NULL, delivery_at = ?3
          WHERE channel = ?2 AND created_at <= ?5 AND {}
            AND conversation_id IN (
                SELECT c.id FROM conversations c
                  JOIN contact_identities i ON i.channel = ?2 AND i.external_id = ?4
                  JOIN contacts k ON k.id = i.contact_id
                 WHERE c.contact_id = COALESCE(k.merged_into, k.id) OR c.contact_id = k.id)
          RETURNING id, conversation_id",
        may_move()
    );
    let rows = db.execute(
        &sql,
        &[
            status.as_str().into(),
            channel.as_str().into(),
            now.into(),
            customer.into(),
            watermark_ms.into(),
        ],
    )?;
    moved(db, rows, status, None, now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestHost;

    fn setup(host: &TestHost) -> i64 {
        let db = host.ctx().db;
        db.execute(
            "INSERT INTO contacts (name, created_at) VALUES ('Ann', 0)",
            &[],
        )
        .unwrap();
        db.execute(
            "INSERT INTO conversations (contact_id, visitor_contact_id, created_at, updated_at) VALUES (1, 1, 0, 0)",
            &[],
        )
        .unwrap();
        db.execute(
            "INSERT INTO messages (conversation_id, author, channel, body, external_id, delivery, created_at)
             VALUES (1, 'operator', 'sms', 'hi', 'SM1', 'queued', 0)",
            &[],
        )
        .unwrap();
        1
    }

    fn state(host: &TestHost) -> String {
        host.ctx()
            .db
            .execute("SELECT delivery FROM messages WHERE id = 1", &[])
            .unwrap()
            .first()
            .unwrap()
            .str("delivery")
            .unwrap()
            .to_owned()
    }

    #[test]
    fn states_never_move_backwards() {
        let host = TestHost::new();
        setup(&host);
        let db = host.ctx().db;
        let by_sid = |status| {
            advance_by_provider_id(db, &[Channel::Sms], "SM1", status, None, 5)
                .unwrap()
                .len()
        };
        assert_eq!(by_sid(DeliveryStatus::Delivered), 1);
        assert_eq!(by_sid(DeliveryStatus::Sent), 0, "late 'sent' ignored");
        assert_eq!(
            by_sid(DeliveryStatus::Failed),
            0,
            "failed cannot undo delivered"
        );
        assert_eq!(state(&host), "delivered");
        assert_eq!(by_sid(DeliveryStatus::Read), 1);
        assert_eq!(by_sid(DeliveryStatus::Read), 0, "no event for a repeat");
        assert_eq!(state(&host), "read");
        assert_eq!(
            advance_by_provider_id(
                db,
                &[Channel::Whatsapp],
                "SM1",
                DeliveryStatus::Read,
                None,
                5
            )
            .unwrap()
            .len(),
            0,
            "another channel's id is another message"
        );
        let events = db
            .execute("SELECT COUNT(*) AS n FROM events WHERE kind = 'message.delivery' AND visibility = 'internal'", &[])
            .unwrap();
        assert_eq!(events.first().unwrap().i64("n").unwrap(), 2);
    }

    #[test]
    fn failure_is_final_before_delivery() {
        let host = TestHost::new();
        setup(&host);
        let db = host.ctx().db;
        assert_eq!(
            advance(db, 1, DeliveryStatus::Failed, Some("30003 Unreachable"), 5)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            advance(db, 1, DeliveryStatus::Sent, None, 6).unwrap().len(),
            0
        );
        assert_eq!(state(&host), "failed");
    }

    #[test]
    fn receipts_cover_everything_up_to_the_watermark() {
        let host = TestHost::new();
        setup(&host);
        let db = host.ctx().db;
        db.execute("INSERT INTO contact_identities (channel, external_id, contact_id, created_at) VALUES ('messenger', 'PSID', 1, 0)", &[]).unwrap();
        for (id, at) in [("m1", 100), ("m2", 200), ("m3", 300)] {
            db.execute(
                "INSERT INTO messages (conversation_id, author, channel, body, external_id, delivery, created_at)
                 VALUES (1, 'operator', 'messenger', 'x', ?1, 'sent', ?2)",
                &[id.into(), at.into()],
            )
            .unwrap();
        }
        let moved =
            advance_up_to(db, Channel::Messenger, "PSID", 200, DeliveryStatus::Read, 9).unwrap();
        assert_eq!(moved.len(), 2);
        let moved = advance_up_to(
            db,
            Channel::Messenger,
            "PSID",
            300,
            DeliveryStatus::Delivered,
            9,
        )
        .unwrap();
        assert_eq!(moved.len(), 1, "only m3 was not yet delivered");
        assert!(
            advance_up_to(
                db,
                Channel::Messenger,
                "OTHER",
                300,
                DeliveryStatus::Read,
                9
            )
            .unwrap()
            .is_empty()
        );
    }
}
