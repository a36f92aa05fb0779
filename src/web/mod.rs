//! The pages: the residents' booking pages, the staff console and the waiting-room screen.
//!
//! They are static HTML, CSS and JavaScript under `web/`, embedded in the binary (a debug build
//! reads them from the folder, so a page can be edited without rebuilding) and calling the JSON
//! API. Nothing is loaded from another host: the Content-Security-Policy says so to the browser.

pub(crate) mod print;
mod words;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

/// Every page: the browser may load and connect to this origin only; no framing (except the
/// waiting-room screen, which a signage player may frame from the same origin); no Referer,
/// since the mail links carry tokens in their query strings.
pub(crate) const CSP: &str =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; media-src 'self' data:; object-src 'none'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'self'";

/// Whether the request's `If-None-Match` names `etag` (or is `*`): the client's copy is current.
pub(crate) fn matches_etag(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn asset_response(req: &HttpRequest, path: &str, html: bool) -> HttpResponse {
    let Some(file) = Assets::get(path) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    let etag = format!(
        "\"{}\"",
        file.metadata
            .sha256_hash()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let content_type = if html {
        "text/html; charset=utf-8".to_string()
    } else {
        let mime = file.metadata.mimetype();
        if mime.starts_with("text/") || mime.contains("javascript") || mime.contains("json") {
            format!("{mime}; charset=utf-8")
        } else {
            mime.to_string()
        }
    };
    let not_modified = matches_etag(req, &etag);
    let mut res = if not_modified {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type(content_type)
            .body(file.data.into_owned())
    };
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    // Revalidate every time: the ETag makes that cheap, and a new release shows at once.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// The residents' start: choose a counter, a procedure and a slot (Japanese; `?lang=en` English).
#[utoipa::path(get, path = "/", tag = "pages",
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub(crate) async fn get_resident_page(req: HttpRequest) -> HttpResponse {
    asset_response(&req, "index.html", true)
}

/// The accessibility statement (JIS X 8341-3:2016): what the browser tests checked, on which
/// build, and the result (`web/assets/accessibility.json`, written by `scripts/browser-test`).
#[utoipa::path(get, path = "/accessibility", tag = "pages",
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub(crate) async fn get_accessibility_page(req: HttpRequest) -> HttpResponse {
    asset_response(&req, "accessibility.html", true)
}

/// Where the verification mail's link lands (`?token=…`).
#[utoipa::path(get, path = "/booking/verify", tag = "pages",
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub(crate) async fn get_verify_page(req: HttpRequest) -> HttpResponse {
    asset_response(&req, "verify.html", true)
}

/// Where the completion mail's manage link lands (`?token=…`).
#[utoipa::path(get, path = "/booking/manage", tag = "pages",
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub(crate) async fn get_manage_page(req: HttpRequest) -> HttpResponse {
    asset_response(&req, "manage.html", true)
}

/// The staff console.
#[utoipa::path(get, path = "/staff/", tag = "pages",
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub(crate) async fn get_staff_page(req: HttpRequest) -> HttpResponse {
    asset_response(&req, "staff.html", true)
}

/// The staff console lives at `/staff/`.
#[utoipa::path(get, path = "/staff", tag = "pages",
    responses((status = 308, description = "Redirect to /staff/")))]
pub(crate) async fn get_staff_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/staff/"))
        .finish()
}

/// The waiting-room screen of a counter.
#[utoipa::path(get, path = "/display/{counter}", tag = "pages",
    params(("counter" = String, Path, example = "city-hall")),
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub(crate) async fn get_display_page(req: HttpRequest) -> HttpResponse {
    asset_response(&req, "display.html", true)
}

/// A visitor's ticket on their phone (the QR code on the printed ticket): number, place in
/// line, estimated wait, the desk when called; live.
#[utoipa::path(get, path = "/ticket/{public_id}", tag = "pages",
    params(("public_id" = String, Path)),
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub(crate) async fn get_ticket_page(req: HttpRequest) -> HttpResponse {
    asset_response(&req, "ticket.html", true)
}

/// A counter's self-service terminal, signed in with a `kiosk` account: check in by the
/// confirmation's QR code or reservation number, or take a walk-in ticket; it prints.
#[utoipa::path(get, path = "/kiosk/{counter}", tag = "pages",
    params(("counter" = String, Path, example = "city-hall")),
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub(crate) async fn get_kiosk_page(req: HttpRequest) -> HttpResponse {
    asset_response(&req, "kiosk.html", true)
}

/// `/assets/{file}`: scripts, styles, the chime. Only files under `web/assets/`.
pub(crate) async fn get_asset(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let name = path.into_inner();
    if name.contains("..") || name.starts_with('/') {
        return HttpResponse::NotFound().finish();
    }
    asset_response(&req, &format!("assets/{name}"), false)
}

/// `/assets/words.js`: the words the pages share with the server (made by `words::module`).
pub(crate) async fn get_words(req: HttpRequest) -> HttpResponse {
    static WORDS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (body, etag) = WORDS.get_or_init(|| {
        let body = words::module();
        let hash = crate::tokens::sha256_hex(body.as_bytes());
        let etag = format!("\"{}\"", &hash[..24]);
        (body, etag)
    });
    let not_modified = matches_etag(&req, etag);
    let mut res = if not_modified {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type("text/javascript; charset=utf-8")
            .body(body.clone())
    };
    if let Ok(v) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res
}

/// The pages' assets (the pages themselves are rows of the route table in `http`).
pub(crate) fn assets(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/assets/words.js").route(web::get().to(get_words)))
        .service(web::resource("/assets/{file:.+}").route(web::get().to(get_asset)));
}
