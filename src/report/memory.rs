//! The process's memory figure for the report.

/// Peak resident set size of this process in bytes (`VmHWM` in
/// `/proc/self/status`), or None where that is not available (not Linux).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    vm_hwm(&status)
}

fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let mut parts = line.split_whitespace().skip(1);
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => n.checked_mul(1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vm_hwm() {
        assert_eq!(
            vm_hwm("Name:\tx\nVmPeak:\t  9 kB\nVmHWM:\t   1234 kB\n"),
            Some(1234 * 1024)
        );
        assert_eq!(vm_hwm("VmHWM: 12 MB\n"), None);
        assert_eq!(vm_hwm("Name: x\n"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn reads_own_peak_on_linux() {
        let v = peak_rss_bytes().unwrap();
        assert!(v > 100 * 1024, "{v}");
    }
}
