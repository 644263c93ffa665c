//! What operators do to a conversation besides talking: change its status, assign it, transfer
//! it, tag it, write internal notes; and the supervisors' live queue.
//!
//! Every action runs in one write transaction that reads the conversation, checks who may act
//! and that the caller saw the current `version`, changes it with a conditional UPDATE that
//! matches that version again, and appends the timeline event. Two operators acting at once:
//! one wins, the other gets a 409 with the current state.

use serde::{Deserialize, Serialize};

use crate::chat::ChatError;
use crate::conversation::{self, Assignee, ConversationSummary, Named, Status, TagRef};
use crate::event::{self, EventKind, Visibility};
use crate::host::Ctx;
use crate::input::bounded_text;
use crate::message::{self, Author, ClientId, MessageBody, NewMessage};
use crate::note::{self, Note, NoteRequest};
use crate::operator::{self, Operator, OperatorProfile, Role};
use crate::store::transaction;
use crate::{settings, tag, team};

/// The longest a conversation may be snoozed.
pub const MAX_SNOOZE_MS: i64 = 365 * 24 * 3_600_000;
/// Reasons (status changes, assignment, transfer) are at most this long.
pub const REASON_MAX_CHARS: usize = 500;

/// `POST /conversations/:id/status` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusRequest {
    pub status: String,
    pub version: i64,
    #[serde(default)]
    pub snoozed_until: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `POST /conversations/:id/assign` body: `operator_id` null returns it to the queue.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    pub operator_id: Option<i64>,
    pub version: i64,
}

/// `POST /conversations/:id/transfer` body: to an operator or to a team, with a reason.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    #[serde(default)]
    pub operator_id: Option<i64>,
    #[serde(default)]
    pub team_id: Option<i64>,
    pub reason: String,
    pub version: i64,
}

/// `POST /conversations/:id/tags` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagRequest {
    pub tag_id: i64,
}

#[derive(Serialize)]
struct StatusChanged<'a> {
    from: Status,
    to: Status,
    by: Named,
    reason: Option<&'a str>,
    snoozed_until: Option<i64>,
}

#[derive(Serialize)]
struct Assigned<'a> {
    from: Option<Named>,
    to: Option<Named>,
    by: Named,
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct Transferred<'a> {
    from: Option<Named>,
    to_operator: Option<Named>,
    to_team: Option<Named>,
    by: Named,
    reason: &'a str,
}

#[derive(Serialize)]
struct Tagged {
    tag: TagRef,
    by: Named,
}

#[derive(Serialize)]
struct NoteCreated<'a> {
    note: &'a Note,
}

/// The conversation, if `operator` may act on it: supervisors and admins on any; operators on
/// unassigned ones and their own.
pub fn actionable(
    ctx: &Ctx<'_>,
    operator: &Operator,
    id: i64,
) -> Result<ConversationSummary, ChatError> {
    let current = conversation::summary(ctx.db, id)?.ok_or(ChatError::NotFound("conversation"))?;
    may_act(operator, &current)?;
    Ok(current)
}

/// 409 `assigned_elsewhere` when an operator acts on someone else's conversation.
pub fn may_act(operator: &Operator, current: &ConversationSummary) -> Result<(), ChatError> {
    match &current.assignee {
        Some(assignee) if assignee.id != operator.id && !operator.acts_on_any_conversation() => {
            Err(ChatError::Conflict(
                "assigned_elsewhere",
                format!(
                    "{} has this conversation; ask them or a supervisor to reassign it",
                    assignee.name
                ),
            ))
        }
        _ => Ok(()),
    }
}

fn same_version(
    current: ConversationSummary,
    version: i64,
) -> Result<ConversationSummary, ChatError> {
    if current.version == version {
        Ok(current)
    } else {
        Err(ChatError::Stale(Box::new(current)))
    }
}

fn reason(text: Option<&str>, required: bool) -> Result<Option<String>, ChatError> {
    let text = bounded_text(
        "reason",
        text.unwrap_or(""),
        usize::from(required),
        REASON_MAX_CHARS,
    )?;
    Ok((!text.is_empty()).then_some(text))
}

fn reload(ctx: &Ctx<'_>, id: i64) -> Result<ConversationSummary, ChatError> {
    conversation::summary(ctx.db, id)?.ok_or(ChatError::NotFound("conversation"))
}

/// Opens, parks (pending), snoozes or resolves a conversation. Resolving asks for the
/// customer's rating ([`crate::csat::request`]); a survey it queues for a provider channel is
/// sent by the caller's dispatch pass.
pub fn set_status(
    ctx: &Ctx<'_>,
    operator: &Operator,
    id: i64,
    request: &StatusRequest,
) -> Result<ConversationSummary, ChatError> {
    let to = Status::parse(&request.status).ok_or_else(|| {
        crate::input::InvalidInput::new("status", "must be open, pending, snoozed or resolved")
    })?;
    let reason = reason(request.reason.as_deref(), false)?;
    let now = ctx.clock.now_ms();
    let snoozed_until = match (to, request.snoozed_until) {
        (Status::Snoozed, Some(until)) if until > now && until <= now + MAX_SNOOZE_MS => {
            Some(until)
        }
        (Status::Snoozed, _) => {
            return Err(crate::input::InvalidInput::new(
                "snoozed_until",
                "must be a time in the future, within a year (Unix milliseconds)",
            )
            .into());
        }
        (_, Some(_)) => {
            return Err(crate::input::InvalidInput::new(
                "snoozed_until",
                "only goes with status snoozed",
            )
            .into());
        }
        (_, None) => None,
    };
    let (summary, event_id) = transaction(ctx.db, || {
        let current = same_version(actionable(ctx, operator, id)?, request.version)?;
        let from = current.status();
        if from == to && to != Status::Snoozed {
            return Err(ChatError::Conflict(
                "no_change",
                format!("the conversation is already {}", to.as_str()),
            ));
        }
        if !conversation::set_status(ctx.db, id, request.version, to, snoozed_until, now)? {
            return Err(ChatError::Stale(Box::new(reload(ctx, id)?)));
        }
        let event_id = event::append(
            ctx.db,
            id,
            EventKind::ConversationStatus,
            Visibility::Internal,
            &StatusChanged {
                from,
                to,
                by: Named::from(operator),
                reason: reason.as_deref(),
                snoozed_until,
            },
            now,
        )?;
        if to == Status::Resolved {
            // Asked in the same transaction: a resolution is never left without its survey,
            // and the survey's row makes it once per conversation however often it resolves.
            crate::csat::request(ctx.db, id, now)?;
        }
        Ok((reload(ctx, id)?, event_id))
    })?;
    event::announce(ctx, id, &format!("e{event_id}"));
    Ok(summary)
}

/// Why an assignment to `operator_id` was refused, once the version is known to match.
fn refusal(ctx: &Ctx<'_>, operator_id: i64) -> Result<ChatError, ChatError> {
    let profile = operator::profile(ctx.db, operator_id, ctx.clock.now_ms())?;
    Ok(match profile {
        None => ChatError::NotFound("operator"),
        Some(p) if !p.active => {
            ChatError::Conflict("inactive_operator", format!("{} is deactivated", p.name))
        }
        Some(p) if p.invited => ChatError::Conflict(
            "inactive_operator",
            format!("{} has not accepted their invitation yet", p.name),
        ),
        Some(p) => ChatError::Conflict(
            "at_capacity",
            format!("{} is at capacity ({} of {})", p.name, p.load, p.capacity),
        ),
    })
}

/// Assigns a conversation by hand, or returns it to the queue. Supervisors assign anyone;
/// operators may only claim an unassigned conversation for themselves.
pub fn assign(
    ctx: &Ctx<'_>,
    operator: &Operator,
    id: i64,
    request: &AssignRequest,
) -> Result<ConversationSummary, ChatError> {
    let now = ctx.clock.now_ms();
    let (summary, event_id) = transaction(ctx.db, || {
        let current =
            conversation::summary(ctx.db, id)?.ok_or(ChatError::NotFound("conversation"))?;
        if !operator.role.includes(Role::Supervisor) {
            let claims_for_self = request.operator_id == Some(operator.id);
            if !claims_for_self {
                return Err(ChatError::Forbidden(
                    "only supervisors and admins may assign conversations to others",
                ));
            }
            may_act(operator, &current)?;
        }
        let current = same_version(current, request.version)?;
        let to = match request.operator_id {
            Some(target) => {
                if current.assignee_id() == Some(target) {
                    return Err(ChatError::Conflict(
                        "no_change",
                        "the conversation is already assigned to them".into(),
                    ));
                }
                if !conversation::reassign(
                    ctx.db,
                    id,
                    request.version,
                    Assignee::Operator(target),
                    None,
                    false,
                    now,
                )? {
                    return Err(refusal(ctx, target)?);
                }
                operator::by_id(ctx.db, target)?.map(|o| Named::from(&o))
            }
            None => {
                if current.assignee.is_none() {
                    return Err(ChatError::Conflict(
                        "no_change",
                        "the conversation is already unassigned".into(),
                    ));
                }
                if !conversation::reassign(
                    ctx.db,
                    id,
                    request.version,
                    Assignee::Queue,
                    None,
                    false,
                    now,
                )? {
                    return Err(ChatError::Stale(Box::new(reload(ctx, id)?)));
                }
                None
            }
        };
        let event_id = event::append(
            ctx.db,
            id,
            EventKind::ConversationAssigned,
            Visibility::Internal,
            &Assigned {
                from: current.assignee.clone(),
                to,
                by: Named::from(operator),
                reason: Some(if request.operator_id.is_some() {
                    "assigned by hand"
                } else {
                    "returned to the queue"
                }),
            },
            now,
        )?;
        Ok((reload(ctx, id)?, event_id))
    })?;
    event::announce(ctx, id, &format!("e{event_id}"));
    Ok(summary)
}

/// Hands a conversation to another operator or to a team's queue, with a reason the receiver
/// sees in the timeline. The visitor gets the configured notice (a system message) and never
/// the reason.
pub fn transfer(
    ctx: &Ctx<'_>,
    operator: &Operator,
    id: i64,
    request: &TransferRequest,
) -> Result<ConversationSummary, ChatError> {
    let reason = reason(Some(&request.reason), true)?.unwrap_or_default();
    let now = ctx.clock.now_ms();
    let notices = settings::load(ctx.db)?;
    let (summary, transfer_event) = transaction(ctx.db, || {
        let current = same_version(actionable(ctx, operator, id)?, request.version)?;
        let (to_operator, to_team, notice) = match (request.operator_id, request.team_id) {
            (Some(target), team_id) => {
                // Handing an unassigned conversation to someone else is assigning it: a
                // supervisor's call. Operators transfer their own, or claim first.
                if current.assignee.is_none()
                    && target != operator.id
                    && !operator.role.includes(Role::Supervisor)
                {
                    return Err(ChatError::Forbidden(
                        "only supervisors may give an unassigned conversation to someone else; claim it first or transfer it to a team",
                    ));
                }
                if current.assignee_id() == Some(target) {
                    return Err(ChatError::Conflict(
                        "no_change",
                        "the conversation is already theirs".into(),
                    ));
                }
                let team = match team_id {
                    Some(team_id) => {
                        Some(team::by_id(ctx.db, team_id)?.ok_or(ChatError::NotFound("team"))?)
                    }
                    None => None,
                };
                let target_operator =
                    operator::by_id(ctx.db, target)?.ok_or(ChatError::NotFound("operator"))?;
                if !conversation::reassign(
                    ctx.db,
                    id,
                    request.version,
                    Assignee::Operator(target),
                    team_id,
                    true,
                    now,
                )? {
                    return Err(refusal(ctx, target)?);
                }
                let notice = notices
                    .transfer_notice_operator
                    .replace("{operator}", &target_operator.name);
                (
                    Some(Named::from(&target_operator)),
                    team.map(|t| Named {
                        id: t.id,
                        name: t.name,
                    }),
                    notice,
                )
            }
            (None, Some(team_id)) => {
                let team = team::by_id(ctx.db, team_id)?.ok_or(ChatError::NotFound("team"))?;
                if !conversation::reassign(
                    ctx.db,
                    id,
                    request.version,
                    Assignee::Queue,
                    Some(team_id),
                    true,
                    now,
                )? {
                    return Err(ChatError::Stale(Box::new(reload(ctx, id)?)));
                }
                let notice = notices.transfer_notice_team.replace("{team}", &team.name);
                (
                    None,
                    Some(Named {
                        id: team.id,
                        name: team.name,
                    }),
                    notice,
                )
            }
            (None, None) => {
                return Err(crate::input::InvalidInput::new(
                    "operator_id",
                    "name an operator_id or a team_id to transfer to",
                )
                .into());
            }
        };
        let transfer_event = event::append(
            ctx.db,
            id,
            EventKind::ConversationTransferred,
            Visibility::Internal,
            &Transferred {
                from: current.assignee.clone(),
                to_operator,
                to_team,
                by: Named::from(operator),
                reason: &reason,
            },
            now,
        )?;
        if let Ok(body) = MessageBody::parse(&notice) {
            // The notice is a system message, so it shows in the widget like any other message
            // and survives reloads; its client id keeps it unique per transfer event.
            let client_id = ClientId::parse(&format!("transfer-{transfer_event}"))?;
            let new = NewMessage {
                conversation_id: id,
                author: Author::System,
                operator_id: None,
                operator_name: None,
                channel: current.conversation.channel,
                body: &body,
                client_id: Some(&client_id),
                delivery: None,
                sender: None,
            };
            message::insert(ctx.db, &new, None, None, now)?;
        }
        Ok((reload(ctx, id)?, transfer_event))
    })?;
    event::announce(ctx, id, &format!("e{transfer_event}"));
    Ok(summary)
}

/// Whether a tag goes on or comes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagging {
    Add,
    Remove,
}

/// Puts a tag on a conversation or takes it off (idempotent: no change, no event). Adding a tag
/// that does not exist is a 404; removing one is a no-op.
pub fn tag(
    ctx: &Ctx<'_>,
    operator: &Operator,
    id: i64,
    tag_id: i64,
    tagging: Tagging,
) -> Result<Vec<TagRef>, ChatError> {
    let now = ctx.clock.now_ms();
    let (tags, event_id) = transaction(ctx.db, || {
        actionable(ctx, operator, id)?;
        let found = tag::by_id(ctx.db, tag_id)?;
        let changed = match (tagging, found) {
            (Tagging::Add, None) => return Err(ChatError::NotFound("tag")),
            (Tagging::Add, Some(tag)) => tag::attach(ctx.db, id, tag_id, now)?
                .then_some((tag, EventKind::ConversationTagged)),
            (Tagging::Remove, None) => None,
            (Tagging::Remove, Some(tag)) => {
                tag::detach(ctx.db, id, tag_id)?.then_some((tag, EventKind::ConversationUntagged))
            }
        };
        let event_id = match changed {
            Some((tag, kind)) => Some(event::append(
                ctx.db,
                id,
                kind,
                Visibility::Internal,
                &Tagged {
                    tag,
                    by: Named::from(operator),
                },
                now,
            )?),
            None => None,
        };
        Ok::<_, ChatError>((reload(ctx, id)?.tags, event_id))
    })?;
    if let Some(event_id) = event_id {
        event::announce(ctx, id, &format!("e{event_id}"));
    }
    Ok(tags)
}

/// Adds an internal note (idempotent on `client_id`); mentioned operators are notified through
/// the note's event, which names them.
pub fn add_note(
    ctx: &Ctx<'_>,
    operator: &Operator,
    id: i64,
    request: &NoteRequest,
) -> Result<(Note, bool), ChatError> {
    let body = MessageBody::parse(&request.body)?;
    let client_id = request
        .client_id
        .as_deref()
        .map(ClientId::parse)
        .transpose()?;
    let now = ctx.clock.now_ms();
    let (note, event_id) = transaction(ctx.db, || {
        actionable(ctx, operator, id)?;
        match note::insert(
            ctx.db,
            id,
            operator.id,
            body.as_str(),
            client_id.as_ref().map(ClientId::as_str),
            &request.mention_ids,
            now,
        )? {
            note::Inserted::Created(note) => {
                let event_id = event::append(
                    ctx.db,
                    id,
                    EventKind::NoteCreated,
                    Visibility::Internal,
                    &NoteCreated { note: &note },
                    now,
                )?;
                Ok::<_, ChatError>((note, Some(event_id)))
            }
            note::Inserted::Duplicate(note) => Ok((note, None)),
        }
    })?;
    let created = event_id.is_some();
    if let Some(event_id) = event_id {
        event::announce(ctx, id, &format!("e{event_id}"));
    }
    Ok((note, created))
}

/// A waiting conversation in the queue view.
#[derive(Debug, Serialize)]
pub struct WaitingConversation {
    #[serde(flatten)]
    pub conversation: ConversationSummary,
    pub wait_ms: i64,
}

#[derive(Debug, Serialize)]
pub struct Waiting {
    pub count: i64,
    pub longest_wait_ms: i64,
    pub average_wait_ms: i64,
    pub conversations: Vec<WaitingConversation>,
}

/// The supervisors' live view: who waits, and who can take them.
#[derive(Debug, Serialize)]
pub struct QueueView {
    pub waiting: Waiting,
    pub operators: Vec<OperatorProfile>,
    pub now: i64,
}

/// Most waiting conversations the queue view lists (the count covers all).
pub const QUEUE_LIST_LIMIT: i64 = 200;

pub fn queue(ctx: &Ctx<'_>, operator: &Operator) -> Result<QueueView, ChatError> {
    operator.require(Role::Supervisor)?;
    let now = ctx.clock.now_ms();
    crate::store::read_transaction(ctx.db, || {
        let (count, oldest, mean) = conversation::waiting_stats(ctx.db)?;
        let conversations = conversation::waiting(ctx.db, QUEUE_LIST_LIMIT)?
            .into_iter()
            .map(|c| WaitingConversation {
                wait_ms: c.waiting_since.map_or(0, |since| (now - since).max(0)),
                conversation: c,
            })
            .collect();
        Ok(QueueView {
            waiting: Waiting {
                count,
                longest_wait_ms: oldest.map_or(0, |o| (now - o).max(0)),
                average_wait_ms: mean.map_or(0, |m| (now as f64 - m).max(0.0).round() as i64),
                conversations,
            },
            operators: operator::profiles(ctx.db, false, now)?,
            now,
        })
    })
}
