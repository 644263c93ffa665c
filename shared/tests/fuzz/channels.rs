//! Twilio forms, Meta's JSON payloads and the `multipart/form-data` reader.

use proptest::prelude::*;
use serde_json::{Value, json};
use shared::channel::Channel;
use shared::channel::meta::{self, Event};
use shared::channel::multipart;
use shared::channel::twilio;

use crate::email::form_data;
use crate::inputs::{deep_json, hostile_bytes, hostile_text, json};
use crate::{LIMIT_MS, config, within_ms};

/// `application/x-www-form-urlencoded`, as Twilio writes it (space as `+`).
fn form_encode(pairs: &[(String, String)]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b' ' => "+".to_owned(),
                b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => (b as char).to_string(),
                b => format!("%{b:02X}"),
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

const META_KEYS: &[&str] = &[
    "object",
    "entry",
    "messaging",
    "sender",
    "recipient",
    "id",
    "timestamp",
    "message",
    "mid",
    "text",
    "is_echo",
    "attachments",
    "type",
    "payload",
    "url",
    "delivery",
    "read",
    "watermark",
    "changes",
    "value",
    "metadata",
    "phone_number_id",
    "contacts",
    "wa_id",
    "profile",
    "name",
    "messages",
    "from",
    "body",
    "caption",
    "mime_type",
    "filename",
    "statuses",
    "status",
    "errors",
    "code",
    "title",
];

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn twilio_forms_never_panic(bytes in hostile_bytes(600)) {
        if let Ok(params) = twilio::parse_form(&bytes) {
            let _ = twilio::inbound(&params);
            let _ = twilio::status_callback(&params);
        }
    }

    /// Round trip: any name/value pairs, form-encoded, decode to themselves in order.
    #[test]
    fn twilio_forms_round_trip(
        pairs in proptest::collection::vec((hostile_text(20), hostile_text(40)), 0..12)
            .prop_map(|p| p.into_iter().filter(|(n, v)| !(n.is_empty() && v.is_empty())).collect::<Vec<_>>()),
    ) {
        let body = form_encode(&pairs);
        prop_assert_eq!(twilio::parse_form(body.as_bytes()), Ok(pairs));
    }

    /// An inbound SMS/MMS built from parts reads back as those parts; `NumMedia` is bounded.
    #[test]
    fn twilio_inbound_reads_back_what_was_written(
        sid in "(SM|MM)[0-9a-f]{32}",
        from in "\\+[1-9][0-9]{7,14}",
        body in hostile_text(200),
        media in proptest::collection::vec(("https://api\\.twilio\\.com/[a-zA-Z0-9/]{1,40}", "(image|video)/[a-z]{1,8}"), 0..14),
        status in proptest::sample::select(&["queued", "sent", "delivered", "read", "failed", "bogus"][..]),
    ) {
        let mut pairs: Vec<(String, String)> = vec![
            ("MessageSid".into(), sid.clone()),
            ("AccountSid".into(), "AC0".into()),
            ("From".into(), from.clone()),
            ("To".into(), "+15005550006".into()),
            ("Body".into(), body.clone()),
            ("NumMedia".into(), media.len().to_string()),
            ("MessageStatus".into(), status.to_owned()),
        ];
        for (n, (url, kind)) in media.iter().enumerate() {
            pairs.push((format!("MediaUrl{n}"), url.clone()));
            pairs.push((format!("MediaContentType{n}"), kind.clone()));
        }
        let params = twilio::parse_form(form_encode(&pairs).as_bytes());
        prop_assert!(params.is_ok());
        let params = params.unwrap_or_default();
        match twilio::inbound(&params) {
            Ok(sms) => {
                prop_assert!(media.len() <= twilio::MAX_MEDIA);
                prop_assert_eq!(sms.message_sid, sid);
                prop_assert_eq!(sms.from, from);
                prop_assert_eq!(sms.body, body);
                let urls: Vec<&String> = sms.media.iter().map(|m| &m.url).collect();
                let written: Vec<&String> = media.iter().map(|(u, _)| u).collect();
                prop_assert_eq!(urls, written);
            }
            Err(e) => {
                prop_assert!(media.len() > twilio::MAX_MEDIA);
                prop_assert_eq!(e.field, "NumMedia");
            }
        }
        let callback = twilio::status_callback(&params);
        prop_assert_eq!(callback.is_ok(), status != "bogus");
    }

    #[test]
    fn meta_events_never_panic_on_any_bytes(bytes in hostile_bytes(600)) {
        let _ = meta::events(&bytes);
    }

    #[test]
    fn meta_events_never_panic_on_json_of_their_shape(
        object in prop_oneof![Just("page"), Just("instagram"), Just("whatsapp_business_account")],
        entries in proptest::collection::vec(json(META_KEYS), 0..4),
        value in json(META_KEYS),
    ) {
        // Noise at every level Meta nests: the entry, the event, the change's value.
        let body = json!({
            "object": object,
            "entry": entries.iter().map(|e| json!({
                "messaging": [e, {"sender": {"id": "1"}, "message": value.clone()},
                    {"sender": {"id": "1"}, "read": value.clone()}],
                "changes": [{"value": e}, {"value": {"messages": [value.clone()],
                    "statuses": [value.clone()], "contacts": value.clone()}}],
            })).collect::<Vec<_>>(),
        });
        let _ = meta::events(body.to_string().as_bytes());
    }

    /// Round trip: WhatsApp messages and statuses, and Messenger messages and receipts, built
    /// from parts, come back as events with those parts, in order.
    #[test]
    fn meta_events_read_back_what_was_written(
        wa in proptest::collection::vec(("[0-9]{8,15}", "wamid\\.[A-Za-z0-9=]{4,40}", hostile_text(60), any::<i64>()), 0..5),
        statuses in proptest::collection::vec(("wamid\\.[A-Za-z0-9]{4,20}", proptest::sample::select(&["sent", "delivered", "read", "failed"][..])), 0..4),
        psids in proptest::collection::vec(("[0-9]{5,20}", "m_[A-Za-z0-9_-]{4,40}", hostile_text(60), 0i64..4_000_000_000_000), 0..5),
    ) {
        let messages: Vec<Value> = wa.iter().map(|(from, id, text, ts)| json!({
            "from": from, "id": id, "timestamp": ts.to_string(), "type": "text", "text": {"body": text},
        })).collect();
        let contacts: Vec<Value> = wa.iter().map(|(from, ..)| json!({"wa_id": from, "profile": {"name": format!("n{from}")}})).collect();
        let status_list: Vec<Value> = statuses.iter().map(|(id, s)| json!({"id": id, "status": s})).collect();
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"value": {
                "metadata": {"phone_number_id": "555"},
                "contacts": contacts, "messages": messages, "statuses": status_list,
            }}]}],
        });
        let events = meta::events(body.to_string().as_bytes());
        prop_assert!(events.is_ok(), "{:?}", events);
        let events = events.unwrap_or_default();
        prop_assert_eq!(events.len(), wa.len() + statuses.len());
        for (event, (from, id, text, ts)) in events.iter().zip(&wa) {
            match event {
                Event::Message { channel, sender, recipient, id: got, text: body, name, timestamp_ms, .. } => {
                    prop_assert_eq!(*channel, Channel::Whatsapp);
                    prop_assert_eq!(sender, from);
                    prop_assert_eq!(recipient.as_str(), "555");
                    prop_assert_eq!(got, id);
                    prop_assert_eq!(body.as_ref(), Some(text));
                    prop_assert_eq!(name.clone(), Some(format!("n{from}")));
                    // Seconds as milliseconds; a time too far out for that is not a time.
                    prop_assert_eq!(*timestamp_ms, ts.checked_mul(1000).unwrap_or_default());
                }
                other => prop_assert!(false, "expected a message, got {:?}", other),
            }
        }
        for (event, (id, _)) in events.iter().skip(wa.len()).zip(&statuses) {
            let is_it = matches!(event, Event::Status { id: got, .. } if got == id);
            prop_assert!(is_it, "{:?}", event);
        }

        let messaging: Vec<Value> = psids.iter().flat_map(|(psid, mid, text, ts)| [
            json!({"sender": {"id": psid}, "recipient": {"id": "page"}, "timestamp": ts,
                "message": {"mid": mid, "text": text}}),
            json!({"sender": {"id": psid}, "recipient": {"id": "page"}, "timestamp": ts,
                "message": {"mid": mid, "text": text, "is_echo": true}}),
            json!({"sender": {"id": psid}, "read": {"watermark": ts}}),
        ]).collect();
        let body = json!({"object": "page", "entry": [{"messaging": messaging}]});
        let events = meta::events(body.to_string().as_bytes());
        prop_assert!(events.is_ok(), "{:?}", events);
        let events = events.unwrap_or_default();
        // Echoes (our own replies) are dropped.
        prop_assert_eq!(events.len(), psids.len() * 2);
        for (pair, (psid, mid, text, ts)) in events.chunks(2).zip(&psids) {
            let message_ok = matches!(&pair[0], Event::Message { channel: Channel::Messenger,
                sender, id, text: Some(t), timestamp_ms, .. }
                if sender == psid && id == mid && t == text && timestamp_ms == ts);
            prop_assert!(message_ok, "{:?}", pair[0]);
            let receipt_ok = matches!(&pair[1], Event::Receipt { sender, watermark_ms, .. }
                if sender == psid && watermark_ms == ts);
            prop_assert!(receipt_ok, "{:?}", pair[1]);
        }
    }

    #[test]
    fn multipart_never_panics(
        content_type in prop_oneof![
            Just("multipart/form-data; boundary=XyZ".to_owned()),
            hostile_text(80).prop_map(|t| format!("multipart/form-data; {t}")),
            hostile_text(80),
        ],
        bytes in prop_oneof![
            hostile_bytes(600),
            hostile_bytes(400).prop_map(|b| [&b"--XyZ\r\n"[..], &b].concat()),
            proptest::collection::vec(prop_oneof![
                Just(&b"--XyZ"[..]), Just(&b"\r\n"[..]), Just(&b"--"[..]), Just(&b" "[..]),
                Just(&b"Content-Disposition: form-data; name=\"a\""[..]),
                Just(&b"; filename*=UTF-8''%e2%82%ac"[..]), Just(&b"\r\n\r\n"[..]),
                Just(&b"Content-Type: text/plain"[..]), Just(&b"x"[..]), Just(&b"\""[..]),
                Just(&b"\\"[..]), Just(&b"\xff"[..]), Just(&b":"[..]),
            ], 0..40).prop_map(|pieces| pieces.concat()),
        ],
    ) {
        let _ = multipart::is_multipart(Some(&content_type));
        let _ = multipart::boundary(&content_type);
        if let Ok(parts) = multipart::parse(&content_type, &bytes) {
            prop_assert!(parts.len() <= multipart::MAX_PARTS);
            for part in &parts {
                // Parts borrow from the body: nothing is made up.
                prop_assert!(part.body.len() <= bytes.len());
            }
        }
    }

    /// Round trip: fields and files written with any boundary of RFC 2046's alphabet, whose
    /// bytes may even contain the boundary text (not at a line start), read back unchanged.
    #[test]
    fn multipart_reads_back_what_was_written(
        boundary in "[A-Za-z0-9'()+_,./:=?-]{1,69}[A-Za-z0-9]",
        quoted in any::<bool>(),
        fields in proptest::collection::vec(
            ("[a-zA-Z0-9_-]{1,20}", hostile_bytes(80), proptest::option::of("[a-zA-Z0-9 ._-]{1,20}")),
            0..10,
        ),
    ) {
        let fields: Vec<(String, Vec<u8>, Option<String>)> = fields
            .into_iter()
            .map(|(n, mut v, f)| {
                v.extend_from_slice(format!("--{boundary}x").as_bytes());
                (n, v, f)
            })
            .collect();
        let body = form_data(&boundary, &fields);
        let content_type = if quoted {
            format!("multipart/form-data; charset=utf-8; boundary=\"{boundary}\"")
        } else {
            format!("Multipart/Form-Data;boundary={boundary}")
        };
        let parts = multipart::parse(&content_type, &body);
        prop_assert!(parts.is_ok(), "{:?}", parts);
        let parts = parts.unwrap_or_default();
        prop_assert_eq!(parts.len(), fields.len());
        for (part, (name, value, filename)) in parts.iter().zip(&fields) {
            prop_assert_eq!(&part.name, name);
            prop_assert_eq!(part.body, &value[..]);
            prop_assert_eq!(&part.filename, filename);
        }
    }
}

#[test]
fn deeply_nested_meta_json_is_refused_not_a_stack_overflow() {
    for object in [false, true] {
        for close in [false, true] {
            let deep = deep_json(100_000, object, close);
            assert!(meta::events(&deep).is_err());
            let mut wrapped = b"{\"object\":\"page\",\"entry\":".to_vec();
            wrapped.extend_from_slice(&deep);
            wrapped.push(b'}');
            assert!(meta::events(&wrapped).is_err());
        }
    }
}

/// WhatsApp batches with many messages and many contacts: reading them must stay linear,
/// whoever wrote them (the signature is checked first, but a parser bug should not cost minutes
/// of CPU). Beyond the component's 1 MiB limit, so that a quadratic reader would be obvious.
#[test]
fn a_big_whatsapp_batch_is_read_in_linear_time() {
    let n = 60_000;
    let contacts: Vec<Value> = (0..n)
        .map(|i| json!({"wa_id": format!("c{i}"), "profile": {"name": "x"}}))
        .collect();
    let messages: Vec<Value> = (0..n)
        .map(|i| json!({"from": format!("m{i}"), "id": format!("w{i}")}))
        .collect();
    let body = json!({"object": "whatsapp_business_account",
        "entry": [{"changes": [{"value": {"contacts": contacts, "messages": messages}}]}]})
    .to_string();
    let events = within_ms(LIMIT_MS, "a big WhatsApp batch", || {
        meta::events(body.as_bytes())
    })
    .expect("a valid payload");
    assert_eq!(events.len(), n);
}

#[test]
fn whatsapp_timestamps_beyond_any_date_do_not_overflow() {
    for ts in [i64::MAX.to_string(), i64::MIN.to_string(), "-1".to_owned()] {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
            "messages": [{"from": "1", "id": "w", "timestamp": ts}]}}]}]});
        let events = meta::events(body.to_string().as_bytes()).expect("a valid payload");
        assert!(
            matches!(events[0], Event::Message { timestamp_ms, .. } if timestamp_ms <= 0 || timestamp_ms % 1000 == 0)
        );
    }
}

#[test]
fn multipart_floods_of_near_delimiters_are_read_in_linear_time() {
    let n = 2 * 1024 * 1024;
    let content_type = "multipart/form-data; boundary=XyZ";
    let head = b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n".to_vec();
    for filler in [&b"\r\n--XyZx"[..], b"\r\n--Xy", b"\r\n", b"\r", b"--XyZ"] {
        let mut body = head.clone();
        while body.len() < n {
            body.extend_from_slice(filler);
        }
        within_ms(LIMIT_MS, "multipart flood", || {
            multipart::parse(content_type, &body)
        })
        .expect_err("never closed");
    }
    // Many tiny parts: refused at MAX_PARTS, quickly.
    let mut body = Vec::new();
    for _ in 0..100_000 {
        body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n");
    }
    body.extend_from_slice(b"--XyZ--");
    let refused = within_ms(LIMIT_MS, "many parts", || {
        multipart::parse(content_type, &body)
    })
    .expect_err("too many parts");
    assert!(refused.problem.contains("parts"), "{refused}");
    // Headers that never end.
    let mut body = b"--XyZ\r\n".to_vec();
    body.extend(std::iter::repeat_n(b'h', n));
    within_ms(LIMIT_MS, "endless headers", || {
        multipart::parse(content_type, &body)
    })
    .expect_err("no end of headers");
}
