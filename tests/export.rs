//! `ghostport export`: the generated detections are accepted by the engines'
//! own checkers (`nft -c -f`, `sigma check`). Both tools are installed by
//! `.ci/deps --test`; a missing tool fails the test with that hint.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::bin;

fn export(args: &[&str]) -> String {
    let out = bin()
        .arg("export")
        .args(args)
        .output()
        .expect("run ghostport");
    assert!(
        out.status.success(),
        "export {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

fn tool(cmd: &mut Command, what: &str) -> std::process::Output {
    cmd.output().unwrap_or_else(|e| {
        panic!("{what} could not run ({e}); install the test tools with `bash .ci/deps --test`")
    })
}

#[test]
fn nftables_export_passes_nft_check() {
    let file = scratch("ghostport.nft");
    std::fs::write(&file, export(&["nftables", "--deny", "8080/tcp"])).expect("write");
    let out = tool(Command::new("nft").args(["-c", "-f"]).arg(&file), "nft");
    assert!(
        out.status.success(),
        "nft -c rejected the export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn sigma_export_passes_sigma_check() {
    let file = scratch("ghostport_ghost_port_connection.yml");
    std::fs::write(&file, export(&["sigma"])).expect("write");
    // The ATT&CK and D3FEND tag validators download their data from the
    // internet on first use; the tags used are fixed (attack.t1571,
    // attack.command-and-control) and checked by the unit tests instead.
    let out = tool(
        Command::new("python3")
            .arg("-c")
            .arg("import sys; from sigma.cli.main import main; sys.argv[0] = 'sigma'; sys.exit(main())")
            .args(["check", "--fail-on-issues", "-x", "attacktag", "-x", "d3_fendtag"])
            .arg(&file),
        "sigma-cli (python3 -m pip install sigma-cli)",
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "sigma check failed:\n{text}");
    assert!(text.contains("Found 0 errors"), "{text}");
}

#[test]
fn suricata_and_zeek_exports_name_the_data_and_apply_the_policy() {
    let all = export(&["suricata"]);
    let allowed = export(&["suricata", "--allow", "386/tcp"]);
    assert!(all.contains("registry IANA"), "{all}");
    // 386 is in a tcp port list before, and gone from every tcp list after
    let tcp_lists = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| l.starts_with("alert tcp any any -> any ["))
            .map(|l| l.to_owned())
            .collect()
    };
    let has_386 = |lists: &[String]| {
        lists.iter().any(|l| {
            let list = l
                .split('[')
                .nth(1)
                .and_then(|r| r.split(']').next())
                .unwrap_or("");
            list.split(',').any(|item| {
                let (lo, hi) = item.split_once(':').unwrap_or((item, item));
                lo.parse::<u16>().is_ok_and(|lo| lo <= 386)
                    && hi.parse::<u16>().is_ok_and(|hi| hi >= 386)
            })
        })
    };
    assert!(has_386(&tcp_lists(&all)));
    assert!(!has_386(&tcp_lists(&allowed)));
    let zeek = export(&["zeek", "--allow", "384/udp@10.0.0.0/8"]);
    assert!(zeek.contains("[10.0.0.0/8] = set(384/udp)"), "{zeek}");
    assert!(zeek.contains("event connection_established"));
}

#[test]
fn csv_and_json_exports_list_the_same_ports() {
    let csv = export(&["csv"]);
    let json: serde_json::Value = serde_json::from_str(&export(&["json"])).expect("json");
    let rows = csv
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("port,"))
        .count();
    let n = json["tcp"].as_array().expect("tcp").len() + json["udp"].as_array().expect("udp").len();
    assert_eq!(rows, n);
    assert!(csv.lines().any(|l| l.starts_with("386,tcp,ghost,asa")));
}
