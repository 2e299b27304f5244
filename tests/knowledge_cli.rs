//! `ghostport port`, `ports` and `registry` through the binary.

mod common;
use common::*;

#[test]
fn port_386_explains_the_ghost() {
    let r = run(&["port", "386/tcp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("386/tcp: GHOST"), "{}", r.stdout);
    assert!(r.stdout.contains("asa"));
    assert!(r.stdout.contains("no Wireshark dissector"));
    assert!(r.stdout.contains("IANA 2026-02-25"));
    let j = run(&["port", "asa", "-F", "json"]).json();
    let v = j["verdicts"].as_array().unwrap();
    assert_eq!(v.len(), 2, "asa is tcp and udp");
    assert!(v.iter().all(|x| x["class"] == "ghost" && x["port"] == 386));
}

#[test]
fn port_22_udp_is_wrong_transport_not_legacy() {
    let r = run(&["port", "22/udp"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("22/udp: GHOST\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains("ssh is implemented on 22/tcp"),
        "{}",
        r.stdout
    );
    let j = run(&["port", "22/udp", "-F", "json"]).json();
    let v = &j["verdicts"][0];
    assert_eq!(v["legacy"], false);
    let tags: Vec<&str> = v["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(tags.contains(&"wrong-transport"), "{tags:?}");
    assert!(!tags.contains(&"legacy"), "{tags:?}");
}

/// The class-count table in docs/knowledge-base.md is the output of
/// `ghostport ports --summary`, verbatim.
#[test]
fn docs_class_table_matches_the_binary() {
    let r = run(&["ports", "--summary"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("| ghost | "), "{}", r.stdout);
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/knowledge-base.md"
    ))
    .unwrap();
    assert!(
        docs.contains(&r.stdout),
        "docs/knowledge-base.md does not quote the current `ghostport ports --summary` output:\n{}",
        r.stdout
    );
}

#[test]
fn port_classes_of_mainstream_software() {
    for (spec, class) in [
        ("22/tcp", "implemented"),
        ("3306/tcp", "implemented"),
        ("8443/tcp", "implemented"),
        ("9092/tcp", "implemented"),
        ("6443/tcp", "implemented"),
        ("9100/tcp", "implemented"),
        ("5631/tcp", "de-facto"),
        ("5357/tcp", "de-facto"),
        ("5984/tcp", "de-facto"),
        ("1414/tcp", "de-facto"),
        ("16992/tcp", "de-facto"),
        ("9389/tcp", "de-facto"),
        ("3479/udp", "de-facto"),
        ("386/tcp", "ghost"),
        ("384/udp", "ghost"),
        ("0/tcp", "reserved"),
        ("50000/tcp", "dynamic"),
    ] {
        let j = run(&["port", spec, "-F", "json"]).json();
        assert_eq!(j["verdicts"][0]["class"], class, "{spec}");
    }
    let r = run(&["port", "nosuchservice"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("nosuchservice"));
}

#[test]
fn ports_ghost_csv_lists_every_ghost_pair() {
    let r = run(&["ports", "--class", "ghost", "-F", "csv"]);
    assert_eq!(r.code, 0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("port,transport,class"));
    assert!(lines.iter().any(|l| l.starts_with("386,tcp,ghost")));
    assert!(!lines.iter().any(|l| l.starts_with("3306,tcp,")));
    let tcp = run(&[
        "ports",
        "--class",
        "ghost",
        "--transport",
        "tcp",
        "-F",
        "json",
    ])
    .json();
    let udp = run(&[
        "ports",
        "--class",
        "ghost",
        "--transport",
        "udp",
        "-F",
        "json",
    ])
    .json();
    let n = tcp.as_array().unwrap().len() + udp.as_array().unwrap().len();
    assert_eq!(lines.len() - 1, n);
}

#[test]
fn registry_diff_and_import() {
    let csv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/knowledge/data/sources/service-names-port-numbers.csv");
    let xml = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/iana/service-names-port-numbers-2026-08-17.xml");
    if !xml.exists() {
        eprintln!("skipping: {} not found", xml.display());
        return;
    }
    let r = run(&[
        "registry",
        "diff",
        csv.to_str().unwrap(),
        xml.to_str().unwrap(),
        "-F",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let changes = r.json();
    let c = changes.as_array().unwrap();
    assert!(
        c.iter()
            .any(|x| x["port"] == 4480 && x["transport"] == "tcp" && x["new_class"] == "ghost")
    );
    assert!(
        c.iter()
            .any(|x| x["port"] == 700 && x["transport"] == "udp")
    );

    let dir = std::env::temp_dir().join(format!("gp-data-{}", std::process::id()));
    let out = bin()
        .env("GHOSTPORT_DATA_DIR", &dir)
        .args(["registry", "import", xml.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin()
        .env("GHOSTPORT_DATA_DIR", &dir)
        .args([
            "scan",
            "-q",
            "-F",
            "json",
            fixture("demo.pcapng").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let rep: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        rep["meta"]["data"]["registry"]
            .as_str()
            .unwrap()
            .contains("2026-08-17"),
        "{}",
        rep["meta"]["data"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_registry_names_line_and_field() {
    let dir = std::env::temp_dir().join(format!("gp-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        "Service Name,Port Number,Transport Protocol,Description,Assignee,Contact,Registration Date,Modification Date,Reference,Service Code,Unauthorized Use Reported,Assignment Notes\nasa,38x,tcp,ASA,,,,,,,,\n",
    )
    .unwrap();
    let out = bin()
        .env("GHOSTPORT_DATA_DIR", &dir)
        .args(["registry", "import", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains("Port Number"),
        "{err}"
    );
    assert!(
        !dir.join("registry.csv").exists(),
        "a bad file must not be imported"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `registry import` of a file that cannot be IANA's registry is refused
/// with the reason, and nothing is stored.
#[test]
fn implausible_registries_are_refused_with_the_reason() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/knowledge/data/sources/service-names-port-numbers.csv");
    let real = std::fs::read_to_string(&src).unwrap();
    let header = real.lines().next().unwrap();
    let dir = std::env::temp_dir().join(format!("gp-implausible-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let without_ghosts: String = real
        .lines()
        .filter(|l| !l.starts_with("arns,") && !l.starts_with("asa,"))
        .map(|l| format!("{l}\n"))
        .collect();
    let cases = [
        ("header-only.csv", format!("{header}\n"), "tcp/udp rows"),
        (
            "everything.csv",
            format!("{real}evil,1-65535,tcp,Evil,,,,,,,,\n"),
            "covers 65535 ports",
        ),
        ("no-ghosts.csv", without_ghosts, "384/tcp"),
    ];
    for (name, text, reason) in cases {
        let f = dir.join(name);
        std::fs::write(&f, text).unwrap();
        let data = dir.join("data");
        let out = bin()
            .env("GHOSTPORT_DATA_DIR", &data)
            .args(["registry", "import", f.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains("does not look like IANA's port registry") && err.contains(reason),
            "{name}: {err}"
        );
        assert!(!data.join("registry.csv").exists(), "{name} was stored");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `ports -F csv` defuses formula cells (an imported registry is hostile
/// input): the same cleaner as every other CSV.
#[test]
fn ports_csv_defuses_formula_cells() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/knowledge/data/sources/service-names-port-numbers.csv");
    let real = std::fs::read_to_string(&src).unwrap();
    let hostile = real.replace(
        "arns,384,tcp,A Remote Network Server System,",
        "arns,384,tcp,=HYPERLINK(\"http://x\"),",
    );
    assert_ne!(hostile, real);
    let dir = std::env::temp_dir().join(format!("gp-formula-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("iana.csv");
    std::fs::write(&f, hostile).unwrap();
    let data = dir.join("data");
    let out = bin()
        .env("GHOSTPORT_DATA_DIR", &data)
        .args(["registry", "import", f.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin()
        .env("GHOSTPORT_DATA_DIR", &data)
        .args(["ports", "--class", "ghost", "-F", "csv"])
        .output()
        .unwrap();
    let csv = String::from_utf8_lossy(&out.stdout);
    let line = csv
        .lines()
        .find(|l| l.starts_with("384,tcp,"))
        .unwrap_or_else(|| panic!("no 384/tcp line:\n{csv}"));
    assert!(
        line.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","),
        "{line}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
