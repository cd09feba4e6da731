//! The deploy files and docs/serve.md against `exelock serve --help`: every flag they pass to the
//! service and every `EXELOCK_*` variable they set for it must exist, so a renamed flag cannot
//! leave a Deployment that crash-loops on "unexpected argument".
//!
//! Read: every YAML file under deploy/ (container `args`/`command` of an exelock image, `env`
//! names and any `EXELOCK_*` key), the Containerfile (`ENV`, `ENTRYPOINT`, `CMD`), and the shell
//! and YAML blocks of docs/serve.md (`exelock serve …`, `VAR=… exelock serve`, container runs of
//! an exelock image, `-e VAR=…`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::fixtures::root;
use crate::support::{exelock, run_ok};

/// What the help names: option flags (`--listen`) and environment variables.
#[derive(Debug, Default)]
struct Known {
    flags: BTreeSet<String>,
    variables: BTreeSet<String>,
}

/// What a file uses, with where (for the failure message).
#[derive(Debug, Default)]
struct Used {
    flags: BTreeSet<(String, String)>,
    variables: BTreeSet<(String, String)>,
}

impl Used {
    fn flag(&mut self, origin: &str, token: &str) {
        if let Some(name) = token.strip_prefix("--").filter(|name| !name.is_empty()) {
            let name = name.split('=').next().unwrap_or(name);
            self.flags.insert((format!("--{name}"), origin.to_owned()));
        }
    }

    fn variable(&mut self, origin: &str, name: &str) {
        if name.starts_with("EXELOCK_") {
            self.variables.insert((name.to_owned(), origin.to_owned()));
        }
    }

    fn flag_names(&self) -> BTreeSet<&str> {
        self.flags.iter().map(|(name, _)| name.as_str()).collect()
    }

    fn variable_names(&self) -> BTreeSet<&str> {
        self.variables
            .iter()
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Every use the help does not know, as `origin: name`.
    fn unknown(&self, known: &Known) -> Vec<String> {
        let flags = self
            .flags
            .iter()
            .filter(|(name, _)| !known.flags.contains(name))
            .map(|(name, origin)| format!("{origin}: flag {name}"));
        let variables = self
            .variables
            .iter()
            .filter(|(name, _)| !known.variables.contains(name))
            .map(|(name, origin)| format!("{origin}: variable {name}"));
        flags.chain(variables).collect()
    }
}

fn is_variable_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
}

/// Flags are the options the help defines: a line that starts with `--name` (or `-x, --name`)
/// followed by `<VALUE>`, two spaces or the line's end; prose and examples that mention a flag
/// never have that shape. Variables are every `EXELOCK_*` the help text names.
fn known_from_help(help: &str) -> Known {
    let mut known = Known::default();
    for line in help.lines() {
        let trimmed = line.trim_start();
        let trimmed = match trimmed.split_once(", ") {
            Some((short, rest)) if short.len() == 2 && short.starts_with('-') => rest,
            _ => trimmed,
        };
        let Some(name) = trimmed.strip_prefix("--") else {
            continue;
        };
        let end = name
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
            .unwrap_or(name.len());
        let rest = &name[end..];
        if end > 0 && (rest.is_empty() || rest.starts_with(" <") || rest.starts_with("  ")) {
            known.flags.insert(format!("--{}", &name[..end]));
        }
    }
    let mut rest = help;
    while let Some(at) = rest.find("EXELOCK_") {
        let tail = &rest[at..];
        let end = tail.find(|c| !is_variable_char(c)).unwrap_or(tail.len());
        known.variables.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    known
}

fn serve_help() -> String {
    let output = run_ok(exelock().args(["serve", "--help"]));
    String::from_utf8(output.stdout).unwrap()
}

/// An exelock image reference: its last path component names exelock (`…/exelock:0.1.0`).
fn is_exelock_image(reference: &str) -> bool {
    reference.rsplit('/').next().is_some_and(|name| {
        name == "exelock" || name.starts_with("exelock:") || name.starts_with("exelock@")
    })
}

fn scalar(yaml: &Yaml) -> Option<&str> {
    match yaml {
        Yaml::String(text) => Some(text),
        _ => None,
    }
}

fn strings(yaml: Option<&Yaml>) -> Vec<&str> {
    match yaml {
        Some(Yaml::Array(items)) => items.iter().filter_map(scalar).collect(),
        _ => Vec::new(),
    }
}

/// Walks one YAML document: a mapping with an exelock `image` is a container whose `args` (and
/// `command` after `exelock serve`) go to the service; `env` entries' names and any
/// `EXELOCK_*` key are variables set for it.
fn collect_yaml(yaml: &Yaml, origin: &str, used: &mut Used) {
    match yaml {
        Yaml::Hash(map) => {
            let get = |key: &str| map.get(&Yaml::String(key.to_owned()));
            if get("image").and_then(scalar).is_some_and(is_exelock_image) {
                let command = strings(get("command"));
                let command_args = match command.as_slice() {
                    ["exelock", "serve", rest @ ..] => rest.to_vec(),
                    _ => Vec::new(),
                };
                for token in command_args.into_iter().chain(strings(get("args"))) {
                    used.flag(origin, token);
                }
                if let Some(Yaml::Array(entries)) = get("env") {
                    for entry in entries {
                        if let Yaml::Hash(entry) = entry
                            && let Some(name) =
                                entry.get(&Yaml::String("name".to_owned())).and_then(scalar)
                        {
                            used.variable(origin, name);
                        }
                    }
                }
            }
            for (key, value) in map {
                if let Some(key) = scalar(key) {
                    used.variable(origin, key);
                }
                collect_yaml(value, origin, used);
            }
        }
        Yaml::Array(items) => {
            for item in items {
                collect_yaml(item, origin, used);
            }
        }
        _ => {}
    }
}

fn collect_yaml_text(text: &str, origin: &str, used: &mut Used) {
    let documents = YamlLoader::load_from_str(text)
        .unwrap_or_else(|error| panic!("{origin} is not YAML: {error}"));
    assert!(!documents.is_empty(), "{origin} holds no YAML document");
    for document in &documents {
        collect_yaml(document, origin, used);
    }
}

/// Lines with their backslash continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        match line.trim_end().strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

/// The Containerfile's `ENV` names, and the flags in `ENTRYPOINT`/`CMD` when the entry point is
/// `exelock serve` (JSON form).
fn collect_containerfile(text: &str, origin: &str, used: &mut Used) {
    let mut entrypoint_is_serve = false;
    let mut cmd: Vec<String> = Vec::new();
    for line in logical_lines(text) {
        let line = line.trim();
        let Some((instruction, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        match instruction.to_ascii_uppercase().as_str() {
            "ENV" => {
                for word in shell_words(rest) {
                    used.variable(origin, word.split('=').next().unwrap_or_default());
                }
            }
            "ENTRYPOINT" => {
                let words: Vec<String> =
                    serde_json::from_str(rest.trim()).unwrap_or_else(|error| {
                        panic!("{origin}: ENTRYPOINT is not a JSON array: {error}")
                    });
                entrypoint_is_serve =
                    words.len() >= 2 && words[0].ends_with("exelock") && words[1] == "serve";
                for word in words.iter().skip(2) {
                    used.flag(origin, word);
                }
            }
            "CMD" => {
                cmd = serde_json::from_str(rest.trim())
                    .unwrap_or_else(|error| panic!("{origin}: CMD is not a JSON array: {error}"));
            }
            _ => {}
        }
    }
    assert!(
        entrypoint_is_serve,
        "{origin}: the entry point is not [\"exelock\", \"serve\"]"
    );
    for word in &cmd {
        used.flag(origin, word);
    }
}

/// Splits a command line into words: quotes group, backslash escapes; `$(…)` and `${…}` stay as
/// written. Operators (`|`, `&&`, `;`, `&`) become words of their own when spaced.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for quoted in chars.by_ref() {
                    if quoted == '\'' {
                        break;
                    }
                    word.push(quoted);
                }
            }
            '"' => {
                in_word = true;
                while let Some(quoted) = chars.next() {
                    match quoted {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        _ => word.push(quoted),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// One simple command's words: what `exelock serve` receives, and the variables set for it.
fn collect_command(words: &[String], origin: &str, used: &mut Used) {
    let assignments = words
        .iter()
        .take_while(|word| {
            word.split_once('=')
                .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(is_variable_char))
        })
        .count();
    let program = &words[assignments..];
    let serve_args = match program {
        [exelock, serve, rest @ ..] if exelock.ends_with("exelock") && serve == "serve" => {
            Some(rest)
        }
        [engine, run, rest @ ..]
            if ["podman", "docker"].contains(&engine.as_str()) && run == "run" =>
        {
            let image = rest.iter().position(|word| is_exelock_image(word));
            for pair in rest[..image.unwrap_or(rest.len())].windows(2) {
                if pair[0] == "-e" || pair[0] == "--env" {
                    used.variable(origin, pair[1].split('=').next().unwrap_or_default());
                }
            }
            image.map(|at| &rest[at + 1..])
        }
        _ => None,
    };
    let Some(serve_args) = serve_args else {
        return;
    };
    for word in &words[..assignments] {
        used.variable(origin, word.split('=').next().unwrap_or_default());
    }
    for word in serve_args {
        used.flag(origin, word);
    }
}

/// The fenced `sh` and `yaml` blocks of a Markdown file.
fn collect_markdown(text: &str, origin: &str, used: &mut Used) {
    let mut block: Option<(String, String)> = None;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (&mut block, fence) {
            (None, Some(language)) => block = Some((language.trim().to_owned(), String::new())),
            (Some((language, body)), Some(_)) => {
                match language.as_str() {
                    "sh" | "bash" | "shell" | "console" => {
                        for line in logical_lines(body) {
                            let words = shell_words(&line);
                            for command in words
                                .split(|word| ["|", "||", "&&", ";", "&"].contains(&word.as_str()))
                            {
                                collect_command(command, origin, used);
                            }
                        }
                    }
                    "yaml" | "yml" => collect_yaml_text(body, origin, used),
                    _ => {}
                }
                block = None;
            }
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(block.is_none(), "{origin}: a code block is not closed");
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            files.push(path);
        }
    }
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn deploy_files_and_serve_docs_use_only_flags_and_variables_serve_has() {
    let known = known_from_help(&serve_help());
    // The help parse itself must work, or every check below would pass on nothing.
    for flag in [
        "--listen",
        "--db",
        "--allow-registry",
        "--key",
        "--drain-seconds",
        "--tls-client-ca",
        "--username",
    ] {
        assert!(
            known.flags.contains(flag),
            "{flag} not found in `exelock serve --help`: {known:?}"
        );
    }
    assert!(
        !known.flags.contains("--push-no-wrapper"),
        "prose taken for an option: {known:?}"
    );
    for variable in [
        "EXELOCK_LISTEN",
        "EXELOCK_DB",
        "EXELOCK_GUARDDUTY_API_KEY",
        "EXELOCK_READ_TOKEN",
    ] {
        assert!(
            known.variables.contains(variable),
            "{variable} not found in `exelock serve --help`"
        );
    }

    let deploy = root().join("deploy");
    let yaml = yaml_files(&deploy);
    assert!(
        yaml.len() >= 3,
        "expected the Kubernetes, Cloud Run and Falcosidekick files: {yaml:?}"
    );
    let mut all = Used::default();
    for path in &yaml {
        collect_yaml_text(
            &fs_err::read_to_string(path).unwrap(),
            &relative(path),
            &mut all,
        );
    }
    for (file, flag) in [
        ("kubernetes/exelock.yaml", "--drain-seconds"),
        ("cloudrun/service.yaml", "--drain-seconds"),
    ] {
        let origin = relative(&deploy.join(file));
        assert!(
            all.flags.contains(&(flag.to_owned(), origin.clone())),
            "no {flag} read from {origin}: {all:?}"
        );
        assert!(
            all.variables
                .contains(&("EXELOCK_DB".to_owned(), origin.clone())),
            "no EXELOCK_DB read from {origin}"
        );
    }
    let containerfile = deploy.join("Containerfile");
    let mut from_containerfile = Used::default();
    collect_containerfile(
        &fs_err::read_to_string(&containerfile).unwrap(),
        &relative(&containerfile),
        &mut from_containerfile,
    );
    assert!(
        from_containerfile
            .variable_names()
            .contains("EXELOCK_LISTEN"),
        "{from_containerfile:?}"
    );
    let docs = root().join("docs/serve.md");
    let mut from_docs = Used::default();
    collect_markdown(
        &fs_err::read_to_string(&docs).unwrap(),
        &relative(&docs),
        &mut from_docs,
    );
    for flag in [
        "--scc-audience",
        "--guardduty-api-key-file",
        "--falco-token-file",
        "--findings-token-file",
        "--tls-client-ca",
    ] {
        assert!(
            from_docs.flag_names().contains(flag),
            "docs/serve.md sets up no source with {flag}: {from_docs:?}"
        );
    }

    all.flags.extend(from_containerfile.flags);
    all.variables.extend(from_containerfile.variables);
    all.flags.extend(from_docs.flags);
    all.variables.extend(from_docs.variables);
    let unknown = all.unknown(&known);
    assert!(
        unknown.is_empty(),
        "not in `exelock serve --help`:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn a_flag_or_variable_serve_lacks_is_reported_with_its_file() {
    let known = known_from_help(&serve_help());
    let mut used = Used::default();
    collect_yaml_text(
        "apiVersion: apps/v1\nkind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: exelock\n          image: registry.example/exelock:0.1.0\n          args: [--listen=0.0.0.0:8080, --allow-registries=ghcr.io]\n          env:\n            - name: EXELOCK_DATABASE\n              value: x\n        - name: sidecar\n          image: registry.example/proxy:1\n          args: [--not-ours]\n",
        "bad.yaml",
        &mut used,
    );
    collect_containerfile(
        "FROM debian:bookworm-slim\nENV EXELOCK_LISTEN=0.0.0.0:8080 \\\n    EXELOCK_LISTEN_ADDR=0.0.0.0:8080\nENTRYPOINT [\"exelock\", \"serve\", \"--drain\", \"5\"]\n",
        "Containerfile",
        &mut used,
    );
    collect_markdown(
        "Text with --not-a-command.\n\n```sh\nEXELOCK_FALCO_TOKENS=x exelock serve --allow-registry ghcr.io \\\n    --max-body 10 # --commented-out\nexelock gate app --bake https://x/v1/bake/app | exelock serve --cache 1\npodman run --rm -e EXELOCK_CACHE=1 -p 8080:8080 registry.example/exelock:0.1.0 --key k --jwks f\n```\n\n```yaml\nenv:\n  EXELOCK_READ_TOKENS: x\n```\n",
        "guide.md",
        &mut used,
    );
    assert_eq!(
        used.unknown(&known),
        [
            "bad.yaml: flag --allow-registries",
            "guide.md: flag --cache",
            "Containerfile: flag --drain",
            "guide.md: flag --jwks",
            "guide.md: flag --max-body",
            "guide.md: variable EXELOCK_CACHE",
            "bad.yaml: variable EXELOCK_DATABASE",
            "guide.md: variable EXELOCK_FALCO_TOKENS",
            "Containerfile: variable EXELOCK_LISTEN_ADDR",
            "guide.md: variable EXELOCK_READ_TOKENS",
        ]
    );
    // What exists passes: the same samples' correct uses are not reported.
    for flag in ["--listen", "--allow-registry", "--key"] {
        assert!(
            used.flag_names().contains(flag),
            "{flag} was not collected: {used:?}"
        );
    }
    assert!(!used.flag_names().contains("--not-ours") && !used.flag_names().contains("--bake"));
}
