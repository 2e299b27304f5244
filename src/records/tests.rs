use super::*;

fn flows(text: &str) -> (Vec<Flow>, RecordStats, Option<RecordFormat>) {
    let mut r = RecordReader::new(1, 1000, 120_000_000_000);
    let mut out = Vec::new();
    for line in text.lines() {
        r.line(line.as_bytes(), &mut |f| out.push(f))
            .expect("known format");
    }
    r.finish(&mut |f| out.push(f));
    (out, r.stats().clone(), r.format())
}

const ZEEK_TSV: &str = "#separator \\x09
#set_separator\t,
#empty_field\t(empty)
#unset_field\t-
#path\tconn
#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents
#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\tset[string]
1705312804.186118\tC1\t192.0.2.10\t50000\t203.0.113.86\t386\ttcp\t-\t0.071041\t21\t21\tSF\t-\t-\t0\tShADadFf\t6\t357\t3\t195\t-
1705312805.000000\tC2\t192.0.2.10\t50001\t203.0.113.86\t384\ttcp\t-\t-\t-\t-\tS0\t-\t-\t0\tS\t1\t60\t0\t0\t-
1705312806.000000\tC3\t192.0.2.10\t0\t203.0.113.86\t8\ticmp\t-\t-\t-\t-\tOTH\t-\t-\t0\t-\t1\t84\t0\t0\t-
garbage\tline
";

#[test]
fn zeek_tsv_records_become_flows() {
    let (f, st, fmt) = flows(ZEEK_TSV);
    assert_eq!(fmt, Some(RecordFormat::ZeekConnTsv));
    assert_eq!(f.len(), 2, "{st:?}");
    let a = &f[0];
    assert_eq!((a.server.port, a.transport), (386, Transport::Tcp));
    assert_eq!(a.client.ip.to_string(), "192.0.2.10");
    assert!(a.answered() && a.data_exchanged());
    assert_eq!(a.orientation, Orientation::Syn);
    assert_eq!(a.first_ts, 1_705_312_804_186_118_000);
    assert_eq!(a.last_ts - a.first_ts, 71_041_000);
    let b = &f[1];
    assert!(!b.answered() && !b.data_exchanged());
    assert_eq!(st.skipped.get("not_tcp_udp_record"), Some(&1));
    assert_eq!(st.skipped.get("malformed_record"), Some(&1));
    assert_eq!((f[0].id, f[1].id), (1, 2));
}

#[test]
fn zeek_json_dotted_and_nested_keys() {
    let text = r#"{"ts":1705312804.186118,"uid":"C1","id.orig_h":"192.0.2.10","id.orig_p":50000,"id.resp_h":"203.0.113.86","id.resp_p":386,"proto":"tcp","duration":0.07,"orig_bytes":21,"resp_bytes":21,"conn_state":"SF","history":"ShADadFf","orig_pkts":6,"orig_ip_bytes":357,"resp_pkts":3,"resp_ip_bytes":195}
{"ts":"2024-01-15T10:00:05.000000Z","id":{"orig_h":"2001:db8::1","orig_p":40000,"resp_h":"2001:db8::2","resp_p":384},"proto":"udp","orig_bytes":10,"resp_bytes":0,"orig_pkts":1,"orig_ip_bytes":58,"resp_pkts":0,"resp_ip_bytes":0}"#;
    let (f, _, fmt) = flows(text);
    assert_eq!(fmt, Some(RecordFormat::ZeekConnJson));
    assert_eq!(f.len(), 2);
    assert!(f[0].data_exchanged());
    assert_eq!(f[1].server.port, 384);
    assert_eq!(f[1].first_ts, 1_705_312_805_000_000_000);
    assert!(!f[1].answered());
}

#[test]
fn eve_flow_and_netflow_events() {
    let text = r#"{"timestamp":"2024-01-15T10:00:05.000000+0000","flow_id":7,"event_type":"flow","src_ip":"192.0.2.10","src_port":50000,"dest_ip":"203.0.113.86","dest_port":386,"proto":"TCP","flow":{"pkts_toserver":6,"pkts_toclient":3,"bytes_toserver":600,"bytes_toclient":400,"start":"2024-01-15T10:00:04.186118+0000","end":"2024-01-15T10:00:04.257159+0000"},"tcp":{"tcp_flags_ts":"1b","tcp_flags_tc":"1b"}}
{"timestamp":"2024-01-15T10:00:05.000000+0000","event_type":"alert","src_ip":"192.0.2.10"}
{"timestamp":"2024-01-15T10:00:05.000000+0000","flow_id":9,"event_type":"netflow","src_ip":"192.0.2.10","src_port":40000,"dest_ip":"203.0.113.86","dest_port":384,"proto":"UDP","netflow":{"pkts":2,"bytes":200,"start":"2024-01-15T10:00:06.000000+0000","end":"2024-01-15T10:00:07.000000+0000"}}
{"timestamp":"2024-01-15T10:00:05.000000+0000","flow_id":9,"event_type":"netflow","src_ip":"203.0.113.86","src_port":384,"dest_ip":"192.0.2.10","dest_port":40000,"proto":"UDP","netflow":{"pkts":1,"bytes":100,"start":"2024-01-15T10:00:06.100000+0000","end":"2024-01-15T10:00:06.100000+0000"}}"#;
    let (f, st, fmt) = flows(text);
    assert_eq!(fmt, Some(RecordFormat::SuricataEve));
    assert_eq!(f.len(), 2, "{st:?}");
    assert_eq!(f[0].server.port, 386);
    assert!(f[0].answered() && f[0].data_exchanged());
    assert_eq!(f[0].first_ts, 1_705_312_804_186_118_000);
    assert_eq!((f[1].server.port, f[1].transport), (384, Transport::Udp));
    assert_eq!((f[1].c2s.packets, f[1].s2c.packets), (2, 1));
    assert_eq!(st.paired, 1);
}

#[test]
fn vpc_records_pair_by_reversed_five_tuple() {
    let text = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status
2 123456789010 eni-1 10.0.0.5 10.0.1.9 49152 386 6 10 1000 1705312800 1705312860 ACCEPT OK
2 123456789010 eni-1 10.0.1.9 10.0.0.5 386 49152 6 8 900 1705312800 1705312860 ACCEPT OK
2 123456789010 eni-1 10.0.0.5 10.0.1.9 0 0 1 4 336 1705312800 1705312860 ACCEPT OK
2 123456789010 eni-1 - - - - - - - 1705312800 1705312860 - NODATA
2 123456789010 eni-1 10.0.0.7 10.0.1.9 51000 384 17 1 60 1705312800 1705312860 ACCEPT OK";
    let (f, st, fmt) = flows(text);
    assert_eq!(fmt, Some(RecordFormat::VpcFlowLog));
    assert_eq!(f.len(), 2, "{st:?}");
    let tcp = f.iter().find(|x| x.server.port == 386).expect("386");
    assert_eq!(tcp.client.ip.to_string(), "10.0.0.5");
    assert!(tcp.answered() && tcp.data_exchanged());
    let udp = f.iter().find(|x| x.server.port == 384).expect("384");
    assert!(!udp.answered());
    assert_eq!(st.paired, 1);
    assert_eq!(st.skipped.get("nodata_record"), Some(&1));
    assert_eq!(st.skipped.get("not_tcp_udp_record"), Some(&1));
}

#[test]
fn pairing_table_is_bounded_and_counts_evictions() {
    let mut text = String::from(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n",
    );
    for i in 0..50u16 {
        text.push_str(&format!(
            "2 1 eni-1 10.0.0.5 10.0.1.9 {} 386 6 1 60 {} {} ACCEPT OK\n",
            40000 + i,
            1_705_312_800 + u32::from(i),
            1_705_312_800 + u32::from(i)
        ));
    }
    let mut r = RecordReader::new(1, 10, 120_000_000_000);
    let mut n = 0;
    for line in text.lines() {
        r.line(line.as_bytes(), &mut |_| n += 1).expect("format");
    }
    assert_eq!(r.stats().pairing_evicted, 40);
    r.finish(&mut |_| n += 1);
    assert_eq!(n, 50);
}

#[test]
fn unknown_text_is_refused_with_the_formats_named() {
    let mut r = RecordReader::new(1, 10, 1);
    let e = r.line(b"hello world", &mut |_| {}).expect_err("unknown");
    assert!(e.contains("Zeek conn.log"), "{e}");
}

#[test]
fn times() {
    assert_eq!(parse_time("0"), Some(0));
    assert_eq!(parse_time("1970-01-01T00:00:01Z"), Some(1_000_000_000));
    assert_eq!(
        parse_time("2024-01-15T10:00:04.186118+0000"),
        Some(1_705_312_804_186_118_000)
    );
    assert_eq!(
        parse_time("2024-01-15T11:00:04.186118+01:00"),
        Some(1_705_312_804_186_118_000)
    );
    assert_eq!(parse_time("2024-13-15T10:00:04Z"), None);
    assert_eq!(parse_time("nonsense"), None);
    assert_eq!(parse_time("1e300"), None);
}
