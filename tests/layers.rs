//! The layer rule of `docs/ARCHITECTURE.md`: each module of `src/` uses only modules of its own
//! layer or of layers below it. This test reads the layer table from that document, then every
//! source file's `crate::` paths (`use crate::...` and paths written inline), and fails on an
//! import that goes up the table, on a module the table does not place, and on an exception
//! below that is no longer needed.
//!
//! Unit tests compiled only under `cfg(test)` (`*_tests.rs` files and `#[cfg(test)] mod` blocks)
//! may reach any layer: they pin formats and limits that several layers share. Comments do not
//! count (doc links may point anywhere). A second test holds `unsafe` code to the storage layer.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Imports that go up the table, each with the reason it is still there. The test fails if
/// one of them stops being needed, so that the list only shrinks. None today: the methods that
/// make a table of a transaction (`ReadTxn::open_table`, the core writer's `open_table`) live in
/// `table/`, as inherent impls of the transaction types.
const EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// The crate's root directory.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The layer table: module name to layer number, from the rows between the `layers:begin` and
/// `layers:end` markers of `docs/ARCHITECTURE.md` (`| 3 | `store` | ...`: every backticked name in
/// the second column is a module of that layer).
fn layer_table() -> BTreeMap<String, u32> {
    let doc = fs::read_to_string(root().join("docs/ARCHITECTURE.md")).unwrap();
    let start = doc
        .find("<!-- layers:begin -->")
        .expect("layers:begin marker");
    let end = doc.find("<!-- layers:end -->").expect("layers:end marker");
    let mut layers = BTreeMap::new();
    for line in doc[start..end].lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(Ok(layer)) = cols.get(1).map(|c| c.parse::<u32>()) else {
            continue;
        };
        for (i, part) in cols[2].split('`').enumerate() {
            if i % 2 == 1 {
                let previous = layers.insert(part.to_string(), layer);
                assert!(
                    previous.is_none(),
                    "{part} appears twice in the layer table"
                );
            }
        }
    }
    assert!(
        layers.len() > 5,
        "no layer table found in docs/ARCHITECTURE.md"
    );
    layers
}

/// Every `.rs` file below `dir`.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`lib` for `src/lib.rs`).
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .nth(1)
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// `text` without comments and without `#[cfg(test)] mod name { ... }` blocks.
fn code_only(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|next| next.trim_start().starts_with("mod ") && next.ends_with('{'))
        {
            // Skip to the block's closing brace, at the indentation of its `mod` line.
            let open = lines.next().unwrap();
            let indent = &open[..open.len() - open.trim_start().len()];
            let close = format!("{indent}}}");
            for inner in lines.by_ref() {
                if inner == close {
                    break;
                }
            }
            continue;
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// The first path segment of every `crate::` path in `code`, with brace groups expanded
/// (`crate::{a::b, c}` gives `a` and `c`).
fn crate_paths(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `$crate::` or part of a longer name
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            let mut at_start = true;
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        at_start = true;
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                if at_start {
                    let c_ok = c.is_alphanumeric() || c == '_';
                    if c_ok {
                        item.push(c);
                    } else if !item.is_empty() {
                        found.push(std::mem::take(&mut item));
                        at_start = false;
                    }
                }
            }
            if !item.is_empty() {
                found.push(item);
            }
        } else {
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push(ident);
        }
    }
    found
}

/// The items `src/lib.rs` re-exports at the crate root, by name, with the module each comes from.
fn root_reexports(lib: &str) -> BTreeMap<String, String> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let mut map = BTreeMap::new();
    for stmt in code_only(lib).split(';') {
        let Some((_, path)) = stmt.split_once("pub use ") else {
            continue;
        };
        let path = path.trim().trim_start_matches("crate::");
        let module = path.split("::").next().unwrap().to_string();
        // `a::b::C`, or `a::{b::C, D}`: the last segment of each item names it.
        let items = path.split_once('{').map_or(path, |(_, group)| group);
        for item in items.split(',') {
            let name = item.rsplit("::").next().unwrap();
            let name = name.trim_matches(|c: char| !is_ident(c));
            if !name.is_empty() {
                map.insert(name.to_string(), module.clone());
            }
        }
    }
    map
}

#[test]
fn modules_use_only_their_layer_and_those_below() {
    let layers = layer_table();
    let lib = fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let reexports = root_reexports(&lib);
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    files.sort();
    assert!(files.len() > 20, "sources not found");

    let mut violations = Vec::new();
    let mut used_exceptions = BTreeSet::new();
    for path in &files {
        let rel = path.strip_prefix(root()).unwrap();
        let rel_str = rel.to_str().unwrap().replace('\\', "/");
        let name = rel.file_name().unwrap().to_str().unwrap();
        if name.ends_with("_tests.rs") {
            continue;
        }
        let module = module_of(rel);
        let Some(&own) = layers.get(&module) else {
            violations.push(format!(
                "{rel_str}: module `{module}` is not in the layer table"
            ));
            continue;
        };
        let code = code_only(&fs::read_to_string(path).unwrap());
        let mut seen = BTreeSet::new();
        for first in crate_paths(&code) {
            let target = if layers.contains_key(&first) {
                first.clone()
            } else if let Some(m) = reexports.get(&first) {
                m.clone()
            } else if first == "testing" {
                "lib".to_string()
            } else {
                violations.push(format!("{rel_str}: `crate::{first}` is not a known module"));
                continue;
            };
            if target == module || !seen.insert(target.clone()) {
                continue;
            }
            if layers[&target] <= own {
                continue;
            }
            if EXCEPTIONS
                .iter()
                .any(|&(file, m, _)| file == rel_str && m == target)
            {
                used_exceptions.insert((rel_str.clone(), target));
                continue;
            }
            violations.push(format!(
                "{rel_str}: `{module}` (layer {own}) uses `{target}` (layer {})",
                layers[&target]
            ));
        }
    }
    for &(file, m, why) in EXCEPTIONS {
        if !used_exceptions.contains(&(file.to_string(), m.to_string())) {
            violations.push(format!(
                "exception no longer needed, remove it: {file} -> {m} ({why})"
            ));
        }
    }
    assert!(
        violations.is_empty(),
        "imports that break the layer table of docs/ARCHITECTURE.md:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_path_parser_expands_groups() {
    let code =
        "use crate::{btree::{self, Cursor}, error::Result};\nlet x = crate::page::get_u64(b, 0);";
    assert_eq!(crate_paths(code), ["btree", "error", "page"]);
    assert_eq!(crate_paths("$crate::x; foocrate::y"), Vec::<String>::new());
    let lib = "pub use db::{Builder, Database};\npub use txn::read::ReadTxn;";
    let map = root_reexports(lib);
    assert_eq!(map["Builder"], "db");
    assert_eq!(map["ReadTxn"], "txn");
}

#[test]
fn unsafe_code_is_allowed_only_in_the_storage_layer() {
    // `Cargo.toml` denies `unsafe_code` crate-wide; an `allow` re-opens it. The design keeps all
    // of it in `store/` (docs/ARCHITECTURE.md, "Layers").
    let mut files = Vec::new();
    sources(&root().join("src"), &mut files);
    let outside: Vec<String> = files
        .iter()
        .filter(|p| !p.starts_with(root().join("src/store")))
        .filter(|p| code_only(&fs::read_to_string(p).unwrap()).contains("allow(unsafe_code)"))
        .map(|p| p.strip_prefix(root()).unwrap().display().to_string())
        .collect();
    assert!(
        outside.is_empty(),
        "unsafe code allowed outside src/store/: {outside:?}"
    );
}
