//! Report formats: HTML, CSV, JSONL, several outputs per run, JSON Schemas,
//! evidence pcaps.
mod common;

use std::path::{Path, PathBuf};

use common::{fixture, run};
use ghostport::analysis::{self, AnalysisConfig};
use ghostport::capture::Input;
use ghostport::knowledge::KnowledgeBase;
use ghostport::report::{self, Report};

const DEMO_SET: &[&str] = &[
    "demo.pcapng",
    "sweep.pcap",
    "beacon.pcap",
    "tls-on-384.pcap",
];

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gp-reports-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn report_of(names: &[&str], all_flows: bool) -> Report {
    let kb = KnowledgeBase::builtin();
    let mut cfg = AnalysisConfig::default();
    if all_flows {
        cfg.classify.all_flows_cap = 1000;
    }
    let inputs: Vec<Input> = names.iter().map(|n| Input::Path(fixture(n))).collect();
    let a = analysis::scan(&inputs, kb, &cfg, &mut ());
    Report::new(
        a,
        kb,
        vec!["ghostport".into(), "scan".into()],
        &cfg,
        all_flows,
    )
}

const EVIL: &str = "<script>alert(\"x\")</script>'\"&</script><!--\u{2028}\u{2029}";

/// Puts [`EVIL`] in every string a renderer shows that came from a capture,
/// a data file or the command line.
fn poison(r: &mut Report) {
    let e = || EVIL.to_string();
    r.meta.command_line.push(e());
    r.meta.errors.push(e());
    r.meta.data.knowledge_base = e();
    r.meta.data.registry = e();
    r.meta.analysis_start = e();
    r.meta.analysis_end = e();
    for i in &mut r.inputs {
        i.summary.name = e();
        i.summary.format = e();
        i.summary.sha256 = e();
        i.error = Some(e());
    }
    r.summary.capture_start = Some(e());
    r.summary.capture_end = Some(e());
    r.summary.suppressed.push(ghostport::classify::Suppression {
        rule: e(),
        origin: e(),
        note: e(),
        findings: 1,
        flows: 1,
    });
    for f in &mut r.findings {
        f.title = e();
        f.severity.reasons.push(e());
        for a in &mut f.attack {
            a.id = e();
            a.name = e();
        }
        for b in &mut f.behaviours {
            b.detail = e();
            b.evidence.insert("x", serde_json::json!(EVIL));
        }
        if let Some(v) = f.verdict.as_mut().map(std::sync::Arc::make_mut) {
            v.tags.push(e());
            for x in &mut v.reasons {
                x.text = e();
                x.source = e();
            }
            if let Some(rec) = &mut v.record {
                rec.ports = e();
                rec.service_name = e();
                rec.description = e();
                rec.assignee = Some(e());
                rec.contact = Some(e());
                rec.registration_date = Some(e());
                rec.modification_date = Some(e());
                rec.reference = Some(e());
                rec.unauthorized_use_reported = Some(e());
                rec.assignment_notes = Some(e());
            }
        }
        for p in &mut f.protocols {
            p.identification.summary = e();
            p.identification.evidence.hex = e();
            p.identification.fields.push(("tls.sni".into(), e()));
            p.identification.fields.push((e(), e()));
        }
        if let Some(fl) = &mut f.filter {
            fl.bpf = e();
            fl.wireshark = e();
        }
        for fl in &mut f.flows {
            fl.community_id = e();
            if let Some(x) = &mut fl.filter {
                x.bpf = e();
                x.wireshark = e();
            }
            if let Some(i) = &mut fl.identification {
                i.summary = e();
                i.fields.push((e(), e()));
            }
        }
    }
    for fl in r.flows.iter_mut().flatten() {
        fl.community_id = e();
        if let Some(i) = &mut fl.identification {
            i.summary = e();
        }
    }
}

#[test]
fn html_escapes_every_capture_string() {
    let mut r = report_of(DEMO_SET, true);
    assert!(r.findings.iter().any(|f| !f.protocols.is_empty()));
    assert!(r.findings.iter().any(|f| f.verdict.is_some()));
    poison(&mut r);
    let mut s = String::new();
    report::html::render(&r, &mut s);
    // Exactly the two script elements the renderer emits.
    assert_eq!(s.matches("<script").count(), 2, "stray <script");
    assert_eq!(s.matches("</script").count(), 2, "stray </script");
    assert!(!s.contains("<!--"), "raw comment opener");
    assert!(!s.contains("alert(\"x\")"), "unescaped quote");
    assert!(!s.contains("'\"&<"), "unescaped sequence");
    assert!(!s.contains('\u{2028}') && !s.contains('\u{2029}'));
    // The poison did reach the page, escaped.
    assert!(s.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&quot;&amp;"));
    // The embedded JSON parses back to the same report.
    let start = s.find("id=\"report-data\">").unwrap() + "id=\"report-data\">".len();
    let end = start + s[start..].find("</script>").unwrap();
    let v: serde_json::Value = serde_json::from_str(&s[start..end]).unwrap();
    assert_eq!(v["findings"][0]["title"], EVIL);
    // Nothing fetched from outside.
    for bad in ["http://", "https://", "src=", "@import", "url("] {
        let n = s.matches(bad).count();
        let allowed = if bad == "http://" { 1 } else { 0 }; // the SVG xmlns
        assert!(n <= allowed, "{bad} appears {n} times");
    }
}

#[test]
fn csv_and_jsonl_survive_hostile_strings() {
    let mut r = report_of(DEMO_SET, true);
    poison(&mut r);
    let mut out = Vec::new();
    report::csv::write(&r, &mut out).unwrap();
    let mut rd = csv::Reader::from_reader(out.as_slice());
    let header = rd.headers().unwrap().clone();
    assert_eq!(header.len(), report::csv::COLUMNS.len());
    let rows: Vec<csv::StringRecord> = rd.records().map(|x| x.unwrap()).collect();
    let findings = rows.iter().filter(|x| &x[0] == "finding").count();
    let flows = rows.iter().filter(|x| &x[0] == "flow").count();
    assert_eq!(findings, r.findings.len());
    assert_eq!(flows, r.flows.as_ref().unwrap().len());
    let title = header.iter().position(|h| h == "title").unwrap();
    assert_eq!(&rows[0][title], EVIL, "RFC 4180 round trip");
    for row in &rows {
        for cell in row {
            assert!(
                !matches!(cell.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@')),
                "formula cell {cell:?}"
            );
        }
    }
    let mut out = Vec::new();
    report::jsonl::write(&r, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), r.findings.len());
    for l in text.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["message"], EVIL);
    }
}

#[test]
fn csv_defuses_formula_in_real_output() {
    // A finding title starting with '=' as a capture could make it.
    let mut r = report_of(&["tls-on-384.pcap"], false);
    r.findings[0].title = "=HYPERLINK(\"http://x\")".into();
    let mut out = Vec::new();
    report::csv::write(&r, &mut out).unwrap();
    let s = String::from_utf8(out).unwrap();
    assert!(s.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{s}");
}

fn load_schema(name: &str) -> jsonschema::Validator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schema");
    let read = |n: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(n)).unwrap()).unwrap()
    };
    // The JSONL schema refers to definitions of the report schema by its $id;
    // the registry serves it locally (nothing is fetched).
    let registry: &'static jsonschema::Registry = Box::leak(Box::new(
        jsonschema::Registry::new()
            .add(
                "https://ghostport.invalid/schema/report.schema.json",
                read("report.schema.json"),
            )
            .unwrap()
            .prepare()
            .unwrap(),
    ));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_registry(registry)
        .build(&read(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn assert_valid(v: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

const SCHEMA_SETS: &[&[&str]] = &[
    &[
        "demo.pcapng",
        "sweep.pcap",
        "beacon.pcap",
        "tls-on-384.pcap",
    ],
    &["ssh-on-386.pcap"],
    &["icmp-unreachable.pcap"],
    &["lookalikes.pcap", "evasion-srcport.pcap"],
];

#[test]
fn json_and_jsonl_match_their_schemas() {
    let report_schema = load_schema("report.schema.json");
    let line_schema = load_schema("finding.jsonl.schema.json");
    let dir = tmpdir("schema");
    for (i, set) in SCHEMA_SETS.iter().enumerate() {
        let json = dir.join(format!("r{i}.json"));
        let jsonl = dir.join(format!("r{i}.jsonl"));
        let ev = dir.join(format!("ev{i}"));
        let mut args: Vec<String> = vec![
            "scan".into(),
            "-q".into(),
            "--all-flows".into(),
            "--evidence".into(),
            ev.display().to_string(),
            "--report".into(),
            format!("json:{}", json.display()),
            "--report".into(),
            format!("jsonl:{}", jsonl.display()),
        ];
        args.extend(set.iter().map(|n| fixture(n).display().to_string()));
        let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let r = run(&a);
        assert!(r.code == 0 || r.code == 1, "{set:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "only --report outputs were asked for");
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_valid(&report_schema, &doc, &format!("{set:?} JSON"));
        let lines = std::fs::read_to_string(&jsonl).unwrap();
        let n = doc["findings"].as_array().unwrap().len();
        assert_eq!(lines.lines().count(), n);
        for l in lines.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_valid(&line_schema, &v, &format!("{set:?} JSONL"));
        }
    }
    // The schemas are not vacuous: a broken document fails.
    let mut bad: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r0.json")).unwrap()).unwrap();
    bad["findings"][0]["severity"]["score"] = serde_json::json!("high");
    assert!(!report_schema.is_valid(&bad));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn community_id_and_filters_in_json() {
    let (_, v) = common::scan_json(&[fixture("tls-on-384.pcap")], &[]);
    let flow = &v["findings"][0]["flows"][0];
    // Computed with the reference implementation (pip communityid).
    assert_eq!(flow["community_id"], "1:mNurlOgcQbT6IgXopupb27W9CxE=");
    assert_eq!(
        flow["filter"]["bpf"],
        "tcp and ((src host 192.0.2.10 and src port 49701 and dst host 203.0.113.84 and dst port 384) or (src host 203.0.113.84 and src port 384 and dst host 192.0.2.10 and dst port 49701))"
    );
    assert_eq!(
        v["findings"][0]["filter"]["wireshark"],
        "(ip.src == 203.0.113.84 && tcp.srcport == 384) || (ip.dst == 203.0.113.84 && tcp.dstport == 384)"
    );
}

#[test]
fn several_reports_in_one_run_and_no_silent_overwrite() {
    let dir = tmpdir("multi");
    let html = dir.join("r.html");
    let csv = dir.join("r.csv");
    let jsonl = dir.join("r.jsonl");
    let spec = |f: &str, p: &Path| format!("{f}:{}", p.display());
    let tls = fixture("tls-on-384.pcap").display().to_string();
    let args = [
        "scan".to_string(),
        "-q".into(),
        "-F".into(),
        "json".into(),
        "--report".into(),
        spec("html", &html),
        "--report".into(),
        spec("csv", &csv),
        "--report".into(),
        spec("jsonl", &jsonl),
        tls.clone(),
    ];
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let r = run(&a);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let doc = r.json();
    assert_eq!(doc["findings"].as_array().unwrap().len(), 1);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("c2.evil.example"));
    assert!(page.starts_with("<!DOCTYPE html>"));
    let c = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(c.lines().count(), 2);
    assert!(c.contains("c2.evil.example"));
    let l = std::fs::read_to_string(&jsonl).unwrap();
    let v: serde_json::Value = serde_json::from_str(l.trim()).unwrap();
    assert_eq!(v["destination"]["port"], 384);
    assert_eq!(v["threat"]["technique"]["id"][0], "T1571");
    assert_eq!(
        v["network"]["community_id"][0],
        "1:mNurlOgcQbT6IgXopupb27W9CxE="
    );
    assert_eq!(v["event"]["severity"], 80);
    // Again without --force: refused before any work, files unchanged.
    let before = std::fs::read(&html).unwrap();
    let r = run(&a);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read(&html).unwrap(), before);
    // A bad spec names the fix.
    let r = run(&["scan", "--report", "pdf:x.pdf", &tls]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("html"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

fn tcpdump_count(p: &Path) -> Option<u64> {
    let out = std::process::Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(p)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "tcpdump -r {}: {}",
        p.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).lines().count() as u64)
}

#[test]
fn evidence_pcaps_hold_exactly_the_findings_packets() {
    if std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: tcpdump not installed (.ci/deps --test installs it)");
        return;
    }
    let dir = tmpdir("evidence");
    let ev = dir.join("ev");
    let mut args: Vec<String> = vec![
        "scan".into(),
        "-q".into(),
        "-F".into(),
        "json".into(),
        "--evidence".into(),
        ev.display().to_string(),
    ];
    for n in DEMO_SET.iter().chain(["icmp-unreachable.pcap"].iter()) {
        args.push(fixture(n).display().to_string());
    }
    let a: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let r = run(&a);
    let doc = r.json();
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ev.join("index.json")).unwrap()).unwrap();
    let files = index["evidence"]["files"].as_array().unwrap();
    let findings = doc["findings"].as_array().unwrap();
    assert_eq!(files.len(), findings.len());
    assert!(findings.iter().any(|f| f["kind"] == "sweep"));
    assert!(
        findings
            .iter()
            .any(|f| f["totals"]["icmp_errors"].as_u64() > Some(0))
    );
    for (f, e) in findings.iter().zip(files) {
        let t = &f["totals"];
        let expected = t["c2s"]["packets"].as_u64().unwrap()
            + t["s2c"]["packets"].as_u64().unwrap()
            + t["icmp_errors"].as_u64().unwrap();
        let path = ev.join(e["file"].as_str().unwrap());
        let n = tcpdump_count(&path).unwrap();
        assert_eq!(n, expected, "{} ({})", f["id"], f["title"]);
        assert_eq!(e["packets"].as_u64(), Some(expected));
        assert_eq!(e["expected_packets"].as_u64(), Some(expected));
    }
    // The report names the evidence files.
    assert_eq!(
        doc["evidence"]["files"].as_array().unwrap().len(),
        files.len()
    );
    // The finding's own BPF filter selects the same packets from the input.
    let tls = findings
        .iter()
        .zip(files)
        .find(|(f, _)| f["server"]["port"] == 384 && f["transport"] == "tcp")
        .unwrap();
    let out = std::process::Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(fixture("tls-on-384.pcap"))
        .arg(tls.0["filter"]["bpf"].as_str().unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count() as u64,
        tls.1["packets"].as_u64().unwrap()
    );
    // No overwrite without --force.
    let r = run(&a);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--force"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}
