//! What errors say: every `code` the API answers, declared once in the `error_codes!` table
//! (a row: the code, its status, its string, its English and Japanese title), a detail
//! template filled with the specifics of an occurrence (the title where there are none), and
//! the messages of field errors, in both languages.
//!
//! This module knows nothing of actix: domain modules return their own small error enums, the
//! HTTP layer (`http::problem`) converts them to an [`ErrorCode`] with [`Facts`] and renders
//! `application/problem+json`. A code without both titles, or a field problem without its
//! words in both languages, does not compile.

use chrono::NaiveDate;
use serde::Serialize;

/// The language of a response: Japanese when the request prefers it, English otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// From an `Accept-Language` value, honouring q-values: the best-rated of `ja` and `en`
    /// (or `*`) wins; `q=0` means "not this one"; on a tie the first listed wins; English when
    /// neither is acceptable or the header is absent.
    pub fn from_accept_language(value: Option<&str>) -> Lang {
        let Some(value) = value else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    let p = p.trim();
                    p.strip_prefix("q=")
                        .or_else(|| p.strip_prefix("Q="))
                        .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
                })
                .unwrap_or(1.0);
            if q.is_nan() || q <= 0.0 {
                continue;
            }
            let lang = if tag == "ja" || tag.starts_with("ja-") {
                Lang::Ja
            } else if tag == "en" || tag.starts_with("en-") || tag == "*" {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l).unwrap_or(Lang::En)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }
}

/// Declares every error code once, a row each: its variant, HTTP status, the snake_case string
/// clients see, and its title in English and Japanese (a code without both does not compile).
macro_rules! error_codes {
    ($( $(#[$meta:meta])* $code:ident = $status:literal, $text:literal, $en:literal, $ja:literal; )+) => {
        /// Every error code the service answers. Serialised as snake_case (`slot_full`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum ErrorCode {
            $( $(#[$meta])* $code, )+
        }

        impl ErrorCode {
            /// Every code, for the tests that walk them and for the OpenAPI spec.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$code),+];

            /// The snake_case string clients see.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$code => $text,)+
                }
            }

            pub fn status(self) -> u16 {
                match self {
                    $(ErrorCode::$code => $status,)+
                }
            }

            /// The title: what this code means, the same for every occurrence.
            pub fn title(self, lang: Lang) -> &'static str {
                match (self, lang) {
                    $(
                        (ErrorCode::$code, Lang::En) => $en,
                        (ErrorCode::$code, Lang::Ja) => $ja,
                    )+
                }
            }
        }
    };
}

// The table: code = status, "string", English title, Japanese title.
error_codes! {
    // The HTTP layer.
    BadRequest = 400, "bad_request",
        "The request is malformed.",
        "リクエストの形式が正しくありません。";
    Unauthenticated = 401, "unauthenticated",
        "Sign in first.",
        "ログインが必要です。";
    InvalidCredentials = 401, "invalid_credentials",
        "The login or password is wrong.",
        "ログイン名またはパスワードが違います。";
    Forbidden = 403, "forbidden",
        "Your role may not do this.",
        "この操作を行う権限がありません。";
    NotFound = 404, "not_found",
        "Nothing is here.",
        "指定されたものは見つかりません。";
    MethodNotAllowed = 405, "method_not_allowed",
        "This method is not allowed here.",
        "このメソッドは使用できません。";
    NotAcceptable = 406, "not_acceptable",
        "No answer in an acceptable format.",
        "指定された形式では応答できません。";
    RequestTimeout = 408, "request_timeout",
        "The request took too long to arrive.",
        "リクエストの受信に時間がかかりすぎました。";
    PayloadTooLarge = 413, "payload_too_large",
        "The request body is too large.",
        "リクエストが大きすぎます。";
    UriTooLong = 414, "uri_too_long",
        "The address is too long.",
        "URLが長すぎます。";
    UnsupportedMediaType = 415, "unsupported_media_type",
        "Send JSON (Content-Type: application/json).",
        "JSON形式で送信してください。";
    ValidationFailed = 422, "validation_failed",
        "Some fields are not valid.",
        "入力内容に誤りがあります。";
    RateLimited = 429, "rate_limited",
        "Too many requests; try again later.",
        "リクエストが多すぎます。しばらくしてから再度お試しください。";
    HeadersTooLarge = 431, "headers_too_large",
        "The request headers are too large.",
        "リクエストヘッダーが大きすぎます。";
    InternalError = 500, "internal_error",
        "Something went wrong on our side.",
        "システムエラーが発生しました。";
    DatabaseUnavailable = 503, "database_unavailable",
        "The database cannot be reached.",
        "データベースに接続できません。";
    Unavailable = 503, "unavailable",
        "The service is not available just now.",
        "ただいまサービスを利用できません。";
    Busy = 503, "busy",
        "Many people are booking at this moment; try again in a moment. What you entered is kept.",
        "ただいま大変混み合っています。少し待ってからもう一度お試しください。入力した内容はそのまま残ります。";
    // Calendar.
    CounterNotFound = 404, "counter_not_found",
        "No such counter.",
        "指定された窓口はありません。";
    SlotNotFound = 404, "slot_not_found",
        "No such slot.",
        "指定された予約枠はありません。";
    ProcedureNotFound = 404, "procedure_not_found",
        "No such procedure.",
        "指定された用件はありません。";
    DayClosed = 409, "day_closed",
        "The counter is closed on this day.",
        "この日は窓口が休みです。";
    // Verification.
    InvalidEmail = 422, "invalid_email",
        "The email address is not valid.",
        "メールアドレスの形式が正しくありません。";
    ContainsIndividualNumber = 422, "contains_individual_number",
        "Do not enter an individual number (My Number); it is never needed here.",
        "マイナンバー(個人番号)は入力しないでください。予約には必要ありません。";
    VerificationNotFound = 404, "verification_not_found",
        "This verification link is not valid.",
        "この確認用リンクは無効です。";
    VerificationExpired = 410, "verification_expired",
        "This verification link has expired; ask for a new one.",
        "確認用リンクの有効期限が切れています。";
    VerificationUsed = 410, "verification_used",
        "This verification link has already been used; ask for a new one.",
        "この確認用リンクは使用済みです。";
    // Booking.
    ReservationNotFound = 404, "reservation_not_found",
        "No such reservation.",
        "予約が見つかりません。";
    SlotFull = 409, "slot_full",
        "This slot is full; see the alternatives.",
        "この時間帯は満員です。ほかの時間帯をお選びください。";
    WindowNotOpen = 409, "window_not_open",
        "Booking for this day has not opened yet.",
        "この日の予約受付はまだ始まっていません。";
    WindowClosed = 409, "window_closed",
        "Booking for this day has closed.",
        "この日の予約受付は終了しました。";
    ActiveReservationExists = 409, "active_reservation_exists",
        "An active reservation already exists for this person or address.",
        "同じ方(またはメールアドレス)の有効な予約がすでにあります。";
    TooLateToCancel = 409, "too_late_to_cancel",
        "It is too late to cancel this reservation.",
        "この予約はキャンセルできません。";
    TooLateToChange = 409, "too_late_to_change",
        "It is too late to change this reservation.",
        "この予約は変更できません。";
    ReservationCancelled = 409, "reservation_cancelled",
        "This reservation has been cancelled.",
        "この予約は取り消されています。";
    HoldNotFound = 404, "hold_not_found",
        "No such hold for this link.",
        "この仮押さえは見つかりません。";
    HoldExpired = 410, "hold_expired",
        "The time the seat was kept for has run out; choose the slot again.",
        "仮押さえの時間が過ぎました。もう一度時間帯を選んでください。";
    HoldOtherSlot = 409, "hold_other_slot",
        "The hold is for another slot.",
        "仮押さえは別の時間帯のものです。";
    FairStartDrawing = 409, "fair_start_drawing",
        "Seats of this day are being given out in a random order just now; book and your request joins it.",
        "この日の予約は受付開始直後のため、順番を抽選で決めています。そのまま予約を申し込むと抽選に加わります。";
    // Staff and administration.
    LoginTaken = 409, "login_taken",
        "That login is taken.",
        "そのログイン名は使われています。";
    StaffNotFound = 404, "staff_not_found",
        "No such staff account.",
        "その職員アカウントはありません。";
    SecondFactorRequired = 401, "second_factor_required",
        "Enter the code from your authenticator app (or a recovery code).",
        "認証アプリに表示されたコード(またはリカバリーコード)を入力してください。";
    TotpEnrolmentRequired = 403, "totp_enrolment_required",
        "Your role signs in with a second factor: set up an authenticator app first.",
        "この役割では二要素認証が必要です。先に認証アプリを設定してください。";
    NetworkNotAllowed = 403, "network_not_allowed",
        "Staff may not sign in from this network.",
        "このネットワークからは職員としてログインできません。";
    TotpAlreadyEnrolled = 409, "totp_already_enrolled",
        "An authenticator is already set up; an administrator removes it before a new one.",
        "認証アプリはすでに設定されています。設定し直すには管理者に解除を依頼してください。";
    TotpNotEnrolled = 409, "totp_not_enrolled",
        "This account has no second factor to remove.",
        "このアカウントには二要素認証が設定されていません。";
    OwnTotp = 409, "own_totp",
        "Your own second factor is removed by another administrator (or on the server's command line).",
        "ご自身の二要素認証は、別の管理者(またはサーバーのコマンド)が解除します。";
    TotpNotStarted = 409, "totp_not_started",
        "Start setting up an authenticator first.",
        "先に認証アプリの設定を開始してください。";
    LastAdmin = 409, "last_admin",
        "The last enabled administrator cannot be disabled or given another role.",
        "有効な管理者が一人だけのため、無効化や役割の変更はできません。";
    CapacityBelowBooked = 409, "capacity_below_booked",
        "The capacity cannot be set below the seats already booked.",
        "予約済みの人数より少ない定員には変更できません。";
    DayHasReservations = 409, "day_has_reservations",
        "The day has reservations; ask to cancel them to close it.",
        "この日には予約があります。予約を取り消して休止する場合は cancel_reservations を指定してください。";
    DayAlreadyClosed = 409, "day_already_closed",
        "The day is already closed.",
        "この日はすでに休止になっています。";
    ClosureNotFound = 404, "closure_not_found",
        "This day is not closed by an administrator.",
        "この日は管理者による休止日ではありません。";
    // The front desk.
    NotToday = 409, "not_today",
        "This reservation is not for today.",
        "この予約は本日の予約ではありません。";
    AlreadyCheckedIn = 409, "already_checked_in",
        "This reservation is already checked in.",
        "この予約は受付済みです。";
    WrongCounter = 409, "wrong_counter",
        "This reservation is for another counter.",
        "この予約は別の窓口の予約です。";
    TicketNotFound = 404, "ticket_not_found",
        "No such ticket today.",
        "本日その番号の整理券はありません。";
    TicketNotCalled = 409, "ticket_not_called",
        "This ticket has not been called.",
        "この整理券はまだ呼び出されていません。";
    DeskServing = 409, "desk_serving",
        "This desk is still serving a visitor the call did not name.",
        "この窓口番号では、呼び出しで指定されていない方をまだ対応中です。";
    AlertUnavailable = 409, "alert_unavailable",
        "This ticket cannot send a mail when its turn nears: only a booked visitor who gave a mail address can ask, while waiting.",
        "この番号札では、順番が近づいたときのメールをお送りできません(メールアドレスを登録してご予約の方が、お待ちの間だけ申し込めます)。";
    // Fairness: the waiting list and the second visit.
    // Lotteries (抽選予約).
    LotteryNotFound = 404, "lottery_not_found",
        "No such lottery.",
        "抽選が見つかりません。";
    LotteryEntryNotFound = 404, "lottery_entry_not_found",
        "No such lottery entry.",
        "抽選の申込みが見つかりません。";
    LotteryConflict = 409, "lottery_conflict",
        "That month cannot be drawn: its booking window has opened, or another lottery holds it.",
        "この月は抽選にできません(予約受付が始まっているか、ほかの抽選があります)。";
    LotteryNotOpen = 409, "lottery_not_open",
        "This lottery is not taking entries now.",
        "この抽選は現在申込みを受け付けていません。";
    EntryExists = 409, "entry_exists",
        "This person or address has already entered this lottery.",
        "同じ方(またはメールアドレス)がすでにこの抽選に申し込んでいます。";
    LotteryDrawn = 409, "lottery_drawn",
        "This lottery has been drawn; the entry can no longer be withdrawn.",
        "抽選は終了しました。申込みは取り消せません。";
    LotteryPeriod = 409, "lottery_period",
        "Visits of this month are drawn by lottery; they can be booked after the draw.",
        "この月の予約は抽選で決まります。抽選後の空きは予約できます。";
    SeatsAvailable = 409, "seats_available",
        "Seats are still free that day; book one instead of waiting.",
        "この日はまだ空きがあります。キャンセル待ちではなく予約してください。";
    WaitlistNotFound = 404, "waitlist_not_found",
        "No such waiting-list entry.",
        "キャンセル待ちの登録が見つかりません。";
    OfferExpired = 410, "offer_expired",
        "The seat offered to you was held only until its time ran out.",
        "ご案内した空き枠の確保期限が過ぎました。";
    NoOffer = 409, "no_offer",
        "No seat is being offered to this entry just now.",
        "現在ご案内している空き枠はありません。";
    FirstVisitNotCompleted = 409, "first_visit_not_completed",
        "The first visit has not been completed yet.",
        "1回目の来庁手続きがまだ完了していません。";
    SecondVisitTooEarly = 409, "second_visit_too_early",
        "The second visit cannot be that soon after the first.",
        "2回目の来庁日は、1回目から一定の日数を空けてください。";
    SecondVisitTooLate = 409, "second_visit_too_late",
        "The second visit must be sooner after the first.",
        "2回目の来庁日が1回目から離れすぎています。";
    SecondVisitExists = 409, "second_visit_exists",
        "The second visit is already booked.",
        "2回目の来庁はすでに予約されています。";
    SecondVisitNotNeeded = 409, "second_visit_not_needed",
        "This reservation needs no second visit.",
        "この予約に2回目の来庁は必要ありません。";
}

impl ErrorCode {
    /// The code a bare status maps to (actix's own rejections, which carry no code).
    pub fn of_status(status: u16) -> ErrorCode {
        match status {
            400 => ErrorCode::BadRequest,
            401 => ErrorCode::Unauthenticated,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            405 => ErrorCode::MethodNotAllowed,
            406 => ErrorCode::NotAcceptable,
            408 => ErrorCode::RequestTimeout,
            413 => ErrorCode::PayloadTooLarge,
            414 => ErrorCode::UriTooLong,
            415 => ErrorCode::UnsupportedMediaType,
            422 => ErrorCode::ValidationFailed,
            429 => ErrorCode::RateLimited,
            431 => ErrorCode::HeadersTooLarge,
            503 => ErrorCode::Unavailable,
            s if s < 500 => ErrorCode::BadRequest,
            _ => ErrorCode::InternalError,
        }
    }

    /// The detail: the title made specific with what is known of this occurrence. Falls back
    /// to a fuller sentence (or the title) when the specifics are missing.
    pub fn detail(self, lang: Lang, f: &Facts) -> String {
        use ErrorCode as C;
        use Lang::{En, Ja};
        let date_ja = |d: NaiveDate| d.format("%Y年%-m月%-d日").to_string();
        match (self, lang) {
            (C::DayClosed, En) => match (f.date, f.closed_reason) {
                (Some(d), Some(r)) => format!(
                    "The counter is closed on {d} ({}).",
                    r.get(En)
                ),
                (Some(d), None) => format!("The counter is closed on {d}."),
                _ => self.title(lang).into(),
            },
            (C::DayClosed, Ja) => match (f.date, f.closed_reason) {
                (Some(d), Some(r)) => format!(
                    "{}は窓口が休みです({})。",
                    date_ja(d),
                    r.get(Ja)
                ),
                (Some(d), None) => format!("{}は窓口が休みです。", date_ja(d)),
                _ => self.title(lang).into(),
            },
            (C::FairStartDrawing, En) => match &f.at {
                Some(at) => format!(
                    "Requests for this day in its first seconds are served in a random order from {at}; book, and yours joins them (no seat can be kept before)."
                ),
                _ => self.title(lang).into(),
            },
            (C::FairStartDrawing, Ja) => match &f.at {
                Some(at) => format!(
                    "受付開始直後の申込みは {} から抽選順に受け付けます。そのまま予約を申し込むと順番の抽選に加わります(それまで仮押さえはできません)。",
                    at_ja(at)
                ),
                _ => self.title(lang).into(),
            },
            (C::WindowNotOpen, En) => match (f.date, &f.at) {
                (Some(d), Some(at)) => format!("Booking for {d} opens at {at}."),
                _ => self.title(lang).into(),
            },
            (C::WindowNotOpen, Ja) => match (f.date, &f.at) {
                (Some(d), Some(at)) => format!(
                    "{}の予約受付は {} に始まります。",
                    date_ja(d),
                    at_ja(at)
                ),
                _ => self.title(lang).into(),
            },
            (C::WindowClosed, En) => match (f.date, &f.at) {
                (Some(_), Some(at)) if f.started => {
                    format!("This slot started at {at}; a slot that has started cannot be booked.")
                }
                (Some(d), Some(at)) => format!("Booking for {d} closed at {at}."),
                _ => self.title(lang).into(),
            },
            (C::WindowClosed, Ja) => match (f.date, &f.at) {
                (Some(_), Some(at)) if f.started => format!(
                    "この枠は {} に始まっています。始まった枠には予約できません。",
                    at_ja(at)
                ),
                (Some(d), Some(at)) => {
                    format!("{}の予約受付は {} に終了しました。", date_ja(d), at_ja(at))
                }
                _ => self.title(lang).into(),
            },
            (C::ActiveReservationExists, En) => match f.count {
                Some(n) => format!("This address already holds {n} active reservations."),
                None => "This person already holds an active reservation for this procedure.".into(),
            },
            (C::ActiveReservationExists, Ja) => match f.count {
                Some(n) => format!(
                    "このメールアドレスではすでに{n}件の予約があります。"
                ),
                None => "同じ方がこの手続きの有効な予約をすでにお持ちです。".into(),
            },
            (C::TooLateToCancel, En) => {
                "The visit has started or taken place; it can no longer be cancelled.".into()
            }
            (C::TooLateToCancel, Ja) => {
                "来庁時刻を過ぎているか、すでに受付済みのためキャンセルできません。".into()
            }
            (C::TooLateToChange, En) => {
                "The visit has started or taken place; it can no longer be moved.".into()
            }
            (C::TooLateToChange, Ja) => {
                "来庁時刻を過ぎているか、すでに受付済みのため変更できません。".into()
            }
            (C::VerificationExpired, Ja) => {
                "確認用リンクの有効期限が切れています。もう一度メールアドレスの確認からやり直してください。".into()
            }
            (C::VerificationUsed, Ja) => {
                "この確認用リンクは使用済みです。もう一度メールアドレスの確認からやり直してください。".into()
            }
            (C::CapacityBelowBooked, En) => match f.count {
                Some(n) => format!("{n} seats are booked; the capacity cannot be lower."),
                None => self.title(lang).into(),
            },
            (C::CapacityBelowBooked, Ja) => match f.count {
                Some(n) => format!("すでに{n}人の予約があるため、それより少ない定員にはできません。"),
                None => self.title(lang).into(),
            },
            (C::DayHasReservations, En) => match (f.date, f.count) {
                (Some(d), Some(n)) => format!(
                    "{n} reservations are booked on {d}; send cancel_reservations: true to cancel them and close the day."
                ),
                _ => self.title(lang).into(),
            },
            (C::DayHasReservations, Ja) => match (f.date, f.count) {
                (Some(d), Some(n)) => format!(
                    "{}には{n}件の予約があります。予約を取り消して休止する場合は cancel_reservations を指定してください。",
                    date_ja(d)
                ),
                _ => self.title(lang).into(),
            },
            (C::DayAlreadyClosed, En) => match (f.date, f.closed_reason) {
                (Some(d), Some(r)) => format!(
                    "The counter is already closed on {d} ({}).",
                    r.get(En)
                ),
                _ => self.title(lang).into(),
            },
            (C::DayAlreadyClosed, Ja) => match (f.date, f.closed_reason) {
                (Some(d), Some(r)) => format!(
                    "{}はすでに休みです({})。",
                    date_ja(d),
                    r.get(Ja)
                ),
                _ => self.title(lang).into(),
            },
            (C::NotToday, En) => match f.date {
                Some(d) => format!("This reservation is for {d}, not today."),
                None => self.title(lang).into(),
            },
            (C::NotToday, Ja) => match f.date {
                Some(d) => format!("この予約は{}の予約です(本日ではありません)。", date_ja(d)),
                None => self.title(lang).into(),
            },
            (C::AlreadyCheckedIn, En) => match &f.ticket {
                Some(t) => format!("This reservation is already checked in: ticket {t}."),
                None => self.title(lang).into(),
            },
            (C::AlreadyCheckedIn, Ja) => match &f.ticket {
                Some(t) => format!("この予約は受付済みです(整理券 {t})。"),
                None => self.title(lang).into(),
            },
            (C::WrongCounter, En) => match &f.counter {
                Some(c) => format!("This reservation is for the counter {c}."),
                None => self.title(lang).into(),
            },
            (C::WrongCounter, Ja) => match &f.counter {
                Some(c) => format!("この予約は別の窓口({c})の予約です。"),
                None => self.title(lang).into(),
            },
            (C::TicketNotCalled, En) => match &f.ticket {
                Some(t) => format!("Ticket {t} is waiting and has not been called yet."),
                None => self.title(lang).into(),
            },
            (C::TicketNotCalled, Ja) => match &f.ticket {
                Some(t) => format!("整理券 {t} はまだ呼び出されていません。"),
                None => self.title(lang).into(),
            },
            (C::TicketNotFound, En) => match &f.ticket {
                Some(t) => format!("There is no ticket {t} at this counter today."),
                None => self.title(lang).into(),
            },
            (C::DeskServing, En) => match (&f.ticket, &f.desk) {
                (Some(t), Some(d)) => format!(
                    "Ticket {t} is also called to desk {d}, so nobody was called and nothing was recorded. Refresh the queue, settle {t}, then call again."
                ),
                _ => self.title(lang).into(),
            },
            (C::DeskServing, Ja) => match (&f.ticket, &f.desk) {
                (Some(t), Some(d)) => format!(
                    "窓口「{d}」では整理券 {t} の方も対応中のため、呼び出しませんでした(完了・不在の記録もしていません)。一覧を更新し、{t} の方を確認してから、もう一度呼び出してください。"
                ),
                _ => self.title(lang).into(),
            },
            (C::TicketNotFound, Ja) => match &f.ticket {
                Some(t) => format!("本日この窓口に整理券 {t} はありません。"),
                None => self.title(lang).into(),
            },
            (C::SecondVisitTooEarly, En) => match (f.date, &f.at) {
                (Some(d), _) => format!("The second visit can be booked from {d}."),
                _ => self.title(lang).into(),
            },
            (C::SecondVisitTooEarly, Ja) => match f.date {
                Some(d) => format!("2回目の来庁は{}以降の日を予約してください。", date_ja(d)),
                None => self.title(lang).into(),
            },
            (C::SecondVisitTooLate, En) => match f.date {
                Some(d) => format!("The second visit can be booked up to {d}."),
                None => self.title(lang).into(),
            },
            (C::SecondVisitTooLate, Ja) => match f.date {
                Some(d) => format!("2回目の来庁は{}までの日を予約してください。", date_ja(d)),
                None => self.title(lang).into(),
            },
            (C::OfferExpired, En) => "The seat offered to you was held only until its time ran out; it has passed to the next in line. You are no longer on the list for that day.".into(),
            (C::OfferExpired, Ja) => "ご案内した空き枠の確保期限が過ぎたため、次の方にご案内しました。この日のキャンセル待ちは終了しています。".into(),
            (C::RateLimited, En) => match f.retry_after_s {
                Some(s) if s > 60 => format!(
                    "Too many requests; try again in about {} minutes.",
                    s.div_ceil(60)
                ),
                Some(60) => "Too many requests; try again in a minute.".into(),
                Some(1) => "Too many requests; try again in a second.".into(),
                Some(s) => format!("Too many requests; try again in {s} seconds."),
                None => self.title(lang).into(),
            },
            (C::RateLimited, Ja) => match f.retry_after_s {
                Some(s) if s > 60 => format!(
                    "リクエストが多すぎます。約{}分後に再度お試しください。",
                    s.div_ceil(60)
                ),
                Some(s) => format!("リクエストが多すぎます。{s}秒後に再度お試しください。"),
                None => self.title(lang).into(),
            },
            (C::PayloadTooLarge, En) => match f.count {
                Some(n) => format!("The request body is larger than {n} bytes."),
                None => self.title(lang).into(),
            },
            (C::PayloadTooLarge, Ja) => match f.count {
                Some(n) => format!("リクエストが大きすぎます({n}バイトまで)。"),
                None => self.title(lang).into(),
            },
            (C::BadRequest, En) => match &f.text {
                Some(t) => format!("The request is malformed: {t}."),
                None => self.title(lang).into(),
            },
            (C::BadRequest, Ja) => match &f.text {
                Some(t) => format!("リクエストの形式が正しくありません({t})。"),
                None => self.title(lang).into(),
            },
            (C::ValidationFailed | C::InvalidEmail | C::ContainsIndividualNumber, En) => {
                match f.count {
                    Some(1) | None => format!("{} See errors for the field.", self.title(lang)),
                    Some(n) => format!("{} See errors for the {n} fields.", self.title(lang)),
                }
            }
            (C::ValidationFailed | C::InvalidEmail | C::ContainsIndividualNumber, Ja) => {
                format!("{}該当する項目をご確認ください。", self.title(lang))
            }
            // A code whose occurrences carry no specifics: its detail is its title (which the
            // table gives every code in both languages).
            _ => self.title(lang).into(),
        }
    }
}

/// `2026-12-01T12:00:00+09:00` → `2026年12月1日 12:00`; anything else as it is.
fn at_ja(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at)
        .map(|t| t.format("%Y年%-m月%-d日 %H:%M").to_string())
        .unwrap_or_else(|_| at.to_string())
}

/// A word or phrase in both languages, from the module that owns the thing it names (a closed
/// day's reason, say), so that problem details, mails and pages say it alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Words {
    pub en: &'static str,
    pub ja: &'static str,
}

impl Words {
    pub fn get(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.en,
            Lang::Ja => self.ja,
        }
    }
}

/// The specifics of one occurrence, for the detail template. Only what a template uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub date: Option<NaiveDate>,
    /// An instant as shown to the client (RFC 3339 with the counter's offset).
    pub at: Option<String>,
    pub closed_reason: Option<Words>,
    pub ticket: Option<String>,
    pub counter: Option<String>,
    /// A desk's name, as staff typed it (a short label: `parse_label`).
    pub desk: Option<String>,
    pub count: Option<i64>,
    pub retry_after_s: Option<u64>,
    /// A short English note (bad_request: what was malformed). Never user input.
    pub text: Option<String>,
    /// `window_closed` for a slot that has started (an override lifts the window, not time):
    /// `at` is when it started.
    pub started: bool,
}

/// What is wrong with one field. Each problem has its words in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    Required,
    TooLong {
        max: usize,
    },
    TooShort {
        min: usize,
    },
    ControlCharacters,
    InvisibleOnly,
    IndividualNumber,
    NotKatakana,
    NotPhone,
    NotEmail,
    NotIdentifier {
        min: usize,
        max: usize,
    },
    NotLabel {
        max: usize,
    },
    OneOf(&'static [&'static str]),
    NotDate,
    NotInstant,
    DateOutOfRange,
    BeforeFrom,
    RangeTooLong {
        max_days: u32,
    },
    OutOfRange {
        min: i64,
        max: i64,
    },
    WrongType {
        expected: JsonType,
    },
    RepresentativeRequired,
    /// A party names the same person twice (or the first person again).
    SamePerson,
    OverrideReasonRequired,
    PasswordTooShort {
        min: usize,
    },
    PasswordContainsLogin,
    PasswordTooSimple,
    /// A common password, or one a guesser tries early (a word and a year, a keyboard row).
    PasswordCommon,
    /// Not the account's current password.
    WrongPassword,
    /// The new password is the current one.
    PasswordUnchanged,
    /// Not the code the authenticator shows now.
    WrongCode,
    /// A list with more items than allowed.
    TooMany {
        max: usize,
    },
}

/// A JSON type, as a field error names it (never a Rust type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    Object,
    String,
    Integer,
    Number,
    Boolean,
    Array,
}

impl JsonType {
    fn words(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (JsonType::Object, Lang::En) => "a JSON object",
            (JsonType::Object, Lang::Ja) => "JSONオブジェクト",
            (JsonType::String, Lang::En) => "a string",
            (JsonType::String, Lang::Ja) => "文字列",
            (JsonType::Integer, Lang::En) => "an integer",
            (JsonType::Integer, Lang::Ja) => "整数",
            (JsonType::Number, Lang::En) => "a number",
            (JsonType::Number, Lang::Ja) => "数値",
            (JsonType::Boolean, Lang::En) => "true or false",
            (JsonType::Boolean, Lang::Ja) => "true または false",
            (JsonType::Array, Lang::En) => "a list",
            (JsonType::Array, Lang::Ja) => "配列",
        }
    }
}

impl FieldProblem {
    /// A stable snake_case name for the problem, so pages can choose their own words.
    pub fn code(&self) -> &'static str {
        use FieldProblem as P;
        match self {
            P::Required => "required",
            P::TooLong { .. } => "too_long",
            P::TooShort { .. } => "too_short",
            P::ControlCharacters => "control_characters",
            P::InvisibleOnly => "invisible_only",
            P::IndividualNumber => "individual_number",
            P::NotKatakana => "not_katakana",
            P::NotPhone => "not_phone",
            P::NotEmail => "not_email",
            P::NotIdentifier { .. } => "not_identifier",
            P::NotLabel { .. } => "not_label",
            P::OneOf(_) => "not_one_of",
            P::NotDate => "not_date",
            P::NotInstant => "not_instant",
            P::DateOutOfRange => "date_out_of_range",
            P::BeforeFrom => "before_from",
            P::RangeTooLong { .. } => "range_too_long",
            P::OutOfRange { .. } => "out_of_range",
            P::WrongType { .. } => "wrong_type",
            P::RepresentativeRequired => "representative_required",
            P::SamePerson => "same_person",
            P::OverrideReasonRequired => "override_reason_required",
            P::PasswordTooShort { .. } => "password_too_short",
            P::PasswordContainsLogin => "password_contains_login",
            P::PasswordTooSimple => "password_too_simple",
            P::PasswordCommon => "password_common",
            P::WrongPassword => "wrong_password",
            P::PasswordUnchanged => "password_unchanged",
            P::WrongCode => "wrong_code",
            P::TooMany { .. } => "too_many",
        }
    }

    pub fn message(&self, lang: Lang) -> String {
        use FieldProblem as P;
        use Lang::{En, Ja};
        match (self, lang) {
            (P::Required, En) => "is required".into(),
            (P::Required, Ja) => "入力してください".into(),
            (P::TooMany { max }, En) => format!("has too many items (at most {max})"),
            (P::TooMany { max }, Ja) => format!("{max}件までにしてください"),
            (P::TooLong { max }, En) => format!("is too long (at most {max} characters)"),
            (P::TooLong { max }, Ja) => format!("{max}文字以内で入力してください"),
            (P::TooShort { min }, En) => format!("is too short (at least {min} characters)"),
            (P::TooShort { min }, Ja) => format!("{min}文字以上で入力してください"),
            (P::ControlCharacters, En) => "must not contain control characters".into(),
            (P::ControlCharacters, Ja) => "制御文字は使用できません".into(),
            (P::InvisibleOnly, En) => "must contain visible characters".into(),
            (P::InvisibleOnly, Ja) => "空白や見えない文字だけでは入力できません".into(),
            (P::IndividualNumber, En) => {
                "must not contain an individual number (My Number); it is never needed here".into()
            }
            (P::IndividualNumber, Ja) => "マイナンバー(個人番号)は入力しないでください".into(),
            (P::NotKatakana, En) => "must be written in katakana (全角カタカナ)".into(),
            (P::NotKatakana, Ja) => "全角カタカナで入力してください".into(),
            (P::NotPhone, En) => "must be a Japanese phone number (10 or 11 digits)".into(),
            (P::NotPhone, Ja) => "電話番号(10桁または11桁)を入力してください".into(),
            (P::NotEmail, En) => "must be an email address".into(),
            (P::NotEmail, Ja) => "メールアドレスの形式で入力してください".into(),
            (P::NotIdentifier { min, max }, En) => {
                format!("must be {min} to {max} of a-z, 0-9, '.', '_' and '-'")
            }
            (P::NotIdentifier { min, max }, Ja) => {
                format!("半角英小文字・数字・「.」「_」「-」で{min}〜{max}文字で入力してください")
            }
            (P::NotLabel { max }, En) => {
                format!("must be 1 to {max} letters, digits, spaces or -_.#()")
            }
            (P::NotLabel { max }, Ja) => {
                format!("文字・数字・空白と -_.#() で{max}文字以内で入力してください")
            }
            (P::OneOf(values), En) => format!("must be one of: {}", values.join(", ")),
            (P::OneOf(values), Ja) => {
                format!("次のいずれかを指定してください: {}", values.join(", "))
            }
            (P::NotDate, En) => "must be a date YYYY-MM-DD".into(),
            (P::NotDate, Ja) => "日付(YYYY-MM-DD)で指定してください".into(),
            (P::NotInstant, En) => "must be an RFC 3339 instant (2027-01-04T09:00:00+09:00)".into(),
            (P::NotInstant, Ja) => "日時(RFC 3339 形式)で指定してください".into(),
            (P::DateOutOfRange, En) => "must be a date between 1900 and 2100".into(),
            (P::DateOutOfRange, Ja) => "1900年から2100年までの日付を指定してください".into(),
            (P::BeforeFrom, En) => "must not be before from".into(),
            (P::BeforeFrom, Ja) => "開始日より前の日付は指定できません".into(),
            (P::RangeTooLong { max_days }, En) => format!("at most {max_days} days per request"),
            (P::RangeTooLong { max_days }, Ja) => {
                format!("一度に指定できる期間は{max_days}日までです")
            }
            (P::OutOfRange { min, max }, En) => format!("must be {min} to {max}"),
            (P::OutOfRange { min, max }, Ja) => format!("{min}から{max}までの値を指定してください"),
            (P::WrongType { expected }, En) => format!("must be {}", expected.words(En)),
            (P::WrongType { expected }, Ja) => format!("{}で指定してください", expected.words(Ja)),
            (P::RepresentativeRequired, En) => {
                "is required when someone comes in the holder's place".into()
            }
            (P::RepresentativeRequired, Ja) => "代理人の方が来庁する場合は入力してください".into(),
            (P::SamePerson, En) => "names someone already in this booking".into(),
            (P::SamePerson, Ja) => "同じ方がすでにこの予約に入っています".into(),
            (P::OverrideReasonRequired, En) => "is required to override the booking window".into(),
            (P::OverrideReasonRequired, Ja) => "予約期間外の予約には理由を入力してください".into(),
            (
                P::PasswordTooShort { .. }
                | P::PasswordContainsLogin
                | P::PasswordTooSimple
                | P::PasswordCommon
                | P::WrongPassword
                | P::PasswordUnchanged
                | P::WrongCode,
                _,
            ) => self.sign_in_message(lang),
        }
    }

    /// The words of a password's or a code's problem.
    fn sign_in_message(&self, lang: Lang) -> String {
        use FieldProblem as P;
        use Lang::{En, Ja};
        match (self, lang) {
            (P::PasswordTooShort { min }, En) => format!("must be at least {min} characters"),
            (P::PasswordTooShort { min }, Ja) => format!("{min}文字以上にしてください"),
            (P::PasswordContainsLogin, En) => "must not contain the login".into(),
            (P::PasswordContainsLogin, Ja) => "ログイン名を含めないでください".into(),
            (P::PasswordTooSimple, En) => "is too simple (use several different characters)".into(),
            (P::PasswordTooSimple, Ja) => "単純すぎます(異なる文字を組み合わせてください)".into(),
            (P::PasswordCommon, En) => {
                "is too easy to guess (a common password or a simple pattern); use several unrelated words".into()
            }
            (P::PasswordCommon, Ja) => {
                "推測されやすいパスワードです(よく使われるもの、または単純な並び)。関係のない語をいくつか組み合わせてください".into()
            }
            (P::WrongPassword, En) => "is not your current password".into(),
            (P::WrongPassword, Ja) => "現在のパスワードが違います".into(),
            (P::PasswordUnchanged, En) => "must differ from the current password".into(),
            (P::PasswordUnchanged, Ja) => "現在のパスワードとは別のものにしてください".into(),
            (P::WrongCode, En) => {
                "is not the code your authenticator shows now (check the phone's clock)".into()
            }
            (P::WrongCode, Ja) => {
                "認証アプリに表示されている現在のコードと一致しません(端末の時刻もご確認ください)".into()
            }
            _ => String::new(),
        }
    }
}

/// One field's problem. `field` is the JSON path of the field (`name`, `slot.id`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub problem: FieldProblem,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: FieldProblem) -> Self {
        FieldError {
            field: field.into(),
            problem,
        }
    }
}

/// Invalid input: the code (`validation_failed`, `invalid_email` or
/// `contains_individual_number`) and every field's problem at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {} field(s)", errors.len())]
pub struct Invalid {
    pub code: ErrorCode,
    pub errors: Vec<FieldError>,
}

impl Invalid {
    pub fn field(field: impl Into<String>, problem: FieldProblem) -> Invalid {
        Invalid::fields(vec![FieldError::new(field, problem)])
    }

    /// `contains_individual_number` when any field holds one (it is the problem that matters),
    /// else `validation_failed`.
    pub fn fields(errors: Vec<FieldError>) -> Invalid {
        let code = if errors
            .iter()
            .any(|e| e.problem == FieldProblem::IndividualNumber)
        {
            ErrorCode::ContainsIndividualNumber
        } else {
            ErrorCode::ValidationFailed
        };
        Invalid { code, errors }
    }

    pub fn with_code(mut self, code: ErrorCode) -> Invalid {
        self.code = code;
        self
    }

    /// The same problems, the field `from` called `to` (a check shared by two bodies).
    pub fn renamed(mut self, from: &str, to: &str) -> Invalid {
        for e in &mut self.errors {
            if e.field == from {
                e.field = to.to_string();
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_title_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            for lang in [Lang::En, Lang::Ja] {
                let title = code.title(lang);
                assert!(!title.is_empty(), "{code:?} {lang:?}");
                assert!(seen.insert(title), "{code:?} {lang:?} shares its title");
                assert!(!code.detail(lang, &Facts::default()).is_empty());
            }
            let serialised = serde_json::to_value(code).expect("serialises");
            assert_eq!(serialised, code.as_str(), "as_str matches serde");
            assert_eq!(ErrorCode::ALL.iter().filter(|c| *c == code).count(), 1);
        }
        // Japanese titles are Japanese.
        for code in ErrorCode::ALL {
            assert!(
                code.title(Lang::Ja).chars().any(|c| c as u32 > 0x3000),
                "{code:?}"
            );
        }
    }

    #[test]
    fn details_carry_the_specifics() {
        let facts = Facts {
            date: NaiveDate::from_ymd_opt(2027, 2, 1),
            at: Some("2026-12-01T12:00:00+09:00".into()),
            ticket: Some("R-004".into()),
            ..Default::default()
        };
        assert_eq!(
            ErrorCode::WindowNotOpen.detail(Lang::En, &facts),
            "Booking for 2027-02-01 opens at 2026-12-01T12:00:00+09:00."
        );
        assert_eq!(
            ErrorCode::WindowNotOpen.detail(Lang::Ja, &facts),
            "2027年2月1日の予約受付は 2026年12月1日 12:00 に始まります。"
        );
        assert!(ErrorCode::AlreadyCheckedIn
            .detail(Lang::Ja, &facts)
            .contains("R-004"));
        assert!(ErrorCode::NotToday
            .detail(Lang::En, &facts)
            .contains("2027-02-01"));
    }

    #[test]
    fn accept_language_honours_q_values() {
        let of = |v: &str| Lang::from_accept_language(Some(v));
        assert_eq!(of("ja"), Lang::Ja);
        assert_eq!(of("ja-JP,ja;q=0.9,en;q=0.8"), Lang::Ja);
        assert_eq!(of("en-US,en;q=0.9,ja;q=0.8"), Lang::En);
        assert_eq!(of("ja;q=0"), Lang::En, "q=0 refuses Japanese");
        assert_eq!(of("ja;q=0, en;q=0.1"), Lang::En);
        assert_eq!(of("en;q=0.2, ja;q=0.5"), Lang::Ja);
        assert_eq!(of("fr, de"), Lang::En);
        assert_eq!(of("ja;q=abc"), Lang::En, "a broken q is q=0");
        assert_eq!(Lang::from_accept_language(None), Lang::En);
    }

    #[test]
    fn every_field_problem_has_words_in_both_languages() {
        let all = [
            FieldProblem::Required,
            FieldProblem::TooLong { max: 50 },
            FieldProblem::WrongType {
                expected: JsonType::String,
            },
            FieldProblem::OneOf(&["holder", "voluntary_proxy"]),
            FieldProblem::IndividualNumber,
        ];
        for p in all {
            assert_ne!(p.message(Lang::En), p.message(Lang::Ja));
            assert!(!p.message(Lang::En).contains("struct"));
        }
    }
}
