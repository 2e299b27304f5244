//! HTML: one self-contained file for incident response. Inline CSS, inline
//! JavaScript (sorting and filtering only; the page reads fine without it),
//! an inline SVG timeline, no external fetch of any kind (a Content Security
//! Policy forbids them), so it works offline and as a mail attachment.
//!
//! Every string from the capture or a data file goes through [`escape`]; the
//! report JSON embedded in `<script type="application/json">` goes through
//! [`script_json`], which escapes `<`, `>`, `&`, U+2028 and U+2029 so no
//! string can close the script element or break a JavaScript parser.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

use super::Report;
use super::text::bytes as human_bytes;
use crate::capture::linktype_name;
use crate::classify::{Finding, FindingKind, FlowRecord};
use crate::timefmt::{human_duration, rfc3339_micros};

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            // Line/paragraph separators and bidi controls: shown as
            // references so they cannot reorder or hide text.
            '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}' => {
                let _ = write!(o, "&#x{:x};", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

/// Serialises `v` as JSON safe to place inside a `<script>` element.
pub fn script_json<T: Serialize>(v: &T) -> String {
    let s = serde_json::to_string(v).unwrap_or_else(|_| "null".to_string());
    let mut o = String::with_capacity(s.len() + 64);
    for c in s.chars() {
        match c {
            '<' => o.push_str("\\u003c"),
            '>' => o.push_str("\\u003e"),
            '&' => o.push_str("\\u0026"),
            '\u{2028}' => o.push_str("\\u2028"),
            '\u{2029}' => o.push_str("\\u2029"),
            c => o.push(c),
        }
    }
    o
}

fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn kind_name(k: FindingKind) -> String {
    name_of(&k)
}

const LEVELS: [&str; 5] = ["critical", "high", "medium", "low", "info"];

fn port_label(f: &Finding) -> String {
    match f.kind {
        FindingKind::Sweep => format!("{} ports", f.targets.len()),
        _ => format!("{}/{}", f.server.port, f.transport),
    }
}

/// Writes the HTML report.
pub fn write(r: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut h = String::with_capacity(64 * 1024);
    render(r, &mut h);
    out.write_all(h.as_bytes())
}

/// Renders the whole page into `h`.
pub fn render(r: &Report, h: &mut String) {
    let s = &r.summary;
    let n = r.findings.len();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\
<meta name=\"generator\" content=\"ghostport {}\">\
<title>ghostport report: {} finding(s)</title><style>{CSS}</style></head><body>\n",
        escape(r.meta.version),
        n
    );
    header(r, h);
    h.push_str("<main>\n");
    findings_table(r, h);
    timeline(r, h);
    details(r, h);
    talkers(r, h);
    provenance(r, h);
    h.push_str("</main>\n");
    let _ = write!(
        h,
        "<script type=\"application/json\" id=\"report-data\">{}</script>\n<script>{JS}</script>\n</body></html>\n",
        script_json(r)
    );
    let _ = s;
}

fn header(r: &Report, h: &mut String) {
    let s = &r.summary;
    let worst = LEVELS
        .iter()
        .find(|l| s.findings_by_severity.get(**l).copied().unwrap_or(0) > 0)
        .copied()
        .unwrap_or("none");
    let _ = write!(
        h,
        "<header class=\"top sev-{worst}\"><div class=\"brand\">ghostport <span class=\"dim\">{}</span></div>\
<h1>{} finding{} {}</h1>",
        escape(r.meta.version),
        r.findings.len(),
        if r.findings.len() == 1 { "" } else { "s" },
        if r.findings.is_empty() {
            "— no ghost-port traffic seen".to_string()
        } else {
            format!("— worst: <b>{worst}</b>")
        }
    );
    h.push_str("<div class=\"cards\">");
    for l in LEVELS {
        let c = s.findings_by_severity.get(l).copied().unwrap_or(0);
        let _ = write!(
            h,
            "<div class=\"card sev-{l}{}\"><div class=\"num\">{c}</div><div>{l}</div></div>",
            if c == 0 { " zero" } else { "" }
        );
    }
    h.push_str("</div><p class=\"meta\">");
    let _ = write!(
        h,
        "{} input(s), {} packets ({} decoded), {} flows ({} on ghost ports)",
        r.inputs.len(),
        s.packets.frames,
        s.packets.decoded,
        s.flows.total,
        s.flows.ghost
    );
    if let (Some(a), Some(b)) = (&s.capture_start, &s.capture_end) {
        let _ = write!(h, "; captured {} → {}", escape(a), escape(b));
    }
    h.push_str("</p>");
    if r.meta.complete {
        h.push_str("<p class=\"status ok\">Complete: every input was read to its end.</p>");
    } else {
        h.push_str("<p class=\"status bad\">INCOMPLETE: an input could not be read to its end; findings cover what was read.<br>");
        for e in &r.meta.errors {
            let _ = write!(h, "{}<br>", escape(e));
        }
        h.push_str("</p>");
    }
    if s.findings_dropped > 0 {
        let _ = write!(
            h,
            "<p class=\"status bad\">{} less severe finding(s) beyond the cap were folded into per-port counts (see the JSON report's summary.findings_folded).</p>",
            s.findings_dropped
        );
    }
    h.push_str(
        "<nav><a href=\"#findings\">Findings</a> <a href=\"#timeline\">Timeline</a> \
<a href=\"#details\">Details</a> <a href=\"#talkers\">Top talkers</a> <a href=\"#provenance\">Provenance</a></nav></header>\n",
    );
}

fn findings_table(r: &Report, h: &mut String) {
    h.push_str("<section id=\"findings\"><h2>Findings</h2>");
    if r.findings.is_empty() {
        h.push_str("<p>No findings.</p></section>\n");
        return;
    }
    h.push_str("<div class=\"filters\" id=\"filters\">Severity: ");
    for l in LEVELS {
        let _ = write!(
            h,
            "<label class=\"sev-{l}\"><input type=\"checkbox\" class=\"f-sev\" value=\"{l}\" checked> {l}</label> "
        );
    }
    h.push_str(
        "<label>Port <input type=\"search\" id=\"f-port\" placeholder=\"386, 384\" size=\"10\"></label> \
<label>Host <input type=\"search\" id=\"f-host\" placeholder=\"address\" size=\"16\"></label> \
<span id=\"f-count\" class=\"dim\"></span></div>",
    );
    h.push_str(
        "<div class=\"scroll\"><table id=\"ftable\" class=\"sortable\"><thead><tr>\
<th data-type=\"text\">ID</th><th data-type=\"num\">Severity</th>\
<th data-type=\"num\">Port</th><th data-type=\"text\">Host</th>\
<th data-type=\"num\">Clients</th><th data-type=\"num\">Flows</th><th data-type=\"num\">Bytes c→s</th>\
<th data-type=\"num\">Bytes s→c</th><th data-type=\"text\">First seen</th><th data-type=\"text\">Protocol</th>\
<th data-type=\"text\">Summary</th></tr></thead><tbody>",
    );
    let collapsed = |f: &&Finding| f.explained.as_ref().is_some_and(|e| e.collapsed());
    for f in r.findings.iter().filter(|f| !collapsed(f)) {
        let service = f
            .verdict
            .as_ref()
            .and_then(|v| v.record.as_ref())
            .map(|x| x.service_name.as_str())
            .unwrap_or("");
        let hosts: Vec<String> = std::iter::once(f.server.ip)
            .chain(f.clients.iter().copied())
            .map(|i| i.to_string())
            .collect();
        let ports: Vec<String> = if f.kind == FindingKind::Sweep {
            f.targets.iter().map(|t| t.port.to_string()).collect()
        } else {
            vec![f.server.port.to_string()]
        };
        let proto = f
            .protocols
            .iter()
            .map(|p| name_of(&p.identification.protocol))
            .collect::<Vec<_>>()
            .join(", ");
        let t = &f.totals;
        let lvl = f.severity.level.as_str();
        let _ = write!(
            h,
            "<tr class=\"sev-{lvl}\" data-sev=\"{lvl}\" data-ports=\"{}\" data-hosts=\"{}\">\
<td class=\"nw\" data-v=\"{id}\"><a href=\"#{id}\">{id}</a></td>\
<td data-v=\"{score}\"><span class=\"badge sev-{lvl}\">{lvl} {score}</span></td>\
<td data-v=\"{}\">{}<br><span class=\"dim\">{}{}</span></td><td>{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td>\
<td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{first}\" title=\"{first}\">{}</td><td>{}</td><td class=\"sum\">{}</td></tr>",
            escape(&ports.join(" ")),
            escape(&hosts.join(" ")),
            if f.kind == FindingKind::Sweep {
                0
            } else {
                f.server.port
            },
            escape(&port_label(f)),
            escape(service),
            if f.kind == FindingKind::GhostPort {
                String::new()
            } else {
                format!(" {}", kind_name(f.kind))
            },
            escape(&f.server.ip.to_string()),
            f.clients_total,
            f.clients_total,
            t.flows,
            t.flows,
            t.c2s.bytes,
            human_bytes(t.c2s.bytes),
            t.s2c.bytes,
            human_bytes(t.s2c.bytes),
            short_time(f.first_ts),
            escape(&proto),
            escape(&f.title),
            first = escape(&rfc3339_micros(f.first_ts)),
            id = escape(&f.id),
            score = f.severity.score,
        );
    }
    h.push_str("</tbody></table></div>");
    explained_table(r.findings.iter().filter(collapsed), h);
    h.push_str("</section>\n");
}

/// The explained findings (known applications, negotiated ports), in a
/// collapsed block under the findings table: counted and one click away,
/// out of the way of the ones to investigate.
fn explained_table<'a>(fs: impl Iterator<Item = &'a Finding>, h: &mut String) {
    let fs: Vec<&Finding> = fs.collect();
    if fs.is_empty() {
        return;
    }
    let _ = write!(
        h,
        "<details id=\"explained\"><summary>{} explained finding{}: known applications and negotiated ports</summary>\
<div class=\"scroll\"><table><thead><tr><th>ID</th><th>Severity</th><th>Port</th><th>Host</th><th>Explained by</th><th>Reason</th></tr></thead><tbody>",
        fs.len(),
        if fs.len() == 1 { "" } else { "s" }
    );
    for f in fs {
        let lvl = f.severity.level.as_str();
        let (app, reason) = f
            .explained
            .as_ref()
            .map(|e| (e.application.as_str(), e.reason.as_str()))
            .unwrap_or_default();
        let _ = write!(
            h,
            "<tr class=\"sev-{lvl}\"><td class=\"nw\"><a href=\"#{id}\">{id}</a></td>\
<td><span class=\"badge sev-{lvl}\">{lvl} {}</span></td><td>{}/{}</td><td>{}</td><td>{}</td><td class=\"sum\">{}</td></tr>",
            f.severity.score,
            f.server.port,
            f.transport,
            escape(&f.server.ip.to_string()),
            escape(app),
            escape(reason),
            id = escape(&f.id),
        );
    }
    h.push_str("</tbody></table></div></details>");
}

/// "2024-01-15 10:00:00" (seconds) for narrow table cells, as HTML.
fn short_time(ns: i64) -> String {
    let s = rfc3339_micros(ns);
    match (s.get(..10), s.get(11..19)) {
        (Some(d), Some(t)) => {
            format!("<span class=\"nw\">{d}</span> <span class=\"nw\">{t}</span>")
        }
        _ => s,
    }
}

fn sev_color(level: &str) -> &'static str {
    match level {
        "critical" => "#8e24aa",
        "high" => "#d32f2f",
        "medium" => "#ef6c00",
        "low" => "#0277bd",
        _ => "#607d8b",
    }
}

const TIMELINE_ROWS: usize = 40;

fn timeline(r: &Report, h: &mut String) {
    h.push_str("<section id=\"timeline\"><h2>Timeline of ghost-port activity</h2>");
    let fs: Vec<&Finding> = r.findings.iter().take(TIMELINE_ROWS).collect();
    let Some(t0) = fs.iter().map(|f| f.first_ts).min() else {
        h.push_str("<p>No activity.</p></section>\n");
        return;
    };
    let t1 = fs.iter().map(|f| f.last_ts).max().unwrap_or(t0).max(t0 + 1);
    let span = (t1 - t0) as f64;
    let (left, width, row_h) = (170.0, 1040.0, 18.0);
    let height = 30.0 + row_h * fs.len() as f64 + 10.0;
    let x = |ts: i64| left + (ts - t0) as f64 / span * (width - left - 10.0);
    let _ = write!(
        h,
        "<svg class=\"timeline\" viewBox=\"0 0 {width} {height}\" width=\"100%\" role=\"img\" aria-label=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for i in 0..=4 {
        let ts = t0 + ((t1 - t0) as f64 * i as f64 / 4.0) as i64;
        let xx = x(ts);
        let label = rfc3339_micros(ts);
        let label = label.get(11..23).unwrap_or(&label).to_string();
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            h,
            "<line x1=\"{xx:.1}\" y1=\"22\" x2=\"{xx:.1}\" y2=\"{:.1}\" class=\"grid\"/>\
<text x=\"{xx:.1}\" y=\"14\" text-anchor=\"{anchor}\" class=\"tick\">{}</text>",
            height - 8.0,
            escape(&label)
        );
    }
    for (i, f) in fs.iter().enumerate() {
        let y = 28.0 + row_h * i as f64;
        let color = sev_color(f.severity.level.as_str());
        let _ = write!(
            h,
            "<a href=\"#{id}\"><text x=\"4\" y=\"{:.1}\" class=\"lbl\">{id} {}</text></a>",
            y + 11.0,
            escape(&port_label(f)),
            id = escape(&f.id)
        );
        let mut marks: Vec<(i64, i64, String)> = f
            .flows
            .iter()
            .map(|fl| {
                (
                    fl.first_ts,
                    fl.last_ts,
                    format!(
                        "flow {} {}:{} → {}:{} {}",
                        fl.id,
                        fl.client.ip,
                        fl.client.port,
                        fl.server.ip,
                        fl.server.port,
                        rfc3339_micros(fl.first_ts)
                    ),
                )
            })
            .collect();
        if marks.is_empty() {
            marks.push((f.first_ts, f.last_ts, f.title.clone()));
        }
        for (a, b, title) in marks {
            let xa = x(a);
            let w = (x(b) - xa).max(3.0);
            let _ = write!(
                h,
                "<rect x=\"{xa:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" rx=\"2\" fill=\"{color}\"><title>{}</title></rect>",
                y + 2.0,
                row_h - 6.0,
                escape(&title)
            );
        }
    }
    h.push_str("</svg>");
    let _ = writeln!(
        h,
        "<p class=\"dim\">Each row is a finding (most severe first{}), each bar a flow from its first to its last packet; span {}.</p></section>",
        if r.findings.len() > TIMELINE_ROWS {
            format!(", first {TIMELINE_ROWS} of {}", r.findings.len())
        } else {
            String::new()
        },
        human_duration(t1 - t0)
    );
}

fn kv(h: &mut String, k: &str, v: &str) {
    let _ = write!(h, "<tr><th>{}</th><td>{}</td></tr>", escape(k), v);
}

fn details(r: &Report, h: &mut String) {
    h.push_str("<section id=\"details\"><h2>Finding details</h2>");
    for f in &r.findings {
        finding_detail(r, f, h);
    }
    h.push_str("</section>\n");
}

fn finding_detail(r: &Report, f: &Finding, h: &mut String) {
    let lvl = f.severity.level.as_str();
    let _ = write!(
        h,
        "<details class=\"finding sev-{lvl}\" id=\"{id}\" open><summary><span class=\"badge sev-{lvl}\">{lvl} {}</span> <b>{id}</b> {}</summary>",
        f.severity.score,
        escape(&f.title),
        id = escape(&f.id)
    );
    h.push_str("<div class=\"grid2\"><div><h4>Traffic</h4><table class=\"kv\">");
    kv(h, "kind", &kind_name(f.kind));
    if let Some(e) = &f.explained {
        kv(
            h,
            if e.collapsed() { "explained" } else { "named" },
            &escape(&e.reason),
        );
    }
    kv(
        h,
        if f.kind == FindingKind::Sweep {
            "source"
        } else if f.kind == FindingKind::GhostSourcePort {
            "client endpoint"
        } else {
            "server"
        },
        &escape(&if f.kind == FindingKind::Sweep {
            f.server.ip.to_string()
        } else {
            format!("{} port {}/{}", f.server.ip, f.server.port, f.transport)
        }),
    );
    kv(
        h,
        "first / last seen",
        &format!(
            "{} → {} ({})",
            escape(&rfc3339_micros(f.first_ts)),
            escape(&rfc3339_micros(f.last_ts)),
            escape(&human_duration(f.last_ts - f.first_ts))
        ),
    );
    let t = &f.totals;
    kv(
        h,
        "flows",
        &format!(
            "{} ({} answered, {} with data both ways, {} refused, {} ICMP errors)",
            t.flows, t.answered, t.data_exchanged, t.rejected, t.icmp_errors
        ),
    );
    kv(
        h,
        "client → server",
        &format!(
            "{} packets, {} ({} payload)",
            t.c2s.packets,
            human_bytes(t.c2s.bytes),
            human_bytes(t.c2s.payload_bytes)
        ),
    );
    kv(
        h,
        "server → client",
        &format!(
            "{} packets, {} ({} payload)",
            t.s2c.packets,
            human_bytes(t.s2c.bytes),
            human_bytes(t.s2c.payload_bytes)
        ),
    );
    let clients: Vec<String> = f.clients.iter().map(|c| c.to_string()).collect();
    kv(
        h,
        "clients",
        &format!(
            "{}{}",
            escape(&clients.join(", ")),
            if f.clients_total > f.clients.len() as u64 {
                format!(" … ({} in all)", f.clients_total)
            } else {
                String::new()
            }
        ),
    );
    let attack: Vec<String> = f
        .attack
        .iter()
        .map(|a| format!("{} {}", escape(&a.id), escape(&a.name)))
        .collect();
    kv(h, "ATT&CK", &attack.join("; "));
    h.push_str("</table><h4>Severity reasons</h4><ul>");
    for x in &f.severity.reasons {
        let _ = write!(h, "<li>{}</li>", escape(x));
    }
    h.push_str("</ul>");
    if !f.behaviours.is_empty() {
        h.push_str("<h4>Behaviours</h4><ul>");
        for b in &f.behaviours {
            let ev: Vec<String> = b
                .evidence
                .iter()
                .map(|(k, v)| format!("{}={}", escape(k), escape(&v.to_string())))
                .collect();
            let _ = write!(
                h,
                "<li><b>{}</b>: {} <span class=\"dim\">{}</span></li>",
                escape(b.kind),
                escape(&b.detail),
                ev.join(" ")
            );
        }
        h.push_str("</ul>");
    }
    h.push_str("</div><div>");
    if let Some(v) = &f.verdict {
        let _ = write!(
            h,
            "<h4>Port verdict: {}/{} is <span class=\"cls\">{}</span>{}</h4><ul>",
            v.port,
            v.transport,
            escape(v.class.as_str()),
            if v.tags.is_empty() {
                String::new()
            } else {
                format!(" ({})", escape(&v.tags.join(", ")))
            }
        );
        for x in &v.reasons {
            let _ = write!(
                h,
                "<li>{} <span class=\"dim\">[{}]</span></li>",
                escape(&x.text),
                escape(&x.source)
            );
        }
        h.push_str("</ul>");
        if let Some(rec) = &v.record {
            h.push_str("<h4>IANA registry record</h4><table class=\"kv\">");
            kv(h, "ports", &escape(&rec.ports));
            kv(h, "service name", &escape(&rec.service_name));
            kv(h, "description", &escape(&rec.description));
            for (k, val) in [
                ("assignee", &rec.assignee),
                ("contact", &rec.contact),
                ("registration date", &rec.registration_date),
                ("modification date", &rec.modification_date),
                ("reference", &rec.reference),
                ("unauthorized use reported", &rec.unauthorized_use_reported),
                ("assignment notes", &rec.assignment_notes),
            ] {
                kv(h, k, &escape(val.as_deref().unwrap_or("—")));
            }
            h.push_str("</table>");
        }
        if !v.abuse.is_empty() {
            h.push_str("<h4>Known abuse</h4><ul>");
            for a in &v.abuse {
                let _ = write!(
                    h,
                    "<li>{} ({}) [{}, {}]</li>",
                    escape(&a.software),
                    escape(&a.attack_id),
                    escape(&a.source),
                    escape(&a.transport_as_written)
                );
            }
            h.push_str("</ul>");
        }
    }
    if !f.protocols.is_empty() {
        h.push_str("<h4>Payload identification</h4>");
        for p in &f.protocols {
            let id = &p.identification;
            let _ = write!(
                h,
                "<p><b>{}</b> ({} confidence, {} flow(s)): {}</p><table class=\"kv small\">",
                escape(&name_of(&id.protocol)),
                escape(&name_of(&id.confidence)),
                p.flows,
                escape(&id.summary)
            );
            for (k, val) in &id.fields {
                kv(h, k, &format!("<code>{}</code>", escape(val)));
            }
            kv(
                h,
                "matched",
                &format!(
                    "{} bytes at offset {} ({}): <code>{}</code>",
                    id.evidence.len,
                    id.evidence.offset,
                    escape(&name_of(&id.evidence.direction)),
                    escape(&id.evidence.hex)
                ),
            );
            kv(h, "rule", &escape(id.evidence.rule));
            h.push_str("</table>");
        }
    }
    h.push_str("</div></div>");
    h.push_str("<h4>Evidence</h4><table class=\"kv\">");
    if let Some(fl) = &f.filter {
        kv(h, "BPF", &format!("<code>{}</code>", escape(&fl.bpf)));
        kv(
            h,
            "Wireshark",
            &format!("<code>{}</code>", escape(&fl.wireshark)),
        );
    }
    if let Some(p) = r.evidence_file(&f.id) {
        kv(
            h,
            "packets",
            &format!("<a href=\"{p}\">{p}</a>", p = escape(&p)),
        );
    }
    h.push_str("</table>");
    if !f.targets.is_empty() {
        let _ = write!(
            h,
            "<h4>Targets ({})</h4><p class=\"targets\">",
            f.targets.len()
        );
        for x in &f.targets {
            let _ = write!(
                h,
                "<span class=\"{}\">{}:{}/{}</span> ",
                if x.answered { "ans" } else { "dim" },
                escape(&x.ip.to_string()),
                x.port,
                x.transport
            );
        }
        h.push_str("</p>");
    }
    if !f.flows.is_empty() {
        flows_table(&f.flows, f.flows_omitted, h);
    }
    h.push_str("</details>\n");
}

fn flows_table(flows: &[FlowRecord], omitted: u64, h: &mut String) {
    h.push_str(
        "<h4>Flows</h4><div class=\"scroll\"><table class=\"flows\"><thead><tr><th>#</th><th>client</th><th>server</th>\
<th>start</th><th>duration</th><th>c→s</th><th>s→c</th><th>end</th><th>identification</th><th>Community ID / filters</th></tr></thead><tbody>",
    );
    for fl in flows {
        let ident = fl
            .identification
            .as_ref()
            .map(|i| i.summary.as_str())
            .unwrap_or("");
        let (bpf, ws) = fl
            .filter
            .as_ref()
            .map(|x| (x.bpf.as_str(), x.wireshark.as_str()))
            .unwrap_or(("", ""));
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"nw\">{} pkts, {}</td><td class=\"nw\">{} pkts, {}</td><td class=\"nw\">{}</td><td>{}</td>\
<td><code>{}</code><details class=\"flt\"><summary>filters</summary>BPF <code>{}</code><br>Wireshark <code>{}</code></details></td></tr>",
            fl.id,
            escape(&endpoint(fl.client.ip, fl.client.port)),
            escape(&endpoint(fl.server.ip, fl.server.port)),
            escape(&rfc3339_micros(fl.first_ts)),
            escape(&human_duration(fl.last_ts - fl.first_ts)),
            fl.c2s.packets,
            human_bytes(fl.c2s.bytes),
            fl.s2c.packets,
            human_bytes(fl.s2c.bytes),
            escape(&name_of(&fl.end)),
            escape(ident),
            escape(&fl.community_id),
            escape(bpf),
            escape(ws),
        );
    }
    h.push_str("</tbody></table></div>");
    if omitted > 0 {
        let _ = write!(
            h,
            "<p class=\"dim\">{omitted} more flow record(s) not kept.</p>"
        );
    }
}

fn endpoint(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

#[derive(Default)]
struct Talker {
    sent: u64,
    received: u64,
    flows: u64,
    findings: std::collections::BTreeSet<String>,
}

fn talkers(r: &Report, h: &mut String) {
    let mut m: BTreeMap<IpAddr, Talker> = BTreeMap::new();
    // Flow records, each once (a flow can be kept by one finding only, but
    // be safe), then each sweep's totals less the flows already counted.
    let mut seen = std::collections::BTreeSet::new();
    let mut kept: Vec<(&FlowRecord, &str)> = Vec::new();
    for f in &r.findings {
        for fl in &f.flows {
            if seen.insert(fl.id) {
                kept.push((fl, &f.id));
            }
        }
    }
    for (fl, id) in &kept {
        for (ip, sent, recv) in [
            (fl.client.ip, fl.c2s.bytes, fl.s2c.bytes),
            (fl.server.ip, fl.s2c.bytes, fl.c2s.bytes),
        ] {
            let t = m.entry(ip).or_default();
            t.sent += sent;
            t.received += recv;
            t.flows += 1;
            t.findings.insert(id.to_string());
        }
    }
    for f in r.findings.iter().filter(|f| f.kind == FindingKind::Sweep) {
        let targets: std::collections::BTreeSet<_> = f
            .targets
            .iter()
            .map(|x| (x.ip, x.port, x.transport))
            .collect();
        let (mut sent, mut recv, mut flows) =
            (f.totals.c2s.bytes, f.totals.s2c.bytes, f.totals.flows);
        for (fl, _) in &kept {
            if targets.contains(&(fl.server.ip, fl.server.port, fl.transport)) {
                sent = sent.saturating_sub(fl.c2s.bytes);
                recv = recv.saturating_sub(fl.s2c.bytes);
                flows = flows.saturating_sub(1);
            }
        }
        let t = m.entry(f.server.ip).or_default();
        t.sent += sent;
        t.received += recv;
        t.flows += flows;
        t.findings.insert(f.id.clone());
    }
    let mut v: Vec<(IpAddr, Talker)> = m.into_iter().collect();
    v.sort_by(|a, b| {
        (b.1.sent + b.1.received)
            .cmp(&(a.1.sent + a.1.received))
            .then(a.0.cmp(&b.0))
    });
    h.push_str("<section id=\"talkers\"><h2>Top talkers</h2>");
    if v.is_empty() {
        h.push_str("<p>None.</p></section>\n");
        return;
    }
    h.push_str(
        "<table class=\"sortable\"><thead><tr><th data-type=\"text\">host</th><th data-type=\"num\">bytes sent</th>\
<th data-type=\"num\">bytes received</th><th data-type=\"num\">flows</th><th data-type=\"text\">findings</th></tr></thead><tbody>",
    );
    for (ip, t) in v.iter().take(15) {
        let ids: Vec<String> = t
            .findings
            .iter()
            .take(12)
            .map(|i| format!("<a href=\"#{i}\">{i}</a>", i = escape(i)))
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td data-v=\"{}\">{}</td><td>{}{}</td></tr>",
            escape(&ip.to_string()),
            t.sent,
            human_bytes(t.sent),
            t.received,
            human_bytes(t.received),
            t.flows,
            t.flows,
            ids.join(" "),
            if t.findings.len() > 12 { " …" } else { "" }
        );
    }
    h.push_str("</tbody></table><p class=\"dim\">Bytes on the wire of the findings' flows (ghost-port traffic only); a sweep's probes count for its source.</p></section>\n");
}

fn provenance(r: &Report, h: &mut String) {
    let m = &r.meta;
    let s = &r.summary;
    h.push_str("<section id=\"provenance\"><h2>Provenance</h2><div class=\"grid2\"><div><h4>Run</h4><table class=\"kv\">");
    kv(h, "ghostport", &escape(m.version));
    kv(h, "report schema", &escape(m.schema_version));
    kv(h, "knowledge base", &escape(&m.data.knowledge_base));
    kv(h, "IANA registry", &escape(&m.data.registry));
    let cmd: Vec<String> = m.command_line.iter().map(|a| shell_quote(a)).collect();
    kv(
        h,
        "command line",
        &format!("<code>{}</code>", escape(&cmd.join(" "))),
    );
    kv(h, "analysis start", &escape(&m.analysis_start));
    kv(h, "analysis end", &escape(&m.analysis_end));
    kv(h, "elapsed", &format!("{} s", m.elapsed_s));
    kv(h, "complete", if m.complete { "yes" } else { "<b>no</b>" });
    for e in &m.errors {
        kv(h, "error", &escape(e));
    }
    h.push_str("</table></div><div><h4>Packets</h4><table class=\"kv\">");
    let p = &s.packets;
    kv(h, "frames read", &p.frames.to_string());
    kv(h, "bytes on the wire", &human_bytes(p.wire_bytes));
    kv(
        h,
        "decoded",
        &format!(
            "{} ({} TCP, {} UDP, {} ICMP errors)",
            p.decoded, p.tcp, p.udp, p.icmp_errors
        ),
    );
    kv(
        h,
        "truncated frames (snaplen)",
        &p.truncated_frames.to_string(),
    );
    kv(h, "first fragments", &p.first_fragments.to_string());
    let skipped: u64 = p.skipped.values().sum();
    kv(
        h,
        "skipped",
        &format!("{skipped} ({} malformed)", p.malformed),
    );
    for (reason, n) in &p.skipped {
        kv(h, &format!("  skipped: {reason}"), &n.to_string());
    }
    h.push_str("</table><h4>Flows</h4><table class=\"kv\">");
    let ft = &s.flow_table;
    kv(
        h,
        "flows",
        &format!(
            "{} ({} TCP, {} UDP, {} ghost)",
            s.flows.total, s.flows.tcp, s.flows.udp, s.flows.ghost
        ),
    );
    kv(
        h,
        "table",
        &format!(
            "created {}, peak {}, timed out {}, reused {}",
            ft.stats.created, ft.stats.peak, ft.stats.timed_out, ft.stats.reused
        ),
    );
    kv(
        h,
        "evicted (table full)",
        &format!("{} (--max-flows {})", ft.stats.evicted, ft.max_flows),
    );
    kv(
        h,
        "ICMP errors without a flow",
        &ft.stats.icmp_unmatched.to_string(),
    );
    kv(
        h,
        "limits",
        &format!(
            "payload cap {} B, TCP timeout {} s, UDP timeout {} s",
            ft.payload_cap, ft.tcp_timeout_s, ft.udp_timeout_s
        ),
    );
    kv(
        h,
        "findings not kept (cap)",
        &s.findings_dropped.to_string(),
    );
    h.push_str("</table></div></div><h4>Inputs</h4><div class=\"scroll\"><table class=\"inputs\"><thead><tr><th>input</th><th>format</th><th>size</th><th>SHA-256</th><th>first packet</th><th>last packet</th><th>link types</th><th>frames</th><th>error</th></tr></thead><tbody>");
    for i in &r.inputs {
        let sm = &i.summary;
        let lts: Vec<String> = sm
            .linktypes
            .iter()
            .map(|l| format!("{} ({l})", linktype_name(*l)))
            .collect();
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{} B</td><td><code class=\"hash\">{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&sm.name),
            escape(&sm.format),
            sm.size,
            escape(&sm.sha256),
            escape(&sm.first_ts_nanos.map(rfc3339_micros).unwrap_or_default()),
            escape(&sm.last_ts_nanos.map(rfc3339_micros).unwrap_or_default()),
            escape(&lts.join(", ")),
            sm.frames,
            escape(i.error.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</tbody></table></div>");
    h.push_str("<h4>Suppressed by site policy</h4>");
    if s.suppressed.is_empty() {
        h.push_str("<p class=\"dim\">Nothing suppressed.</p>");
    } else {
        h.push_str("<table><thead><tr><th>rule</th><th>origin</th><th>note</th><th>findings</th><th>flows</th></tr></thead><tbody>");
        for x in &s.suppressed {
            let _ = write!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&x.rule),
                escape(&x.origin),
                escape(&x.note),
                x.findings,
                x.flows
            );
        }
        h.push_str("</tbody></table>");
    }
    if let Some(e) = &r.evidence {
        let _ = write!(
            h,
            "<h4>Evidence folder</h4><p><code>{}</code>: {} file(s) and index.json</p>",
            escape(&e.dir),
            e.files.len()
        );
        for x in &e.errors {
            let _ = write!(h, "<p class=\"status bad\">{}</p>", escape(x));
        }
    }
    h.push_str("</section>\n");
}

fn shell_quote(a: &str) -> String {
    if !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        let j = script_json(&"</script><!-- \u{2028}\u{2029} & >");
        assert!(!j.contains('<') && !j.contains('>') && !j.contains('&'));
        assert!(!j.contains('\u{2028}') && !j.contains('\u{2029}'));
        let back: String = serde_json::from_str(&j).unwrap();
        assert_eq!(back, "</script><!-- \u{2028}\u{2029} & >");
    }
}
