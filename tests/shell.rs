//! The shell side of the command line: completion scripts and man pages generated and parsed by
//! the shells and `man` that are installed, `--color` against the colour environment, and every
//! subcommand's help examples run as written.

use std::path::Path;

use rstest::rstest;

use crate::support::command::{binary, subcommands, test_environment};
use crate::support::fixtures::root;
use crate::support::{
    assert_input_error, assert_policy_failure, exelock, exelock_output, transcript,
};

/// Variables that decide colour on a terminal (besides those every run goes without), removed
/// so each terminal test states its own.
const TERMINAL: &[&str] = &["CI", "TERM"];

/// One `$ ` example of a help text: the command (continuation lines joined) and the exit code
/// its `# exit N` comment states (0 without one).
#[derive(Debug)]
struct Example {
    command: String,
    exit: i32,
}

fn examples(help: &str) -> Vec<Example> {
    let mut found = Vec::new();
    let mut lines = help.split("Examples:\n").nth(1).unwrap_or_default().lines();
    while let Some(line) = lines.next() {
        let Some(first) = line.trim_start().strip_prefix("$ ") else {
            if line.trim().is_empty() {
                break;
            }
            continue;
        };
        let mut command = first.to_owned();
        while command.ends_with('\\') {
            command.pop();
            command.push_str(lines.next().expect("a continued example continues").trim());
        }
        let exit = command.split_once("# exit ").map_or(0, |(_, rest)| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        });
        found.push(Example { command, exit });
    }
    found
}

#[test]
fn the_example_reader_joins_continuations_and_reads_exit_codes() {
    let help = "About.\n\nExamples:\n  $ exelock a \\\n      --b c   # exit 1: why\n  $ exelock d\n\nMore:\n  $ exelock not-an-example\n";
    let found = examples(help);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].command, "exelock a --b c   # exit 1: why");
    assert_eq!(found[0].exit, 1);
    assert_eq!((found[1].command.as_str(), found[1].exit), ("exelock d", 0));
}

/// Every subcommand documents examples that run from the repository root against testdata/,
/// exiting as documented.
#[test]
fn every_subcommand_help_has_examples_that_run_as_documented() {
    let bin_dir = binary().parent().unwrap().to_owned();
    let path = std::env::join_paths(
        std::iter::once(bin_dir).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    let commands = subcommands();
    assert!(commands.len() >= 10, "{commands:?}");
    let mut ran = 0;
    for name in &commands {
        let output = exelock_output(&[name, "--help"]);
        let help = String::from_utf8(output.stdout).unwrap();
        let found = examples(&help);
        assert!(
            !found.is_empty(),
            "exelock {name} --help has no examples:\n{help}"
        );
        for example in found {
            let words: Vec<&str> = example
                .command
                .split_whitespace()
                .skip_while(|word| word.contains('='))
                .take(2)
                .collect();
            assert_eq!(
                words,
                ["exelock", name.as_str()],
                "an example of {name} runs another command: {}",
                example.command
            );
            let output = test_environment(&mut std::process::Command::new("bash"))
                .args(["-c", &example.command])
                .current_dir(root())
                .env("PATH", &path)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert_eq!(
                output.status.code(),
                Some(example.exit),
                "{}\n{}",
                example.command,
                transcript(&output)
            );
            ran += 1;
        }
    }
    assert!(ran >= 25, "only {ran} examples");
}

#[test]
fn completion_scripts_are_written_for_every_shell_and_parse() {
    let names = subcommands();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let output = exelock_output(&["completions", shell]);
        assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
        let script = String::from_utf8(output.stdout).unwrap();
        for name in &names {
            assert!(
                script.contains(name.as_str()),
                "{shell} script lacks {name}"
            );
        }
        assert!(script.contains("color"), "{shell} script lacks --color");
        // Each shell parses its own script without running it, where that shell is installed.
        let check: &[&str] = match shell {
            "bash" => &["bash", "-n"],
            "zsh" => &["zsh", "-n"],
            "fish" => &["fish", "--no-execute"],
            _ => continue,
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(format!("exelock.{shell}"));
        fs_err::write(&file, &script).unwrap();
        let parsed = match std::process::Command::new(check[0])
            .args(&check[1..])
            .arg(&file)
            .output()
        {
            Ok(parsed) => parsed,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && shell != "bash" => {
                eprintln!("{shell} is not installed: its script is not parsed");
                continue;
            }
            Err(error) => panic!("cannot run {shell}: {error}"),
        };
        assert!(parsed.status.success(), "{shell}: {}", transcript(&parsed));
    }
    let unknown = exelock_output(&["completions", "tcsh"]);
    assert_input_error(&unknown, "tcsh");
}

/// What `man -l` (through preconv, as a reader sees the page) and, where groff is installed,
/// `groff -man` with every warning report about a page; `None` without `man`. Both leave out
/// `break`, which only says a word longer than the line (a 64-digit digest) stayed whole.
fn render_warnings(page: &Path) -> Option<String> {
    let output = std::process::Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "80")
        .env("MANROFFOPT", "-Wbreak")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("LC_ALL", "C.UTF-8")
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => panic!("cannot run man: {error}"),
    };
    assert!(
        output.status.success(),
        "man -l {}: {}",
        page.display(),
        transcript(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("exelock"),
        "{}",
        transcript(&output)
    );
    let mut warnings = String::from_utf8_lossy(&output.stderr).into_owned();
    if let Ok(groff) = std::process::Command::new("groff")
        .args(["-K", "utf8", "-man", "-ww", "-Wbreak", "-z"])
        .arg(page)
        .output()
    {
        assert!(
            groff.status.success(),
            "groff {}: {}",
            page.display(),
            transcript(&groff)
        );
        warnings.push_str(&String::from_utf8_lossy(&groff.stderr));
    }
    Some(warnings)
}

#[test]
fn man_pages_are_written_per_subcommand_and_render_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let pages = dir.path().join("man1");
    let output = exelock().arg("man").arg(&pages).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let mut written: Vec<String> = fs_err::read_dir(&pages)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    let mut expected: Vec<String> = subcommands()
        .iter()
        .map(|name| format!("exelock-{name}.1"))
        .chain(["exelock.1".to_owned()])
        .collect();
    expected.sort();
    assert_eq!(written, expected);
    let gate = fs_err::read_to_string(pages.join("exelock-gate.1")).unwrap();
    assert!(gate.contains(".TH exelock-gate 1"), "{gate}");
    assert!(
        gate.contains("image\\-digest"),
        "the gate page carries its help text"
    );
    for name in &written {
        match render_warnings(&pages.join(name)) {
            Some(warnings) => assert_eq!(warnings, "", "man -l {name} warned"),
            None => {
                eprintln!("man is not installed: the pages are not rendered");
                return;
            }
        }
    }
}

const ESCAPE: &str = "\u{1b}[";

/// `exelock diff tiny demo --format table` (lines of `added …`) with `--color` and the
/// environment given, on a pipe or on a terminal (a pseudo-terminal from Python's pty module).
fn diff_output(flag: Option<&str>, environment: &[(&str, &str)], terminal: bool) -> String {
    let mut args: Vec<String> = Vec::new();
    if let Some(flag) = flag {
        args.extend(["--color".to_owned(), flag.to_owned()]);
    }
    args.extend(
        [
            "diff",
            "oci:testdata/images/tiny",
            "oci:testdata/images/demo",
            "--format",
            "table",
            "-q",
        ]
        .map(str::to_owned),
    );
    let output = if terminal {
        let mut command = std::process::Command::new("python3");
        test_environment(&mut command)
            .current_dir(root())
            .args([
                "-c",
                "import os, pty, sys; sys.exit(os.waitstatus_to_exitcode(pty.spawn(sys.argv[1:])))",
            ])
            .arg(binary())
            .args(&args)
            .stdin(std::process::Stdio::null());
        for variable in TERMINAL {
            command.env_remove(variable);
        }
        command.envs(environment.iter().copied()).output().unwrap()
    } else {
        exelock()
            .args(&args)
            .envs(environment.iter().copied())
            .output()
            .unwrap()
    };
    assert_eq!(output.status.code(), Some(0), "{}", transcript(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("added"), "{stdout}");
    stdout
}

#[rstest]
#[case::auto_on_a_pipe_is_plain(None, &[], false, false)]
#[case::auto_on_a_terminal_colours(None, &[("TERM", "xterm")], true, true)]
#[case::no_color_turns_auto_off(None, &[("TERM", "xterm"), ("NO_COLOR", "1")], true, false)]
#[case::an_empty_no_color_is_unset(None, &[("TERM", "xterm"), ("NO_COLOR", "")], true, true)]
#[case::a_dumb_terminal_is_plain(None, &[("TERM", "dumb")], true, false)]
#[case::clicolor_zero_turns_auto_off(None, &[("TERM", "xterm"), ("CLICOLOR", "0")], true, false)]
#[case::clicolor_force_colours_a_pipe(None, &[("CLICOLOR_FORCE", "1")], false, true)]
#[case::no_color_beats_clicolor_force(None, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")], false, false)]
#[case::always_beats_no_color(Some("always"), &[("NO_COLOR", "1")], false, true)]
#[case::never_beats_clicolor_force(Some("never"), &[("TERM", "xterm"), ("CLICOLOR_FORCE", "1")], true, false)]
#[case::explicit_auto_is_auto(Some("auto"), &[("CLICOLOR_FORCE", "1")], false, true)]
fn color_follows_the_flag_then_the_environment(
    #[case] flag: Option<&str>,
    #[case] environment: &[(&str, &str)],
    #[case] terminal: bool,
    #[case] coloured: bool,
) {
    let stdout = diff_output(flag, environment, terminal);
    assert_eq!(stdout.contains(ESCAPE), coloured, "{stdout:?}");
    if coloured {
        assert!(
            stdout.contains("\u{1b}[1m\u{1b}[32madded\u{1b}[0m"),
            "{stdout:?}"
        );
    }
}

#[test]
fn color_styles_text_reports_but_never_json_and_reaches_help_and_errors() {
    let gate = exelock()
        .args(["--color", "always", "gate", "oci:testdata/images/demo"])
        .args(["--policy", "testdata/examples/exelock.toml", "-q"])
        .output()
        .unwrap();
    let report = assert_policy_failure(&gate, "\u{1b}[1m\u{1b}[31mDENY\u{1b}[0m  setuid");
    assert!(
        report.contains("\u{1b}[1m\u{1b}[31mgate FAIL\u{1b}[0m: "),
        "{report:?}"
    );

    for (args, what) in [
        (
            &["scan", "oci:testdata/images/demo", "--format", "json"][..],
            "scan",
        ),
        (
            &[
                "gate",
                "oci:testdata/images/demo",
                "--policy",
                "testdata/examples/exelock.toml",
                "--format",
                "json",
            ][..],
            "gate",
        ),
    ] {
        let output = exelock()
            .args(["--color", "always"])
            .args(args)
            .arg("-q")
            .output()
            .unwrap();
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert!(
            !stdout.contains('\u{1b}'),
            "{what} JSON is styled: {stdout:?}"
        );
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap();
    }

    let help = exelock_output(&["scan", "--help", "--color=always"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains(ESCAPE));
    let plain_help = exelock()
        .args(["--color", "never", "scan", "--help"])
        .env("CLICOLOR_FORCE", "1")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain_help.stdout).contains('\u{1b}'));

    let error = exelock_output(&["--color", "always", "scan", "oci:testdata/images/missing"]);
    let stderr = assert_input_error(&error, "testdata/images/missing");
    assert!(
        stderr.starts_with("\u{1b}[1m\u{1b}[31merror\u{1b}[0m: "),
        "{stderr:?}"
    );
    let plain_error = exelock_output(&["scan", "oci:testdata/images/missing"]);
    assert!(String::from_utf8_lossy(&plain_error.stderr).starts_with("error: "));

    let bad = exelock_output(&["--color", "sometimes", "scan", "x"]);
    assert_input_error(&bad, "sometimes");
}
