//! `schemas/openapi.yaml` documents exactly the routes the gateway serves.
//!
//! The truth is read from the router source at test time (each channel's
//! `src/channels/*/mod.rs` for the hooks, which `src/routes.rs` merges, and `src/ops/mod.rs` for
//! the ops listener), so a route added without its documentation, or
//! documentation left behind by a removed route, fails here. The YAML is read line by line (the
//! crate has no YAML parser, and a full one is not needed): paths sit at two spaces of indent
//! under `paths:`, methods at four, response codes at eight. `tests/deploy_check.sh` validates
//! the document as OpenAPI 3.1 with a real parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

type Routes = BTreeMap<String, BTreeSet<String>>;

const METHODS: [&str; 8] = [
    "get", "post", "put", "delete", "patch", "head", "options", "trace",
];

/// Documented ahead of their routes (the SMS and phone channels are being built): these may be
/// in the document without being in a channel's router yet, but never with other methods.
const AHEAD: [(&str, &[&str]); 2] = [
    ("/hooks/sms/{provider}", &["get", "post"]),
    ("/hooks/call/{source}", &["post"]),
];

fn repo_file(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The source with string literals blanked (their quotes kept) and line comments removed, so
/// that `get(|| async { "ok" })` or a comment cannot be mistaken for a route or method.
fn code_only(source: &str) -> (String, Vec<(usize, String)>) {
    let (mut code, mut literals) = (String::new(), Vec::new());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let start = code.len();
                let mut literal = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => literal.extend(chars.next()),
                        '"' => break,
                        c => literal.push(c),
                    }
                }
                code.push_str("\"\"");
                literals.push((start, literal));
            }
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            c => code.push(c),
        }
    }
    (code, literals)
}

/// `.route("path", get(..).post(..))` calls of a router source, as path -> methods.
fn routes_in(path: &str) -> Routes {
    let (code, literals) = code_only(&repo_file(path));
    for unsupported in [".nest(", ".merge(", ".route_service("] {
        assert!(
            !code.contains(unsupported),
            "{path} uses {unsupported}: extend tests/openapi.rs to read such routes"
        );
    }
    let mut routes = Routes::new();
    for (at, _) in code.match_indices(".route(") {
        let open = at + ".route".len();
        let mut depth = 0;
        let close = code[open..]
            .char_indices()
            .find(|(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| open + i)
            .expect("balanced parentheses");
        let route = literals
            .iter()
            .find(|(start, _)| (open..close).contains(start))
            .map(|(_, l)| l.clone())
            .expect("a .route( call starts with its path literal");
        let args = &code[open + 1..close];
        let methods = routes.entry(route).or_default();
        for method in METHODS {
            let called = args.match_indices(&format!("{method}(")).any(|(i, _)| {
                let before = args[..i].chars().next_back();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            });
            if called {
                methods.insert(method.to_string());
            }
        }
    }
    routes
}

/// Paths and methods under `paths:`, and the response codes of each operation.
fn documented() -> (Routes, BTreeMap<(String, String), BTreeSet<String>>) {
    let text = repo_file("schemas/openapi.yaml");
    let (mut routes, mut codes) = (Routes::new(), BTreeMap::new());
    let (mut in_paths, mut path, mut method) = (false, None::<String>, None::<String>);
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        let key = line
            .trim()
            .split(':')
            .next()
            .unwrap_or("")
            .trim_matches('"');
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if indent == 0 {
            in_paths = line.starts_with("paths:");
            continue;
        }
        if !in_paths {
            continue;
        }
        match indent {
            2 => {
                path = Some(
                    line.trim()
                        .trim_end_matches(':')
                        .trim_matches('"')
                        .to_string(),
                );
                routes.entry(path.clone().unwrap()).or_default();
                method = None;
            }
            4 if METHODS.contains(&key) => {
                method = Some(key.to_string());
                routes
                    .get_mut(path.as_ref().unwrap())
                    .unwrap()
                    .insert(key.to_string());
            }
            4 => method = None,
            8 if key.len() == 3 && key.chars().all(|c| c.is_ascii_digit()) => {
                if let (Some(p), Some(m)) = (&path, &method) {
                    codes
                        .entry((p.clone(), m.clone()))
                        .or_insert_with(BTreeSet::new)
                        .insert(key.to_string());
                }
            }
            _ => {}
        }
    }
    (routes, codes)
}

#[test]
fn every_route_is_documented_with_its_methods_and_nothing_else_is() {
    let mut served = Routes::new();
    let channels = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/channels");
    let top = repo_file("src/routes.rs");
    let mut folders: Vec<_> = std::fs::read_dir(&channels)
        .expect("src/channels")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    folders.sort();
    for channel in &folders {
        served.extend(routes_in(&format!("src/channels/{channel}/mod.rs")));
        assert!(
            top.contains(&format!("{channel}::routes(")),
            "src/routes.rs does not merge the routes of src/channels/{channel}"
        );
    }
    let hooks = served.len();
    served.extend(routes_in("src/ops/mod.rs"));
    assert!(
        hooks >= 2 && served.len() >= hooks + 5,
        "routes not found: {served:?}"
    );
    let (documented, _) = documented();
    let mut problems = Vec::new();
    for (path, methods) in &served {
        match documented.get(path) {
            None => problems.push(format!("{path} is served but not in schemas/openapi.yaml")),
            Some(doc) if doc != methods => problems.push(format!(
                "{path}: served with {methods:?}, documented with {doc:?}"
            )),
            Some(_) => {}
        }
    }
    for (path, methods) in &documented {
        if served.contains_key(path) {
            continue;
        }
        match AHEAD.iter().find(|(p, _)| p == path) {
            Some((_, ahead)) if methods.iter().eq(ahead.iter().copied()) => {}
            Some((_, ahead)) => problems.push(format!(
                "{path} is documented ahead of its route with {methods:?}; expected {ahead:?}"
            )),
            None => problems.push(format!(
                "{path} is in schemas/openapi.yaml but no router serves it"
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_hook_operation_documents_the_answers_a_caller_can_get() {
    let (routes, codes) = documented();
    let hooks: Vec<_> = routes.keys().filter(|p| p.starts_with("/hooks/")).collect();
    assert!(hooks.len() >= 4, "{hooks:?}");
    for path in hooks {
        for method in &routes[path] {
            let have = codes
                .get(&(path.clone(), method.clone()))
                .cloned()
                .unwrap_or_default();
            for code in ["200", "400", "401", "404", "408", "431", "503"] {
                assert!(
                    have.contains(code),
                    "{method} {path} does not document {code}: {have:?}"
                );
            }
            if method == "post" {
                assert!(
                    have.contains("413"),
                    "{method} {path} does not document 413"
                );
            }
        }
    }
}

#[test]
fn the_route_reader_understands_chained_methods_and_ignores_strings() {
    let (code, literals) = code_only("r.route(\"/a/{x}\", get(f).post(g)) // .route(\"/c\", put(h))\n.route(\"/b\", get(|| async { \"post(\" }))");
    assert_eq!(literals.len(), 3);
    assert!(!code.contains("/c"));
    assert!(!code.contains("post(\""));
}
