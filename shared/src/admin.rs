//! Admin use cases: operators (invite, roles, capacity, skills, languages, teams, deactivation),
//! teams and their routing, routing for conversations without a team, topics (with their
//! detection rules), the tag list, team-wide canned responses, business settings and business
//! hours (per team and the default). Every function checks the admin role first.

use serde::{Deserialize, Serialize};

use crate::canned::{Canned, CannedRequest};
use crate::chat::ChatError;
use crate::contact::{EmailAddress, PersonName};
use crate::host::Ctx;
use crate::hours::{self, BusinessHours, BusinessHoursInput};
use crate::inbox::{self, INVITE_TTL_MS};
use crate::input::InvalidInput;
use crate::operator::{self, Invitation, Operator, OperatorChanges, OperatorProfile, Role, Skill};
use crate::router::{self, RoutingPatch, RoutingSettings};
use crate::secret::Token;
use crate::settings::{self, Settings, SettingsPatch};
use crate::store::{Database, transaction};
use crate::tag::{self, Color, Tag, TagName, TagRequest};
use crate::team::{self, Team, TeamName, TeamRequest};
use crate::topic::{self, Topic, TopicRequest};
use crate::widget_settings::{self, WidgetSettings, WidgetSettingsPatch};

/// Most skills and languages one operator can have.
pub const MAX_SKILLS: usize = 30;
pub const MAX_LANGUAGES: usize = 20;
/// The most conversations one operator can be given at once.
pub const MAX_CAPACITY: i64 = 50;
/// The most teams one operator belongs to, and members one team has.
pub const MAX_TEAMS: usize = 50;
pub const MAX_MEMBERS: usize = 500;

/// Ids as given, without repeats, at most `max`.
fn id_list(field: &'static str, ids: &[i64], max: usize) -> Result<Vec<i64>, InvalidInput> {
    let mut unique: Vec<i64> = Vec::new();
    for id in ids {
        if !unique.contains(id) {
            unique.push(*id);
        }
    }
    if unique.len() > max {
        return Err(InvalidInput::new(field, format!("at most {max}")));
    }
    Ok(unique)
}

/// `POST /operators` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    pub email: String,
    pub name: String,
    pub role: String,
    #[serde(default)]
    pub capacity: Option<i64>,
}

/// `PATCH /operators/:id` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorPatch {
    pub name: Option<String>,
    pub role: Option<String>,
    pub capacity: Option<i64>,
    pub skills: Option<Vec<Skill>>,
    pub languages: Option<Vec<String>>,
    pub team_ids: Option<Vec<i64>>,
    pub active: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct Invited {
    pub operator: OperatorProfile,
    pub invite_url: String,
    pub invite_expires_at: i64,
}

#[derive(Debug, Serialize)]
pub struct InviteLink {
    pub invite_url: String,
    pub invite_expires_at: i64,
}

fn role(text: &str) -> Result<Role, InvalidInput> {
    Role::parse(text)
        .ok_or_else(|| InvalidInput::new("role", "must be admin, supervisor or operator"))
}

fn capacity(value: i64) -> Result<i64, InvalidInput> {
    if (0..=MAX_CAPACITY).contains(&value) {
        Ok(value)
    } else {
        Err(InvalidInput::new(
            "capacity",
            format!("must be 0 to {MAX_CAPACITY}"),
        ))
    }
}

fn skills(list: &[Skill]) -> Result<Vec<Skill>, InvalidInput> {
    if list.len() > MAX_SKILLS {
        return Err(InvalidInput::new("skills", format!("at most {MAX_SKILLS}")));
    }
    let mut parsed: Vec<Skill> = Vec::new();
    for skill in list {
        let name = crate::input::bounded_text("skills", &skill.skill, 1, 40)?.to_lowercase();
        if !(1..=5).contains(&skill.level) {
            return Err(InvalidInput::new("skills", "level must be 1 to 5"));
        }
        if parsed.iter().any(|s| s.skill == name) {
            return Err(InvalidInput::new(
                "skills",
                format!("{name} is listed twice"),
            ));
        }
        parsed.push(Skill {
            skill: name,
            level: skill.level,
        });
    }
    Ok(parsed)
}

/// Language tags, stored as given (matching is case-insensitive).
fn languages(list: &[String]) -> Result<Vec<String>, InvalidInput> {
    if list.len() > MAX_LANGUAGES {
        return Err(InvalidInput::new(
            "languages",
            format!("at most {MAX_LANGUAGES}"),
        ));
    }
    let mut parsed: Vec<String> = Vec::new();
    for tag in list {
        let tag = crate::input::language_tag("languages", tag)?;
        if !parsed.iter().any(|p| p.eq_ignore_ascii_case(&tag)) {
            parsed.push(tag);
        }
    }
    Ok(parsed)
}

fn invite_link(ctx: &Ctx<'_>, operator_id: i64, origin: &str) -> Result<InviteLink, ChatError> {
    let token = Token::generate(ctx.entropy);
    let now = ctx.clock.now_ms();
    let expires_at = now + INVITE_TTL_MS;
    operator::replace_invite(ctx.db, operator_id, &token.hash(), now, expires_at)?;
    Ok(InviteLink {
        invite_url: format!("{origin}/console/#invite={}", token.as_str()),
        invite_expires_at: expires_at,
    })
}

fn profile(ctx: &Ctx<'_>, id: i64) -> Result<OperatorProfile, ChatError> {
    operator::profile(ctx.db, id, ctx.clock.now_ms())?.ok_or(ChatError::NotFound("operator"))
}

pub fn operators(ctx: &Ctx<'_>, admin: &Operator) -> Result<Vec<OperatorProfile>, ChatError> {
    admin.require(Role::Admin)?;
    Ok(operator::profiles(ctx.db, true, ctx.clock.now_ms())?)
}

/// Adds an operator and returns their one-time link to choose a password. `origin` is where
/// the console is served (`https://chat.example.com`).
pub fn invite(
    ctx: &Ctx<'_>,
    admin: &Operator,
    request: &InviteRequest,
    origin: &str,
) -> Result<Invited, ChatError> {
    admin.require(Role::Admin)?;
    let invitation = Invitation {
        email: EmailAddress::parse("email", &request.email)?,
        name: PersonName::parse("name", &request.name)?,
        role: role(&request.role)?,
        capacity: capacity(request.capacity.unwrap_or(3))?,
    };
    transaction(ctx.db, || {
        let id = operator::insert_invited(ctx.db, &invitation, ctx.clock.now_ms())?.ok_or_else(
            || {
                ChatError::Conflict(
                    "email_taken",
                    "an operator with that email already exists".into(),
                )
            },
        )?;
        let link = invite_link(ctx, id, origin)?;
        Ok(Invited {
            operator: profile(ctx, id)?,
            invite_url: link.invite_url,
            invite_expires_at: link.invite_expires_at,
        })
    })
}

/// A fresh invitation link (older ones die): for someone who lost theirs, or a password reset.
pub fn reinvite(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    origin: &str,
) -> Result<InviteLink, ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || {
        let target = profile(ctx, id)?;
        if !target.active {
            return Err(ChatError::Conflict(
                "inactive_operator",
                format!("{} is deactivated; reactivate them first", target.name),
            ));
        }
        invite_link(ctx, id, origin)
    })
}

pub fn update_operator(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    patch: &OperatorPatch,
) -> Result<OperatorProfile, ChatError> {
    admin.require(Role::Admin)?;
    let changes = OperatorChanges {
        name: patch
            .name
            .as_deref()
            .map(|n| PersonName::parse("name", n))
            .transpose()?,
        role: patch.role.as_deref().map(role).transpose()?,
        capacity: patch.capacity.map(capacity).transpose()?,
        active: patch.active,
        skills: patch.skills.as_deref().map(skills).transpose()?,
        languages: patch.languages.as_deref().map(languages).transpose()?,
        team_ids: patch
            .team_ids
            .as_deref()
            .map(|ids| id_list("team_ids", ids, MAX_TEAMS))
            .transpose()?,
    };
    let now = ctx.clock.now_ms();
    let (updated, released) = transaction(ctx.db, || {
        profile(ctx, id)?;
        let released = operator::update(ctx.db, id, &changes, admin, now)?.ok_or_else(|| {
            ChatError::Conflict(
                "last_admin",
                "this is the last active admin; make someone else an admin first".into(),
            )
        })?;
        Ok::<_, ChatError>((profile(ctx, id)?, released))
    })?;
    for conversation_id in released {
        crate::event::announce(ctx, conversation_id, &format!("r{conversation_id}:{now}"));
    }
    Ok(updated)
}

pub fn teams(ctx: &Ctx<'_>, admin: &Operator) -> Result<Vec<Team>, ChatError> {
    admin.require(Role::Admin)?;
    Ok(team::list(ctx.db)?)
}

/// `Ok` if a delete found its row, 404 naming `what` otherwise.
fn deleted(found: bool, what: &'static str) -> Result<(), ChatError> {
    if found {
        Ok(())
    } else {
        Err(ChatError::NotFound(what))
    }
}

fn name_taken() -> ChatError {
    ChatError::Conflict("name_taken", "that name is already in use".into())
}

pub fn create_team(
    ctx: &Ctx<'_>,
    admin: &Operator,
    request: &TeamRequest,
) -> Result<Team, ChatError> {
    admin.require(Role::Admin)?;
    let name = TeamName::parse(request.name.as_deref().unwrap_or_default())?;
    let members = request
        .member_ids
        .as_deref()
        .map(|ids| id_list("member_ids", ids, MAX_MEMBERS))
        .transpose()?;
    transaction(ctx.db, || {
        let id = team::insert(ctx.db, &name, ctx.clock.now_ms())?.ok_or_else(name_taken)?;
        if let Some(members) = &members {
            team::set_members(ctx.db, id, members)?;
        }
        if let Some(patch) = &request.routing {
            save_team_routing(ctx.db, id, patch)?;
        }
        team::by_id(ctx.db, id)?.ok_or(ChatError::NotFound("team"))
    })
}

pub fn update_team(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    request: &TeamRequest,
) -> Result<Team, ChatError> {
    admin.require(Role::Admin)?;
    let name = request.name.as_deref().map(TeamName::parse).transpose()?;
    let members = request
        .member_ids
        .as_deref()
        .map(|ids| id_list("member_ids", ids, MAX_MEMBERS))
        .transpose()?;
    transaction(ctx.db, || {
        if !team::exists(ctx.db, id)? {
            return Err(ChatError::NotFound("team"));
        }
        if let Some(name) = &name {
            if team::name_taken(ctx.db, name, id)? {
                return Err(name_taken());
            }
            team::rename(ctx.db, id, name)?;
        }
        if let Some(members) = &members {
            team::set_members(ctx.db, id, members)?;
        }
        if let Some(patch) = &request.routing {
            save_team_routing(ctx.db, id, patch)?;
        }
        team::by_id(ctx.db, id)?.ok_or(ChatError::NotFound("team"))
    })
}

/// Applies a routing patch to team `id`, checking that its backup team exists and is another.
fn save_team_routing(db: &dyn Database, id: i64, patch: &RoutingPatch) -> Result<(), ChatError> {
    let current = team::by_id(db, id)?.ok_or(ChatError::NotFound("team"))?;
    let routing = current.routing.apply(patch)?;
    check_backup(db, Some(id), routing.backup_team_id)?;
    router::save_team_settings(db, id, &routing)?;
    Ok(())
}

fn check_backup(
    db: &dyn Database,
    team_id: Option<i64>,
    backup: Option<i64>,
) -> Result<(), ChatError> {
    match backup {
        Some(b) if Some(b) == team_id => {
            Err(InvalidInput::new("backup_team_id", "a team cannot be its own backup").into())
        }
        Some(b) if !team::exists(db, b)? => {
            Err(InvalidInput::new("backup_team_id", "no such team").into())
        }
        _ => Ok(()),
    }
}

/// Routing for conversations without a team.
pub fn default_routing(ctx: &Ctx<'_>, admin: &Operator) -> Result<RoutingSettings, ChatError> {
    admin.require(Role::Admin)?;
    Ok(router::default_settings(ctx.db)?)
}

pub fn update_default_routing(
    ctx: &Ctx<'_>,
    admin: &Operator,
    patch: &RoutingPatch,
) -> Result<RoutingSettings, ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || {
        let routing = router::default_settings(ctx.db)?.apply(patch)?;
        check_backup(ctx.db, None, routing.backup_team_id)?;
        router::save_default_settings(ctx.db, &routing)?;
        Ok(routing)
    })
}

/// Business hours for conversations without a team and teams without their own; `None`: unset
/// (always open).
pub fn default_hours(ctx: &Ctx<'_>, admin: &Operator) -> Result<Option<BusinessHours>, ChatError> {
    admin.require(Role::Admin)?;
    Ok(hours::default_hours(ctx.db)?)
}

/// Replaces the default hours; `None` clears them.
pub fn update_default_hours(
    ctx: &Ctx<'_>,
    admin: &Operator,
    input: Option<BusinessHoursInput>,
) -> Result<Option<BusinessHours>, ChatError> {
    admin.require(Role::Admin)?;
    let parsed = input.map(BusinessHours::try_from).transpose()?;
    hours::save_default_hours(ctx.db, parsed.as_ref())?;
    Ok(parsed)
}

/// A team's own hours; `None` when it follows the default.
pub fn team_hours(
    ctx: &Ctx<'_>,
    admin: &Operator,
    team_id: i64,
) -> Result<Option<BusinessHours>, ChatError> {
    admin.require(Role::Admin)?;
    hours::team_hours(ctx.db, team_id)?.ok_or(ChatError::NotFound("team"))
}

/// Replaces a team's hours; `None` makes it follow the default again.
pub fn update_team_hours(
    ctx: &Ctx<'_>,
    admin: &Operator,
    team_id: i64,
    input: Option<BusinessHoursInput>,
) -> Result<Option<BusinessHours>, ChatError> {
    admin.require(Role::Admin)?;
    let parsed = input.map(BusinessHours::try_from).transpose()?;
    if !hours::save_team_hours(ctx.db, team_id, parsed.as_ref())? {
        return Err(ChatError::NotFound("team"));
    }
    Ok(parsed)
}

pub fn topics(ctx: &Ctx<'_>, admin: &Operator) -> Result<Vec<Topic>, ChatError> {
    admin.require(Role::Admin)?;
    Ok(topic::list(ctx.db)?)
}

fn check_topic(db: &dyn Database, topic: &Topic) -> Result<(), ChatError> {
    if let Some(team_id) = topic.team_id
        && !team::exists(db, team_id)?
    {
        return Err(InvalidInput::new("team_id", "no such team").into());
    }
    if topic::name_taken(db, &topic.name, topic.id)? {
        return Err(name_taken());
    }
    Ok(())
}

pub fn create_topic(
    ctx: &Ctx<'_>,
    admin: &Operator,
    request: &TopicRequest,
) -> Result<Topic, ChatError> {
    admin.require(Role::Admin)?;
    let topic = topic::apply(None, request)?;
    transaction(ctx.db, || {
        if topic::count(ctx.db)? >= topic::MAX_TOPICS {
            return Err(ChatError::Conflict(
                "too_many_topics",
                format!("at most {} topics", topic::MAX_TOPICS),
            ));
        }
        check_topic(ctx.db, &topic)?;
        let id = topic::insert(ctx.db, &topic, ctx.clock.now_ms())?.ok_or_else(name_taken)?;
        topic::by_id(ctx.db, id)?.ok_or(ChatError::NotFound("topic"))
    })
}

pub fn update_topic(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    request: &TopicRequest,
) -> Result<Topic, ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || {
        let current = topic::by_id(ctx.db, id)?.ok_or(ChatError::NotFound("topic"))?;
        let topic = topic::apply(Some(&current), request)?;
        check_topic(ctx.db, &topic)?;
        topic::update(ctx.db, &topic)?;
        topic::by_id(ctx.db, id)?.ok_or(ChatError::NotFound("topic"))
    })
}

pub fn delete_topic(ctx: &Ctx<'_>, admin: &Operator, id: i64) -> Result<(), ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || deleted(topic::delete(ctx.db, id)?, "topic"))
}

pub fn delete_team(ctx: &Ctx<'_>, admin: &Operator, id: i64) -> Result<(), ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || deleted(team::delete(ctx.db, id)?, "team"))
}

pub fn tags(ctx: &Ctx<'_>, admin: &Operator) -> Result<Vec<Tag>, ChatError> {
    admin.require(Role::Admin)?;
    Ok(tag::list(ctx.db)?)
}

pub fn create_tag(ctx: &Ctx<'_>, admin: &Operator, request: &TagRequest) -> Result<Tag, ChatError> {
    admin.require(Role::Admin)?;
    let name = TagName::parse(request.name.as_deref().unwrap_or_default())?;
    let color = request.color.as_deref().map(Color::parse).transpose()?;
    tag::insert(ctx.db, &name, color.as_ref(), ctx.clock.now_ms())?.ok_or_else(name_taken)
}

pub fn update_tag(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    request: &TagRequest,
) -> Result<Tag, ChatError> {
    admin.require(Role::Admin)?;
    let name = request.name.as_deref().map(TagName::parse).transpose()?;
    let color = request.color.as_deref().map(Color::parse).transpose()?;
    transaction(ctx.db, || {
        if let Some(name) = &name
            && tag::name_taken(ctx.db, name, id)?
        {
            return Err(name_taken());
        }
        tag::update(ctx.db, id, name.as_ref(), color.as_ref())?.ok_or(ChatError::NotFound("tag"))
    })
}

pub fn delete_tag(ctx: &Ctx<'_>, admin: &Operator, id: i64) -> Result<(), ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || deleted(tag::delete(ctx.db, id)?, "tag"))
}

pub fn team_canned(ctx: &Ctx<'_>, admin: &Operator) -> Result<Vec<Canned>, ChatError> {
    admin.require(Role::Admin)?;
    Ok(crate::canned::list(ctx.db, None)?)
}

pub fn create_team_canned(
    ctx: &Ctx<'_>,
    admin: &Operator,
    request: &CannedRequest,
) -> Result<Canned, ChatError> {
    admin.require(Role::Admin)?;
    inbox::create_canned(ctx, None, request)
}

pub fn update_team_canned(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    request: &CannedRequest,
) -> Result<Canned, ChatError> {
    admin.require(Role::Admin)?;
    inbox::update_canned(ctx, None, id, request)
}

pub fn delete_team_canned(ctx: &Ctx<'_>, admin: &Operator, id: i64) -> Result<(), ChatError> {
    admin.require(Role::Admin)?;
    inbox::delete_canned(ctx, None, id)
}

pub fn settings(ctx: &Ctx<'_>, admin: &Operator) -> Result<Settings, ChatError> {
    admin.require(Role::Admin)?;
    Ok(settings::load(ctx.db)?)
}

pub fn update_settings(
    ctx: &Ctx<'_>,
    admin: &Operator,
    patch: &SettingsPatch,
) -> Result<Settings, ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || {
        settings::save(ctx.db, patch)?;
        Ok(settings::load(ctx.db)?)
    })
}

/// The website widget's look, pre-chat fields and offline form.
pub fn widget_settings(ctx: &Ctx<'_>, admin: &Operator) -> Result<WidgetSettings, ChatError> {
    admin.require(Role::Admin)?;
    Ok(widget_settings::load(ctx.db)?)
}

pub fn update_widget_settings(
    ctx: &Ctx<'_>,
    admin: &Operator,
    patch: &WidgetSettingsPatch,
) -> Result<WidgetSettings, ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || {
        widget_settings::save(ctx.db, patch)?;
        Ok(widget_settings::load(ctx.db)?)
    })
}

/// Knowledge-base articles, drafts included (`language` filters by primary subtag).
pub fn articles(
    ctx: &Ctx<'_>,
    admin: &Operator,
    language: Option<&str>,
) -> Result<Vec<crate::kb::Article>, ChatError> {
    admin.require(Role::Admin)?;
    Ok(crate::kb::list(ctx.db, language)?)
}

pub fn article(ctx: &Ctx<'_>, admin: &Operator, id: i64) -> Result<crate::kb::Article, ChatError> {
    admin.require(Role::Admin)?;
    crate::kb::get(ctx.db, id)?.ok_or(ChatError::NotFound("article"))
}

pub fn create_article(
    ctx: &Ctx<'_>,
    admin: &Operator,
    request: &crate::kb::ArticleRequest,
) -> Result<crate::kb::Article, ChatError> {
    admin.require(Role::Admin)?;
    Ok(transaction(ctx.db, || {
        crate::kb::create(ctx.db, request, ctx.clock.now_ms())
    })?)
}

pub fn update_article(
    ctx: &Ctx<'_>,
    admin: &Operator,
    id: i64,
    request: &crate::kb::ArticleRequest,
) -> Result<crate::kb::Article, ChatError> {
    admin.require(Role::Admin)?;
    Ok(transaction(ctx.db, || {
        crate::kb::update(ctx.db, id, request, ctx.clock.now_ms())
    })?)
}

pub fn delete_article(ctx: &Ctx<'_>, admin: &Operator, id: i64) -> Result<(), ChatError> {
    admin.require(Role::Admin)?;
    if crate::kb::delete(ctx.db, id)? {
        Ok(())
    } else {
        Err(ChatError::NotFound("article"))
    }
}

pub fn assistant_settings(
    ctx: &Ctx<'_>,
    admin: &Operator,
) -> Result<crate::assistant::AssistantSettings, ChatError> {
    admin.require(Role::Admin)?;
    Ok(crate::assistant::settings(ctx.db)?)
}

pub fn update_assistant_settings(
    ctx: &Ctx<'_>,
    admin: &Operator,
    patch: &serde_json::Value,
) -> Result<crate::assistant::AssistantSettings, ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || crate::assistant::save_settings(ctx.db, patch))
}

/// The satisfaction survey's settings (`GET /api/admin/csat`).
pub fn csat_settings(
    ctx: &Ctx<'_>,
    admin: &Operator,
) -> Result<crate::csat::CsatSettings, ChatError> {
    admin.require(Role::Admin)?;
    Ok(crate::csat::settings(ctx.db)?)
}

/// `PATCH /api/admin/csat`: `enabled`, and `channels` by name (only those named change).
pub fn update_csat_settings(
    ctx: &Ctx<'_>,
    admin: &Operator,
    patch: &serde_json::Value,
) -> Result<crate::csat::CsatSettings, ChatError> {
    admin.require(Role::Admin)?;
    transaction(ctx.db, || crate::csat::save_settings(ctx.db, patch))
}
