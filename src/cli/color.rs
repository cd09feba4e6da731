//! `--color auto|always|never`: whether text output for people carries ANSI styles.
//!
//! `always` and `never` are obeyed as given (a flag beats the environment). `auto` colours only
//! a terminal, and not at all when `NO_COLOR` is set (non-empty), or always when
//! `CLICOLOR_FORCE` is (non-empty, and `NO_COLOR` is not); `CLICOLOR=0` and `TERM=dumb` turn it
//! off. These are anstream's rules (<https://no-color.org>, <https://bixense.com/clicolors/>),
//! used as they are rather than restated.
//!
//! Styles are added after the text has been made terminal-safe (control characters escaped),
//! and only at the fixed words each renderer writes (`DENY`, `added`, a verdict): content from an
//! image or a finding can at most be coloured, never add sequences of its own. JSON output is
//! never styled.

use std::ffi::OsString;
use std::io::Write;

use anstyle::{AnsiColor, Style};
use clap::ValueEnum;

use super::render::{self, diff::ChangeMark, gate::LineMark};
use crate::gate::Verdict as GateVerdict;
use crate::triage::Verdict;

/// When to colour text output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(super) enum ColorWhen {
    /// On a terminal, unless NO_COLOR is set; CLICOLOR_FORCE colours pipes too.
    #[default]
    Auto,
    /// Always, whatever the output and the environment.
    Always,
    /// Never.
    Never,
}

impl ColorWhen {
    /// The last `--color` value among raw arguments (`--color X` or `--color=X`), read before
    /// clap parses them so its own help and error messages follow it too. An invalid value is
    /// left for clap to report.
    pub(super) fn scan(args: &[OsString]) -> Self {
        let mut found = Self::Auto;
        let mut arguments = args.iter().skip(1).map(|arg| arg.to_str());
        while let Some(argument) = arguments.next() {
            let value = match argument {
                Some("--") => break,
                Some("--color") => arguments.next().flatten(),
                Some(other) => other.strip_prefix("--color="),
                None => None,
            };
            if let Some(when) = value.and_then(|value| Self::from_str(value, false).ok()) {
                found = when;
            }
        }
        found
    }

    /// The choice as anstream takes it (`Auto` resolved per stream by anstream).
    pub(super) fn choice(self) -> anstream::ColorChoice {
        match self {
            Self::Auto => anstream::ColorChoice::Auto,
            Self::Always => anstream::ColorChoice::Always,
            Self::Never => anstream::ColorChoice::Never,
        }
    }

    /// The choice as clap takes it for help and usage errors.
    pub(super) fn clap_choice(self) -> clap::ColorChoice {
        match self {
            Self::Auto => clap::ColorChoice::Auto,
            Self::Always => clap::ColorChoice::Always,
            Self::Never => clap::ColorChoice::Never,
        }
    }

    /// Standard output for text: styles kept or stripped as this choice resolves for it.
    pub(super) fn stdout(self) -> anstream::AutoStream<std::io::StdoutLock<'static>> {
        anstream::AutoStream::new(std::io::stdout().lock(), self.choice())
    }

    /// Standard error for messages: styles kept or stripped as this choice resolves for it.
    pub(super) fn stderr(self) -> anstream::AutoStream<std::io::StderrLock<'static>> {
        anstream::AutoStream::new(std::io::stderr().lock(), self.choice())
    }
}

const RED: Style = AnsiColor::Red.on_default().bold();
const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
const GREEN: Style = AnsiColor::Green.on_default().bold();
const CYAN: Style = AnsiColor::Cyan.on_default();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// `text` with `style` around it.
fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// Styles the first of `prefixes` (word, style) that `line` starts with.
fn paint_prefix(line: &str, prefixes: &[(impl AsRef<str>, Style)]) -> String {
    for (prefix, style) in prefixes {
        let prefix = prefix.as_ref();
        if let Some(rest) = line.strip_prefix(prefix) {
            return format!("{}{rest}", paint(*style, prefix));
        }
    }
    line.to_owned()
}

/// Applies `paint_line` to every line, keeping the line ends.
fn per_line(text: &str, paint_line: impl Fn(&str) -> String) -> String {
    text.split_inclusive('\n')
        .map(|line| match line.strip_suffix('\n') {
            Some(body) => paint_line(body) + "\n",
            None => paint_line(line),
        })
        .collect()
}

/// The gate's text report: each line's mark (a violation's level, a rule not evaluated) and
/// the verdict line, from the words [`render::gate`] writes for them.
pub(super) fn gate_text(text: &str) -> String {
    let marks = LineMark::ALL.map(|mark| {
        let style = match mark {
            LineMark::Deny => RED,
            LineMark::Warn => YELLOW,
            LineMark::Skip => DIM,
        };
        (mark.word().to_owned(), style)
    });
    let verdicts = [(GateVerdict::Pass, GREEN), (GateVerdict::Fail, RED)]
        .map(|(verdict, style)| (render::gate::verdict_prefix(verdict), style));
    let prefixes: Vec<(String, Style)> = marks.into_iter().chain(verdicts).collect();
    per_line(text, |line| paint_prefix(line, &prefixes))
}

/// `diff`'s table: the kind of each change, from the words [`render::diff`] writes for them.
pub(super) fn diff_table(text: &str) -> String {
    let prefixes = ChangeMark::ALL.map(|mark| {
        let style = match mark {
            ChangeMark::Added | ChangeMark::PackageAdded => GREEN,
            ChangeMark::Removed | ChangeMark::PackageRemoved | ChangeMark::Altered => RED,
            ChangeMark::Changed | ChangeMark::PackageChanged => YELLOW,
            ChangeMark::Moved => CYAN,
        };
        (mark.word(), style)
    });
    per_line(text, |line| paint_prefix(line, &prefixes))
}

/// `scan`'s table: the header row.
pub(super) fn scan_table(text: &str) -> String {
    per_line(text, |line| {
        if line.starts_with("PATH ") {
            paint(BOLD, line)
        } else {
            line.to_owned()
        }
    })
}

/// `triage`'s text: each binary's verdict, by what it asks of a responder. The verdict is the
/// word after the line's last `=>` (a path before it may contain `=>` too).
pub(super) fn triage_text(text: &str) -> String {
    per_line(text, |line| {
        let Some(arrow) = line.rfind("  =>  ").filter(|_| line.starts_with("  [")) else {
            return line.to_owned();
        };
        let start = arrow + "  =>  ".len();
        let end = line[start..]
            .find([' ', ','])
            .map_or(line.len(), |end| start + end);
        let verdict = &line[start..end];
        // The renderer writes `Verdict::code` in capitals; what it asks of a responder decides
        // the colour, so a verdict added later is styled by its type, not by a word list here.
        let style = match verdict.to_ascii_lowercase().parse::<Verdict>() {
            Ok(verdict) if verdict.is_legitimate() => GREEN,
            Ok(Verdict::Unverifiable) => YELLOW,
            _ => RED,
        };
        format!(
            "{}{}{}",
            &line[..start],
            paint(style, verdict),
            &line[end..]
        )
    })
}

/// Writes `error: MESSAGE` to stderr with the prefix styled.
pub(super) fn print_error(when: ColorWhen, message: &str) {
    let mut stderr = when.stderr();
    let _ = writeln!(stderr, "{}: {message}", paint(RED, "error"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&["exelock", "scan", "x"], ColorWhen::Auto)]
    #[case(&["exelock", "--color", "never", "scan", "x"], ColorWhen::Never)]
    #[case(&["exelock", "scan", "x", "--color=always"], ColorWhen::Always)]
    #[case(&["exelock", "--color=never", "gate", "--color", "always"], ColorWhen::Always)]
    #[case(&["exelock", "--color", "sometimes"], ColorWhen::Auto)]
    #[case(&["exelock", "triage", "--", "--color=never"], ColorWhen::Auto)]
    fn the_last_color_flag_before_a_double_dash_counts(
        #[case] args: &[&str],
        #[case] expected: ColorWhen,
    ) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        assert_eq!(ColorWhen::scan(&args), expected);
    }

    #[test]
    fn only_fixed_words_are_styled() {
        let text = "DENY  setuid  /usr/bin/DENY is setuid\nnote DENY\ngate FAIL: app (1 denied)\n";
        let styled = gate_text(text);
        assert_eq!(
            styled.matches("\u{1b}[1m\u{1b}[31m").count(),
            2,
            "{styled:?}"
        );
        assert!(styled.contains("note DENY\n"));
        assert_eq!(
            anstream::adapter::strip_str(&styled).to_string(),
            text,
            "styles only add, never change the text"
        );
    }

    #[test]
    fn the_verdict_is_the_word_after_the_last_arrow() {
        let line = "  [process] /tmp/a  =>  B  sha256:00  =>  FOREIGN  (contain)";
        let styled = triage_text(line);
        assert!(
            styled.contains("=>  \u{1b}[1m\u{1b}[31mFOREIGN\u{1b}[0m  (contain)"),
            "{styled:?}"
        );
        assert!(styled.contains("/tmp/a  =>  B  sha256"));
        assert_eq!(triage_text("      => contain it"), "      => contain it");
    }
}
