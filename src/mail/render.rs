//! Mail text from `templates/<kind>.{subject,txt}` (embedded; minijinja) and the `.ics`
//! attachment for a visit.

use std::sync::OnceLock;

use icalendar::{Calendar, Component, Event, EventLike};
use minijinja::Environment;

use super::{LotteryMail, MailKind, ReservationMail, VerificationMail, WaitlistMail};

pub(crate) struct Rendered {
    pub subject: String,
    pub text: String,
    pub ics: Option<Ics>,
}

/// A calendar attachment and its iTIP method (RFC 5546): `REQUEST` adds or updates the event,
/// `CANCEL` removes it. The MIME type's `method=` matches the file's `METHOD`.
pub(crate) struct Ics {
    pub method: &'static str,
    pub text: String,
}

const TEMPLATES: &[(&str, &str)] = &[
    (
        "verification.subject",
        include_str!("templates/verification.subject"),
    ),
    (
        "verification.txt",
        include_str!("templates/verification.txt"),
    ),
    (
        "booking_confirmed.subject",
        include_str!("templates/booking_confirmed.subject"),
    ),
    (
        "booking_confirmed.txt",
        include_str!("templates/booking_confirmed.txt"),
    ),
    (
        "booking_changed.subject",
        include_str!("templates/booking_changed.subject"),
    ),
    (
        "booking_changed.txt",
        include_str!("templates/booking_changed.txt"),
    ),
    (
        "booking_cancelled.subject",
        include_str!("templates/booking_cancelled.subject"),
    ),
    (
        "booking_cancelled.txt",
        include_str!("templates/booking_cancelled.txt"),
    ),
    (
        "reservation_details.txt",
        include_str!("templates/reservation_details.txt"),
    ),
    (
        "reminder.subject",
        include_str!("templates/reminder.subject"),
    ),
    ("reminder.txt", include_str!("templates/reminder.txt")),
    (
        "second_visit.subject",
        include_str!("templates/second_visit.subject"),
    ),
    (
        "second_visit.txt",
        include_str!("templates/second_visit.txt"),
    ),
    (
        "waitlist_joined.subject",
        include_str!("templates/waitlist_joined.subject"),
    ),
    (
        "waitlist_joined.txt",
        include_str!("templates/waitlist_joined.txt"),
    ),
    (
        "waitlist_offer.subject",
        include_str!("templates/waitlist_offer.subject"),
    ),
    (
        "waitlist_offer.txt",
        include_str!("templates/waitlist_offer.txt"),
    ),
    (
        "lottery_entered.subject",
        include_str!("templates/lottery_entered.subject"),
    ),
    (
        "lottery_entered.txt",
        include_str!("templates/lottery_entered.txt"),
    ),
    (
        "lottery_lost.subject",
        include_str!("templates/lottery_lost.subject"),
    ),
    (
        "lottery_lost.txt",
        include_str!("templates/lottery_lost.txt"),
    ),
    (
        "waitlist_ended.subject",
        include_str!("templates/waitlist_ended.subject"),
    ),
    (
        "waitlist_ended.txt",
        include_str!("templates/waitlist_ended.txt"),
    ),
    (
        "turn_near.subject",
        include_str!("templates/turn_near.subject"),
    ),
    ("turn_near.txt", include_str!("templates/turn_near.txt")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        match minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
        {
            Ok(syntax) => env.set_syntax(syntax),
            Err(e) => tracing::error!(error = %e, "mail template syntax"),
        }
        // Plain text: nothing to escape.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            // The templates are compiled into the binary; a broken one fails the unit tests.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "mail template does not compile");
            }
        }
        env
    })
}

/// Renders the mail of `kind` from its outbox payload (the JSON of the kind's payload type).
pub(crate) fn render(kind: MailKind, payload: &str) -> Result<Rendered, String> {
    match kind {
        MailKind::Verification => {
            let p: VerificationMail =
                serde_json::from_str(payload).map_err(|e| format!("verification payload: {e}"))?;
            render_with(kind, &p, None)
        }
        MailKind::WaitlistJoined | MailKind::WaitlistOffer | MailKind::WaitlistEnded => {
            let p: WaitlistMail =
                serde_json::from_str(payload).map_err(|e| format!("{kind} payload: {e}"))?;
            render_with(kind, &p, None)
        }
        MailKind::TurnNear => {
            let p: crate::mail::TurnMail =
                serde_json::from_str(payload).map_err(|e| format!("{kind} payload: {e}"))?;
            render_with(kind, &p, None)
        }
        MailKind::LotteryEntered | MailKind::LotteryLost => {
            let p: LotteryMail =
                serde_json::from_str(payload).map_err(|e| format!("{kind} payload: {e}"))?;
            render_with(kind, &p, None)
        }
        MailKind::BookingConfirmed
        | MailKind::BookingChanged
        | MailKind::BookingCancelled
        | MailKind::Reminder
        | MailKind::SecondVisit => {
            let p: ReservationMail =
                serde_json::from_str(payload).map_err(|e| format!("{kind} payload: {e}"))?;
            let ics = match kind {
                MailKind::BookingConfirmed | MailKind::BookingChanged => {
                    Some(visit_ics(&p, "REQUEST"))
                }
                MailKind::BookingCancelled => Some(visit_ics(&p, "CANCEL")),
                MailKind::Verification
                | MailKind::Reminder
                | MailKind::SecondVisit
                | MailKind::WaitlistJoined
                | MailKind::WaitlistOffer
                | MailKind::WaitlistEnded
                | MailKind::LotteryEntered
                | MailKind::LotteryLost
                | MailKind::TurnNear => None,
            };
            render_with(kind, &p, ics)
        }
    }
}

fn render_with<T: serde::Serialize>(
    kind: MailKind,
    payload: &T,
    ics: Option<Ics>,
) -> Result<Rendered, String> {
    let env = env();
    let ctx = minijinja::Value::from(minijinja::value::Serde(payload));
    let get = |suffix: &str| {
        let name = format!("{kind}.{suffix}");
        env.get_template(&name)
            .and_then(|t| t.render(&ctx))
            .map_err(|e| format!("template {name}: {e}"))
    };
    let subject = get("subject")?.trim().replace(['\r', '\n'], " ");
    let text = get("txt")?;
    Ok(Rendered { subject, text, ics })
}

/// The event's text: the number and procedure, then a party's other people with theirs.
fn visit_description(p: &ReservationMail) -> String {
    let mut text = format!(
        "予約番号 / Reservation number: {}\n{}: {}",
        p.reservation_number, p.name, p.procedure_name
    );
    for m in &p.party {
        text.push_str(&format!(
            "\n{}: {} ({})",
            m.name, m.procedure_name, m.reservation_number
        ));
    }
    text
}

/// The visit as an iCalendar event (UTC times, so every calendar shows it right). One UID per
/// reservation; SEQUENCE grows with each change, so a change or a cancellation updates the
/// event the resident already has.
fn visit_ics(p: &ReservationMail, method: &'static str) -> Ics {
    let mut event = Event::new();
    event
        .uid(&format!("{}@madoguchi", p.reservation_id))
        .timestamp(p.issued_at)
        .sequence(u32::try_from(p.ics_sequence).unwrap_or(0))
        .starts(p.starts_at)
        .ends(p.ends_at)
        .summary(&format!("{} ({})", p.counter_name, p.procedure_name))
        .location(&format!("{} {}", p.counter_name, p.counter_address))
        .description(&visit_description(p));
    if method == "CANCEL" {
        event.status(icalendar::EventStatus::Cancelled);
    } else {
        event.status(icalendar::EventStatus::Confirmed);
    }
    let text = Calendar::new()
        .name("マイナンバー特設窓口")
        .append_property(("METHOD", method))
        .push(event.done())
        .done()
        .to_string();
    Ics { method, text }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn booking_payload() -> Value {
        json!({
            "city": "近江八幡市",
            "name": "山田 太郎",
            "reservation_number": "ACEF-HJKM",
            "reservation_id": "r-1",
            "date_label": "2027年1月4日(月)",
            "time_label": "09:00〜09:30",
            "starts_at": "2027-01-04T00:00:00Z",
            "ends_at": "2027-01-04T00:30:00Z",
            "issued_at": "2026-11-24T01:00:00Z",
            "counter_name": "近江八幡市役所 マイナンバー特設窓口",
            "counter_address": "滋賀県近江八幡市桜宮町236",
            "procedure_name": "暗証番号の再設定・ロック解除(初期化)",
            "procedure_name_en": "PIN reset / lock release",
            "procedure_notes": ["スマホ用電子証明書は窓口では手続きできません。"],
            "applicant_label": "任意代理人 / Voluntary proxy",
            "representative_name": "山田 花子",
            "requirements": ["本人のマイナンバーカード", "委任状"],
            "visits": 2,
            "visit_note": "任意代理人の手続きは2回の来庁が必要です。",
            "visit_note_en": "A voluntary proxy must come twice.",
            "manage_url": "http://127.0.0.1:8080/booking/manage?token=abc",
            "booking_url": "http://127.0.0.1:8080/",
            "cancelled_by": null,
            "ics_sequence": 0,
            "previous_label": "2027年1月5日(火) 10:00〜10:30",
            "reason": null,
            "sender_footer": "近江八幡市 マイナンバー特設窓口",
        })
    }

    #[test]
    fn every_template_compiles_and_renders() {
        let p = booking_payload();
        for kind in [
            MailKind::BookingConfirmed,
            MailKind::BookingChanged,
            MailKind::BookingCancelled,
        ] {
            let r = render(kind, &p.to_string()).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert!(r.subject.contains("ACEF-HJKM"), "{kind}: {}", r.subject);
            assert!(r.text.contains("2027年1月4日(月)"), "{kind}");
            assert!(
                !r.text.contains("Japan time)\n"),
                "{kind}: no English date, no line"
            );
        }
        // With the English date and the end of changes (mails written since they are kept).
        let mut p = p;
        p["when_en"] = json!("Mon 4 January 2027, 09:00–09:30");
        p["changes_until"] = json!("2027年1月4日(月) 09:00");
        p["changes_until_en"] = json!("Mon 4 January 2027, 09:00");
        let r = render(MailKind::BookingConfirmed, &p.to_string()).unwrap();
        assert!(r
            .text
            .contains("Mon 4 January 2027, 09:00–09:30 (Japan time)"));
        assert!(r
            .text
            .contains("変更・キャンセルは 2027年1月4日(月) 09:00(予約の開始時刻)までできます。"));
        assert!(r
            .text
            .contains("until Mon 4 January 2027, 09:00 (the start of the visit)"));
        let v = render(
            MailKind::Verification,
            &json!({"city": "近江八幡市", "link": "http://x/booking/verify?token=t", "expires_label": "2026年11月24日 10:30", "sender_footer": "f"}).to_string(),
        )
        .unwrap();
        assert!(v.text.contains("http://x/booking/verify?token=t"));
        assert!(v.ics.is_none());
    }

    #[test]
    fn an_ended_wait_says_why_and_how_to_book_another_day() {
        let mut p = json!({
            "city": "近江八幡市", "name": "待機 花子", "date_label": "2027年2月10日(水)",
            "counter_name": "近江八幡市役所", "counter_address": "滋賀県近江八幡市桜宮町236",
            "procedure_name": "暗証番号の再設定", "position": null, "offer_label": null,
            "offer_expires_label": null, "link": null, "booking_url": "http://x/",
            "closure_reason": "庁舎の停電点検", "sender_footer": "f",
        });
        let closed = render(MailKind::WaitlistEnded, &p.to_string()).unwrap();
        assert!(
            closed.subject.contains("キャンセル待ち終了"),
            "{}",
            closed.subject
        );
        assert!(closed.subject.contains("2027年2月10日(水)"));
        assert!(closed.text.contains("臨時に休止"), "{}", closed.text);
        assert!(closed.text.contains("庁舎の停電点検"));
        assert!(closed.text.contains("http://x/"));
        assert!(
            !closed.text.contains("確保も取り消しました"),
            "nothing was offered"
        );
        p["offer_label"] = json!("2027年2月10日(水) 09:00〜09:30");
        let offered = render(MailKind::WaitlistEnded, &p.to_string()).unwrap();
        assert!(
            offered
                .text
                .contains("(2027年2月10日(水) 09:00〜09:30)の確保も取り消しました"),
            "{}",
            offered.text
        );
        p["offer_label"] = Value::Null;
        p["closure_reason"] = Value::Null;
        let window = render(MailKind::WaitlistEnded, &p.to_string()).unwrap();
        assert!(window.text.contains("空きが出なかった"), "{}", window.text);
        assert!(
            window.text.contains("予約なしでもご来庁いただけます"),
            "{}",
            window.text
        );
        assert!(!window.text.contains("理由"));
        // A payload written before the field existed still renders.
        p.as_object_mut().unwrap().remove("closure_reason");
        assert!(render(MailKind::WaitlistEnded, &p.to_string()).is_ok());
    }

    #[test]
    fn waiting_list_and_lottery_mails_queued_before_the_english_dates_still_render() {
        let lottery = json!({
            "city": "近江八幡市", "name": "抽選 花子", "month_label": "2027年2月",
            "counter_name": "近江八幡市役所", "counter_address": "滋賀県近江八幡市桜宮町236",
            "procedure_name": "暗証番号の再設定",
            "preferences": ["2027年2月10日(水) 09:00〜09:30", "2027年2月10日(水) 09:30〜10:00"],
            "draw_label": "2026年12月1日 11:00", "opens_label": "2026年12月1日 12:00",
            "link": null, "booking_url": "http://x/", "sender_footer": "f",
        });
        for kind in [MailKind::LotteryEntered, MailKind::LotteryLost] {
            let old = render(kind, &lottery.to_string()).expect("an old payload renders");
            assert!(old
                .text
                .contains("第2希望 / Choice 2: 2027年2月10日(水) 09:30〜10:00"));
            assert!(old.text.contains("in 2027年2月"), "{}", old.text);
            let mut p = lottery.clone();
            p["month_label_en"] = json!("February 2027");
            p["preferences_en"] = json!(["Wed 10 February 2027, 09:00–09:30"]);
            p["draw_label_en"] = json!("Tue 1 December 2026, 11:00");
            p["opens_label_en"] = json!("Tue 1 December 2026, 12:00");
            // Fewer English lines than choices (never written so, but never an error).
            let new = render(kind, &p.to_string()).expect("a new payload renders");
            assert!(new.text.contains("in February 2027"), "{}", new.text);
            assert!(new
                .text
                .contains("  Wed 10 February 2027, 09:00–09:30 (Japan time)"));
        }
        let offer = json!({
            "city": "近江八幡市", "name": "待機 花子", "date_label": "2027年2月10日(水)",
            "counter_name": "近江八幡市役所", "counter_address": "滋賀県近江八幡市桜宮町236",
            "procedure_name": "暗証番号の再設定", "position": 1,
            "offer_label": "2027年2月10日(水) 09:00〜09:30", "offer_expires_label": "2026年12月1日 12:30",
            "link": "http://x/booking/manage?waitlist=t", "booking_url": "http://x/", "sender_footer": "f",
        });
        for kind in [
            MailKind::WaitlistJoined,
            MailKind::WaitlistOffer,
            MailKind::WaitlistEnded,
        ] {
            let old = render(kind, &offer.to_string()).expect("an old payload renders");
            assert!(old.text.contains("2027年2月10日(水)"), "{}", old.text);
        }
    }

    #[test]
    fn the_completion_mail_says_what_to_bring_and_why_two_visits() {
        let r = render(MailKind::BookingConfirmed, &booking_payload().to_string()).unwrap();
        assert!(
            r.text.contains("・本人のマイナンバーカード\n"),
            "{}",
            r.text
        );
        assert!(r.text.contains("・委任状"));
        assert!(r.text.contains("ご来庁は2回必要です"));
        assert!(r.text.contains("任意代理人の手続きは2回の来庁が必要です。"));
        assert!(r
            .text
            .contains("http://127.0.0.1:8080/booking/manage?token=abc"));
        assert!(r.text.contains("山田 花子 様"));
        let ics = r.ics.expect("ics");
        assert_eq!(ics.method, "REQUEST");
        let ics = ics.text;
        assert!(ics.contains("BEGIN:VEVENT"));
        assert!(ics.contains("METHOD:REQUEST"), "{ics}");
        assert!(ics.contains("SEQUENCE:0"), "{ics}");
        assert!(ics.contains("DTSTART:20270104T000000Z"), "{ics}");
    }

    #[test]
    fn a_cancellation_cancels_the_same_event_and_says_how_to_book_again() {
        let mut p = booking_payload();
        p["ics_sequence"] = json!(2);
        p["cancelled_by"] = json!("closure");
        p["reason"] = json!("停電のため");
        let r = render(MailKind::BookingCancelled, &p.to_string()).unwrap();
        let ics = r.ics.expect("a cancel");
        assert_eq!(ics.method, "CANCEL");
        assert!(ics.text.contains("METHOD:CANCEL"), "{}", ics.text);
        assert!(ics.text.contains("SEQUENCE:2"));
        assert!(ics.text.contains("UID:r-1@madoguchi"));
        assert!(ics.text.contains("STATUS:CANCELLED"));
        assert!(r.text.contains("http://127.0.0.1:8080/"), "{}", r.text);
        assert!(
            r.text.contains("申し訳ございません"),
            "a closure apologises: {}",
            r.text
        );
        assert!(r.text.contains("停電のため"));
        p["cancelled_by"] = json!("resident");
        let r = render(MailKind::BookingCancelled, &p.to_string()).unwrap();
        assert!(!r.text.contains("申し訳ございません"));
        assert!(r.text.contains("http://127.0.0.1:8080/"));
    }

    #[test]
    fn the_reminder_carries_the_confirmation_details() {
        let p = booking_payload();
        let reminder = render(MailKind::Reminder, &p.to_string()).unwrap();
        let confirmed = render(MailKind::BookingConfirmed, &p.to_string()).unwrap();
        for line in confirmed
            .text
            .lines()
            .filter(|l| l.starts_with("  ") || l.starts_with("■"))
        {
            assert!(
                reminder.text.contains(line),
                "{line:?} missing from the reminder"
            );
        }
        assert!(reminder.subject.contains("明日") || reminder.subject.contains("ご予約の確認"));
        assert!(reminder
            .text
            .contains("http://127.0.0.1:8080/booking/manage?token=abc"));
    }

    #[test]
    fn a_holder_booking_has_no_two_visit_section() {
        let mut p = booking_payload();
        p["visits"] = json!(1);
        p["representative_name"] = Value::Null;
        let r = render(MailKind::BookingConfirmed, &p.to_string()).unwrap();
        assert!(!r.text.contains("回必要です"));
    }
}
