//! The host-independent core of the live-chat platform.
//!
//! Components (in `components/`) are thin Spin adapters: they parse a request, call a use case
//! here, and map the result to a response. Nothing here depends on `spin-sdk`; the host's
//! database, key-value store, clock and randomness come in through the traits in [`host`] and
//! [`store`], so the same code and the same SQL run natively in unit tests on rusqlite.
//!
//! # Layout
//! - [`host`]: the host capability traits and [`host::Ctx`], the bundle a use case receives.
//! - [`store`]: the database seam ([`store::Database`]), connection settings, transactions.
//! - [`migrations`]: the append-only schema and the concurrency-safe `migrate()`.
//! - Domain, one module per aggregate, each with its SQL next to its types:
//!   [`contact`], [`conversation`], [`message`], [`note`], [`operator`] (roles, presence,
//!   invitations), [`team`], [`tag`], [`canned`] (saved replies and their placeholders),
//!   [`settings`], [`event`], [`channel`], [`attachment`] (files in conversations: limits,
//!   storage, who may read them), [`delivery`] (outbound delivery states, forward only).
//! - [`csat`]: the satisfaction survey sent when a conversation is resolved (widget, SMS,
//!   email and Meta channels), its answers (one per conversation, also read from replies) and
//!   its settings.
//! - Use cases: [`inbound`] (messages arriving from providers: one customer, one thread, one
//!   message per provider id), [`outbox`] (replies out through the customer's channel: reply
//!   options and 24-hour windows, the durable outbox, retries), [`media`] (provider-hosted
//!   media fetched into attachments after the message is stored), [`widget_settings`] (the
//!   widget's look, pre-chat fields and offline form, set by admins), [`visitor`] (the widget's
//!   side), [`identity`] (the widget's `setUser`: verified users by HMAC, one contact per user
//!   id; custom attributes), [`continuation`] (continuing a widget conversation by SMS or email,
//!   and its transcript by email), [`inbox`] (the operator's side: sign-in, listings, threads, contacts, canned
//!   responses, presence), [`workflow`] (status, assignment,
//!   transfer, tags, notes, the supervisors' queue), [`admin`] (operators, teams, tags, team
//!   canned responses, settings), and [`chat`] (what visitors and operators share: posting,
//!   typing, read receipts, the event stream).
//! - [`routing`]: the routing rules (strategies, stickiness, skills, overflow, queue order) as
//!   pure functions, shared by the router and the routing simulation; [`router`]: the router's
//!   use cases (routing settings, the routing pass, re-routing, queue position and wait
//!   estimate); [`topic`]: topics, their detection rules and priorities.
//! - The assistant's deterministic core: [`kb`] (knowledge-base articles, their full-text index,
//!   search, the best answer to a question with an explainable confidence and the passage that
//!   answers; and the word rules shared with escalation: folding, stop words, language
//!   detection), [`escalation`] (when to hand a conversation to a person, and why: explicit
//!   requests, frustration, low confidence, VIP, human-only topics, long waits).
//!   [`assistant`]: the assistant's use cases (who owns a conversation, a turn: answer,
//!   clarify or hand off with a summary; the honest wait message; handing back; settings),
//!   [`llm`] (the optional language model: prompts, the OpenAI-compatible wire format, the
//!   grounding guard), [`assist`] (suggested replies and a draft for operators), [`help`] (the
//!   visitors' help search).
//! - [`hours`]: business hours per team (time zone, weekly intervals, holidays), whether a team
//!   is open and when it opens next.
//! - Reports: [`report_facts`] (what each conversation did, folded from the event log),
//!   [`reports`] (the metrics with their definitions, filters, traffic by hour and weekday,
//!   per-operator and per-tag tables, the live view, CSV), [`staffing`] (operators needed
//!   hour by hour for a service-level target: Erlang C over chat slots, chats at once,
//!   shrinkage).
//! - [`webhook`]: outgoing webhooks for integrations: endpoints, the signed deliveries the
//!   event log fills (a durable outbox with leases and retries), the SSRF rule for their URLs.
//! - Privacy and the operator's record: [`audit`] (the audit log of sign-ins and admin
//!   changes: closed list of actions, never values), [`privacy`] (finding a customer,
//!   exporting everything about them, erasing them on request), [`retention`] (how long
//!   resolved conversations and attachments are kept, and the bounded purge).
//! - Abuse and observability: [`rate_limit`] (requests per minute per client address, visitor
//!   and operator, in the key-value store), [`ops_counter`] (hourly counters of refused
//!   webhooks and rate-limit refusals), [`system_report`] (what a supervisor reads of them),
//!   [`health`] (the stores' health check behind `GET /health`).
//! - [`secret`]: bearer tokens and their hashes; [`throttle`]: failure limits for guessable
//!   secrets; [`webhook_nonce`]: signed webhooks' one-time tokens, accepted once; [`input`]:
//!   field parse errors;
//!   [`api`]: the JSON error envelope, body limits and request parsing.

#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod assist;
pub mod assistant;
pub mod attachment;
pub mod audit;
pub mod canned;
pub mod channel;
pub mod chat;
pub mod contact;
pub mod continuation;
pub mod conversation;
pub mod csat;
pub mod delivery;
pub mod escalation;
pub mod event;
pub mod health;
pub mod help;
pub mod host;
pub mod hours;
pub mod identity;
pub mod inbound;
pub mod inbox;
pub mod input;
pub mod kb;
pub mod llm;
pub mod media;
pub mod message;
pub mod migrations;
pub mod note;
pub mod operator;
pub mod ops_counter;
pub mod outbox;
pub mod privacy;
pub mod rate_limit;
pub mod report_facts;
pub mod reports;
pub mod retention;
pub mod router;
pub mod routing;
pub mod secret;
pub mod settings;
pub mod staffing;
pub mod store;
pub mod system_report;
pub mod tag;
pub mod team;
pub mod throttle;
pub mod topic;
pub mod visitor;
pub mod webhook;
pub mod webhook_nonce;
pub mod widget_settings;
pub mod workflow;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod testing;
