//! The core crate's modules import one way: each only from the modules
//! below it in the layer order that ARCHITECTURE.md writes down (the
//! `layers` block), except the imports its `layer-exceptions` block lists,
//! which are the ones still to undo. A new import of a module above fails
//! here; so does an exception that no longer occurs (take it off the list).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn fenced<'a>(text: &'a str, info: &str) -> &'a str {
    let start = text
        .find(&format!("```{info}\n"))
        .unwrap_or_else(|| panic!("ARCHITECTURE.md has no ```{info} block"));
    let body = &text[start + info.len() + 4..];
    &body[..body.find("```").expect("the block ends")]
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module a file belongs to: `src/x.rs`, `src/x/mod.rs` and
/// `src/x/*.rs` are `x`; `lib.rs` is none.
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_string();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib").then_some(name)
}

/// The names a file's code (not its comments or unit tests) reaches as
/// `crate::name`, including `use crate::{a, b::c}` groups.
fn crate_names(code: &str) -> BTreeSet<String> {
    let code: String = code
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let code = code.split("#[cfg(test)]").next().unwrap_or("");
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(item.trim()));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.insert(ident(item.trim()));
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out
}

#[test]
fn core_modules_import_only_modules_below_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let architecture = std::fs::read_to_string(root.join("../ARCHITECTURE.md")).unwrap();
    let order: Vec<&str> = fenced(&architecture, "layers").split_whitespace().collect();
    let rank: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let exceptions: BTreeSet<(String, String)> = fenced(&architecture, "layer-exceptions")
        .lines()
        .filter_map(|l| l.split_once("->"))
        .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        .collect();
    let src = root.join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let modules: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| l.trim().strip_suffix(';'))
        .filter_map(|l| l.rsplit_once("mod ").map(|(_, m)| m.trim().to_string()))
        .filter(|m| m.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .collect();
    let unplaced: Vec<&String> = modules
        .iter()
        .filter(|m| !rank.contains_key(m.as_str()))
        .collect();
    assert!(
        unplaced.is_empty(),
        "modules missing from ARCHITECTURE.md's layers: {unplaced:?}"
    );
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut upward = BTreeSet::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let code = std::fs::read_to_string(file).unwrap();
        for name in crate_names(&code) {
            if name == module || !modules.contains(&name) {
                continue; // its own module, or an item of the crate root
            }
            if rank[name.as_str()] > rank[module.as_str()] {
                upward.insert((module.clone(), name));
            }
        }
    }
    let new: Vec<_> = upward.difference(&exceptions).collect();
    assert!(
        new.is_empty(),
        "modules importing a module above them (ARCHITECTURE.md's layers): {new:?}"
    );
    let gone: Vec<_> = exceptions.difference(&upward).collect();
    assert!(
        gone.is_empty(),
        "no longer imported upward, take them off ARCHITECTURE.md's layer-exceptions: {gone:?}"
    );
}
