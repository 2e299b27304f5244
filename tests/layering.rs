//! The source folders are the pipeline (docs/design.md): a lower folder never
//! refers to a higher one. This test reads every `.rs` file under `src/` and
//! fails on any `crate::<higher folder>` path, including those inside grouped
//! imports (`use crate::{report, ...}`). Comments are ignored.

use std::path::Path;

/// Pipeline order; folders on the same rank (identify, knowledge) are peers
/// and may not refer to each other either.
const RANKS: &[(&str, u8)] = &[
    ("capture", 0),
    ("decode", 1),
    ("flow", 2),
    ("identify", 3),
    ("knowledge", 3),
    ("records", 3),
    ("classify", 4),
    ("analysis", 5),
    ("report", 6),
    ("live", 7),
    ("cli", 8),
];

fn rank(folder: &str) -> Option<u8> {
    RANKS.iter().find(|(f, _)| *f == folder).map(|(_, r)| *r)
}

fn rs_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Folders named by `crate::` paths in one line of code (comments removed).
fn referenced(line: &str) -> Vec<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                out.push(name);
            }
        } else {
            out.push(
                rest.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect(),
            );
        }
    }
    out
}

#[test]
fn no_folder_refers_to_a_higher_one() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rs_files(&src, &mut files);
    files.sort();
    let mut violations = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).expect("under src");
        let Some(folder) = rel.iter().next().and_then(|c| c.to_str()) else {
            continue;
        };
        let Some(own) = rank(folder) else { continue };
        let text = std::fs::read_to_string(f).expect("read source");
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for target in referenced(line) {
                if target == folder {
                    continue;
                }
                if let Some(r) = rank(&target)
                    && r >= own
                {
                    violations.push(format!(
                        "{}:{}: {folder} refers to {target}: {}",
                        rel.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "lower pipeline folders must not refer to higher ones (move the shared item down):\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_check_sees_grouped_and_plain_paths() {
    assert_eq!(referenced("use crate::report::text;"), vec!["report"]);
    assert_eq!(
        referenced("use crate::{live::x, flow};"),
        vec!["live".to_string(), "flow".to_string()]
    );
    assert!(referenced("// crate::live").is_empty());
}
