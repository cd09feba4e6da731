//! Stored verdicts and bake lists: SQLite by default, PostgreSQL for replicas sharing a store.
//!
//! One row per finding, keyed by (source, finding id): a redelivery (Pub/Sub retries, GuardDuty
//! repeating a finding) updates that row (deliveries + 1, last seen, the latest report and
//! verdicts) instead of adding one. The same write adds the finding's bake entries to its
//! repository's bake list (unique by repository, path and digest), in the same transaction.
//! Times are unix milliseconds in the database and RFC 3339 in [`StoredFinding`]'s JSON.
//!
//! # Group commit
//!
//! A transaction per finding caps a store at a few hundred findings a second: every commit
//! waits for the disk (SQLite's fsync) or for a round trip to the server (PostgreSQL), and the
//! service must take thousands a second. So [`Store::record`] does not write: it queues the
//! record for the store's one writer task and waits on a oneshot channel. The writer takes
//! everything queued (up to [`MAX_BATCH`]), writes it in one transaction and only after the
//! commit answers each caller, so no record is acknowledged before it is durable. While one
//! batch commits, the next one queues; under load batches grow and the cost of a commit is
//! shared, when idle a record is written alone without waiting for company.
//!
//! Within a batch, records of the same finding are merged into one row write (PostgreSQL cannot
//! update a row twice in one statement), rows are written in key order (so two replicas writing
//! overlapping batches lock rows in the same order and cannot deadlock), and a batch is a
//! statement or two over all its records, not a statement per record: on PostgreSQL one
//! statement over parallel arrays (`UNNEST`) that upserts the findings and adds the bake entries
//! (one round trip, no explicit transaction); on SQLite, over a JSON array (`json_each`), an
//! `UPDATE` of the redeliveries that change neither verdicts nor image, then an
//! `INSERT … ON CONFLICT DO UPDATE` of the rest, then the bake entries. The update is
//! commutative (first seen is the minimum, last seen the maximum, deliveries a sum, the report
//! the one with the latest receipt time), so replicas writing the same finding at once converge
//! on one row whatever order their transactions commit in. A batch that fails for a reason
//! other than the database being unavailable is retried record by record, so one bad record
//! fails alone instead of taking its batch with it.
//!
//! Migrations (`migrations/sqlite`, `migrations/postgres`, embedded) run when a store opens.
//!
//! This module does not judge findings, render reports or print; it does not retry a failed
//! write on its own beyond a deadlock or serialisation failure: a transient [`Error`] goes back
//! to the sender, who redelivers.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgPool};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteError, SqliteJournalMode, SqlitePool, SqliteSynchronous,
};
use tokio::sync::{mpsc, oneshot};

use crate::bake::{BakeEntry, BakeList};
use crate::digest::Sha256Digest;
use crate::finding::Source;
use crate::triage::Verdict;

/// Most records the writer puts in one transaction.
pub const MAX_BATCH: usize = 512;
/// Records waiting for the writer before [`Store::record`] waits for room (back-pressure).
const QUEUE_CAPACITY: usize = 8 * MAX_BATCH;
/// How long a caller waits for a database connection before the store gives up (transient):
/// the senders (EventBridge allows 5 s) would rather retry than wait longer.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long SQLite waits for another process's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per pool: the writer holds one, readers (lists, gets, readiness) share the rest.
const SQLITE_CONNECTIONS: u32 = 4;
const POSTGRES_CONNECTIONS: u32 = 8;
/// Attempts of a batch that failed on a deadlock or serialisation failure.
const WRITE_ATTEMPTS: u32 = 3;
/// Attempts of SQLite migrations: SQLite has no migration lock, so of two processes migrating
/// one file at once, the slower fails on recording the migration and tries again.
const SQLITE_MIGRATE_ATTEMPTS: u32 = 5;

/// Why the store failed. [`Error::is_transient`] tells "try again later" (the service answers
/// 503) from "this will not work" (a bad record, a database this version cannot read).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error(
        "database {database} is not supported (expected a SQLite file path, sqlite:PATH, or postgres://…)"
    )]
    UnsupportedDatabase {
        /// The URL, password removed.
        database: String,
    },
    /// The URL could not be parsed.
    #[error("database URL {database} is malformed")]
    MalformedUrl {
        /// The URL, password removed.
        database: String,
        /// What the driver found wrong.
        #[source]
        source: sqlx::Error,
    },
    /// No connection could be made.
    #[error("cannot open database {database}")]
    Open {
        /// The database, password removed.
        database: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate database {database}")]
    Migrate {
        /// The database, password removed.
        database: String,
        /// Why.
        #[source]
        source: MigrateError,
    },
    /// A query or transaction failed.
    #[error("cannot {operation} in database {database}")]
    Query {
        /// What the store was doing ("record findings", "list findings", …).
        operation: &'static str,
        /// The database, password removed.
        database: String,
        /// Why; shared by every record of a failed batch.
        #[source]
        source: Arc<sqlx::Error>,
    },
    /// A record cannot be stored as given.
    #[error("finding {finding_source}/{id}: {field} {problem}")]
    InvalidRecord {
        /// The finding's source.
        finding_source: Source,
        /// The finding's id (as given).
        id: String,
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A stored value this version cannot read (written by a newer version, or edited by hand).
    #[error("database {database} holds {column} {value:?}, which is not {expected}")]
    UnreadableValue {
        /// The database, password removed.
        database: String,
        /// The column.
        column: &'static str,
        /// The value found (truncated).
        value: String,
        /// What it should have been.
        expected: &'static str,
    },
    /// The writer task is gone (the runtime is shutting down).
    #[error("the writer of database {database} has stopped")]
    WriterStopped {
        /// The database, password removed.
        database: String,
    },
}

impl Error {
    /// Whether trying again later may succeed: the database is unreachable or restarting, the
    /// pool had no connection in time, the store is closing, or the database gave up on a
    /// lock (busy, deadlock, serialisation failure). The service answers these with 503.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Open { source, .. } => is_transient_sqlx(source),
            Self::Query { source, .. } => is_transient_sqlx(source),
            Self::Migrate { source, .. } => match source {
                MigrateError::Execute(source) | MigrateError::ExecuteMigration(source, _) => {
                    is_transient_sqlx(source)
                }
                _ => false,
            },
            Self::WriterStopped { .. } => true,
            Self::UnsupportedDatabase { .. }
            | Self::MalformedUrl { .. }
            | Self::InvalidRecord { .. }
            | Self::UnreadableValue { .. } => false,
        }
    }
}

fn is_transient_sqlx(error: &sqlx::Error) -> bool {
    match error {
        // A connection the server (or a proxy in between) closed while it was being opened
        // reads as a protocol error ("unexpected response from SSLRequest: 0x00"): a server
        // restarting, not a bad record, so the sender must retry rather than drop the finding.
        sqlx::Error::Protocol(_)
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(database_error) => {
            if let Some(postgres) = database_error.try_downcast_ref::<PgDatabaseError>() {
                is_transient_postgres_code(postgres.code())
            } else if database_error.try_downcast_ref::<SqliteError>().is_some() {
                database_error
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(is_transient_sqlite_code)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs worth a retry: connection exceptions (08), serialisation failure and
/// deadlock (40001, 40P01), insufficient resources (53: too many connections, disk full),
/// lock not available (55P03), operator intervention (57P01 admin shutdown, 57P02 crash
/// shutdown, 57P03 cannot connect now).
/// See: <https://www.postgresql.org/docs/current/errcodes-appendix.html>
fn is_transient_postgres_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "40001" | "40P01" | "55P03" | "57P01" | "57P02" | "57P03"
        )
}

/// SQLite primary result codes worth a retry: SQLITE_BUSY (5), SQLITE_LOCKED (6).
/// `code` is the extended code; its low byte is the primary one.
/// See: <https://www.sqlite.org/rescode.html>
fn is_transient_sqlite_code(code: i32) -> bool {
    matches!(code & 0xff, 5 | 6)
}

/// Whether the batch may be retried as is: the database chose it as a deadlock victim or
/// could not serialise it.
fn is_retryable_conflict(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(database_error) => database_error
            .try_downcast_ref::<PgDatabaseError>()
            .is_some_and(|postgres| matches!(postgres.code(), "40001" | "40P01")),
        _ => false,
    }
}

/// What [`Store::record`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stored {
    /// The finding was not stored before.
    New,
    /// The finding was stored before; this delivery updated it.
    Updated,
}

/// One finding's outcome, to be stored.
#[derive(Clone, Debug)]
pub struct FindingRecord {
    /// The detector.
    pub source: Source,
    /// The detector's finding id; with `source`, the record's identity.
    pub id: String,
    /// The image as the finding names it (a label for filtering).
    pub image: Option<String>,
    /// `registry/repository` of the image: the bake list `bake` entries join.
    pub repository: Option<String>,
    /// Every binary's verdict, in report order.
    pub verdicts: Vec<Verdict>,
    /// Whether any verdict calls for containment.
    pub needs_action: bool,
    /// The JSON line `triage --format jsonl` prints for this finding (must be JSON).
    pub report: String,
    /// When this delivery arrived.
    pub received_at: SystemTime,
    /// Binaries judged legitimate, for the repository's bake list (needs `repository`).
    pub bake: Vec<BakeEntry>,
}

/// A stored finding, as `GET /v1/findings` answers it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFinding {
    /// The detector.
    pub source: Source,
    /// The detector's finding id.
    pub id: String,
    /// The image as the finding names it.
    pub image: Option<String>,
    /// `registry/repository` of the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Every binary's verdict, from the latest delivery.
    pub verdicts: Vec<Verdict>,
    /// Whether any verdict calls for containment.
    pub needs_action: bool,
    /// When the first delivery arrived.
    #[serde(serialize_with = "serialize_rfc3339")]
    pub first_seen: SystemTime,
    /// When the latest delivery arrived.
    #[serde(serialize_with = "serialize_rfc3339")]
    pub last_seen: SystemTime,
    /// When the finding was first stored or a delivery last changed its verdicts or image: what
    /// [`FindingFilter::since`] and the newest-first order go by.
    #[serde(serialize_with = "serialize_rfc3339")]
    pub changed_at: SystemTime,
    /// How many deliveries of this finding were stored.
    pub deliveries: u64,
    /// The latest delivery's report, embedded as JSON.
    pub report: Box<RawValue>,
}

/// Which findings [`Store::list`] returns.
#[derive(Clone, Debug, Default)]
pub struct FindingFilter {
    /// Only findings with at least one binary of this verdict.
    pub verdict: Option<Verdict>,
    /// Only findings of this image (as the finding names it).
    pub image: Option<String>,
    /// Only findings first stored, or whose verdicts or image changed, at or after this time
    /// ([`StoredFinding::changed_at`]). A redelivery that changes nothing does not bring a
    /// finding back: a poller asking for what is new since its last poll gets each change once.
    pub since: Option<SystemTime>,
    /// At most this many, newest (changed at) first.
    pub limit: u32,
}

fn serialize_rfc3339<S: Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    let timestamp = jiff::Timestamp::try_from(*time).map_err(serde::ser::Error::custom)?;
    serializer.collect_str(&timestamp)
}

/// The findings and bake lists of one database.
///
/// Cloning is cheap: clones share the pool and the writer. Needs a Tokio runtime.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    database: Arc<str>,
    queue: mpsc::Sender<Pending>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// `$body` once per backend: `$pool` is the backend's pool and `$dialect` its module of
/// queries in [`sql`], so a query is written once for both where only the SQL differs. (A
/// macro, not a generic function: sqlx's executor and encoding bounds for a pool generic over
/// the database make a signature longer than the two arms it would replace.)
macro_rules! on_backend {
    ($backend:expr, |$pool:ident, $dialect:ident| $body:expr) => {
        match $backend {
            Backend::Sqlite($pool) => {
                #[allow(unused_imports)]
                use sql::sqlite as $dialect;
                $body
            }
            Backend::Postgres($pool) => {
                #[allow(unused_imports)]
                use sql::postgres as $dialect;
                $body
            }
        }
    };
}

/// A pool of `connections` to the database `options` describe, failing after
/// [`ACQUIRE_TIMEOUT`] (transient) rather than holding the sender.
async fn connect_pool<DB: sqlx::Database>(
    connections: u32,
    options: <DB::Connection as sqlx::Connection>::Options,
    database: &str,
) -> Result<sqlx::Pool<DB>, Error> {
    sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|source| Error::Open {
            database: database.to_owned(),
            source,
        })
}

impl fmt::Debug for Store {
    // By hand: the pools' connect options hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.inner.database)
            .finish_non_exhaustive()
    }
}

/// Where a URL points, with the name errors and logs may show.
enum Target {
    Sqlite(SqliteConnectOptions),
    Postgres(PgConnectOptions),
}

fn parse_target(url: &str, database: &str) -> Result<Target, Error> {
    let malformed = |source| Error::MalformedUrl {
        database: database.to_owned(),
        source,
    };
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return PgConnectOptions::from_str(url)
            .map(Target::Postgres)
            .map_err(malformed);
    }
    if url.starts_with("sqlite:") {
        return SqliteConnectOptions::from_str(url)
            .map(Target::Sqlite)
            .map_err(malformed);
    }
    if url.is_empty() || url.contains("://") {
        return Err(Error::UnsupportedDatabase {
            database: database.to_owned(),
        });
    }
    Ok(Target::Sqlite(SqliteConnectOptions::new().filename(url)))
}

/// The URL with any password replaced by `***`: in the userinfo (`user:password@`) and in a
/// `password=` query parameter.
fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|index| index + 3) else {
        return url.to_owned();
    };
    let (head, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<Cow<'_, str>> = query
                .split('&')
                .map(|parameter| match parameter.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        Cow::Owned(format!("{name}=***"))
                    }
                    _ => Cow::Borrowed(parameter),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{head}{authority}{tail}")
}

/// The embedded migrations of one backend.
#[derive(Debug)]
struct EmbeddedMigrations(&'static [(i64, &'static str, &'static str)]);

const SQLITE_MIGRATIONS: EmbeddedMigrations = EmbeddedMigrations(&[
    (
        1,
        "findings",
        include_str!("../../migrations/sqlite/0001_findings.sql"),
    ),
    (
        2,
        "changed at",
        include_str!("../../migrations/sqlite/0002_changed_at.sql"),
    ),
]);
const POSTGRES_MIGRATIONS: EmbeddedMigrations = EmbeddedMigrations(&[
    (
        1,
        "findings",
        include_str!("../../migrations/postgres/0001_findings.sql"),
    ),
    (
        2,
        "changed at",
        include_str!("../../migrations/postgres/0002_changed_at.sql"),
    ),
]);

impl MigrationSource<'static> for EmbeddedMigrations {
    fn resolve(self) -> BoxFuture<'static, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(std::future::ready(Ok(migrations)))
    }
}

impl Store {
    /// Opens (creating a SQLite file if missing) and migrates the database `url` names: a file
    /// path or `sqlite:PATH` for SQLite, `postgres://…` or `postgresql://…` for PostgreSQL.
    ///
    /// # Errors
    ///
    /// An unsupported or malformed URL, a database that cannot be reached (transient) or
    /// migrated. Errors name the database without its password.
    pub async fn open(url: &str) -> Result<Self, Error> {
        let database: Arc<str> = redact_url(url).into();
        let backend = match parse_target(url, &database)? {
            Target::Sqlite(options) => {
                let options = options
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit is on disk before its records are acknowledged; group
                    // commit pays the fsync once per batch.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT);
                let pool = connect_pool(SQLITE_CONNECTIONS, options, &database).await?;
                migrate_sqlite(&pool, &database).await?;
                Backend::Sqlite(pool)
            }
            Target::Postgres(options) => {
                let pool = connect_pool(POSTGRES_CONNECTIONS, options, &database).await?;
                // The migrator holds an advisory lock: replicas starting together take turns.
                run_migrations(POSTGRES_MIGRATIONS, &pool, &database).await?;
                Backend::Postgres(pool)
            }
        };
        let (queue, queued) = mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(write_queued(backend.clone(), Arc::clone(&database), queued));
        Ok(Self {
            inner: Arc::new(Inner {
                backend,
                database,
                queue,
            }),
        })
    }

    /// The database, password removed (for messages).
    #[must_use]
    pub fn database(&self) -> &str {
        &self.inner.database
    }

    /// Stores a finding's outcome, or updates it if (source, id) is stored already, together
    /// with its bake entries; returns once the transaction holding it committed.
    ///
    /// # Errors
    ///
    /// An invalid record (final), or a failed write (transient when the database is
    /// unavailable). Either way nothing of the record is stored.
    pub async fn record(&self, record: FindingRecord) -> Result<Stored, Error> {
        let row = RecordRow::try_from(record)?;
        let (answer, answered) = oneshot::channel();
        let stopped = || Error::WriterStopped {
            database: self.inner.database.to_string(),
        };
        self.inner
            .queue
            .send(Pending { row, answer })
            .await
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }

    /// The stored finding (source, id), if any.
    ///
    /// # Errors
    ///
    /// A failed query or a stored value this version cannot read.
    pub async fn get(&self, source: Source, id: &str) -> Result<Option<StoredFinding>, Error> {
        let row = on_backend!(&self.inner.backend, |pool, dialect| {
            sqlx::query_as::<_, FindingColumns>(dialect::GET)
                .bind(source.code())
                .bind(id)
                .fetch_optional(pool)
                .await
        })
        .map_err(|source| self.query_error("read a finding", source))?;
        row.map(|row| self.stored_finding(row)).transpose()
    }

    /// The stored findings `filter` selects, newest ([`StoredFinding::changed_at`]) first.
    ///
    /// # Errors
    ///
    /// A failed query or a stored value this version cannot read.
    pub async fn list(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>, Error> {
        let verdict = filter.verdict.map(Verdict::code);
        let since = filter.since.map(unix_millis_saturating);
        let limit = i64::from(filter.limit);
        let rows = on_backend!(&self.inner.backend, |pool, dialect| {
            sqlx::query_as::<_, FindingColumns>(dialect::LIST)
                .bind(verdict)
                .bind(filter.image.as_deref())
                .bind(since)
                .bind(limit)
                .fetch_all(pool)
                .await
        })
        .map_err(|source| self.query_error("list findings", source))?;
        rows.into_iter()
            .map(|row| self.stored_finding(row))
            .collect()
    }

    /// The bake list of `repository` (`registry/repository`), sorted as [`BakeList::merge`]
    /// sorts; empty (version 1, no entries) when nothing was baked for it.
    ///
    /// # Errors
    ///
    /// A failed query or a stored value this version cannot read.
    pub async fn bake_list(&self, repository: &str) -> Result<BakeList, Error> {
        type BakeColumns = (String, String, Option<String>);
        let rows = on_backend!(&self.inner.backend, |pool, dialect| {
            sqlx::query_as::<_, BakeColumns>(dialect::BAKE_LIST)
                .bind(repository)
                .fetch_all(pool)
                .await
        })
        .map_err(|source| self.query_error("read a bake list", source))?;
        let mut entries = rows
            .into_iter()
            .map(|(path, sha256, reason)| {
                let sha256 = Sha256Digest::from_hex(&sha256).map_err(|_| {
                    self.unreadable("bake_entries.sha256", &sha256, "64 hex digits")
                })?;
                Ok(BakeEntry {
                    path,
                    sha256,
                    reason,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        entries.sort();
        Ok(BakeList {
            version: 1,
            entries,
        })
    }

    /// How many findings are stored.
    ///
    /// # Errors
    ///
    /// A failed query.
    pub async fn count(&self) -> Result<u64, Error> {
        let count: i64 = on_backend!(&self.inner.backend, |pool, _dialect| {
            sqlx::query_scalar(sql::COUNT).fetch_one(pool).await
        })
        .map_err(|source| self.query_error("count findings", source))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Checks that the database answers (for `/readyz`).
    ///
    /// # Errors
    ///
    /// The database cannot be reached (transient).
    pub async fn ping(&self) -> Result<(), Error> {
        on_backend!(&self.inner.backend, |pool, _dialect| {
            sqlx::query(sql::PING).execute(pool).await.map(drop)
        })
        .map_err(|source| self.query_error("reach the database", source))
    }

    /// Closes the pool: waits for connections in use, then later calls fail (transient). Call
    /// once no request is in flight, so every queued record has been answered.
    pub async fn close(&self) {
        on_backend!(&self.inner.backend, |pool, _dialect| pool.close().await);
    }

    fn query_error(&self, operation: &'static str, source: sqlx::Error) -> Error {
        Error::Query {
            operation,
            database: self.inner.database.to_string(),
            source: Arc::new(source),
        }
    }

    fn unreadable(&self, column: &'static str, value: &str, expected: &'static str) -> Error {
        Error::UnreadableValue {
            database: self.inner.database.to_string(),
            column,
            value: value.chars().take(80).collect(),
            expected,
        }
    }

    fn stored_finding(&self, row: FindingColumns) -> Result<StoredFinding, Error> {
        let (
            source,
            id,
            image,
            repository,
            verdicts,
            needs_action,
            first,
            last,
            changed,
            deliveries,
            report,
        ) = row;
        let source = source
            .parse::<Source>()
            .map_err(|_| self.unreadable("findings.source", &source, "a finding source"))?;
        let verdicts = serde_json::from_str::<Vec<String>>(&verdicts)
            .ok()
            .and_then(|codes| {
                codes
                    .iter()
                    .map(|code| code.parse::<Verdict>().ok())
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                self.unreadable(
                    "findings.verdicts",
                    &verdicts,
                    "a JSON array of verdict codes",
                )
            })?;
        let report = RawValue::from_string(report.clone())
            .map_err(|_| self.unreadable("findings.report", &report, "JSON"))?;
        Ok(StoredFinding {
            source,
            id,
            image,
            repository,
            verdicts,
            needs_action,
            first_seen: from_unix_millis(first),
            last_seen: from_unix_millis(last),
            changed_at: from_unix_millis(changed),
            deliveries: u64::try_from(deliveries).unwrap_or(0),
            report,
        })
    }
}

/// A `findings` row as queried: source, id, image, repository, verdicts (JSON text),
/// needs_action, first_seen, last_seen, changed_at, deliveries, report.
type FindingColumns = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    bool,
    i64,
    i64,
    i64,
    i64,
    String,
);

fn unix_millis_saturating(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

fn from_unix_millis(millis: i64) -> SystemTime {
    let magnitude = Duration::from_millis(millis.unsigned_abs());
    if millis >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// A record checked and encoded for the database.
struct RecordRow {
    source: &'static str,
    id: String,
    image: Option<String>,
    repository: Option<String>,
    verdicts: String,
    needs_action: bool,
    received: i64,
    report: String,
    bake: Vec<BakeRow>,
}

/// A bake entry encoded for the database (the repository is the record's).
struct BakeRow {
    path: String,
    sha256: String,
    reason: Option<String>,
}

impl TryFrom<FindingRecord> for RecordRow {
    type Error = Error;

    fn try_from(record: FindingRecord) -> Result<Self, Error> {
        let invalid = |field: &'static str, problem: &str| Error::InvalidRecord {
            finding_source: record.source,
            id: record.id.clone(),
            field,
            problem: problem.to_owned(),
        };
        // PostgreSQL text cannot hold NUL; refuse it on both backends so they agree.
        let no_nul = |field: &'static str, text: &str| {
            if text.contains('\0') {
                Err(invalid(field, "contains a NUL character"))
            } else {
                Ok(())
            }
        };
        if record.id.is_empty() {
            return Err(invalid("id", "is empty"));
        }
        no_nul("id", &record.id)?;
        for (field, text) in [("image", &record.image), ("repository", &record.repository)] {
            if let Some(text) = text {
                no_nul(field, text)?;
            }
        }
        no_nul("report", &record.report)?;
        if serde_json::from_str::<&RawValue>(&record.report).is_err() {
            return Err(invalid("report", "is not JSON"));
        }
        let received = match record.received_at.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_millis())
                .map_err(|_| invalid("received_at", "is too far in the future"))?,
            Err(_) => return Err(invalid("received_at", "is before 1970")),
        };
        if !record.bake.is_empty() && record.repository.is_none() {
            return Err(invalid(
                "bake",
                "has entries but the record names no repository to bake them for",
            ));
        }
        let mut bake = Vec::with_capacity(record.bake.len());
        for entry in &record.bake {
            no_nul("bake path", &entry.path)?;
            if let Some(reason) = &entry.reason {
                no_nul("bake reason", reason)?;
            }
            bake.push(BakeRow {
                path: entry.path.clone(),
                sha256: entry.sha256.hex(),
                reason: entry.reason.clone(),
            });
        }
        let verdicts = serde_json::to_string(&record.verdicts)
            .map_err(|_| invalid("verdicts", "cannot be encoded"))?;
        Ok(Self {
            source: record.source.code(),
            id: record.id,
            image: record.image,
            repository: record.repository,
            verdicts,
            needs_action: record.needs_action,
            received,
            report: record.report,
            bake,
        })
    }
}

/// A record waiting for the writer, with the channel its answer goes back on.
struct Pending {
    row: RecordRow,
    answer: oneshot::Sender<Result<Stored, Error>>,
}

/// The records of one finding in a batch, merged into one row write.
struct MergedFinding<'a> {
    /// The record with the latest receipt (the later one in the queue on a tie): its image,
    /// verdicts and report are the row's.
    latest: &'a RecordRow,
    first_seen: i64,
    last_seen: i64,
    /// Deliveries this write adds.
    deliveries: i64,
    /// Indexes into the batch, queue order.
    members: Vec<usize>,
}

/// A batch ready to write: merged findings in key order, bake entries deduplicated in key order.
struct BatchWrite<'a> {
    findings: Vec<MergedFinding<'a>>,
    /// (repository, path, sha256) → (reason, first seen), the first record's reason.
    bake: BTreeMap<(&'a str, &'a str, &'a str), (Option<&'a str>, i64)>,
}

impl<'a> BatchWrite<'a> {
    fn new(rows: impl IntoIterator<Item = (usize, &'a RecordRow)>) -> Self {
        let mut findings: BTreeMap<(&'a str, &'a str), MergedFinding<'a>> = BTreeMap::new();
        let mut bake = BTreeMap::new();
        for (index, row) in rows {
            findings
                .entry((row.source, row.id.as_str()))
                .and_modify(|merged| {
                    if row.received >= merged.latest.received {
                        merged.latest = row;
                    }
                    merged.first_seen = merged.first_seen.min(row.received);
                    merged.last_seen = merged.last_seen.max(row.received);
                    merged.deliveries += 1;
                    merged.members.push(index);
                })
                .or_insert_with(|| MergedFinding {
                    latest: row,
                    first_seen: row.received,
                    last_seen: row.received,
                    deliveries: 1,
                    members: vec![index],
                });
            if let Some(repository) = row.repository.as_deref() {
                for entry in &row.bake {
                    bake.entry((repository, entry.path.as_str(), entry.sha256.as_str()))
                        .or_insert((entry.reason.as_deref(), row.received));
                }
            }
        }
        Self {
            findings: findings.into_values().collect(),
            bake,
        }
    }

    /// Each merged finding's deliveries after the write, in `findings` order.
    async fn write(&self, backend: &Backend) -> Result<Vec<i64>, sqlx::Error> {
        let mut attempt = 1;
        loop {
            let result = match backend {
                Backend::Sqlite(pool) => self.write_sqlite(pool).await,
                Backend::Postgres(pool) => self.write_postgres(pool).await,
            };
            match result {
                Err(error) if attempt < WRITE_ATTEMPTS && is_retryable_conflict(&error) => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Merged findings as one JSON array of rows for one statement (`json_each`): sqlx runs
    /// each SQLite statement on the connection's worker thread, a round trip per statement.
    /// Columns: source, id, image, repository, verdicts, needs_action, first_seen, last_seen,
    /// deliveries, report.
    fn sqlite_rows<'b>(
        findings: impl Iterator<Item = &'b MergedFinding<'a>>,
    ) -> Result<String, sqlx::Error>
    where
        'a: 'b,
    {
        let rows: Vec<_> = findings
            .map(|merged| {
                let row = merged.latest;
                (
                    row.source,
                    &row.id,
                    &row.image,
                    &row.repository,
                    &row.verdicts,
                    row.needs_action,
                    merged.first_seen,
                    merged.last_seen,
                    merged.deliveries,
                    &row.report,
                )
            })
            .collect();
        serde_json::to_string(&rows).map_err(|error| sqlx::Error::Encode(Box::new(error)))
    }

    async fn write_sqlite(&self, pool: &SqlitePool) -> Result<Vec<i64>, sqlx::Error> {
        // IMMEDIATE: take the write lock up front, waiting (busy timeout) for another process's
        // writer, instead of failing on upgrading a read transaction.
        let mut transaction = pool.begin_with("BEGIN IMMEDIATE").await?;
        // Redeliveries that change nothing indexed first, then everything else as an upsert.
        let mut totals: Vec<(String, String, i64)> = sqlx::query_as(sql::sqlite::UPDATE_UNCHANGED)
            .bind(Self::sqlite_rows(self.findings.iter())?)
            .fetch_all(&mut *transaction)
            .await?;
        if totals.len() < self.findings.len() {
            let updated: HashSet<(&str, &str)> = totals
                .iter()
                .map(|(source, id, _)| (source.as_str(), id.as_str()))
                .collect();
            let rest = Self::sqlite_rows(self.findings.iter().filter(|merged| {
                !updated.contains(&(merged.latest.source, merged.latest.id.as_str()))
            }))?;
            drop(updated);
            let upserted: Vec<(String, String, i64)> = sqlx::query_as(sql::sqlite::UPSERT_FINDINGS)
                .bind(rest)
                .fetch_all(&mut *transaction)
                .await?;
            totals.extend(upserted);
        }
        if !self.bake.is_empty() {
            let bake: Vec<_> = self
                .bake
                .iter()
                .map(|((repository, path, sha256), (reason, first_seen))| {
                    (repository, path, sha256, reason, first_seen)
                })
                .collect();
            let bake = serde_json::to_string(&bake)
                .map_err(|error| sqlx::Error::Encode(Box::new(error)))?;
            sqlx::query(sql::sqlite::INSERT_BAKE_ENTRIES)
                .bind(bake)
                .execute(&mut *transaction)
                .await?;
        }
        transaction.commit().await?;
        self.totals_in_order(totals)
    }

    async fn write_postgres(&self, pool: &PgPool) -> Result<Vec<i64>, sqlx::Error> {
        let findings = &self.findings;
        let sources: Vec<&str> = findings.iter().map(|m| m.latest.source).collect();
        let ids: Vec<&str> = findings.iter().map(|m| m.latest.id.as_str()).collect();
        let images: Vec<Option<&str>> =
            findings.iter().map(|m| m.latest.image.as_deref()).collect();
        let repositories: Vec<Option<&str>> = findings
            .iter()
            .map(|m| m.latest.repository.as_deref())
            .collect();
        let verdicts: Vec<&str> = findings
            .iter()
            .map(|m| m.latest.verdicts.as_str())
            .collect();
        let needs_action: Vec<bool> = findings.iter().map(|m| m.latest.needs_action).collect();
        let first_seen: Vec<i64> = findings.iter().map(|m| m.first_seen).collect();
        let last_seen: Vec<i64> = findings.iter().map(|m| m.last_seen).collect();
        let added: Vec<i64> = findings.iter().map(|m| m.deliveries).collect();
        let reports: Vec<&str> = findings.iter().map(|m| m.latest.report.as_str()).collect();

        let bake = self.bake.keys();
        let bake_repositories: Vec<&str> = bake.clone().map(|key| key.0).collect();
        let bake_paths: Vec<&str> = bake.clone().map(|key| key.1).collect();
        let bake_digests: Vec<&str> = bake.map(|key| key.2).collect();
        let bake_reasons: Vec<Option<&str>> = self.bake.values().map(|value| value.0).collect();
        let bake_first_seen: Vec<i64> = self.bake.values().map(|value| value.1).collect();

        // One statement, so one round trip and one implicit transaction: on a busy machine
        // each round trip (BEGIN, a statement, COMMIT) waits to be scheduled on both sides, and
        // the batch's callers wait for all of them.
        let totals: Vec<(String, String, i64)> = sqlx::query_as(sql::postgres::WRITE_BATCH)
            .bind(&sources)
            .bind(&ids)
            .bind(&images)
            .bind(&repositories)
            .bind(&verdicts)
            .bind(&needs_action)
            .bind(&first_seen)
            .bind(&last_seen)
            .bind(&added)
            .bind(&reports)
            .bind(&bake_repositories)
            .bind(&bake_paths)
            .bind(&bake_digests)
            .bind(&bake_reasons)
            .bind(&bake_first_seen)
            .fetch_all(pool)
            .await?;
        self.totals_in_order(totals)
    }

    /// The (source, id, deliveries) rows an upsert returned, in `findings` order (RETURNING
    /// does not promise input order).
    fn totals_in_order(&self, totals: Vec<(String, String, i64)>) -> Result<Vec<i64>, sqlx::Error> {
        let totals: HashMap<(String, String), i64> = totals
            .into_iter()
            .map(|(source, id, total)| ((source, id), total))
            .collect();
        self.findings
            .iter()
            .map(|merged| {
                let key = (merged.latest.source.to_owned(), merged.latest.id.clone());
                totals.get(&key).copied().ok_or_else(|| {
                    sqlx::Error::Protocol(format!(
                        "the upsert returned no row for finding {}/{}",
                        key.0, key.1
                    ))
                })
            })
            .collect()
    }
}

/// The writer task: takes what is queued, writes it in one transaction, answers each record
/// once committed. Ends when every [`Store`] clone is gone and the queue is empty.
async fn write_queued(backend: Backend, database: Arc<str>, mut queue: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut answers: Vec<Option<Result<Stored, Error>>> =
            std::iter::repeat_with(|| None).take(batch.len()).collect();
        let write = BatchWrite::new(batch.iter().map(|pending| &pending.row).enumerate());
        match write.write(&backend).await {
            Ok(totals) => record_outcomes(&write, &totals, &mut answers),
            Err(error) if is_transient_sqlx(&error) || write.findings.len() == 1 => {
                let error = Arc::new(error);
                for answer in &mut answers {
                    *answer = Some(Err(Error::Query {
                        operation: "record findings",
                        database: database.to_string(),
                        source: Arc::clone(&error),
                    }));
                }
            }
            Err(_) => {
                // Something in the batch the database refused: write each finding alone, so
                // only the records at fault fail.
                for merged in &write.findings {
                    let alone = BatchWrite::new(
                        merged
                            .members
                            .iter()
                            .map(|&index| (index, &batch[index].row)),
                    );
                    match alone.write(&backend).await {
                        Ok(totals) => record_outcomes(&alone, &totals, &mut answers),
                        Err(error) => {
                            let error = Arc::new(error);
                            for &index in &merged.members {
                                answers[index] = Some(Err(Error::Query {
                                    operation: "record findings",
                                    database: database.to_string(),
                                    source: Arc::clone(&error),
                                }));
                            }
                        }
                    }
                }
            }
        }
        drop(write);
        for (pending, answer) in batch.drain(..).zip(answers) {
            let answer = answer.unwrap_or_else(|| {
                Err(Error::WriterStopped {
                    database: database.to_string(),
                })
            });
            // A caller that gave up waiting no longer listens; its record is stored all the same.
            let _ = pending.answer.send(answer);
        }
    }
}

/// Each member's answer: the first record of a finding is new when the row now counts exactly
/// the deliveries this write added; every later record of it in the batch is an update.
fn record_outcomes(
    write: &BatchWrite<'_>,
    totals: &[i64],
    answers: &mut [Option<Result<Stored, Error>>],
) {
    for (merged, &total) in write.findings.iter().zip(totals) {
        for (position, &index) in merged.members.iter().enumerate() {
            let stored = if position == 0 && total == merged.deliveries {
                Stored::New
            } else {
                Stored::Updated
            };
            answers[index] = Some(Ok(stored));
        }
    }
}

async fn migrate_sqlite(pool: &SqlitePool, database: &str) -> Result<(), Error> {
    let mut attempt = 1;
    loop {
        match run_migrations(SQLITE_MIGRATIONS, pool, database).await {
            Err(_) if attempt < SQLITE_MIGRATE_ATTEMPTS => attempt += 1,
            result => return result,
        }
    }
}

async fn run_migrations<DB>(
    migrations: EmbeddedMigrations,
    pool: &sqlx::Pool<DB>,
    database: &str,
) -> Result<(), Error>
where
    DB: sqlx::Database,
    DB::Connection: sqlx::migrate::Migrate,
{
    let migrate_error = |source| Error::Migrate {
        database: database.to_owned(),
        source,
    };
    let migrator = Migrator::new(migrations).await.map_err(migrate_error)?;
    migrator.run(pool).await.map_err(migrate_error)
}

/// The queries, per backend where the dialects differ.
mod sql {
    pub(super) const COUNT: &str = "SELECT COUNT(*) FROM findings";
    pub(super) const PING: &str = "SELECT 1";

    /// The `findings` columns [`super::FindingColumns`] reads, `verdicts` as JSON text.
    macro_rules! finding_columns {
        ($verdicts:literal) => {
            concat!(
                "source, id, image, repository, ",
                $verdicts,
                ", needs_action, first_seen, last_seen, changed_at, deliveries, report"
            )
        };
    }

    /// `SELECT` of the [`finding_columns`] of the findings that match `$filter`.
    macro_rules! select_findings {
        ($verdicts:literal, $filter:literal) => {
            concat!(
                "SELECT ",
                finding_columns!($verdicts),
                " FROM findings WHERE ",
                $filter
            )
        };
    }

    /// `column = ` the value of the write with the latest receipt: the new one when it is at
    /// least as late as the stored one, so the result does not depend on which of two writes
    /// commits first.
    macro_rules! latest {
        ($table:literal, $new:literal, $column:literal) => {
            concat!(
                $column,
                " = CASE WHEN ",
                $new,
                ".last_seen >= ",
                $table,
                ".last_seen THEN ",
                $new,
                ".",
                $column,
                " ELSE ",
                $table,
                ".",
                $column,
                " END"
            )
        };
    }

    /// What every write of a stored finding updates: the receipt times, the delivery count, and
    /// the repository and report of the latest receipt. No index holds any of these columns, so
    /// a redelivery that changes nothing else rewrites its row alone.
    macro_rules! delivery_set {
        ($table:literal, $new:literal, $least:literal, $greatest:literal) => {
            concat!(
                latest!($table, $new, "repository"),
                ", ",
                latest!($table, $new, "report"),
                ", ",
                "first_seen = ",
                $least,
                "(",
                $table,
                ".first_seen, ",
                $new,
                ".first_seen), ",
                "last_seen = ",
                $greatest,
                "(",
                $table,
                ".last_seen, ",
                $new,
                ".last_seen), ",
                "deliveries = ",
                $table,
                ".deliveries + ",
                $new,
                ".deliveries"
            )
        };
    }

    /// The update of a stored finding by any write: [`delivery_set`], the image, verdicts and
    /// needs-action of the latest receipt, and `changed_at` moved to this write's receipt when it
    /// is the latest and changes the verdicts or the image. (SET expressions read the row as it
    /// was, so `changed_at` compares against the stored values.)
    macro_rules! upsert_set {
        ($table:literal, $new:literal, $least:literal, $greatest:literal, $distinct:literal) => {
            concat!(
                "changed_at = CASE WHEN ",
                $new,
                ".last_seen >= ",
                $table,
                ".last_seen AND (",
                $new,
                ".verdicts ",
                $distinct,
                " ",
                $table,
                ".verdicts OR ",
                $new,
                ".image ",
                $distinct,
                " ",
                $table,
                ".image) THEN ",
                $new,
                ".last_seen ELSE ",
                $table,
                ".changed_at END, ",
                latest!($table, $new, "image"),
                ", ",
                latest!($table, $new, "verdicts"),
                ", ",
                latest!($table, $new, "needs_action"),
                ", ",
                delivery_set!($table, $new, $least, $greatest)
            )
        };
    }

    pub(super) mod sqlite {
        pub(in super::super) const GET: &str =
            select_findings!("verdicts", "source = ?1 AND id = ?2");
        /// Binds: verdict code, image, since (ms), limit; a NULL filter selects everything.
        pub(in super::super) const LIST: &str = select_findings!(
            "verdicts",
            "(?1 IS NULL OR EXISTS \
             (SELECT 1 FROM json_each(findings.verdicts) WHERE json_each.value = ?1)) \
             AND (?2 IS NULL OR image = ?2) AND (?3 IS NULL OR changed_at >= ?3) \
             ORDER BY changed_at DESC, source, id LIMIT ?4"
        );
        pub(in super::super) const BAKE_LIST: &str =
            "SELECT path, sha256, reason FROM bake_entries WHERE repository = ?1";
        /// A batch of merged findings as a JSON array of rows (the columns `sqlite_rows`
        /// writes): updates the stored findings whose verdicts and image the
        /// batch row repeats, touching no index (SQLite rewrites the entries of an index whose
        /// column is assigned, even to the value it had). Returns each updated row's key and
        /// deliveries; the rest go to [`UPSERT_FINDINGS`].
        pub(in super::super) const UPDATE_UNCHANGED: &str = concat!(
            "UPDATE findings SET ",
            delivery_set!("findings", "batch", "min", "max"),
            " FROM (SELECT value ->> 0 AS batch_source, value ->> 1 AS batch_id, \
             value ->> 2 AS image, value ->> 3 AS repository, value ->> 4 AS verdicts, \
             value ->> 6 AS first_seen, value ->> 7 AS last_seen, value ->> 8 AS deliveries, \
             value ->> 9 AS report FROM json_each(?1)) AS batch \
             WHERE findings.source = batch.batch_source AND findings.id = batch.batch_id \
             AND findings.verdicts = batch.verdicts AND findings.image IS batch.image \
             RETURNING source, id, deliveries"
        );
        /// A batch of merged findings as a JSON array of rows (the columns in order), in key
        /// order; returns each row's key and deliveries after the write. (`WHERE true`: SQLite
        /// would read `ON CONFLICT` as a join constraint of the `SELECT`.)
        pub(in super::super) const UPSERT_FINDINGS: &str = concat!(
            "INSERT INTO findings (source, id, image, repository, verdicts, needs_action, \
             first_seen, last_seen, deliveries, report, changed_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, \
             value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9, value ->> 7 \
             FROM json_each(?1) WHERE true \
             ON CONFLICT (source, id) DO UPDATE SET ",
            upsert_set!("findings", "excluded", "min", "max", "IS NOT"),
            " RETURNING source, id, deliveries"
        );
        /// Bake entries as a JSON array of (repository, path, sha256, reason, first seen).
        pub(in super::super) const INSERT_BAKE_ENTRIES: &str = "INSERT INTO bake_entries (repository, path, sha256, reason, first_seen) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 \
             FROM json_each(?1) WHERE true \
             ON CONFLICT (repository, path, sha256) DO NOTHING";
    }

    pub(super) mod postgres {
        pub(in super::super) const GET: &str =
            select_findings!("verdicts::text", "source = $1 AND id = $2");
        /// Binds: verdict code, image, since (ms), limit; a NULL filter selects everything.
        pub(in super::super) const LIST: &str = select_findings!(
            "verdicts::text",
            "($1::text IS NULL OR verdicts ? $1::text) \
             AND ($2::text IS NULL OR image = $2::text) \
             AND ($3::bigint IS NULL OR changed_at >= $3::bigint) \
             ORDER BY changed_at DESC, source, id LIMIT $4"
        );
        pub(in super::super) const BAKE_LIST: &str =
            "SELECT path, sha256, reason FROM bake_entries WHERE repository = $1";
        /// A batch as one statement: merged findings as parallel arrays ($1–$10, in key
        /// order) upserted, and bake entries as parallel arrays ($11–$15: repository, path,
        /// sha256, reason, first seen) added; returns each finding's key and deliveries after
        /// the write. A redelivery that changes neither verdicts nor image leaves every indexed
        /// column as it was, so PostgreSQL updates the row in place (HOT) without writing index
        /// entries.
        pub(in super::super) const WRITE_BATCH: &str = concat!(
            "WITH upserted AS (INSERT INTO findings AS f (source, id, image, repository, \
             verdicts, needs_action, first_seen, last_seen, deliveries, report, changed_at) \
             SELECT source, id, image, repository, verdicts::jsonb, needs_action, \
             first_seen, last_seen, deliveries, report, last_seen \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
             $6::boolean[], $7::bigint[], $8::bigint[], $9::bigint[], $10::text[]) \
             AS batch(source, id, image, repository, verdicts, needs_action, \
             first_seen, last_seen, deliveries, report) \
             ON CONFLICT (source, id) DO UPDATE SET ",
            upsert_set!("f", "EXCLUDED", "LEAST", "GREATEST", "IS DISTINCT FROM"),
            " RETURNING source, id, deliveries), \
             baked AS (INSERT INTO bake_entries (repository, path, sha256, reason, first_seen) \
             SELECT * FROM UNNEST($11::text[], $12::text[], $13::text[], $14::text[], \
             $15::bigint[]) ON CONFLICT (repository, path, sha256) DO NOTHING) \
             SELECT source, id, deliveries FROM upserted"
        );
    }
}
