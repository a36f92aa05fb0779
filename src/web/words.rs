//! `/assets/words.js`: the words the server also says, as an ES module the pages import, made
//! from the Rust tables that problem details use, so a page and an error message name a thing
//! alike (one source; a test below checks that the pages keep none of their own).

use serde_json::{json, Map, Value};

use crate::calendar::ClosedReason;
use crate::error::Lang;

/// The module's text: `export const WORDS = {"ja": {...}, "en": {...}};`.
pub(super) fn module() -> String {
    let mut langs = Map::new();
    for lang in [Lang::Ja, Lang::En] {
        let reasons: Map<String, Value> = ClosedReason::ALL
            .iter()
            .map(|r| (r.as_str().to_string(), json!(r.words().get(lang))))
            .collect();
        langs.insert(
            lang.as_str().to_string(),
            json!({ "closed_reason": reasons }),
        );
    }
    format!(
        "// Made by the server from its own tables (src/web/words.rs); not a file in web/.\nexport const WORDS = {};\n",
        Value::Object(langs)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_closed_reason_has_its_words_in_both_languages() {
        let text = module();
        for r in ClosedReason::ALL {
            for lang in [Lang::Ja, Lang::En] {
                assert!(text.contains(r.words().get(lang)), "{r:?} {lang:?}");
            }
        }
    }

    #[test]
    fn the_pages_name_closed_days_in_the_servers_words_only() {
        // The calendar takes its reasons from words.js and keeps no table of its own.
        let calendar = std::fs::read_to_string("web/assets/lib/calendar.js").expect("calendar.js");
        assert!(calendar.contains("from '/assets/words.js'"));
        for r in ClosedReason::ALL {
            for lang in [Lang::Ja, Lang::En] {
                let word = format!("'{}'", r.words().get(lang));
                assert!(!calendar.contains(&word), "calendar.js says {word} itself");
            }
        }
    }
}
