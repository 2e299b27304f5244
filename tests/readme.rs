//! The README's "What it prints" block is the binary's real output on the
//! bundled demo capture (up to the first finding's ATT&CK line), so it never
//! goes stale when the knowledge base or the severity model changes.

mod common;

#[test]
fn readme_demo_block_is_the_binary_s_output() {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .expect("README.md");
    let start = readme.find("## What it prints").expect("section");
    let block = readme[start..]
        .split("```\n")
        .nth(1)
        .expect("code block")
        .split("\n...\n")
        .next()
        .expect("block text");
    // run as the README does: from the repository, with a relative path
    let out = common::bin()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "scan",
            "--no-config",
            "--color",
            "never",
            "fixtures/demo.pcapng",
        ])
        .output()
        .expect("run");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .iter()
        .position(|l| l.starts_with("    att&ck"))
        .expect("an att&ck line");
    let want = lines[..=end].join("\n");
    assert_eq!(
        block.trim_end(),
        want,
        "README.md's demo output is stale: regenerate it from `cargo run -- scan fixtures/demo.pcapng`"
    );
}
