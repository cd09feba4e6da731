//! `rpmdb.sqlite`: rpm ≥ 4.16 keeps one RPM header per installed package in table
//! `Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)` (rpm's
//! `lib/backend/sqlite.c`; knqyf263/go-rpmdb's `pkg/sqlite3/sqlite3.go` reads the same column).
//!
//! The file is read by SQLite itself (rusqlite, bundled). SQLite opens files, not bytes, and
//! loading bytes straight into memory (`sqlite3_deserialize`) needs `unsafe` in rusqlite 0.32,
//! which this crate forbids, so the bytes are written to a private temporary directory that is
//! removed when reading ends. The copy is opened read-only and `immutable` (no locks, no
//! journal or WAL files: a database copied out of an image has no live writer). A hostile file
//! gets SQLite's own defences against corrupt databases plus ours: `Packages` must be a table
//! (a view could run any query), blobs are limited to an RPM header's maximum size, and a
//! progress handler stops any statement that does more work than the file's size allows.
//!
//! A `rpmdb.sqlite-wal` beside the database is not read: rpm checkpoints the write-ahead log
//! when it closes the database, so an image built with rpm carries an empty one (rpm 4.18
//! leaves a 0-byte file). This module reads only the database it is given and the copy it
//! writes.

use std::fmt::Write as _;
use std::path::Path;

use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{Source, VisitHeader};
use crate::pkgdb::Error;

const MAGIC: &[u8] = b"SQLite format 3\0";
/// Virtual machine instructions between two calls of the progress handler.
const OPS_PER_PROGRESS_CALL: i32 = 1000;
/// Work allowed per byte of database: a table scan costs a few instructions per row, and a row
/// takes at least a few bytes, so honest databases stay far below this.
const OPS_PER_DATABASE_BYTE: u64 = 64;
/// Work allowed whatever the size (opening, reading the schema).
const BASE_OPS: u64 = 10_000_000;

/// Calls `visit` with each header blob of `Packages`, in `hnum` order, and a description of
/// where it was found.
pub(super) fn for_each_header(
    source: &Source<'_>,
    bytes: &[u8],
    visit: &mut VisitHeader<'_>,
) -> Result<(), Error> {
    if !bytes.starts_with(MAGIC) {
        return Err(source.malformed("no SQLite header (\"SQLite format 3\" at offset 0)"));
    }
    let directory = tempfile::Builder::new()
        .prefix("exelock-rpmdb-")
        .tempdir()
        .map_err(|err| source.malformed(format!("cannot create a private copy: {err}")))?;
    let copy = directory.path().join("rpmdb.sqlite");
    fs_err::write(&copy, bytes)
        .map_err(|err| source.malformed(format!("cannot write a private copy: {err}")))?;
    let sqlite_error = |err: rusqlite::Error| match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::OperationInterrupted) => source.malformed(
            "sqlite: stopped a query doing more work than a database of this size needs",
        ),
        _ => source.malformed(format!("sqlite: {err}")),
    };

    let connection = Connection::open_with_flags(
        immutable_uri(&copy),
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_error)?;
    limit_work(&connection, bytes.len() as u64);
    connection
        .execute_batch("PRAGMA trusted_schema = OFF; PRAGMA cell_size_check = ON;")
        .map_err(sqlite_error)?;

    let kind: Option<String> = connection
        .query_row(
            "SELECT type FROM sqlite_schema WHERE name = 'Packages'",
            [],
            |row| row.get(0),
        )
        .map(Some)
        .or_else(|err| match err {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(sqlite_error(other)),
        })?;
    match kind.as_deref() {
        Some("table") => {}
        Some(other) => {
            return Err(source.malformed(format!("Packages is a {other}, expected a table")));
        }
        None => return Err(source.malformed("no Packages table")),
    }

    let mut statement = connection
        .prepare("SELECT rowid, blob FROM Packages ORDER BY rowid")
        .map_err(sqlite_error)?;
    let mut rows = statement.query([]).map_err(sqlite_error)?;
    while let Some(row) = rows.next().map_err(sqlite_error)? {
        let hnum: i64 = row.get(0).map_err(sqlite_error)?;
        match row.get_ref(1).map_err(sqlite_error)? {
            ValueRef::Blob(blob) => visit(format!("Packages hnum {hnum}"), blob)?,
            other => {
                return Err(source.malformed(format!(
                    "Packages hnum {hnum}: blob is {:?}, expected a BLOB",
                    other.data_type()
                )));
            }
        }
    }
    Ok(())
}

/// A `file:` URI for `path` with `immutable=1`, its path percent-encoded.
fn immutable_uri(path: &Path) -> String {
    let mut uri = String::from("file:");
    for &byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'/' | b'.' | b'-' | b'_' | b'~') {
            uri.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(uri, "%{byte:02X}");
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// Bounds the memory and work a hostile database can cause.
fn limit_work(connection: &Connection, database_bytes: u64) {
    // Room for the largest header rpm accepts and its lengths.
    let max_blob = i32::try_from(super::header::MAX_DATA_BYTES)
        .unwrap_or(i32::MAX)
        .saturating_add(1 << 20);
    connection.set_limit(Limit::SQLITE_LIMIT_LENGTH, max_blob);
    let budget = BASE_OPS.saturating_add(database_bytes.saturating_mul(OPS_PER_DATABASE_BYTE));
    let mut spent: u64 = 0;
    connection.progress_handler(
        OPS_PER_PROGRESS_CALL,
        Some(move || {
            spent = spent.saturating_add(OPS_PER_PROGRESS_CALL.unsigned_abs().into());
            spent > budget
        }),
    );
}
