//! The printed ticket (番号札): one page laid out for an 80 mm receipt printer (print.css), the
//! number large, the QR code of the ticket's page, the procedure, the time, the estimated wait
//! and the counter's name. Nothing personal: not a name, not the reservation number.

use actix_web::http::header::{self, HeaderValue};
use actix_web::HttpResponse;

/// What a printed ticket says (already worded; this module only lays it out).
pub(crate) struct PrintedTicket {
    pub counter_name: String,
    pub label: String,
    /// ご予約の方 / Booked, or 予約なし / Walk-in.
    pub kind_ja: &'static str,
    pub kind_en: &'static str,
    pub procedure: Option<(String, String)>,
    /// `2027年1月12日 10:32` and `Tue 12 January 2027, 10:32`.
    pub issued: (String, String),
    pub position: Option<usize>,
    pub estimated_wait_minutes: Option<u32>,
    /// The ticket's page, `{public_url}/ticket/{public_id}`.
    pub url: String,
    /// The QR code of `url`, SVG.
    pub qr_svg: String,
}

/// Text for HTML: `&`, `<`, `>`, `"` and `'` escaped.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn wait_lines(t: &PrintedTicket) -> String {
    match (t.position, t.estimated_wait_minutes) {
        (Some(1), _) => "<p class=\"wait\" data-testid=\"wait\"><span class=\"line\">次にお呼びします</span>\
             <span class=\"line\" lang=\"en\">You are next</span></p>"
            .to_string(),
        (Some(p), Some(w)) => format!(
            "<p class=\"wait\" data-testid=\"wait\"><span class=\"line\">あなたの前に <b>{ahead}</b> 人</span>\
             <span class=\"line\">待ち時間の目安 約 <b>{w}</b> 分</span>\
             <span class=\"line\" lang=\"en\">{ahead} ahead of you, about {w} min</span></p>",
            ahead = p.saturating_sub(1)
        ),
        _ => String::new(),
    }
}

/// The page (HTML). The console and the kiosk fetch it with their session and print it from
/// a frame (`web/assets/lib/print.js`).
pub(crate) fn page(t: &PrintedTicket) -> HttpResponse {
    use base64::Engine;
    let qr = base64::engine::general_purpose::STANDARD.encode(t.qr_svg.as_bytes());
    let procedure = t
        .procedure
        .as_ref()
        .map(|(ja, en)| {
            format!(
                "<p class=\"procedure\">{}<br><span lang=\"en\">{}</span></p>",
                esc(ja),
                esc(en)
            )
        })
        .unwrap_or_default();
    let html = format!(
        r#"<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>番号札 {label} | {counter}</title>
<link rel="stylesheet" href="/assets/print.css">
</head>
<body>
<main class="ticket" data-testid="printed-ticket">
  <p class="counter">{counter}</p>
  <p class="kind">{kind_ja} <span lang="en">{kind_en}</span></p>
  <h1 class="number" data-testid="number">{label}</h1>
  {procedure}
  {wait}
  <figure class="qr">
    <img src="data:image/svg+xml;base64,{qr}" alt="この番号札のページ(QRコード) / QR code of this ticket's page" data-testid="qr">
    <figcaption>スマートフォンで読み取ると、順番と待ち時間を確認できます。<br><span lang="en">Scan to follow your place in line on your phone.</span></figcaption>
  </figure>
  <p class="issued">発券 {issued_ja}<br><span lang="en">Issued {issued_en}</span></p>
  <p class="note">番号が呼ばれたら、表示の窓口へお越しください。<br><span lang="en">When your number is called, go to the desk shown.</span></p>
  <p class="url">{url}</p>
</main>
</body>
</html>
"#,
        label = esc(&t.label),
        counter = esc(&t.counter_name),
        kind_ja = t.kind_ja,
        kind_en = t.kind_en,
        wait = wait_lines(t),
        issued_ja = esc(&t.issued.0),
        issued_en = esc(&t.issued.1),
        url = esc(&t.url),
    );
    let mut res = HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html);
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(super::CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
