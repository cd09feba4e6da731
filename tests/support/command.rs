//! The `exelock` binary as every test runs it, and the checks of how a run ended.
//!
//! A run must depend only on what its test sets: [`exelock`] starts from an environment with
//! every variable the tool reads removed (its own `EXELOCK_*`, the signing variables `COSIGN_*`
//! and `SIGSTORE_*`, the CI variables `ACTIONS_*` and `GITHUB_*`, the engine and registry
//! configuration, the cache location and the colour switches), with `HOME` an empty directory
//! of the build's own (so nothing is read from the developer's `~/.docker` or `~/.cache`), and
//! with the layer cache off (`EXELOCK_NO_CACHE=1`), in the crate root, where the `testdata/` paths of the help examples
//! resolve. [`exelock_in`] runs in a directory of the test's own instead. A test that needs the
//! cache or a variable sets it on top.
//!
//! Exit codes are part of the interface: 0 is success, 1 a policy failure (the report on stdout
//! says why), 2 an input or tool error (stderr says what). [`assert_success`] (or [`run_ok`],
//! which runs the command too, or [`assert_success_printing`]), [`assert_policy_failure`] and
//! [`assert_input_error`] check the code (and the message) and print the whole run when it is
//! wrong.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use super::fixtures::root;

/// Prefixes of the variables the tool or its integrations read.
const INHERITED_PREFIXES: &[&str] = &["EXELOCK_", "COSIGN_", "SIGSTORE_", "ACTIONS_", "GITHUB_"];

/// Single variables the tool reads: where registry credentials and the engine are, where the
/// cache lives, and whether to colour.
const INHERITED_VARIABLES: &[&str] = &[
    "DOCKER_CONFIG",
    "DOCKER_HOST",
    "XDG_RUNTIME_DIR",
    "XDG_CACHE_HOME",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
];

/// The `HOME` of every run: a directory under the build's temporary directory, made empty at
/// the first run of this test process.
fn test_home() -> &'static Path {
    static HOME: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join("home");
        let _ = fs_err::remove_dir_all(&home);
        fs_err::create_dir_all(&home).expect("the test HOME can be made");
        home
    })
}

/// The built binary, for scripts and shells that run it themselves.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_exelock"))
}

/// Gives `command` (exelock itself, or a shell or script that runs it) the environment of every
/// test run: none of the inherited variables the tool reads, and the layer cache off.
pub fn test_environment(command: &mut std::process::Command) -> &mut std::process::Command {
    for (name, _) in std::env::vars_os() {
        if is_read_by_the_tool(&name) {
            command.env_remove(name);
        }
    }
    for name in INHERITED_VARIABLES {
        command.env_remove(name);
    }
    command
        .env("HOME", test_home())
        .env("EXELOCK_NO_CACHE", "1")
}

fn is_read_by_the_tool(name: &OsStr) -> bool {
    name.to_str().is_some_and(|name| {
        INHERITED_PREFIXES
            .iter()
            .any(|prefix| name.starts_with(prefix))
    })
}

/// `exelock` in the crate root with none of the inherited environment it reads and the layer
/// cache off, as a [`std::process::Command`] for tests that spawn it and keep it running.
pub fn exelock_process() -> std::process::Command {
    let mut command = std::process::Command::new(binary());
    test_environment(&mut command).current_dir(root());
    command
}

/// `exelock` in the crate root with none of the inherited environment it reads and the layer
/// cache off.
pub fn exelock() -> assert_cmd::Command {
    assert_cmd::Command::from_std(exelock_process())
}

/// Runs `exelock ARGS` (see [`exelock`]) and returns how it ended.
pub fn exelock_output(args: &[&str]) -> Output {
    exelock().args(args).output().unwrap()
}

/// [`exelock`] in `dir`, which is also its Docker config directory: registry credentials come
/// only from what the test writes there, and key files and bundles are named relative to it.
pub fn exelock_in(dir: &Path) -> assert_cmd::Command {
    assert_cmd::Command::from_std(exelock_process_in(dir))
}

/// [`exelock_in`] as a [`std::process::Command`], for tests that spawn it and keep it running.
pub fn exelock_process_in(dir: &Path) -> std::process::Command {
    let mut command = exelock_process();
    command.current_dir(dir).env("DOCKER_CONFIG", dir);
    command
}

/// The subcommands `exelock --help` lists (but `help`).
pub fn subcommands() -> Vec<String> {
    let output = exelock().arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    help.split("Commands:\n")
        .nth(1)
        .expect("exelock --help lists its commands")
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// What a run printed: stdout, then stderr.
pub fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A run's exit code, stdout and stderr, labelled, for failure messages.
pub fn transcript(output: &Output) -> String {
    format!(
        "exit code {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts that the run succeeded (exit code 0).
#[track_caller]
pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "expected success, got:\n{}",
        transcript(output)
    );
}

/// Asserts that the run succeeded (exit code 0) and printed `message` on stdout or stderr;
/// returns what it printed.
#[track_caller]
pub fn assert_success_printing(output: &Output, message: &str) -> String {
    assert_exit(
        output,
        0,
        "stdout or stderr",
        printed(output).as_bytes(),
        message,
    )
}

/// Runs `command`, which must succeed; returns the run for further checks.
#[track_caller]
pub fn run_ok(command: &mut assert_cmd::Command) -> Output {
    let output = command.output().unwrap();
    assert_success(&output);
    output
}

/// Asserts that the run ended with exit code 2 (an input or tool error) and that stderr says
/// `message`; returns stderr for further checks.
#[track_caller]
pub fn assert_input_error(output: &Output, message: &str) -> String {
    assert_exit(output, 2, "stderr", &output.stderr, message)
}

/// Asserts that the run ended with exit code 1 (a policy failure: a gate violation, an
/// attestation that does not verify, a finding to act on) and that its report on stdout says
/// `message`; returns stdout for further checks.
#[track_caller]
pub fn assert_policy_failure(output: &Output, message: &str) -> String {
    assert_exit(output, 1, "stdout", &output.stdout, message)
}

#[track_caller]
fn assert_exit(output: &Output, code: i32, stream: &str, text: &[u8], message: &str) -> String {
    let text = String::from_utf8_lossy(text).into_owned();
    assert!(
        output.status.code() == Some(code) && text.contains(message),
        "expected exit code {code} and {message:?} on {stream}, got:\n{}",
        transcript(output)
    );
    text
}
