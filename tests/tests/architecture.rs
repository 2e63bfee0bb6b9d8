//! ARCHITECTURE.md against the tree: every crate path it names exists,
//! every file its field table names exists and names the field it is said
//! to apply (by its JSON name, dotted path or last segment, or serde's
//! snake_case spelling of that segment), every step module of the
//! child appears on the page, and every field of runtime-spec 1.3.0's
//! Linux config (`data/runtime-spec-1.3.0-linux-fields.txt`) is applied or
//! refused at load. No root needed.

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

/// The cells of each `| \`field\` | ... |` row between the `<!-- NAME`
/// and `<!-- end NAME` markers, backticks trimmed.
fn table_rows(page: &str, name: &str) -> Vec<Vec<String>> {
    let start = page
        .find(&format!("<!-- {name}"))
        .unwrap_or_else(|| panic!("the {name} table marker"));
    let end = page
        .find(&format!("<!-- end {name}"))
        .unwrap_or_else(|| panic!("the end {name} marker"));
    page[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect();
            assert_eq!(cells.len(), 2, "a row is | `field` | ... |: {l}");
            cells
        })
        .collect()
}

/// (field, files) rows of the field table.
fn field_rows(page: &str) -> Vec<(String, Vec<String>)> {
    table_rows(page, "fields")
        .into_iter()
        .map(|cells| {
            let files = cells[1]
                .split(',')
                .map(|f| f.trim().trim_matches('`').to_string())
                .collect();
            (cells[0].clone(), files)
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

/// Fields other branches of issue 12 apply; each is neither applied nor
/// refused on this branch. The lead empties this list when they merge.
const PENDING: &[&str] = &[];

/// runtime-spec 1.3.0's Linux config fields (see the file's header).
fn spec_fields() -> Vec<String> {
    let path = workspace_root().join("tests/tests/data/runtime-spec-1.3.0-linux-fields.txt");
    fs::read_to_string(&path)
        .expect("the field list")
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `entry` is `field` or one of its ancestors (`mounts` of
/// `mounts[].type`, `linux.resources.pids` of `linux.resources.pids.limit`).
fn covers(entry: &str, field: &str) -> bool {
    field == entry
        || field
            .strip_prefix(entry)
            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with("[]"))
}

/// The fields of the refused list.
fn refused_rows(page: &str) -> Vec<String> {
    table_rows(page, "refused")
        .into_iter()
        .map(|mut cells| cells.swap_remove(0))
        .collect()
}

/// The JSON name a field's path ends in (`type` of `mounts[].type`).
fn json_name(field: &str) -> &str {
    field
        .rsplit('.')
        .next()
        .unwrap_or(field)
        .trim_end_matches("[]")
}

/// Whether one of `texts` names `name`, as itself or in serde's snake_case.
fn names(texts: &[String], name: &str) -> bool {
    texts
        .iter()
        .any(|t| t.contains(name) || t.contains(&snake(name)))
}

/// Every field of runtime-spec 1.3.0's Linux config is applied, refused at
/// load (the refused list) or pending a merge ([`PENDING`]); the most
/// specific entry decides. Applied means: the config model reads it under
/// its JSON name (a serde field `blockIo` never sees `blockIO`), and a
/// field without fields of its own is named by a file of a row that covers
/// it (`mounts` covers `mounts[].type` if its files name `type`).
#[test]
fn every_spec_field_is_applied_or_refused() {
    let page = page();
    let applied = field_rows(&page);
    let refused = refused_rows(&page);
    let not_applied: Vec<&str> = refused
        .iter()
        .map(String::as_str)
        .chain(PENDING.iter().copied())
        .collect();
    let fields = spec_fields();
    // Where the model names keys: its types, and validate.rs for the keys
    // of maps it checks (`linux.timeOffsets`' clocks).
    let model: Vec<String> = [
        "runoci-core/src/spec/types.rs",
        "runoci-core/src/spec/resources.rs",
        "runoci-core/src/spec/validate.rs",
    ]
    .iter()
    .map(|f| fs::read_to_string(workspace_root().join(f)).expect("the config model"))
    .collect();
    let mut wrong: Vec<String> = PENDING
        .iter()
        .filter(|p| !fields.iter().any(|f| f == *p))
        .map(|p| format!("{p}: pending, but not a field of the list"))
        .collect();
    for field in &fields {
        let field = field.as_str();
        let rows: Vec<&(String, Vec<String>)> =
            applied.iter().filter(|(f, _)| covers(f, field)).collect();
        let best_row = rows.iter().map(|(f, _)| f.len()).max();
        let best_other = not_applied
            .iter()
            .filter(|f| covers(f, field))
            .map(|f| f.len())
            .max();
        if best_other.is_some_and(|o| best_row.is_none_or(|r| o >= r)) {
            continue;
        }
        let has_fields = fields.iter().any(|f| f != field && covers(field, f));
        let Some((row, _)) = rows.iter().max_by_key(|(f, _)| f.len()) else {
            // `root`, `process`, `linux`: their fields are what is applied.
            if !has_fields {
                wrong.push(format!("{field}: neither applied nor refused"));
            }
            continue;
        };
        let name = json_name(field);
        if !model.iter().any(|t| {
            t.contains(&format!("\"{name}\"")) || t.contains(&format!("pub {}:", snake(name)))
        }) {
            wrong.push(format!(
                "{field}: the config model (spec/types.rs, resources.rs) does not read {name:?}"
            ));
        }
        // An object (`process.scheduler`) is as applied as its fields,
        // which come next in the list.
        if has_fields {
            continue;
        }
        let texts: Vec<String> = rows
            .iter()
            .flat_map(|(_, files)| files)
            .map(|f| fs::read_to_string(workspace_root().join(f)).unwrap_or_default())
            .collect();
        if !names(&texts, name) {
            wrong.push(format!(
                "{field}: no file of `{row}` or a row above it names {name}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "runtime-spec 1.3.0 fields:\n  {}",
        wrong.join("\n  ")
    );
}

/// Each refused field is refused by `validate.rs` with an error naming it.
#[test]
fn every_refused_field_is_refused_by_validate_naming_it() {
    let validate = fs::read_to_string(workspace_root().join("runoci-core/src/spec/validate.rs"))
        .expect("validate.rs");
    let page = page();
    assert!(
        page.contains("<!-- refused: `field` | why -->"),
        "ARCHITECTURE.md lost its refused list"
    );
    let fields = spec_fields();
    let unknown: Vec<String> = refused_rows(&page)
        .into_iter()
        .filter(|f| !fields.contains(f))
        .collect();
    assert!(
        unknown.is_empty(),
        "refused in ARCHITECTURE.md, but not runtime-spec 1.3.0 fields: {unknown:?}"
    );
    let missing: Vec<String> = refused_rows(&page)
        .into_iter()
        .filter(|f| !validate.contains(&format!("\"{f}")))
        .collect();
    assert!(
        missing.is_empty(),
        "refused in ARCHITECTURE.md, but no error of validate.rs names them: {missing:?}"
    );
}
