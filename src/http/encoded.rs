//! An answer kept in memory, ready to send: its body as is and compressed (`br`, `gzip`,
//! each made once, when first asked for), and its ETag. A revalidation (`If-None-Match`) is a
//! 304 decided from the ETag alone; a full answer copies no bytes (`Bytes` is shared).
//!
//! The compressed forms are other representations of the same answer, so each has its own
//! strong ETag (the identity's with `-br` or `-gzip`), and an `If-None-Match` naming any of
//! them revalidates the answer (RFC 9110 §8.8.3: a client holds one of them).

use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

/// A content coding the service sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Identity,
    Gzip,
    Brotli,
}

impl Coding {
    /// The best coding `Accept-Encoding` allows: `br`, then `gzip`, else none. A coding with
    /// `q=0` is refused; `*` allows both.
    fn of(req: &HttpRequest) -> Coding {
        let Some(accept) = req
            .headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
        else {
            return Coding::Identity;
        };
        let (mut br, mut gzip) = (false, false);
        for part in accept.split(',') {
            let mut pieces = part.split(';');
            let name = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let refused = pieces.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            match name.as_str() {
                "br" => br = !refused,
                "gzip" | "x-gzip" => gzip = !refused,
                "*" if !refused => {
                    br = true;
                    gzip = true;
                }
                _ => {}
            }
        }
        if br {
            Coding::Brotli
        } else if gzip {
            Coding::Gzip
        } else {
            Coding::Identity
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Coding::Identity => "",
            Coding::Gzip => "-gzip",
            Coding::Brotli => "-br",
        }
    }
}

/// A body below this many bytes is sent as it is (compression would save little).
const COMPRESS_FROM: usize = 1024;

/// An answer's body, kept for every request that asks for it.
#[derive(Debug)]
pub(crate) struct Encoded {
    content_type: &'static str,
    /// The identity's strong ETag without its quotes.
    tag: String,
    identity: Bytes,
    gzip: OnceLock<Bytes>,
    br: OnceLock<Bytes>,
}

impl Encoded {
    /// `body`, whose ETag is `tag` (unquoted, unique to these bytes).
    pub(crate) fn new(content_type: &'static str, tag: String, body: Vec<u8>) -> Encoded {
        Encoded {
            content_type,
            tag,
            identity: Bytes::from(body),
            gzip: OnceLock::new(),
            br: OnceLock::new(),
        }
    }

    /// `body` with an ETag made from its bytes.
    pub(crate) fn hashed(content_type: &'static str, body: Vec<u8>) -> Encoded {
        let tag = crate::tokens::sha256_hex(&body)[..24].to_string();
        Encoded::new(content_type, tag, body)
    }

    fn body(&self, coding: Coding) -> Bytes {
        match coding {
            Coding::Identity => self.identity.clone(),
            Coding::Gzip => self.gzip.get_or_init(|| gzip(&self.identity)).clone(),
            Coding::Brotli => self.br.get_or_init(|| brotli(&self.identity)).clone(),
        }
    }

    fn coding_for(&self, req: &HttpRequest) -> Coding {
        if self.identity.len() < COMPRESS_FROM {
            Coding::Identity
        } else {
            Coding::of(req)
        }
    }

    /// Whether the request's `If-None-Match` names one of this answer's ETags (or `*`).
    pub(crate) fn is_current_for(&self, req: &HttpRequest) -> bool {
        let Some(value) = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        value.split(',').any(|t| {
            let t = t.trim();
            let t = t.strip_prefix("W/").unwrap_or(t);
            if t == "*" {
                return true;
            }
            let Some(inner) = t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
                return false;
            };
            let base = inner
                .strip_suffix(Coding::Gzip.suffix())
                .or_else(|| inner.strip_suffix(Coding::Brotli.suffix()))
                .unwrap_or(inner);
            base == self.tag
        })
    }

    /// The answer to `req`: 304 when its `If-None-Match` holds this answer, else 200 with the
    /// body in the best coding it accepts. `headers` adds the caller's (`Cache-Control`, …).
    pub(crate) fn respond(
        &self,
        req: &HttpRequest,
        headers: impl FnOnce(&mut HttpResponseBuilder),
    ) -> HttpResponse {
        let coding = self.coding_for(req);
        let etag = format!("\"{}{}\"", self.tag, coding.suffix());
        let not_modified = self.is_current_for(req);
        let mut res = if not_modified {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        headers(&mut res);
        if let Ok(v) = HeaderValue::from_str(&etag) {
            res.insert_header((header::ETAG, v));
        }
        res.insert_header((header::VARY, "Accept-Encoding"));
        if not_modified {
            return res.finish();
        }
        match coding {
            Coding::Identity => {}
            Coding::Gzip => {
                res.insert_header((header::CONTENT_ENCODING, "gzip"));
            }
            Coding::Brotli => {
                res.insert_header((header::CONTENT_ENCODING, "br"));
            }
        }
        res.insert_header((header::CONTENT_TYPE, self.content_type));
        res.body(self.body(coding))
    }
}

fn gzip(body: &[u8]) -> Bytes {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8),
        flate2::Compression::new(6),
    );
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    Bytes::from(encoder.finish().unwrap_or_default())
}

fn brotli(body: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(body.len() / 8);
    // A 256 KiB window is more than an answer needs (the default 4 MiB one only costs memory
    // on every worker that compresses).
    let params = brotli::enc::BrotliEncoderParams {
        quality: 5,
        lgwin: 18,
        ..Default::default()
    };
    // Writing to a Vec cannot fail.
    let _ = brotli::BrotliCompress(&mut &body[..], &mut out, &params);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use actix_web::test::TestRequest;

    use super::*;

    fn answer() -> Encoded {
        Encoded::hashed("application/json", b"[1,2,3,4]".repeat(300))
    }

    fn header_of(res: &HttpResponse, name: header::HeaderName) -> Option<String> {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    async fn bytes(res: HttpResponse) -> Vec<u8> {
        actix_web::body::to_bytes(res.into_body())
            .await
            .expect("body")
            .to_vec()
    }

    #[actix_web::test]
    async fn each_coding_has_its_own_etag_and_any_of_them_revalidates() {
        let a = answer();
        let plain = a.respond(&TestRequest::default().to_http_request(), |_| {});
        let tag = header_of(&plain, header::ETAG).expect("etag");
        let req = TestRequest::default()
            .insert_header((header::ACCEPT_ENCODING, "gzip, deflate, br"))
            .to_http_request();
        let br = a.respond(&req, |_| {});
        let br_tag = header_of(&br, header::ETAG).expect("etag");
        assert_eq!(
            header_of(&br, header::CONTENT_ENCODING).as_deref(),
            Some("br")
        );
        assert_ne!(tag, br_tag);
        assert!(br_tag.ends_with("-br\""), "{br_tag}");
        for held in [&tag, &br_tag] {
            let req = TestRequest::default()
                .insert_header((header::IF_NONE_MATCH, held.as_str()))
                .insert_header((header::ACCEPT_ENCODING, "gzip"))
                .to_http_request();
            let res = a.respond(&req, |_| {});
            assert_eq!(res.status(), 304);
            assert!(header_of(&res, header::ETAG)
                .expect("etag")
                .ends_with("-gzip\""));
        }
        let other = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, "\"something-else\""))
            .to_http_request();
        assert_eq!(a.respond(&other, |_| {}).status(), 200);
    }

    #[actix_web::test]
    async fn compressed_bodies_decode_to_the_same_bytes() {
        let a = answer();
        let gz = TestRequest::default()
            .insert_header((header::ACCEPT_ENCODING, "gzip;q=1, br;q=0"))
            .to_http_request();
        let res = a.respond(&gz, |_| {});
        assert_eq!(
            header_of(&res, header::CONTENT_ENCODING).as_deref(),
            Some("gzip")
        );
        let body = bytes(res).await;
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .expect("gzip");
        assert_eq!(plain, b"[1,2,3,4]".repeat(300));
        let br = TestRequest::default()
            .insert_header((header::ACCEPT_ENCODING, "br"))
            .to_http_request();
        let body = bytes(a.respond(&br, |_| {})).await;
        let mut plain = Vec::new();
        brotli::Decompressor::new(&body[..], 4096)
            .read_to_end(&mut plain)
            .expect("br");
        assert_eq!(plain, b"[1,2,3,4]".repeat(300));
        assert!(body.len() < 300, "{} bytes", body.len());
    }

    #[test]
    fn a_refused_or_unknown_coding_is_not_used() {
        let req = |v: &str| {
            TestRequest::default()
                .insert_header((header::ACCEPT_ENCODING, v))
                .to_http_request()
        };
        assert_eq!(Coding::of(&req("identity")), Coding::Identity);
        assert_eq!(Coding::of(&req("br;q=0, gzip;q=0")), Coding::Identity);
        assert_eq!(Coding::of(&req("deflate, gzip")), Coding::Gzip);
        assert_eq!(Coding::of(&req("*")), Coding::Brotli);
        assert_eq!(
            Coding::of(&TestRequest::default().to_http_request()),
            Coding::Identity
        );
    }
}
