//! Link-layer type numbers (LINKTYPE_* as stored in files, and the DLT_*
//! values libpcap reports on some platforms).

/// LINKTYPE_NULL: BSD loopback, host-endian 4-byte address family.
pub const NULL: u32 = 0;
/// LINKTYPE_ETHERNET.
pub const ETHERNET: u32 = 1;
/// LINKTYPE_PPP.
pub const PPP: u32 = 9;
/// LINKTYPE_RAW: raw IPv4 or IPv6 (DLT_RAW is 12 or 14 on some platforms).
pub const RAW: u32 = 101;
/// LINKTYPE_C_HDLC (Cisco HDLC).
pub const C_HDLC: u32 = 104;
/// LINKTYPE_IEEE802_11.
pub const IEEE802_11: u32 = 105;
/// LINKTYPE_LOOP: OpenBSD loopback, big-endian address family.
pub const LOOP: u32 = 108;
/// LINKTYPE_LINUX_SLL: Linux cooked capture v1.
pub const LINUX_SLL: u32 = 113;
/// LINKTYPE_IEEE802_11_RADIOTAP.
pub const IEEE802_11_RADIOTAP: u32 = 127;
/// LINKTYPE_IPV4: raw IPv4.
pub const IPV4: u32 = 228;
/// LINKTYPE_IPV6: raw IPv6.
pub const IPV6: u32 = 229;
/// LINKTYPE_NFLOG: Linux netfilter log.
pub const NFLOG: u32 = 239;
/// LINKTYPE_PKTAP: Apple PKTAP (DLT_PKTAP is 149 on Apple platforms).
pub const PKTAP: u32 = 258;
/// LINKTYPE_LINUX_SLL2: Linux cooked capture v2.
pub const LINUX_SLL2: u32 = 276;

/// Maps platform DLT_* values that differ from their LINKTYPE_* value (as
/// libpcap's `pcap_datalink()` may return them) to the LINKTYPE_* number, so
/// both readers report the same number. Other values pass through.
pub fn canonical_linktype(v: u32) -> u32 {
    match v {
        // DLT_RAW on Linux/most BSDs (12) and OpenBSD (14).
        12 | 14 => RAW,
        // DLT_ATM_RFC1483
        11 => 100,
        // DLT_SLIP_BSDOS, DLT_PPP_BSDOS
        15 => 102,
        16 => 103,
        // DLT_ATM_CLIP (Linux)
        19 => 106,
        // DLT_PKTAP on Apple platforms
        #[cfg(target_vendor = "apple")]
        149 => PKTAP,
        _ => v,
    }
}

/// A short name for a link type, for messages ("ETHERNET", "LINUX_SLL2", ...).
/// Unknown values give "unknown".
pub fn linktype_name(v: u32) -> &'static str {
    match v {
        0 => "NULL",
        1 => "ETHERNET",
        3 => "AX25",
        6 => "IEEE802_5",
        7 => "ARCNET_BSD",
        8 => "SLIP",
        9 => "PPP",
        10 => "FDDI",
        12 | 14 | 101 => "RAW",
        50 => "PPP_HDLC",
        51 => "PPP_ETHER",
        100 => "ATM_RFC1483",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        107 => "FRELAY",
        108 => "LOOP",
        113 => "LINUX_SLL",
        114 => "LTALK",
        117 => "PFLOG",
        119 => "IEEE802_11_PRISM",
        122 => "IP_OVER_FC",
        127 => "IEEE802_11_RADIOTAP",
        129 => "ARCNET_LINUX",
        138 => "APPLE_IP_OVER_IEEE1394",
        139 => "MTP2_WITH_PHDR",
        140 => "MTP2",
        141 => "MTP3",
        142 => "SCCP",
        143 => "DOCSIS",
        144 => "LINUX_IRDA",
        #[cfg(target_vendor = "apple")]
        149 => "PKTAP",
        147..=162 => "USER",
        163 => "IEEE802_11_AVS",
        165 => "BACNET_MS_TP",
        166 => "PPP_PPPD",
        169 => "GPRS_LLC",
        177 => "LINUX_LAPD",
        182 => "MFR",
        187 => "BLUETOOTH_HCI_H4",
        189 => "USB_LINUX",
        192 => "PPI",
        195 => "IEEE802_15_4_WITHFCS",
        201 => "BLUETOOTH_HCI_H4_WITH_PHDR",
        209 => "IPMB_LINUX",
        215 => "IEEE802_15_4_NONASK_PHY",
        220 => "USB_LINUX_MMAPPED",
        227 => "CAN_SOCKETCAN",
        228 => "IPV4",
        229 => "IPV6",
        230 => "IEEE802_15_4_NOFCS",
        231 => "DBUS",
        235 => "DVB_CI",
        239 => "NFLOG",
        240 => "NETANALYZER",
        241 => "NETANALYZER_TRANSPARENT",
        242 => "IPOIB",
        249 => "USBPCAP",
        251 => "BLUETOOTH_LE_LL",
        252 => "WIRESHARK_UPPER_PDU",
        253 => "NETLINK",
        254 => "BLUETOOTH_LINUX_MONITOR",
        256 => "BLUETOOTH_BREDR_BB",
        257 => "BLUETOOTH_LE_LL_WITH_PHDR",
        258 => "PKTAP",
        259 => "EPON",
        263 => "ISO_14443",
        264 => "RDS",
        265 => "USB_DARWIN",
        267 => "SDLC",
        270 => "LORATAP",
        271 => "VSOCK",
        272 => "NORDIC_BLE",
        273 => "DOCSIS31_XRA31",
        274 => "ETHERNET_MPACKET",
        275 => "DISPLAYPORT_AUX",
        276 => "LINUX_SLL2",
        278 => "OPENVIZSLA",
        279 => "EBHSCR",
        281 => "WATTSTOPPER_DLM",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_canonical_values() {
        assert_eq!(linktype_name(ETHERNET), "ETHERNET");
        assert_eq!(linktype_name(12), "RAW");
        assert_eq!(linktype_name(LINUX_SLL2), "LINUX_SLL2");
        assert_eq!(linktype_name(150), "USER");
        assert_eq!(linktype_name(PKTAP), "PKTAP");
        assert_eq!(linktype_name(99_999), "unknown");
        assert_eq!(canonical_linktype(12), RAW);
        assert_eq!(canonical_linktype(14), RAW);
        assert_eq!(canonical_linktype(ETHERNET), ETHERNET);
        assert_eq!(canonical_linktype(NFLOG), NFLOG);
    }
}
