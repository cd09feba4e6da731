//! NDB `Packages.db`: the "new database" rpm writes on SUSE (rpm's `lib/backend/ndb/rpmpkg.c`;
//! knqyf263/go-rpmdb's `pkg/ndb/ndb.go` documents and reads it), little-endian throughout:
//!
//! - a 32-byte header: magic `RpmP`, version 0, generation, number of 4096-byte slot pages;
//! - the slot pages, which begin with the header: 16-byte slots `{magic "Slot", package
//!   index, block offset, block count}` in 16-byte blocks; a slot with block offset 0 is free;
//! - per used slot, at `block offset × 16`, a blob: `{magic "BlbS", package index, timestamp,
//!   length}`, the RPM header of `length` bytes, zero padding to the slot's last block, and a
//!   12-byte tail `{Adler-32 of everything before it, length, magic "BlbE"}`.
//!
//! Checked as rpm checks it (`rpmpkgReadSlots`, `rpmpkgReadBlob`): slot magic, slots within
//! the file and after the slot pages, blob magic and package index, block count matching the
//! length, tail length and magic, and the Adler-32 checksum (which rpm verifies when it moves
//! or deletes a blob). The file must be a whole number of blocks. Headers are visited in slot
//! order. This module only reads the bytes it is given.

use std::fmt;

use super::{Source, VisitHeader};
use crate::pkgdb::Error;

const HEADER_MAGIC: &[u8; 4] = b"RpmP";
const SLOT_MAGIC: &[u8; 4] = b"Slot";
const BLOB_HEAD_MAGIC: &[u8; 4] = b"BlbS";
const BLOB_TAIL_MAGIC: &[u8; 4] = b"BlbE";
const VERSION: u32 = 0;

const HEADER_BYTES: usize = 32;
const SLOT_BYTES: usize = 16;
const BLOCK_BYTES: usize = 16;
const SLOT_PAGE_BYTES: usize = 4096;
const BLOB_HEAD_BYTES: usize = 16;
const BLOB_TAIL_BYTES: usize = 12;

fn le_u32(bytes: &[u8], at: usize) -> u32 {
    bytes
        .get(at..at + 4)
        .and_then(|chunk| chunk.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or_default()
}

/// Adler-32 (RFC 1950 §8.2).
fn adler32(bytes: &[u8]) -> u32 {
    const MODULUS: u32 = 65521;
    // The largest run of bytes whose sums cannot overflow u32 before reduction (zlib's NMAX).
    const RUN: usize = 5552;
    let (mut low, mut high) = (1_u32, 0_u32);
    for run in bytes.chunks(RUN) {
        for &byte in run {
            low += u32::from(byte);
            high += low;
        }
        low %= MODULUS;
        high %= MODULUS;
    }
    (high << 16) | low
}

/// Calls `visit` with each header blob, in slot order, and a description of where it was
/// found.
pub(super) fn for_each_header(
    source: &Source<'_>,
    bytes: &[u8],
    visit: &mut VisitHeader<'_>,
) -> Result<(), Error> {
    if bytes.len() < HEADER_BYTES || !bytes.starts_with(HEADER_MAGIC) {
        return Err(source.malformed("no NDB header (magic \"RpmP\" at offset 0)"));
    }
    let version = le_u32(bytes, 4);
    if version != VERSION {
        return Err(source.malformed(format!(
            "unsupported NDB version (got {version}, expected {VERSION})"
        )));
    }
    if !bytes.len().is_multiple_of(BLOCK_BYTES) {
        return Err(source.malformed(format!(
            "file length {} is not a whole number of {BLOCK_BYTES}-byte blocks",
            bytes.len()
        )));
    }
    let file_blocks = bytes.len() / BLOCK_BYTES;
    let slot_pages = le_u32(bytes, 12) as usize;
    // Checked against the file before anything is sized by it.
    let slots_end = slot_pages
        .checked_mul(SLOT_PAGE_BYTES)
        .filter(|&end| slot_pages > 0 && end <= bytes.len())
        .ok_or_else(|| {
            source.malformed(format!(
                "{slot_pages} slot pages do not fit in the file of {} bytes",
                bytes.len()
            ))
        })?;
    let first_blob_block = slots_end / BLOCK_BYTES;

    // The header takes the place of the first two slots.
    let mut used = Vec::new();
    for (slot, raw) in bytes[HEADER_BYTES..slots_end]
        .chunks_exact(SLOT_BYTES)
        .enumerate()
    {
        let slot = slot + HEADER_BYTES / SLOT_BYTES;
        if !raw.starts_with(SLOT_MAGIC) {
            return Err(source.malformed(format!(
                "slot {slot} at offset {} has no \"Slot\" magic",
                slot * SLOT_BYTES
            )));
        }
        let slot = Slot {
            number: slot,
            package: le_u32(raw, 4),
            block_offset: le_u32(raw, 8) as usize,
            block_count: le_u32(raw, 12) as usize,
        };
        if slot.block_offset == 0 {
            continue;
        }
        if slot.package == 0 || slot.block_count == 0 || slot.block_offset < first_blob_block {
            return Err(source.malformed(format!(
                "{slot}: bad slot (package index 0, no blocks, or blob inside the slot pages)"
            )));
        }
        if slot.block_offset.saturating_add(slot.block_count) > file_blocks {
            return Err(source.malformed(format!(
                "{slot}: blob of {} blocks runs past the end of the file ({file_blocks} blocks)",
                slot.block_count
            )));
        }
        used.push(slot);
    }

    // Overlapping blobs would let one region of the file be checked once per slot.
    let mut by_offset: Vec<&Slot> = used.iter().collect();
    by_offset.sort_unstable_by_key(|slot| slot.block_offset);
    for pair in by_offset.windows(2) {
        let [previous, slot] = pair else { continue };
        if slot.block_offset < previous.block_offset + previous.block_count {
            return Err(source.malformed(format!("{slot}: blob overlaps the blob of {previous}")));
        }
    }

    for slot in &used {
        let start = slot.block_offset * BLOCK_BYTES;
        let block = &bytes[start..start + slot.block_count * BLOCK_BYTES];
        let blob = read_blob(block, slot.package)
            .map_err(|problem| source.malformed(format!("{slot}: {problem}")))?;
        visit(slot.to_string(), blob)?;
    }
    Ok(())
}

/// A used slot, checked to lie inside the file.
struct Slot {
    number: usize,
    package: u32,
    block_offset: usize,
    block_count: usize,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "slot {} (package index {}, block {})",
            self.number, self.package, self.block_offset
        )
    }
}

/// The header inside one slot's blocks, after checking the blob's head, tail and checksum.
fn read_blob(block: &[u8], package: u32) -> Result<&[u8], String> {
    if block.len() < BLOB_HEAD_BYTES + BLOB_TAIL_BYTES {
        return Err(format!("{} bytes are too few for a blob", block.len()));
    }
    if !block.starts_with(BLOB_HEAD_MAGIC) {
        return Err("no \"BlbS\" magic".to_owned());
    }
    let blob_package = le_u32(block, 4);
    if blob_package != package {
        return Err(format!(
            "blob belongs to another package (got index {blob_package}, expected {package})"
        ));
    }
    let length = le_u32(block, 12) as usize;
    let expected_len = (BLOB_HEAD_BYTES + BLOB_TAIL_BYTES)
        .checked_add(length)
        .map(|len| len.div_ceil(BLOCK_BYTES) * BLOCK_BYTES);
    if expected_len != Some(block.len()) {
        return Err(format!(
            "blob of {length} bytes does not fill its slot's {} bytes",
            block.len()
        ));
    }
    let tail_start = block.len() - BLOB_TAIL_BYTES;
    let tail = &block[tail_start..];
    if le_u32(tail, 4) as usize != length || !tail[8..].starts_with(BLOB_TAIL_MAGIC) {
        return Err("blob tail does not repeat its length and \"BlbE\" magic".to_owned());
    }
    let checksum = adler32(&block[..tail_start]);
    let recorded = le_u32(tail, 0);
    if checksum != recorded {
        return Err(format!(
            "blob checksum mismatch (got Adler-32 {checksum:#010x}, recorded {recorded:#010x})"
        ));
    }
    Ok(&block[BLOB_HEAD_BYTES..BLOB_HEAD_BYTES + length])
}
