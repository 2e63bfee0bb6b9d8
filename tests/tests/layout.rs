//! The shape issue 11 asked for, checked on every run so it cannot erode:
//! no source file over 600 lines before its tests, no import cycle between
//! sibling modules of a crate, and `unsafe` only in the `sys` layers. No
//! root needed.

use runoci_tests::workspace_root;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The library crates' source roots.
const CRATES: &[&str] = &[
    "proto/src",
    "runoci-core/src",
    "runoci/src",
    "runoci-monitor/src",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A file's text before its first `#[cfg(test)]` item: what ships.
fn shipped(text: &str) -> &str {
    match text.find("\n#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// Files that are tests as a whole (`tests.rs`, `plan_tests.rs`,
/// `tests_fake_tree.rs`), included under `#[cfg(test)]` by their parent.
fn is_test_file(path: &Path) -> bool {
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    name == "tests" || name.ends_with("_tests") || name.starts_with("tests_")
}

#[test]
fn no_source_file_is_over_600_lines_before_its_tests() {
    let mut long = Vec::new();
    let mut seen = 0;
    for krate in CRATES {
        let mut files = Vec::new();
        rust_files(&workspace_root().join(krate), &mut files);
        for f in files.iter().filter(|f| !is_test_file(f)) {
            seen += 1;
            let text = fs::read_to_string(f).expect("source");
            let lines = shipped(&text).lines().count();
            if lines > 600 {
                long.push(format!("{}: {lines}", f.display()));
            }
        }
    }
    assert!(seen > 50, "found only {seen} source files");
    assert!(long.is_empty(), "over 600 lines:\n  {}", long.join("\n  "));
}

/// A module's path inside its crate: `src/a/b.rs` and `src/a/b/mod.rs` are
/// `[a, b]`; `lib.rs`, `main.rs` and `bin/*` are the root (`[]`).
fn module_of(src: &Path, file: &Path) -> Option<Vec<String>> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    let last = parts.pop()?;
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    Some(parts)
}

/// The paths a `crate::`/`super::` reference names, expanding one level of
/// `{a, b::c}` groups: `crate::{x, y::z}` → `[x]`, `[y, z]`.
fn paths_after(rest: &str) -> Vec<Vec<String>> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    let mut path = Vec::new();
    let mut s = rest;
    loop {
        if let Some(group) = s.strip_prefix('{') {
            let mut depth = 1;
            let end = group
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(group.len(), |(i, _)| i);
            let mut depth = 0;
            let mut start = 0;
            let inner = &group[..end];
            let mut items = Vec::new();
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        items.push(&inner[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            items.push(&inner[start..]);
            for item in items {
                for mut sub in paths_after(item.trim()) {
                    let mut full = path.clone();
                    full.append(&mut sub);
                    out.push(full);
                }
            }
            return out;
        }
        let name = ident(s);
        if name.is_empty() {
            break;
        }
        s = &s[name.len()..];
        path.push(name);
        match s.strip_prefix("::") {
            Some(r) => s = r,
            None => break,
        }
    }
    out.push(path);
    out
}

/// Every module path `text` (of module `me`) refers to through `crate::`,
/// `self::` or `super::`.
fn references(me: &[String], text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue; // `runoci_crate::`, `$crate::`
        }
        out.extend(paths_after(&text[i + "crate::".len()..]));
    }
    for (i, _) in text.match_indices("super::") {
        let before = text[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // counted from the first `super::` of a chain
        }
        let mut base = me.to_vec();
        let mut rest = &text[i..];
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        for p in paths_after(rest) {
            let mut full = base.clone();
            full.extend(p);
            out.push(full);
        }
    }
    out
}

/// The longest prefix of `path` that is a module of the crate.
fn resolve(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
        .unwrap_or_default()
}

/// A cycle in `graph`, as the list of nodes around it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

/// Edges between sibling modules: a reference from `a::b::x` to `a::c::y`
/// is an edge `b -> c` in the graph of `a`'s children. A module using its
/// ancestors, or its own descendants, adds none.
fn sibling_graphs(src: &Path) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let sources: Vec<(Vec<String>, String)> = files
        .iter()
        .filter(|f| !is_test_file(f))
        .filter_map(|f| {
            let text = fs::read_to_string(f).expect("source");
            Some((module_of(src, f)?, shipped(&text).to_string()))
        })
        .collect();
    let modules: BTreeSet<Vec<String>> = sources.iter().map(|(m, _)| m.clone()).collect();
    let mut graphs: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (me, text) in &sources {
        for path in references(me, text) {
            let target = resolve(&modules, &path);
            let common = me.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common < me.len() && common < target.len() {
                graphs
                    .entry(me[..common].join("::"))
                    .or_default()
                    .entry(me[common].clone())
                    .or_default()
                    .insert(target[common].clone());
            }
        }
    }
    graphs
}

#[test]
fn no_import_cycle_between_sibling_modules() {
    let mut cycles = Vec::new();
    let mut edges = 0;
    for krate in CRATES {
        for (parent, graph) in sibling_graphs(&workspace_root().join(krate)) {
            edges += graph.values().map(BTreeSet::len).sum::<usize>();
            if let Some(cycle) = find_cycle(&graph) {
                cycles.push(format!("{krate} {parent}: {}", cycle.join(" -> ")));
            }
        }
    }
    assert!(edges > 100, "the reference scan found only {edges} edges");
    assert!(
        cycles.is_empty(),
        "import cycles:\n  {}",
        cycles.join("\n  ")
    );
}

/// Whether `file` (under a crate's `src`) is in its `sys` layer: a
/// `sys/` directory or a `sys.rs` (the monitor's).
fn in_sys_layer(src: &Path, file: &Path) -> bool {
    let rel = file.strip_prefix(src).unwrap_or(file);
    rel.components().next().is_some_and(|c| {
        let c = c.as_os_str();
        c == "sys" || c == "sys.rs"
    })
}

/// The lines of `text` that hold the keyword `unsafe` outside a `//`
/// comment line.
fn unsafe_lines(text: &str) -> Vec<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter(|(_, l)| {
            l.match_indices("unsafe").any(|(i, _)| {
                !l[..i].ends_with(is_word) && !l[i + "unsafe".len()..].starts_with(is_word)
            })
        })
        .map(|(n, _)| n + 1)
        .collect()
}

/// Issue 11: `unsafe` only in the `sys` layers, each raw call there in a
/// safe function (nix first where it wraps the call). No exceptions.
#[test]
fn unsafe_is_only_in_the_sys_layers() {
    let mut outside = Vec::new();
    let mut inside = 0;
    for krate in CRATES {
        let src = workspace_root().join(krate);
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        for f in &files {
            let lines = unsafe_lines(&fs::read_to_string(f).expect("source"));
            if in_sys_layer(&src, f) {
                inside += lines.len();
            } else {
                outside.extend(lines.iter().map(|n| format!("{}:{n}", f.display())));
            }
        }
    }
    assert!(
        inside > 20,
        "the scan found only {inside} unsafe lines in sys"
    );
    assert!(
        outside.is_empty(),
        "unsafe outside sys/ (move the call into a safe function there, or use nix):\n  {}",
        outside.join("\n  ")
    );
}

#[test]
fn the_unsafe_scan_skips_comments_and_other_words() {
    let text =
        "// unsafe in a comment\nlet unsafe_ish = 1;\n    unsafe { f() };\nlet x = unsafe {\n";
    assert_eq!(unsafe_lines(text), [3, 4]);
    let src = Path::new("/w/runoci/src");
    assert!(in_sys_layer(src, Path::new("/w/runoci/src/sys/mount.rs")));
    assert!(in_sys_layer(src, Path::new("/w/runoci/src/sys.rs")));
    assert!(!in_sys_layer(
        src,
        Path::new("/w/runoci/src/rootfs/sys_like.rs")
    ));
}

#[test]
fn the_reference_scan_reads_groups_and_super() {
    let me = ["rootfs".to_string(), "mounts".to_string()];
    let refs = references(
        &me,
        "use crate::{error::Result, spec::{Mount, Spec}};\nuse super::plan::Op;",
    );
    let refs: Vec<String> = refs.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        refs,
        [
            "error::Result",
            "spec::Mount",
            "spec::Spec",
            "rootfs::plan::Op"
        ]
    );
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        find_cycle(&g),
        Some(vec!["a".into(), "b".into(), "a".into()])
    );
}
