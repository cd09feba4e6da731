//! Berkeley DB `Packages`: the hash database rpm < 4.16 keeps one RPM header per installed
//! package in, keyed by the package's instance number.
//!
//! Page format (Berkeley DB 4.x/5.x `dbinc/db_page.h`; documented for rpm databases by
//! snyk/rpm-parser's `lib/berkeleydb/README.md` and read the same way by knqyf263/go-rpmdb's
//! `pkg/bdb/`), all numbers in the byte order of the machine that wrote the file (the metadata
//! magic tells which):
//!
//! - page 0, the hash metadata page: magic `0x061561` at 12, page size at 20, encryption
//!   algorithm at 24, page type 8 at 25, meta flags at 26 (bit 0: pages carry checksums), last
//!   page number at 32;
//! - every page: a 26-byte header (page number at 8, next page at 16, entry count at 20,
//!   `hf_offset` at 22, type at 25), then 6 more bytes when pages carry checksums;
//! - hash pages (type 13, or 2 before Berkeley DB 4.6): after the header, `entries` 16-bit
//!   offsets of items, key and value alternating; items are packed from the end of the page
//!   down, so an item ends where the previous one starts. An item's first byte is its type:
//!   1 data inline, 3 off-page (`{type, 3 unused, page: u32, length: u32}`);
//! - overflow pages (type 7): `hf_offset` bytes of the value after the header, continued on
//!   the next page until the next page is 0.
//!
//! Values are read by walking every page from 1 to the last (as go-rpmdb does); the key whose
//! 4 bytes are zero holds rpm's next instance number, not a header. Every page number, offset
//! and length is bounded by the file, an overflow chain may visit each page at most once and
//! must deliver exactly the length its item announced. Duplicate items (types 2 and 4) never
//! occur in rpm's database and are rejected. This module only reads the bytes it is given.

use super::{Source, VisitHeader};
use crate::pkgdb::Error;

const HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HEADER_BYTES: usize = 26;
/// `PG_CHKSUM`: 2 bytes of alignment and a 4-byte checksum after the page header.
const CHECKSUM_BYTES: usize = 6;
const META_FLAG_CHECKSUM: u8 = 0x01;

const PAGE_TYPE_HASH_UNSORTED: u8 = 2;
const PAGE_TYPE_OVERFLOW: u8 = 7;
const PAGE_TYPE_HASH_META: u8 = 8;
const PAGE_TYPE_HASH: u8 = 13;

const ITEM_KEY_DATA: u8 = 1;
const ITEM_DUPLICATE: u8 = 2;
const ITEM_OFF_PAGE: u8 = 3;
const ITEM_OFF_PAGE_DUPLICATE: u8 = 4;
const OFF_PAGE_ITEM_BYTES: usize = 12;

/// The byte order the database was written in.
#[derive(Clone, Copy)]
enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    fn u16_at(self, bytes: &[u8], at: usize) -> Option<u16> {
        let chunk: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            Self::Little => u16::from_le_bytes(chunk),
            Self::Big => u16::from_be_bytes(chunk),
        })
    }

    fn u32_at(self, bytes: &[u8], at: usize) -> Option<u32> {
        let chunk: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Self::Little => u32::from_le_bytes(chunk),
            Self::Big => u32::from_be_bytes(chunk),
        })
    }
}

/// The database's geometry, from its metadata page.
struct Layout<'a> {
    bytes: &'a [u8],
    order: ByteOrder,
    page_size: usize,
    /// Page header plus checksum area: where a page's index or overflow data starts.
    page_overhead: usize,
    last_page: u32,
}

impl<'a> Layout<'a> {
    fn read(source: &Source<'_>, bytes: &'a [u8]) -> Result<Self, Error> {
        let order = match (
            ByteOrder::Little.u32_at(bytes, 12),
            ByteOrder::Big.u32_at(bytes, 12),
        ) {
            (Some(HASH_MAGIC), _) => ByteOrder::Little,
            (_, Some(HASH_MAGIC)) => ByteOrder::Big,
            (Some(magic), _) => {
                return Err(source.malformed(format!(
                    "not a Berkeley DB hash database (magic {magic:#010x} at offset 12, \
                     expected {HASH_MAGIC:#08x})"
                )));
            }
            (None, _) => {
                return Err(source.malformed(format!(
                    "{} bytes are too short for a Berkeley DB metadata page",
                    bytes.len()
                )));
            }
        };
        let field = |at| order.u32_at(bytes, at);
        let page_size = field(20).unwrap_or_default();
        if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
            return Err(source.malformed(format!(
                "page size {page_size} is not a power of two from 512 to 65536"
            )));
        }
        let page_size = page_size as usize;
        let encryption = bytes.get(24).copied().unwrap_or_default();
        if encryption != 0 {
            return Err(source.malformed(format!(
                "pages are encrypted (algorithm {encryption}), which rpm never does"
            )));
        }
        let page_type = bytes.get(25).copied().unwrap_or_default();
        if page_type != PAGE_TYPE_HASH_META {
            return Err(source.malformed(format!(
                "page 0 has type {page_type}, expected {PAGE_TYPE_HASH_META} (hash metadata)"
            )));
        }
        let meta_flags = bytes.get(26).copied().unwrap_or_default();
        let page_overhead = if meta_flags & META_FLAG_CHECKSUM == 0 {
            PAGE_HEADER_BYTES
        } else {
            PAGE_HEADER_BYTES + CHECKSUM_BYTES
        };
        let last_page = field(32).unwrap_or_default();
        let needed = (u64::from(last_page) + 1) * page_size as u64;
        if (bytes.len() as u64) < needed {
            return Err(source.malformed(format!(
                "file is truncated: the metadata's last page {last_page} ends at byte {needed}, \
                 the file has {}",
                bytes.len()
            )));
        }
        Ok(Self {
            bytes,
            order,
            page_size,
            page_overhead,
            last_page,
        })
    }

    /// Page `number`, which the caller has checked is at most `last_page`.
    fn page(&self, number: u32) -> &'a [u8] {
        let start = number as usize * self.page_size;
        self.bytes
            .get(start..start + self.page_size)
            .unwrap_or_default()
    }
}

/// Calls `visit` with each header blob, in page order, and a description of where it was
/// found.
pub(super) fn for_each_header(
    source: &Source<'_>,
    bytes: &[u8],
    visit: &mut VisitHeader<'_>,
) -> Result<(), Error> {
    let layout = Layout::read(source, bytes)?;
    // An overflow page belongs to one value: marking it used bounds the work of all chains
    // together by the file's size, whatever cycles or shared pages a hostile file has.
    let mut overflow_used = vec![false; layout.last_page as usize + 1];
    for number in 1..=layout.last_page {
        let page = layout.page(number);
        let page_type = page.get(25).copied().unwrap_or_default();
        if page_type != PAGE_TYPE_HASH && page_type != PAGE_TYPE_HASH_UNSORTED {
            continue;
        }
        read_hash_page(source, &layout, number, page, &mut overflow_used, visit)?;
    }
    Ok(())
}

fn read_hash_page(
    source: &Source<'_>,
    layout: &Layout<'_>,
    number: u32,
    page: &[u8],
    overflow_used: &mut [bool],
    visit: &mut VisitHeader<'_>,
) -> Result<(), Error> {
    let order = layout.order;
    let entries = usize::from(order.u16_at(page, 20).unwrap_or_default());
    if entries % 2 != 0 {
        return Err(source.malformed(format!(
            "hash page {number} has {entries} items, expected key/value pairs"
        )));
    }
    let index_end = layout.page_overhead + 2 * entries;
    if index_end > page.len() {
        return Err(source.malformed(format!(
            "hash page {number}: {entries} item offsets do not fit in the page"
        )));
    }
    // Items are packed downwards from the end of the page: item i ends where item i-1 starts.
    let mut item_end = page.len();
    let mut items = Vec::with_capacity(entries);
    for item in 0..entries {
        let offset = usize::from(
            order
                .u16_at(page, layout.page_overhead + 2 * item)
                .unwrap_or_default(),
        );
        if offset < index_end || offset >= item_end {
            return Err(source.malformed(format!(
                "hash page {number}: item {item} at offset {offset} is outside \
                 {index_end}..{item_end}"
            )));
        }
        items.push(page.get(offset..item_end).unwrap_or_default());
        item_end = offset;
    }
    for (pair, key_value) in items.chunks_exact(2).enumerate() {
        let &[key, value] = key_value else { continue };
        let location = || format!("page {number} pair {pair}");
        // The key is an inline item holding the package's instance number; instance 0 is
        // rpm's counter of instance numbers, not a package.
        if key.first() == Some(&ITEM_KEY_DATA)
            && key.get(1..).is_some_and(|key| key.iter().all(|&b| b == 0))
        {
            continue;
        }
        match value.first().copied().unwrap_or_default() {
            ITEM_KEY_DATA => visit(location(), value.get(1..).unwrap_or_default())?,
            ITEM_OFF_PAGE => {
                let blob = read_overflow(source, layout, number, value, overflow_used)?;
                visit(location(), &blob)?;
            }
            item_type @ (ITEM_DUPLICATE | ITEM_OFF_PAGE_DUPLICATE) => {
                return Err(source.malformed(format!(
                    "{}: duplicate items (type {item_type}) are not used by rpm",
                    location()
                )));
            }
            item_type => {
                return Err(
                    source.malformed(format!("{}: unknown item type {item_type}", location()))
                );
            }
        }
    }
    Ok(())
}

/// Reassembles an off-page value from its chain of overflow pages.
fn read_overflow(
    source: &Source<'_>,
    layout: &Layout<'_>,
    hash_page: u32,
    item: &[u8],
    overflow_used: &mut [bool],
) -> Result<Vec<u8>, Error> {
    if item.len() < OFF_PAGE_ITEM_BYTES {
        return Err(source.malformed(format!(
            "hash page {hash_page}: off-page item of {} bytes, expected {OFF_PAGE_ITEM_BYTES}",
            item.len()
        )));
    }
    let order = layout.order;
    let first_page = order.u32_at(item, 4).unwrap_or_default();
    let length = order.u32_at(item, 8).unwrap_or_default() as usize;
    // An overflow page carries at most a page of data, so a longer value cannot be in the file.
    let capacity = layout.last_page as usize * (layout.page_size - layout.page_overhead);
    if length > capacity {
        return Err(source.malformed(format!(
            "hash page {hash_page}: off-page value of {length} bytes is longer than the file's \
             overflow pages can hold"
        )));
    }
    let mut value = Vec::with_capacity(length);
    let mut next = first_page;
    while next != 0 {
        match overflow_used.get_mut(next as usize) {
            Some(used @ false) => *used = true,
            Some(true) => {
                return Err(source.malformed(format!(
                    "overflow chain from hash page {hash_page} reaches page {next}, which \
                     another value or this one already used"
                )));
            }
            None => {
                return Err(source.malformed(format!(
                    "overflow chain from hash page {hash_page} reaches page {next}, past the \
                     last page {}",
                    layout.last_page
                )));
            }
        }
        let page = layout.page(next);
        let page_type = page.get(25).copied().unwrap_or_default();
        if page_type != PAGE_TYPE_OVERFLOW {
            return Err(source.malformed(format!(
                "overflow chain from hash page {hash_page}: page {next} has type {page_type}, \
                 expected {PAGE_TYPE_OVERFLOW}"
            )));
        }
        let on_page = usize::from(order.u16_at(page, 22).unwrap_or_default());
        let data = page
            .get(layout.page_overhead..layout.page_overhead + on_page)
            .ok_or_else(|| {
                source.malformed(format!(
                    "overflow page {next} claims {on_page} bytes, more than the page holds"
                ))
            })?;
        if value.len() + data.len() > length {
            return Err(source.malformed(format!(
                "overflow chain from hash page {hash_page} holds more than the {length} bytes \
                 its item announces"
            )));
        }
        value.extend_from_slice(data);
        next = order.u32_at(page, 16).unwrap_or_default();
    }
    if value.len() != length {
        return Err(source.malformed(format!(
            "overflow chain from hash page {hash_page} holds {} bytes, expected {length}",
            value.len()
        )));
    }
    Ok(value)
}
