//! The house in layers, checked from the source text (`ARCHITECTURE.md` says why).
//!
//! The layers are read from the ```layers block of `ARCHITECTURE.md`, bottom first, one layer a
//! line: a module may import only from modules on lower lines, so the module graph has no
//! cycle and no import points up. Inside a module's folder, the files' own imports (through
//! `super::` and `crate::<module>::`) must not form a cycle either. Unit tests (everything from a
//! file's first `#[cfg(test)]` on) are left out: they may use anything.
//!
//! Run alone: `cargo test --test architecture`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// A source file: its top module (`reservations`), its name in the module (`service`, or
/// `mod` for the module's face), and its text without comments, strings and unit tests.
struct Source {
    path: String,
    module: String,
    file: String,
    code: String,
}

fn layers() -> Vec<Vec<String>> {
    let text = fs::read_to_string("ARCHITECTURE.md").expect("ARCHITECTURE.md at the root");
    let block = text
        .split("```layers")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```layers block");
    block
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let (_, mods) = l.split_once(':')?;
            Some(mods.split_whitespace().map(str::to_string).collect())
        })
        .filter(|m: &Vec<String>| !m.is_empty())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable src/") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code without comments, string and char literals, and without the unit tests.
fn strip(text: &str) -> String {
    scan(text).0
}

/// A file's code as [`strip`] gives it, and the text of its string literals (escapes kept as
/// written), in order.
fn scan(text: &str) -> (String, Vec<String>) {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut literals = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 2;
            }
            b'r' if b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"') => {
                // A raw string r"…" or r#"…"#.
                let start = i;
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') || (start > 0 && is_ident(b[start - 1])) {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                j += 1;
                let body = j;
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                literals.push(text[body..j.min(b.len())].to_string());
                i = j + close.len();
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                let body = i;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                literals.push(text[body..i.min(b.len())].to_string());
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                // A char literal ('a', '\n', '\''); lifetimes ('a) pass through.
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
            }
            _ => {
                let ch = text[i..].chars().next().expect("a char");
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    (out, literals)
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn sources() -> Vec<Source> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|path| {
            let rel = path.strip_prefix("src").expect("under src").to_path_buf();
            let parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
                .collect();
            let (module, file) = match parts.as_slice() {
                [one] if one == "lib" || one == "main" => return None,
                [one] => (one.clone(), "mod".to_string()),
                [dir, file] => (dir.clone(), file.clone()),
                _ => panic!("{}: one folder deep at most", path.display()),
            };
            let code = strip(&fs::read_to_string(&path).expect("readable source"));
            Some(Source {
                path: path.display().to_string(),
                module,
                file,
                code,
            })
        })
        .collect()
}

/// Every path that follows `prefix` (`crate::`, `super::`): its first segment, and its second
/// when there is one; `prefix{a::b, c}` gives each member.
fn paths_after(code: &str, prefix: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let b = code.as_bytes();
    let mut from = 0;
    while let Some(pos) = code[from..].find(prefix) {
        let at = from + pos;
        from = at + prefix.len();
        if at > 0 && (is_ident(b[at - 1]) || b[at - 1] == b':') {
            continue;
        }
        let rest = &code[from..];
        if let Some(group) = rest.strip_prefix('{') {
            // Members at depth one of a `{…}` group.
            let mut depth = 1;
            let mut member = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 0 || (depth == 1 && ch == ',') {
                    out.push(two_segments(member.trim()));
                    member.clear();
                    if depth == 0 {
                        break;
                    }
                } else {
                    member.push(ch);
                }
            }
        } else {
            out.push(two_segments(rest));
        }
    }
    out.retain(|(first, _)| !first.is_empty());
    out
}

fn two_segments(path: &str) -> (String, Option<String>) {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let first = ident(path);
    let second = path[first.len()..]
        .strip_prefix("::")
        .map(ident)
        .filter(|s| !s.is_empty());
    (first, second)
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let layers = layers();
    let rank: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, mods)| mods.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let mut problems = Vec::new();
    let mut known = BTreeSet::new();
    for s in sources() {
        known.insert(s.module.clone());
        let Some(&own) = rank.get(s.module.as_str()) else {
            problems.push(format!("{}: module `{}` is on no layer", s.path, s.module));
            continue;
        };
        for (target, _) in paths_after(&s.code, "crate::") {
            if target == s.module {
                continue;
            }
            match rank.get(target.as_str()) {
                None => problems.push(format!("{}: `crate::{target}` is on no layer", s.path)),
                Some(&r) if r >= own => problems.push(format!(
                    "{}: `{}` (layer {own}) imports `crate::{target}` (layer {r}){}",
                    s.path,
                    s.module,
                    if r == own {
                        ", a module of its own layer"
                    } else {
                        ", a layer above"
                    }
                )),
                Some(_) => {}
            }
        }
    }
    for m in rank.keys() {
        if !known.contains(*m) {
            problems.push(format!(
                "ARCHITECTURE.md names `{m}`, which src/ does not have"
            ));
        }
    }
    problems.sort();
    problems.dedup();
    assert!(
        problems.is_empty(),
        "imports against the layers:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_files_of_a_module_do_not_import_each_other_in_a_circle() {
    let all = sources();
    let mut by_module: BTreeMap<&str, Vec<&Source>> = BTreeMap::new();
    for s in &all {
        by_module.entry(s.module.as_str()).or_default().push(s);
    }
    let mut problems = Vec::new();
    for (module, files) in by_module {
        let names: BTreeSet<&str> = files.iter().map(|f| f.file.as_str()).collect();
        let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for f in &files {
            let mut targets: BTreeSet<String> = BTreeSet::new();
            let sibling = |first: &str| -> String {
                if names.contains(first) && first != "mod" {
                    first.to_string()
                } else {
                    "mod".to_string()
                }
            };
            if f.file == "mod" {
                // The face of the module uses a file when it calls into it; declaring it
                // (`mod x;`) and re-exporting from it (`pub use x::…`) are not uses.
                for line in f.code.lines() {
                    let t = line.trim_start();
                    if t.starts_with("mod ")
                        || t.starts_with("pub mod ")
                        || t.starts_with("pub(crate) mod ")
                        || t.starts_with("pub use ")
                        || t.starts_with("pub(crate) use ")
                    {
                        continue;
                    }
                    for name in &names {
                        if *name != "mod" && contains_path(t, &format!("{name}::")) {
                            targets.insert(name.to_string());
                        }
                    }
                }
            } else {
                for (first, _) in paths_after(&f.code, "super::") {
                    targets.insert(sibling(&first));
                }
            }
            for (first, second) in paths_after(&f.code, "crate::") {
                if first == module {
                    targets.insert(sibling(second.as_deref().unwrap_or("mod")));
                }
            }
            let own = f.file.as_str();
            let targets = targets
                .iter()
                .filter_map(|t| names.get(t.as_str()).copied())
                .filter(|t| *t != own)
                .collect();
            edges.insert(own, targets);
        }
        if let Some(cycle) = find_cycle(&edges) {
            problems.push(format!("src/{module}/: {}", cycle.join(" -> ")));
        }
    }
    assert!(
        problems.is_empty(),
        "files that import each other in a circle:\n{}",
        problems.join("\n")
    );
}

fn contains_path(line: &str, path: &str) -> bool {
    let b = line.as_bytes();
    line.match_indices(path)
        .any(|(at, _)| at == 0 || !(is_ident(b[at - 1]) || b[at - 1] == b':'))
}

fn find_cycle<'a>(edges: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Option<Vec<&'a str>> {
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node);
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn transactions_open_only_in_the_database_layer() {
    // Services take `&mut db::Tx` when they write; `Db::write` (SQLite: the writer's group
    // commit) is the one way in.
    let problems: Vec<String> = sources()
        .into_iter()
        .filter(|s| s.module != "db" && contains_path(&s.code, "write_tx("))
        .map(|s| s.path)
        .collect();
    assert!(
        problems.is_empty(),
        "write_tx outside src/db/: {}",
        problems.join(", ")
    );
}

#[test]
fn handlers_reach_a_domain_through_its_face_never_its_queries() {
    // `http/` turns requests into calls of a module's public functions (its `mod.rs`); a
    // module's `repo` is its own business.
    let problems: Vec<String> = sources()
        .into_iter()
        .filter(|s| s.module == "http" || s.module == "web")
        .filter(|s| {
            s.code
                .lines()
                .any(|l| l.contains("::repo::") || l.contains("::repo;") || l.contains("::repo as"))
        })
        .map(|s| s.path)
        .collect();
    assert!(
        problems.is_empty(),
        "handlers that call a module's repo directly: {}",
        problems.join(", ")
    );
}

/// The longest a function may be, in lines from its `fn` to its closing brace.
const MAX_FUNCTION_LINES: usize = 80;

/// Tables written as one `match` of rows, where splitting would hide the table: each named with
/// why.
const LONG_TABLES: &[(&str, &str)] = &[(
    "src/error.rs",
    "detail", // every code's detail template, one arm a code and language
)];

#[test]
fn no_function_is_longer_than_a_screen() {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    for path in files {
        let text = fs::read_to_string(&path).expect("readable source");
        let lines: Vec<&str> = text.lines().collect();
        let end = lines
            .iter()
            .position(|l| l.trim() == "#[cfg(test)]")
            .unwrap_or(lines.len());
        let shown = path.display().to_string();
        let mut i = 0;
        while i < end {
            if let Some((indent, name)) = fn_start(lines[i]) {
                let close = format!("{indent}}}");
                let last = (i..end).find(|&j| lines[j] == close).unwrap_or(end);
                let length = last - i + 1;
                let exempt = LONG_TABLES.iter().any(|(f, n)| *f == shown && *n == name);
                if length > MAX_FUNCTION_LINES && !exempt {
                    problems.push(format!("{shown}: fn {name} is {length} lines"));
                }
                i = last;
            }
            i += 1;
        }
    }
    assert!(
        problems.is_empty(),
        "functions longer than {MAX_FUNCTION_LINES} lines:\n{}",
        problems.join("\n")
    );
}

/// `(indentation, name)` of a line that starts a function with a body.
fn fn_start(line: &str) -> Option<(String, String)> {
    let indent: String = line.chars().take_while(|c| *c == ' ').collect();
    let mut rest = line[indent.len()..].trim_start_matches("pub ");
    for prefix in ["pub(crate) ", "pub(super) ", "const ", "async ", "unsafe "] {
        rest = rest.trim_start_matches(prefix);
    }
    let name = rest.strip_prefix("fn ")?;
    if line.trim_end().ends_with(';') {
        return None;
    }
    let name: String = name
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    Some((indent, name))
}

#[test]
fn the_checker_reads_imports_as_the_compiler_would() {
    let code = strip(
        "use crate::{db::{a, b}, mail::X};\n// crate::jobs in a comment\nlet s = \"crate::http\";\nsuper::repo::f();\n#[cfg(test)]\nuse crate::startup;",
    );
    let found: Vec<String> = paths_after(&code, "crate::")
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(found, ["db", "mail"]);
    assert_eq!(
        paths_after(&code, "super::"),
        [("repo".to_string(), Some("f".to_string()))]
    );
    let mut edges = BTreeMap::new();
    edges.insert("a", BTreeSet::from(["b"]));
    edges.insert("b", BTreeSet::from(["a"]));
    assert_eq!(find_cycle(&edges), Some(vec!["a", "b", "a"]));
}

/// The glossary (`docs/glossary.json`): one name for each thing people read.
struct Term {
    ja: String,
    en: String,
    avoid: Vec<String>,
}

fn glossary() -> Vec<Term> {
    let text = fs::read_to_string("docs/glossary.json").expect("docs/glossary.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("the glossary is JSON");
    let words = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|w| w.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    json["terms"]
        .as_array()
        .expect("the glossary's terms")
        .iter()
        .map(|t| Term {
            ja: t["ja"].as_str().expect("a term's Japanese").to_string(),
            en: t["en"].as_str().expect("a term's English").to_string(),
            avoid: words(&t["avoid"]),
        })
        .collect()
}

/// What people read that the server writes: the mails' templates, the string literals of the
/// source (problem details, catalogue words; not comments, not unit tests) and the procedure
/// catalogue's values.
fn read_by_people() -> Vec<(String, String)> {
    let mut texts = Vec::new();
    let mut templates: Vec<_> = fs::read_dir("src/mail/templates")
        .expect("src/mail/templates")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    templates.sort();
    for path in templates {
        let text = fs::read_to_string(&path).expect("a template");
        texts.push((path.display().to_string(), text));
    }
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    for path in files {
        let text = fs::read_to_string(&path).expect("a source file");
        texts.push((path.display().to_string(), scan(&text).1.join("\n")));
    }
    let catalogue = fs::read_to_string("config/procedures.toml").expect("config/procedures.toml");
    let values: Vec<&str> = catalogue
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    texts.push(("config/procedures.toml".into(), values.join("\n")));
    texts
}

#[test]
fn mails_and_messages_never_say_what_the_glossary_avoids() {
    let terms = glossary();
    let mut found = Vec::new();
    for (path, text) in read_by_people() {
        for term in &terms {
            for word in &term.avoid {
                if text.contains(word.as_str()) {
                    found.push(format!("{path}: {word:?} (say {:?})", term.ja));
                }
            }
        }
    }
    assert!(found.is_empty(), "words the glossary avoids: {found:#?}");
}

#[test]
fn a_mails_headings_name_things_as_the_glossary_does() {
    // "■ 用件 / Procedure": where either half is a term, the other half is the same term's.
    let terms = glossary();
    let mut headings = 0;
    let mut wrong = Vec::new();
    for (path, text) in read_by_people().iter().filter(|(p, _)| p.ends_with(".txt")) {
        for line in text.lines().filter_map(|l| l.strip_prefix("■ ")) {
            let Some((ja, rest)) = line.split_once(" / ") else {
                continue;
            };
            let en = rest.split(':').next().unwrap_or(rest).trim().to_lowercase();
            for term in &terms {
                if ja == term.ja || en == term.en {
                    headings += 1;
                    if ja != term.ja || en != term.en {
                        wrong.push(format!(
                            "{path}: ■ {line} (the glossary: {} / {})",
                            term.ja, term.en
                        ));
                    }
                }
            }
        }
    }
    assert!(headings >= 10, "the mails' headings were read ({headings})");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_literal_scanner_keeps_strings_and_drops_comments() {
    let (_, literals) = scan("// \"取消\"\nlet a = \"キャンセル\"; let b = r#\"x\"y\"#;\n#[cfg(test)]\nlet c = \"取消\";");
    assert_eq!(literals, vec!["キャンセル".to_string(), "x\"y".to_string()]);
}
