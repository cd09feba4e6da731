//! Deciding from a file's first bytes whether it is an executable and of which kind, and
//! reading what the manifest records about it (ELF build id, script interpreter).
//!
//! Works on a bounded head buffer only, so files stream through hashing without being held
//! in memory. Written by hand rather than with an ELF crate: those parse a whole file or need
//! random access, and we need three fields from the first kilobytes of a stream.
//! ELF layout: <https://refspecs.linuxfoundation.org/elf/gabi4+/ch4.eheader.html>.

use crate::manifest::Kind;

/// The ELF magic.
pub const ELF_MAGIC: &[u8; 4] = b"\x7fELF";
/// Longest interpreter line recorded.
const MAX_INTERPRETER: usize = 256;

const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const PT_INTERP: u32 = 3;
const PT_NOTE: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;

/// Whether a regular file with this mode and these first bytes is an executable.
#[must_use]
pub fn qualifies(mode: u32, head: &[u8]) -> bool {
    mode & 0o111 != 0 || head.starts_with(ELF_MAGIC) || head.starts_with(b"#!")
}

/// What the head of an executable says about it.
#[derive(Clone, Debug, PartialEq, Eq, borsh::BorshSerialize, borsh::BorshDeserialize)]
pub struct Detected {
    /// The kind.
    pub kind: Kind,
    /// A script's shebang line after `#!`, trimmed.
    pub interpreter: Option<String>,
    /// An ELF file's GNU build id, hex.
    pub build_id: Option<String>,
}

/// Classifies an executable from its head.
#[must_use]
pub fn detect(head: &[u8]) -> Detected {
    if head.starts_with(ELF_MAGIC) {
        let elf = Elf::parse(head);
        return Detected {
            kind: elf.as_ref().map_or(Kind::ElfOther, Elf::kind),
            interpreter: None,
            build_id: elf.and_then(|elf| elf.build_id),
        };
    }
    if let Some(rest) = head.strip_prefix(b"#!") {
        let line = rest.split(|byte| *byte == b'\n').next().unwrap_or_default();
        let line = &line[..line.len().min(MAX_INTERPRETER)];
        let text = String::from_utf8_lossy(line).trim().to_owned();
        return Detected {
            kind: Kind::Script,
            interpreter: Some(text),
            build_id: None,
        };
    }
    Detected {
        kind: Kind::Other,
        interpreter: None,
        build_id: None,
    }
}

/// The few ELF facts we need.
struct Elf {
    file_type: u16,
    has_interp: bool,
    build_id: Option<String>,
}

/// Reads little- or big-endian integers from a byte slice, `None` past its end.
struct Fields<'a> {
    data: &'a [u8],
    big_endian: bool,
}

impl Fields<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.data.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    /// The integer of `N` bytes at `at`, in the file's byte order.
    fn int<const N: usize, T>(
        &self,
        at: usize,
        from_be: fn([u8; N]) -> T,
        from_le: fn([u8; N]) -> T,
    ) -> Option<T> {
        let raw = self.bytes::<N>(at)?;
        Some(if self.big_endian {
            from_be(raw)
        } else {
            from_le(raw)
        })
    }

    fn u16(&self, at: usize) -> Option<u16> {
        self.int(at, u16::from_be_bytes, u16::from_le_bytes)
    }

    fn u32(&self, at: usize) -> Option<u32> {
        self.int(at, u32::from_be_bytes, u32::from_le_bytes)
    }

    fn u64(&self, at: usize) -> Option<u64> {
        self.int(at, u64::from_be_bytes, u64::from_le_bytes)
    }

    /// A 32- or 64-bit word, by ELF class.
    fn word(&self, at: usize, is_64: bool) -> Option<usize> {
        let value = if is_64 {
            self.u64(at)?
        } else {
            u64::from(self.u32(at)?)
        };
        usize::try_from(value).ok()
    }
}

impl Elf {
    fn parse(head: &[u8]) -> Option<Self> {
        let is_64 = match head.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big_endian = match head.get(5)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let fields = Fields {
            data: head,
            big_endian,
        };
        let file_type = fields.u16(16)?;
        let (phoff, phentsize, phnum) = if is_64 {
            (fields.word(32, true)?, fields.u16(54)?, fields.u16(56)?)
        } else {
            (fields.word(28, false)?, fields.u16(42)?, fields.u16(44)?)
        };
        let mut elf = Self {
            file_type,
            has_interp: false,
            build_id: None,
        };
        for index in 0..usize::from(phnum) {
            let Some(header) = index
                .checked_mul(usize::from(phentsize))
                .and_then(|offset| phoff.checked_add(offset))
            else {
                break;
            };
            let Some(segment_type) = fields.u32(header) else {
                break; // program headers beyond the head: keep what we have
            };
            match segment_type {
                PT_INTERP => elf.has_interp = true,
                PT_NOTE if elf.build_id.is_none() => {
                    let (offset, size) = if is_64 {
                        (
                            fields.word(header + 8, true),
                            fields.word(header + 32, true),
                        )
                    } else {
                        (
                            fields.word(header + 4, false),
                            fields.word(header + 16, false),
                        )
                    };
                    if let (Some(offset), Some(size)) = (offset, size) {
                        elf.build_id = find_build_id(&fields, offset, size);
                    }
                }
                _ => {}
            }
        }
        Some(elf)
    }

    fn kind(&self) -> Kind {
        match self.file_type {
            ET_EXEC => Kind::ElfExecutable,
            ET_DYN if self.has_interp => Kind::ElfExecutable,
            ET_DYN => Kind::ElfSharedObject,
            _ => Kind::ElfOther,
        }
    }
}

/// Walks the notes of a `PT_NOTE` segment for `NT_GNU_BUILD_ID` owned by "GNU".
fn find_build_id(fields: &Fields<'_>, offset: usize, size: usize) -> Option<String> {
    let end = offset.checked_add(size)?;
    let mut at = offset;
    let align4 = |n: usize| n.checked_add(3).map(|n| n & !3);
    while at.checked_add(12)? <= end {
        let name_size = usize::try_from(fields.u32(at)?).ok()?;
        let desc_size = usize::try_from(fields.u32(at + 4)?).ok()?;
        let note_type = fields.u32(at + 8)?;
        let name_at = at + 12;
        let desc_at = name_at.checked_add(align4(name_size)?)?;
        let next = desc_at.checked_add(align4(desc_size)?)?;
        if note_type == NT_GNU_BUILD_ID
            && fields.data.get(name_at..name_at + name_size)? == b"GNU\0"
        {
            return fields
                .data
                .get(desc_at..desc_at.checked_add(desc_size)?)
                .map(hex::encode);
        }
        at = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 LE header with the given type and program headers.
    fn elf64(file_type: u16, interp: bool, build_id: Option<[u8; 20]>) -> Vec<u8> {
        let mut phdrs: Vec<(u32, u64, u64)> = Vec::new();
        let mut tail = Vec::new();
        let base = 64 + 56 * 2;
        if interp {
            let path = b"/lib64/ld-linux-x86-64.so.2\0";
            phdrs.push((PT_INTERP, (base + tail.len()) as u64, path.len() as u64));
            tail.extend_from_slice(path);
            while tail.len() % 4 != 0 {
                tail.push(0);
            }
        }
        if let Some(id) = build_id {
            let start = base + tail.len();
            tail.extend_from_slice(&4u32.to_le_bytes());
            tail.extend_from_slice(&20u32.to_le_bytes());
            tail.extend_from_slice(&NT_GNU_BUILD_ID.to_le_bytes());
            tail.extend_from_slice(b"GNU\0");
            tail.extend_from_slice(&id);
            phdrs.push((PT_NOTE, start as u64, 36));
        }
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(ELF_MAGIC);
        out[4] = 2;
        out[5] = 1;
        out[6] = 1;
        out[16..18].copy_from_slice(&file_type.to_le_bytes());
        out[32..40].copy_from_slice(&64u64.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(phdrs.len() as u16).to_le_bytes());
        for (kind, offset, size) in &phdrs {
            let mut phdr = vec![0u8; 56];
            phdr[..4].copy_from_slice(&kind.to_le_bytes());
            phdr[8..16].copy_from_slice(&offset.to_le_bytes());
            phdr[32..40].copy_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&phdr);
        }
        out.resize(base, 0);
        out.extend_from_slice(&tail);
        out
    }

    #[test]
    fn elf_kinds_follow_type_and_interp() {
        assert_eq!(
            detect(&elf64(ET_EXEC, false, None)).kind,
            Kind::ElfExecutable
        );
        assert_eq!(detect(&elf64(ET_DYN, true, None)).kind, Kind::ElfExecutable);
        assert_eq!(
            detect(&elf64(ET_DYN, false, None)).kind,
            Kind::ElfSharedObject
        );
        assert_eq!(detect(&elf64(1, false, None)).kind, Kind::ElfOther);
        assert_eq!(detect(b"\x7fELF").kind, Kind::ElfOther);
    }

    #[test]
    fn build_id_is_read_from_the_note() {
        let id = [0xab; 20];
        let detected = detect(&elf64(ET_DYN, true, Some(id)));
        assert_eq!(detected.build_id.as_deref(), Some("ab".repeat(20).as_str()));
    }

    #[test]
    fn truncated_and_hostile_headers_do_not_panic() {
        let full = elf64(ET_DYN, true, Some([1; 20]));
        for cut in 0..full.len() {
            let _ = detect(&full[..cut]);
        }
        let mut hostile = elf64(ET_EXEC, false, None);
        hostile[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        hostile[56..58].copy_from_slice(&u16::MAX.to_le_bytes());
        assert_eq!(detect(&hostile).kind, Kind::ElfExecutable);
    }

    #[test]
    fn scripts_record_their_interpreter() {
        let detected = detect(b"#! /usr/bin/env python3 \nprint(1)\n");
        assert_eq!(detected.kind, Kind::Script);
        assert_eq!(
            detected.interpreter.as_deref(),
            Some("/usr/bin/env python3")
        );
    }

    #[test]
    fn qualification_uses_mode_or_magic() {
        assert!(qualifies(0o100, b"hello"));
        assert!(qualifies(0o644, b"\x7fELF...."));
        assert!(qualifies(0o644, b"#!/bin/sh"));
        assert!(!qualifies(0o644, b"hello"));
    }
}
