//! The swap area header, written and read in Rust (what `mkswap` writes, what `blkid`,
//! `swaplabel` and the kernel read).
//!
//! The first page of a swap area holds 1024 boot bytes, then `version` (1), `last_page`
//! (the index of the last usable page), `nr_badpages` (0), a 16-byte UUID and a 16-byte
//! label, all native-endian; the page ends with the ten-byte magic `SWAPSPACE2`. The page
//! size is the kernel's (`sysconf(PAGE_SIZE)`), so a header is only valid for the page
//! size it was made with.

use serde::Serialize;

use crate::error::InputError;

/// The magic of a version 1 swap area, at `page_size - 10`.
pub const MAGIC_V1: &[u8; 10] = b"SWAPSPACE2";
/// The magic of the long-gone version 0 swap area.
pub const MAGIC_V0: &[u8; 10] = b"SWAP-SPACE";
/// Signatures a hibernation image leaves where the swap magic was (swsusp, uswsusp,
/// TuxOnIce, the old "LINHIB"): the area holds a suspended system and must not be
/// overwritten.
const HIBERNATION_MAGICS: [&[u8]; 5] = [
    b"S1SUSPEND",
    b"S2SUSPEND",
    b"ULSUSPEND",
    b"LINHIB0001",
    b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c",
];
/// Page sizes a swap area may have been made with (x86 4K up to 64K on arm64/ppc64).
pub const PAGE_SIZES: [u64; 5] = [4096, 8192, 16384, 32768, 65536];
/// The most bytes [`read_signature`] looks at.
pub const PROBE_BYTES: usize = 65536;
/// The smallest swap area `mkswap` makes, in pages.
pub const MIN_PAGES: u64 = 10;
/// A label's maximum length in bytes.
pub const LABEL_MAX: usize = 16;

const OFF_VERSION: usize = 1024;
const OFF_LAST_PAGE: usize = 1028;
const OFF_NR_BADPAGES: usize = 1032;
const OFF_UUID: usize = 1036;
const OFF_LABEL: usize = 1052;

/// A version 1 swap header, as read from a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwapHeader {
    /// The page size the header was made for (where its magic sits).
    pub page_size: u64,
    /// The header version (1).
    pub version: u32,
    /// The index of the last page of the area.
    pub last_page: u32,
    /// The count of bad pages listed (0 for files).
    pub nr_badpages: u32,
    /// The UUID, as text (`8-4-4-4-12` lowercase hex).
    pub uuid: String,
    /// The label (empty when none).
    pub label: String,
    /// Whether the fields are in this machine's byte order (a header from another
    /// architecture is still a swap area, but not one this kernel can use).
    pub native_endian: bool,
}

impl SwapHeader {
    /// The size in bytes of the area this header describes (`(last_page + 1) * page_size`).
    pub fn area_bytes(&self) -> u64 {
        (u64::from(self.last_page) + 1) * self.page_size
    }

    /// Whether this header is the one a file of `file_size` bytes should have on a kernel
    /// with `page_size` pages.
    pub fn fits(&self, page_size: u64, file_size: u64) -> bool {
        self.native_endian
            && self.version == 1
            && self.page_size == page_size
            && self.nr_badpages == 0
            && Some(self.last_page) == last_page_for(page_size, file_size)
    }
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Signature {
    /// A version 1 swap area.
    Swap(SwapHeader),
    /// A version 0 swap area (only its magic is known).
    SwapV0 {
        /// The page size of its magic.
        page_size: u64,
    },
    /// A hibernation image: a suspended system's memory. Never overwrite.
    Hibernation {
        /// The page size of its signature.
        page_size: u64,
        /// The signature found.
        magic: String,
    },
    /// No swap or hibernation signature.
    None,
}

impl Signature {
    /// Whether this is a swap area (any version).
    #[cfg_attr(not(feature = "testing"), allow(dead_code))] // used by hostfix::testing
    pub fn is_swap(&self) -> bool {
        matches!(self, Signature::Swap(_) | Signature::SwapV0 { .. })
    }
}

/// The `last_page` of a swap area filling `file_size` bytes, when it is big enough and
/// fits the 32-bit field.
pub fn last_page_for(page_size: u64, file_size: u64) -> Option<u32> {
    if page_size == 0 {
        return None;
    }
    let pages = file_size / page_size;
    if pages < MIN_PAGES {
        return None;
    }
    u32::try_from(pages - 1).ok()
}

/// Reads the signature from the first bytes of a file (up to [`PROBE_BYTES`]).
pub fn read_signature(bytes: &[u8]) -> Signature {
    for &ps in &PAGE_SIZES {
        let ps_us = ps as usize;
        if bytes.len() < ps_us {
            break;
        }
        let magic = &bytes[ps_us - 10..ps_us];
        if magic == MAGIC_V1 {
            return Signature::Swap(parse_v1(bytes, ps));
        }
        if magic == MAGIC_V0 {
            return Signature::SwapV0 { page_size: ps };
        }
        if let Some(m) = HIBERNATION_MAGICS.iter().find(|m| magic.starts_with(m)) {
            return Signature::Hibernation {
                page_size: ps,
                magic: String::from_utf8_lossy(m).into_owned(),
            };
        }
    }
    Signature::None
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(a)
}

fn parse_v1(bytes: &[u8], page_size: u64) -> SwapHeader {
    let mut version = u32_at(bytes, OFF_VERSION);
    let mut last_page = u32_at(bytes, OFF_LAST_PAGE);
    let mut nr_badpages = u32_at(bytes, OFF_NR_BADPAGES);
    let native_endian = version == 1 || version.swap_bytes() != 1;
    if !native_endian {
        version = version.swap_bytes();
        last_page = last_page.swap_bytes();
        nr_badpages = nr_badpages.swap_bytes();
    }
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&bytes[OFF_UUID..OFF_UUID + 16]);
    let label_bytes = &bytes[OFF_LABEL..OFF_LABEL + LABEL_MAX];
    let end = label_bytes
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(LABEL_MAX);
    SwapHeader {
        page_size,
        version,
        last_page,
        nr_badpages,
        uuid: format_uuid(&uuid),
        label: String::from_utf8_lossy(&label_bytes[..end]).into_owned(),
        native_endian,
    }
}

/// Checks a label: at most 16 bytes, no NUL, no newline.
///
/// # Errors
/// [`InputError`] naming the label.
pub fn check_label(label: &str) -> Result<(), InputError> {
    let bad = |why: &str| {
        InputError::new(
            "swap label",
            label,
            why,
            "at most 16 bytes of text without NUL or newline",
        )
    };
    if label.len() > LABEL_MAX {
        return Err(bad("longer than 16 bytes"));
    }
    if label.contains(['\0', '\n']) {
        return Err(bad("contains NUL or a newline"));
    }
    Ok(())
}

/// Builds the first page of a swap area of `file_size` bytes (the rest of the area is not
/// read by the kernel and may hold anything; hostfix leaves it zeroed).
///
/// # Errors
/// [`InputError`] when the area is smaller than ten pages, too big for the header's
/// 32-bit page count, or the label is invalid.
pub fn build_header(
    page_size: u64,
    file_size: u64,
    uuid: &[u8; 16],
    label: &str,
) -> Result<Vec<u8>, InputError> {
    check_label(label)?;
    if !PAGE_SIZES.contains(&page_size) {
        return Err(InputError::new(
            "page size",
            page_size.to_string(),
            "not a page size Linux uses",
            "4096, 8192, 16384, 32768 or 65536",
        ));
    }
    let last_page = last_page_for(page_size, file_size).ok_or_else(|| {
        InputError::new(
            "swap size",
            file_size.to_string(),
            "must be at least ten pages and at most 2^32 pages",
            format!("a size between {} bytes and 16 TiB", MIN_PAGES * page_size),
        )
    })?;
    let mut page = vec![0u8; page_size as usize];
    page[OFF_VERSION..OFF_VERSION + 4].copy_from_slice(&1u32.to_ne_bytes());
    page[OFF_LAST_PAGE..OFF_LAST_PAGE + 4].copy_from_slice(&last_page.to_ne_bytes());
    page[OFF_NR_BADPAGES..OFF_NR_BADPAGES + 4].copy_from_slice(&0u32.to_ne_bytes());
    page[OFF_UUID..OFF_UUID + 16].copy_from_slice(uuid);
    page[OFF_LABEL..OFF_LABEL + label.len()].copy_from_slice(label.as_bytes());
    let ps = page_size as usize;
    page[ps - 10..].copy_from_slice(MAGIC_V1);
    Ok(page)
}

/// Formats 16 bytes as a UUID (`8-4-4-4-12` lowercase hex).
pub fn format_uuid(b: &[u8; 16]) -> String {
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Parses a UUID in `8-4-4-4-12` hex form (as `/proc/sys/kernel/random/uuid` gives it).
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let t = text.trim();
    let groups: Vec<&str> = t.split('-').collect();
    if groups.iter().map(|g| g.len()).collect::<Vec<_>>() != [8, 4, 4, 4, 12] {
        return None;
    }
    let hex: String = groups.concat();
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A random (version 4) UUID from 16 random bytes.
pub fn uuid_v4(mut random: [u8; 16]) -> [u8; 16] {
    random[6] = (random[6] & 0x0f) | 0x40;
    random[8] = (random[8] & 0x3f) | 0x80;
    random
}

#[cfg(test)]
mod tests {
    use super::*;

    const UUID: [u8; 16] = [
        0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0x4d, 0xef, 0x81, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
        0xef,
    ];

    #[test]
    fn round_trip() {
        let page = build_header(4096, 16 << 20, &UUID, "hostfix").unwrap();
        assert_eq!(page.len(), 4096);
        assert_eq!(&page[4086..], b"SWAPSPACE2");
        let Signature::Swap(h) = read_signature(&page) else {
            panic!("not read back")
        };
        assert_eq!(h.version, 1);
        assert_eq!(h.last_page, 4095);
        assert_eq!(h.uuid, "12345678-9abc-4def-8123-456789abcdef");
        assert_eq!(h.label, "hostfix");
        assert!(h.fits(4096, 16 << 20));
        assert!(!h.fits(4096, 32 << 20), "size mismatch");
        assert!(!h.fits(65536, 16 << 20), "page size mismatch");
        assert_eq!(h.area_bytes(), 16 << 20);
    }

    #[test]
    fn other_page_sizes_and_odd_sizes() {
        let page = build_header(65536, (64 << 20) + 100, &UUID, "").unwrap();
        let Signature::Swap(h) = read_signature(&page) else {
            panic!()
        };
        assert_eq!(h.page_size, 65536);
        assert_eq!(h.last_page, 1023);
        assert_eq!(h.label, "");
        assert!(build_header(4096, 9 * 4096, &UUID, "").is_err());
        assert!(build_header(4096, 1 << 20, &UUID, "seventeen-bytes!!").is_err());
        assert!(build_header(4000, 1 << 20, &UUID, "").is_err());
        let full = build_header(4096, 1 << 20, &UUID, "sixteen-bytes-ab").unwrap();
        let Signature::Swap(h) = read_signature(&full) else {
            panic!()
        };
        assert_eq!(h.label, "sixteen-bytes-ab");
    }

    #[test]
    fn hibernation_v0_and_nothing() {
        let mut page = vec![0u8; 4096];
        page[4086..4095].copy_from_slice(b"S1SUSPEND");
        assert!(matches!(
            read_signature(&page),
            Signature::Hibernation {
                page_size: 4096,
                ..
            }
        ));
        page[4086..].copy_from_slice(MAGIC_V0);
        assert_eq!(read_signature(&page), Signature::SwapV0 { page_size: 4096 });
        assert!(read_signature(&page).is_swap());
        assert_eq!(read_signature(&[0u8; 8192]), Signature::None);
        assert_eq!(read_signature(b"short"), Signature::None);
    }

    #[test]
    fn foreign_endian_is_swap_but_unusable() {
        let mut page = build_header(4096, 1 << 20, &UUID, "").unwrap();
        for off in [OFF_VERSION, OFF_LAST_PAGE] {
            let v = u32_at(&page, off).swap_bytes();
            page[off..off + 4].copy_from_slice(&v.to_ne_bytes());
        }
        let Signature::Swap(h) = read_signature(&page) else {
            panic!()
        };
        assert!(!h.native_endian);
        assert_eq!(h.last_page, 255);
        assert!(!h.fits(4096, 1 << 20));
    }

    #[test]
    fn uuids() {
        let u = parse_uuid("12345678-9abc-4def-8123-456789abcdef\n").unwrap();
        assert_eq!(u, UUID);
        assert_eq!(format_uuid(&u), "12345678-9abc-4def-8123-456789abcdef");
        assert!(parse_uuid("1234").is_none());
        assert!(parse_uuid("1234567g-9abc-4def-8123-456789abcdef").is_none());
        let v = uuid_v4([0xff; 16]);
        assert_eq!(v[6] >> 4, 4);
        assert_eq!(v[8] >> 6, 2);
    }
}
