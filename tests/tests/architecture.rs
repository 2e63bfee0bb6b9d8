//! ARCHITECTURE.md against the tree: every crate path it names exists,
//! every file its field table names exists and names the field it is said
//! to apply (by its JSON name, dotted path or last segment, or serde's
//! snake_case spelling of that segment), and every step module of the
//! child appears on the page. No root needed.

use runoci_tests::workspace_root;
use std::fs;

fn page() -> String {
    fs::read_to_string(workspace_root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md")
}

/// `oomScoreAdj` → `oom_score_adj`.
fn snake(camel: &str) -> String {
    let mut out = String::new();
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// (field, files) rows between the `<!-- fields` and `<!-- end fields`
/// markers.
fn field_rows(page: &str) -> Vec<(String, Vec<String>)> {
    let start = page.find("<!-- fields").expect("the fields table marker");
    let end = page.find("<!-- end fields").expect("the end marker");
    page[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            assert_eq!(cells.len(), 2, "a row is | `field` | files |: {l}");
            let field = cells[0].trim_matches('`').to_string();
            let files = cells[1]
                .split(',')
                .map(|f| f.trim().trim_matches('`').to_string())
                .collect();
            (field, files)
        })
        .collect()
}

#[test]
fn every_field_row_names_files_that_apply_that_field() {
    let rows = field_rows(&page());
    assert!(rows.len() >= 30, "the table lost rows: {}", rows.len());
    let mut wrong = Vec::new();
    for (field, files) in &rows {
        let last = field.rsplit('.').next().unwrap_or(field);
        // A generic last segment (`root.path`) must be named in full.
        let generic = matches!(last, "path" | "readonly" | "args" | "env" | "user");
        for file in files {
            let path = workspace_root().join(file);
            let Ok(text) = fs::read_to_string(&path) else {
                wrong.push(format!("{field}: {file} does not exist"));
                continue;
            };
            let named = text.contains(field.as_str())
                || (!generic && (text.contains(last) || text.contains(&snake(last))));
            if !named {
                wrong.push(format!("{field}: {file} does not name it"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "ARCHITECTURE.md is stale:\n  {}",
        wrong.join("\n  ")
    );
}

#[test]
fn every_crate_and_child_step_is_on_the_page() {
    let page = page();
    for krate in [
        "proto/",
        "runoci-core/",
        "runoci/",
        "runoci-monitor/",
        "tests/",
    ] {
        assert!(
            workspace_root().join(krate).is_dir(),
            "ARCHITECTURE.md names {krate}, which is gone"
        );
        assert!(page.contains(&format!("`{krate}`")), "{krate} missing");
    }
    let child = workspace_root().join("runoci/src/child");
    let mut missing = Vec::new();
    for e in fs::read_dir(&child).expect("runoci/src/child").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "mod.rs" || name == "run.rs" || !name.ends_with(".rs") {
            continue;
        }
        if !page.contains(&format!("runoci/src/child/{name}")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "child steps not in ARCHITECTURE.md's table: {missing:?}"
    );
}

#[test]
fn snake_case_follows_serde() {
    assert_eq!(snake("oomScoreAdj"), "oom_score_adj");
    assert_eq!(snake("readonlyPaths"), "readonly_paths");
}
