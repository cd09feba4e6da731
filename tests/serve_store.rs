//! `serve::store` against real databases: each test body runs on SQLite (a temporary file) and
//! on PostgreSQL (`EXELOCK_TEST_POSTGRES_URL`, which `scripts/test.sh` sets after starting a
//! server; each test gets a database of its own, so the URL's user needs CREATEDB). Without
//! the variable the PostgreSQL half is skipped, unless `CI` is set: then it fails.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use exelock::bake::{BakeEntry, BakeList};
use exelock::digest::Sha256Digest;
use exelock::finding::Source;
use exelock::serve::store::{Error, FindingFilter, FindingRecord, Store, Stored};
use exelock::triage::Verdict;
use sqlx::Connection;

/// A database for one test, removed afterwards.
enum TestDatabase {
    Sqlite {
        url: String,
        _dir: tempfile::TempDir,
    },
    Postgres {
        url: String,
        admin_url: String,
        name: String,
    },
}

impl TestDatabase {
    fn url(&self) -> &str {
        match self {
            Self::Sqlite { url, .. } | Self::Postgres { url, .. } => url,
        }
    }

    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // A bare path, as `--db exelock.db` gives it.
        let url = dir.path().join("exelock.db").to_str().unwrap().to_owned();
        Self::Sqlite { url, _dir: dir }
    }

    /// A fresh database on the test server, or `None` to skip (no server outside CI).
    async fn postgres(test: &str) -> Option<Self> {
        let Ok(admin_url) = std::env::var("EXELOCK_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "EXELOCK_TEST_POSTGRES_URL is not set (scripts/test.sh starts a server and sets it)"
            );
            eprintln!("{test}: skipped on PostgreSQL, EXELOCK_TEST_POSTGRES_URL is not set");
            return None;
        };
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "exelock_{test}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let url = with_database_name(&admin_url, &name);
        Some(Self::Postgres {
            url,
            admin_url,
            name,
        })
    }

    async fn drop_database(self) {
        if let Self::Postgres {
            admin_url, name, ..
        } = self
        {
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }

    fn backend(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "sqlite",
            Self::Postgres { .. } => "postgres",
        }
    }
}

/// `postgres://…/DB?…` with another database name.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_start = base.find("://").unwrap() + 3;
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |index| authority_start + index);
    let mut rebuilt = format!("{}/{name}", &base[..path_start]);
    if let Some(query) = query {
        rebuilt.push('?');
        rebuilt.push_str(query);
    }
    rebuilt
}

/// Runs `$body(&TestDatabase)` as two tests, `sqlite` and `postgres`.
macro_rules! on_both_databases {
    ($body:ident) => {
        mod $body {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let database = super::TestDatabase::sqlite();
                super::$body(&database).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(database) = super::TestDatabase::postgres(stringify!($body)).await {
                    super::$body(&database).await;
                    database.drop_database().await;
                }
            }
        }
    };
}

fn at(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

/// 2026-12-01T00:00:00Z, the base of the tests' times.
const BASE_MILLIS: u64 = 1_796_083_200_000;

/// A Falco finding of a foreign binary, received at [`BASE_MILLIS`].
fn falco_foreign(id: &str) -> FindingRecord {
    finding(Source::Falco, id, &[Verdict::Foreign], at(BASE_MILLIS))
}

fn finding(
    source: Source,
    id: &str,
    verdicts: &[Verdict],
    received_at: SystemTime,
) -> FindingRecord {
    let needs_action = verdicts.iter().any(|verdict| !verdict.is_legitimate());
    FindingRecord {
        source,
        id: id.to_owned(),
        image: Some("registry.example/app@sha256:aa".to_owned()),
        repository: Some("registry.example/app".to_owned()),
        verdicts: verdicts.to_vec(),
        needs_action,
        report: serde_json::json!({ "finding": id, "verdicts": verdicts }).to_string(),
        received_at,
        bake: Vec::new(),
    }
}

/// The later delivery of [`redelivery_updates_one_record`] once more, same verdicts and report.
fn later_repeat(first: &FindingRecord) -> FindingRecord {
    let mut repeat = first.clone();
    repeat.verdicts = vec![Verdict::Foreign, Verdict::Unchanged];
    repeat.report = r#"{"delivery":"later"}"#.to_owned();
    repeat
}

fn bake_entry(path: &str, content: &str, reason: &str) -> BakeEntry {
    BakeEntry {
        path: path.to_owned(),
        sha256: Sha256Digest::of(content.as_bytes()),
        reason: Some(reason.to_owned()),
    }
}

async fn redelivery_updates_one_record(database: &TestDatabase) {
    let store = Store::open(database.url()).await.unwrap();
    let first = finding(
        Source::Scc,
        "organizations/1/findings/a",
        &[Verdict::Foreign],
        at(BASE_MILLIS),
    );
    assert_eq!(store.record(first.clone()).await.unwrap(), Stored::New);

    let mut later = first.clone();
    later.received_at = at(BASE_MILLIS + 5_000);
    later.verdicts = vec![Verdict::Foreign, Verdict::Unchanged];
    later.report = r#"{"delivery":"later"}"#.to_owned();
    assert_eq!(store.record(later).await.unwrap(), Stored::Updated);

    // A delayed redelivery of an older receipt counts, but does not replace the newer report.
    let mut older = first.clone();
    older.received_at = at(BASE_MILLIS - 1_000);
    older.report = r#"{"delivery":"older"}"#.to_owned();
    assert_eq!(store.record(older).await.unwrap(), Stored::Updated);

    // A redelivery that changes neither verdicts nor image: counted and seen, not changed.
    let mut repeated = later_repeat(&first);
    repeated.received_at = at(BASE_MILLIS + 9_000);
    assert_eq!(store.record(repeated).await.unwrap(), Stored::Updated);

    assert_eq!(store.count().await.unwrap(), 1);
    let stored = store
        .get(Source::Scc, "organizations/1/findings/a")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.deliveries, 4);
    assert_eq!(stored.first_seen, at(BASE_MILLIS - 1_000));
    assert_eq!(stored.last_seen, at(BASE_MILLIS + 9_000));
    // Changed by the delivery that changed the verdicts; not by the older one (its verdicts
    // lost to the later receipt) nor by the repeat.
    assert_eq!(stored.changed_at, at(BASE_MILLIS + 5_000));
    assert_eq!(stored.verdicts, [Verdict::Foreign, Verdict::Unchanged]);
    assert!(stored.needs_action);
    assert_eq!(stored.report.get(), r#"{"delivery":"later"}"#);

    let json = serde_json::to_value(&stored).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "source": "scc",
            "id": "organizations/1/findings/a",
            "image": "registry.example/app@sha256:aa",
            "repository": "registry.example/app",
            "verdicts": ["foreign", "unchanged"],
            "needsAction": true,
            "firstSeen": "2026-11-30T23:59:59Z",
            "lastSeen": "2026-12-01T00:00:09Z",
            "changedAt": "2026-12-01T00:00:05Z",
            "deliveries": 4,
            "report": { "delivery": "later" },
        }),
        "{}",
        database.backend()
    );

    // The same id from another source is another finding.
    let other_source = finding(
        Source::Falco,
        "organizations/1/findings/a",
        &[Verdict::Unchanged],
        at(BASE_MILLIS),
    );
    assert_eq!(store.record(other_source).await.unwrap(), Stored::New);
    assert_eq!(store.count().await.unwrap(), 2);
    assert!(
        store
            .get(Source::GuardDuty, "organizations/1/findings/a")
            .await
            .unwrap()
            .is_none()
    );
    store.close().await;
}
on_both_databases!(redelivery_updates_one_record);

/// Two stores on one database are two replicas: each has its own pool and writer.
async fn concurrent_records_from_two_stores(database: &TestDatabase) {
    let (first, second) = tokio::join!(Store::open(database.url()), Store::open(database.url()));
    let replicas = [first.unwrap(), second.unwrap()];
    const PER_REPLICA: usize = 150;
    let mut tasks = tokio::task::JoinSet::new();
    for (replica, store) in replicas.iter().enumerate() {
        for delivery in 0..PER_REPLICA {
            let store = store.clone();
            let millis = BASE_MILLIS + u64::try_from(delivery).unwrap();
            tasks.spawn(async move {
                let mut shared = finding(
                    Source::GuardDuty,
                    "shared",
                    &[Verdict::Modified],
                    at(millis),
                );
                shared.bake = vec![bake_entry("/usr/bin/tool", "tool", "shared")];
                let own = finding(
                    Source::GuardDuty,
                    &format!("own-{replica}-{delivery}"),
                    &[Verdict::Unchanged],
                    at(millis),
                );
                let (shared, own) = tokio::join!(store.record(shared), store.record(own));
                (shared.unwrap(), own.unwrap())
            });
        }
    }
    let mut shared_new = 0;
    while let Some(outcome) = tasks.join_next().await {
        let (shared, own) = outcome.unwrap();
        shared_new += usize::from(shared == Stored::New);
        assert_eq!(own, Stored::New);
    }
    assert_eq!(
        shared_new,
        1,
        "{}: exactly one delivery of the shared finding is new",
        database.backend()
    );
    let stored = replicas[1]
        .get(Source::GuardDuty, "shared")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.deliveries, u64::try_from(2 * PER_REPLICA).unwrap());
    assert_eq!(stored.first_seen, at(BASE_MILLIS));
    assert_eq!(
        stored.last_seen,
        at(BASE_MILLIS + u64::try_from(PER_REPLICA - 1).unwrap())
    );
    assert_eq!(
        replicas[0].count().await.unwrap(),
        u64::try_from(1 + 2 * PER_REPLICA).unwrap()
    );
    assert_eq!(
        replicas[0]
            .bake_list("registry.example/app")
            .await
            .unwrap()
            .entries,
        [bake_entry("/usr/bin/tool", "tool", "shared")]
    );
    for store in &replicas {
        store.close().await;
    }
}
on_both_databases!(concurrent_records_from_two_stores);

/// A filter test case: id, image, verdicts, milliseconds after [`BASE_MILLIS`].
type FilterCase = (&'static str, &'static str, Vec<Verdict>, u64);

async fn filters(database: &TestDatabase) {
    let store = Store::open(database.url()).await.unwrap();
    let mut cases: [FilterCase; 5] = [
        (
            "a",
            "img-1",
            vec![Verdict::Foreign, Verdict::Unchanged],
            1_000,
        ),
        ("b", "img-1", vec![Verdict::Unchanged], 2_000),
        ("c", "img-2", vec![Verdict::Modified], 3_000),
        (
            "d",
            "img-2",
            vec![Verdict::Unchanged, Verdict::Unchanged],
            4_000,
        ),
        ("e", "img-1", vec![Verdict::Fileless], 5_000),
    ];
    for (id, image, verdicts, offset) in &cases {
        let mut record = finding(Source::Falco, id, verdicts, at(BASE_MILLIS + offset));
        record.image = Some((*image).to_owned());
        store.record(record).await.unwrap();
    }
    // Redeliveries: "a" unchanged (it keeps its place and stays out of a later `since`), "b"
    // with new verdicts (it becomes the newest change).
    let mut repeat = finding(Source::Falco, "a", &cases[0].2, at(BASE_MILLIS + 6_000));
    repeat.image = Some(cases[0].1.to_owned());
    assert_eq!(store.record(repeat).await.unwrap(), Stored::Updated);
    cases[1].2 = vec![Verdict::Modified];
    cases[1].3 = 7_000;
    let mut changed = finding(Source::Falco, "b", &cases[1].2, at(BASE_MILLIS + 7_000));
    changed.image = Some(cases[1].1.to_owned());
    assert_eq!(store.record(changed).await.unwrap(), Stored::Updated);
    // What each filter should select, computed from the cases, newest first.
    let expected = |keep: &dyn Fn(&FilterCase) -> bool, limit: usize| {
        let mut ids: Vec<(u64, &str)> = cases
            .iter()
            .filter(|case| keep(case))
            .map(|case| (case.3, case.0))
            .collect();
        ids.sort_by(|left, right| right.cmp(left));
        ids.into_iter()
            .take(limit)
            .map(|(_, id)| id.to_owned())
            .collect::<Vec<_>>()
    };
    let listed = |filter: FindingFilter| {
        let store = store.clone();
        async move {
            store
                .list(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|stored| stored.id)
                .collect::<Vec<_>>()
        }
    };

    let everything = FindingFilter {
        limit: 100,
        ..FindingFilter::default()
    };
    assert_eq!(listed(everything.clone()).await, expected(&|_| true, 100));
    assert_eq!(
        listed(FindingFilter {
            limit: 2,
            ..everything.clone()
        })
        .await,
        expected(&|_| true, 2)
    );
    for verdict in [
        Verdict::Unchanged,
        Verdict::Foreign,
        Verdict::Modified,
        Verdict::Relocated,
    ] {
        assert_eq!(
            listed(FindingFilter {
                verdict: Some(verdict),
                ..everything.clone()
            })
            .await,
            expected(&|case| case.2.contains(&verdict), 100),
            "{}: verdict {verdict}",
            database.backend()
        );
    }
    assert_eq!(
        listed(FindingFilter {
            image: Some("img-2".to_owned()),
            ..everything.clone()
        })
        .await,
        expected(&|case| case.1 == "img-2", 100)
    );
    assert_eq!(
        listed(FindingFilter {
            since: Some(at(BASE_MILLIS + 3_000)),
            ..everything.clone()
        })
        .await,
        expected(&|case| case.3 >= 3_000, 100)
    );
    assert_eq!(
        listed(FindingFilter {
            verdict: Some(Verdict::Unchanged),
            image: Some("img-1".to_owned()),
            since: Some(at(BASE_MILLIS + 1_500)),
            limit: 100,
        })
        .await,
        expected(
            &|case| case.2.contains(&Verdict::Unchanged) && case.1 == "img-1" && case.3 >= 1_500,
            100
        )
    );
    store.close().await;
}
on_both_databases!(filters);

async fn bake_list(database: &TestDatabase) {
    let store = Store::open(database.url()).await.unwrap();
    let records = [
        (
            "app",
            "f1",
            vec![
                bake_entry("/usr/bin/zeta", "z", "first"),
                bake_entry("/usr/bin/alpha", "a", "first"),
            ],
        ),
        // The same binary again (another reason) and the same path with other content.
        (
            "app",
            "f2",
            vec![
                bake_entry("/usr/bin/alpha", "a", "second"),
                bake_entry("/usr/bin/alpha", "a2", "second"),
            ],
        ),
        ("other", "f3", vec![bake_entry("/bin/other", "o", "first")]),
    ];
    let mut expected: BTreeMap<&str, BakeList> = BTreeMap::new();
    for (repository, id, entries) in &records {
        let mut record = finding(Source::Scc, id, &[Verdict::Relocated], at(BASE_MILLIS));
        record.repository = Some(format!("registry.example/{repository}"));
        record.bake = entries.clone();
        store.record(record).await.unwrap();
        expected
            .entry(repository)
            .or_default()
            .merge(entries.iter().cloned());
    }
    for (repository, list) in &expected {
        let stored = store
            .bake_list(&format!("registry.example/{repository}"))
            .await
            .unwrap();
        assert_eq!(&stored, list, "{}", database.backend());
    }
    assert_eq!(
        store.bake_list("registry.example/unknown").await.unwrap(),
        BakeList {
            version: 1,
            entries: Vec::new()
        }
    );

    // Bake entries without a repository to put them in are refused, and nothing is stored.
    let mut orphan = finding(
        Source::Scc,
        "orphan",
        &[Verdict::Unchanged],
        at(BASE_MILLIS),
    );
    orphan.repository = None;
    orphan.bake = vec![bake_entry("/bin/x", "x", "orphan")];
    let error = store.record(orphan).await.unwrap_err();
    assert!(
        matches!(error, Error::InvalidRecord { field: "bake", .. }),
        "{error}"
    );
    assert!(!error.is_transient());
    assert!(store.get(Source::Scc, "orphan").await.unwrap().is_none());
    store.close().await;
}
on_both_databases!(bake_list);

async fn invalid_records_fail_alone(database: &TestDatabase) {
    let store = Store::open(database.url()).await.unwrap();
    let mut not_json = falco_foreign("not-json");
    not_json.report = "{\"truncated\":".to_owned();
    let mut nul = falco_foreign("nul\0id");
    nul.report = "{}".to_owned();
    let good = falco_foreign("good");
    let (not_json, nul, good) = tokio::join!(
        store.record(not_json),
        store.record(nul),
        store.record(good)
    );
    let not_json = not_json.unwrap_err();
    assert_eq!(
        not_json.to_string(),
        "finding falco/not-json: report is not JSON"
    );
    assert!(!not_json.is_transient());
    let nul = nul.unwrap_err();
    assert!(
        matches!(nul, Error::InvalidRecord { field: "id", .. }),
        "{nul}"
    );
    assert_eq!(good.unwrap(), Stored::New);
    assert_eq!(store.count().await.unwrap(), 1);
    store.close().await;
}
on_both_databases!(invalid_records_fail_alone);

/// The migration files of a backend, as the store embeds them.
fn migration_files(backend: &str) -> usize {
    std::fs::read_dir(format!(
        "{}/migrations/{backend}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .filter(|entry| {
        entry
            .as_ref()
            .unwrap()
            .path()
            .extension()
            .is_some_and(|ext| ext == "sql")
    })
    .count()
}

async fn applied_migrations(database: &TestDatabase) -> i64 {
    let query = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
    match database {
        TestDatabase::Sqlite { url, .. } => {
            let mut connection = sqlx::SqliteConnection::connect(&format!("sqlite:{url}"))
                .await
                .unwrap();
            sqlx::query_scalar(query)
                .fetch_one(&mut connection)
                .await
                .unwrap()
        }
        TestDatabase::Postgres { url, .. } => {
            let mut connection = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(query)
                .fetch_one(&mut connection)
                .await
                .unwrap()
        }
    }
}

async fn reopening_runs_migrations_once(database: &TestDatabase) {
    // Replicas starting at the same moment both migrate the new database.
    let (first, second) = tokio::join!(Store::open(database.url()), Store::open(database.url()));
    let (first, second) = (first.unwrap(), second.unwrap());
    first
        .record(finding(
            Source::Scc,
            "kept",
            &[Verdict::Unchanged],
            at(BASE_MILLIS),
        ))
        .await
        .unwrap();
    first.close().await;
    second.close().await;
    let expected = i64::try_from(migration_files(database.backend())).unwrap();
    assert_eq!(applied_migrations(database).await, expected);

    let reopened = Store::open(database.url()).await.unwrap();
    assert_eq!(applied_migrations(database).await, expected);
    assert_eq!(reopened.count().await.unwrap(), 1);
    assert!(reopened.get(Source::Scc, "kept").await.unwrap().is_some());
    reopened.ping().await.unwrap();
    reopened.close().await;
}
on_both_databases!(reopening_runs_migrations_once);

#[tokio::test]
async fn unreachable_postgres_is_transient_and_keeps_the_password_out() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("postgres://exelock:hunter2secret@127.0.0.1:{port}/exelock?sslmode=disable");
    let error = Store::open(&url).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    let message = error.to_string();
    assert_eq!(
        message,
        format!(
            "cannot open database postgres://exelock:***@127.0.0.1:{port}/exelock?sslmode=disable"
        )
    );
    assert!(!format!("{error:?}").contains("hunter2secret"));
}

#[tokio::test]
async fn unsupported_database_urls_are_final() {
    for url in ["mysql://user:pw@localhost/db", ""] {
        let error = Store::open(url).await.unwrap_err();
        assert!(
            matches!(error, Error::UnsupportedDatabase { .. }),
            "{url}: {error}"
        );
        assert!(!error.is_transient());
        assert!(!error.to_string().contains(":pw@"), "{error}");
    }
    let directory = tempfile::tempdir().unwrap();
    let missing = directory.path().join("no-such-dir/exelock.db");
    let error = Store::open(missing.to_str().unwrap()).await.unwrap_err();
    assert!(!error.is_transient(), "{error:?}");
    assert!(
        error.to_string().contains("no-such-dir/exelock.db"),
        "{error}"
    );
}

/// A TCP proxy in front of the PostgreSQL server that can be taken down, closing every
/// connection: the database becomes unreachable under a running store.
struct Proxy {
    port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            // Aborting the accept loop drops this set, which aborts every connection.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let (mut client, _) = listener.accept().await.unwrap();
                connections.spawn(async move {
                    let mut server = tokio::net::TcpStream::connect(target).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        Self { port, task }
    }

    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_going_down_is_transient() {
    let Some(database) = TestDatabase::postgres("down").await else {
        return;
    };
    let options: sqlx::postgres::PgConnectOptions = database.url().parse().unwrap();
    let target = tokio::net::lookup_host((options.get_host(), options.get_port()))
        .await
        .unwrap()
        .next()
        .unwrap();
    let proxy = Proxy::start(target).await;
    let through_proxy = database.url().replacen(
        &format!(":{}/", options.get_port()),
        &format!(":{}/", proxy.port),
        1,
    );
    let store = Store::open(&through_proxy).await.unwrap();
    store.record(falco_foreign("before")).await.unwrap();
    store.ping().await.unwrap();

    proxy.stop().await;
    let error = store.record(falco_foreign("during")).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    assert!(store.ping().await.unwrap_err().is_transient());
    store.close().await;

    let direct = Store::open(database.url()).await.unwrap();
    assert!(direct.get(Source::Falco, "during").await.unwrap().is_none());
    assert_eq!(direct.count().await.unwrap(), 1);
    direct.close().await;
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_locked_past_the_busy_timeout_is_transient() {
    let database = TestDatabase::sqlite();
    let store = Store::open(database.url()).await.unwrap();
    let mut holder = sqlx::SqliteConnection::connect(&format!("sqlite:{}", database.url()))
        .await
        .unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .unwrap();
    let error = store.record(falco_foreign("locked")).await.unwrap_err();
    assert!(error.is_transient(), "{error:?}");
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    assert_eq!(
        store.record(falco_foreign("locked")).await.unwrap(),
        Stored::New
    );
    store.close().await;
}
