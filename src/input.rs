//! Reading video ids from arguments, stdin (`-`) and `--from FILE`: each id is validated with
//! [`VideoId`]; a bad one is reported with where it came from and does not stop the others.

use std::collections::HashSet;
use std::fmt;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use cfstream_types::{IdError, VideoId};

/// Where an input came from, to name it in an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The n-th VIDEO argument (from 1).
    Argument(usize),
    /// Line n (from 1) of stdin.
    Stdin(usize),
    /// Line n (from 1) of a file.
    File(PathBuf, usize),
}

impl Origin {
    /// Short name of the source: `argument`, `stdin` or the file path.
    pub(crate) fn source(&self) -> String {
        match self {
            Origin::Argument(_) => "argument".into(),
            Origin::Stdin(_) => "stdin".into(),
            Origin::File(p, _) => p.display().to_string(),
        }
    }

    /// The argument position or line number.
    pub(crate) fn line(&self) -> usize {
        match self {
            Origin::Argument(n) | Origin::Stdin(n) | Origin::File(_, n) => *n,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Argument(n) => write!(f, "argument {n}"),
            Origin::Stdin(n) => write!(f, "stdin line {n}"),
            Origin::File(p, n) => write!(f, "{} line {n}", p.display()),
        }
    }
}

/// An input that is not a video id.
#[derive(Debug)]
pub(crate) struct BadInput {
    pub(crate) origin: Origin,
    pub(crate) error: IdError,
}

/// The videos to work on, in input order without duplicates, and the inputs rejected.
#[derive(Debug, Default)]
pub(crate) struct Selection {
    pub(crate) videos: Vec<VideoId>,
    pub(crate) bad: Vec<BadInput>,
    /// How many repeated ids were dropped.
    pub(crate) duplicates: usize,
}

impl Selection {
    fn push(&mut self, seen: &mut HashSet<VideoId>, origin: Origin, raw: &str) {
        match raw.parse::<VideoId>() {
            Ok(id) => {
                if seen.insert(id.clone()) {
                    self.videos.push(id);
                } else {
                    self.duplicates += 1;
                }
            }
            Err(error) => self.bad.push(BadInput { origin, error }),
        }
    }

    fn push_lines(
        &mut self,
        seen: &mut HashSet<VideoId>,
        reader: impl BufRead,
        origin: impl Fn(usize) -> Origin,
        what: &dyn fmt::Display,
    ) -> anyhow::Result<()> {
        for (i, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("could not read {what}"))?;
            let id = line.trim();
            if id.is_empty() || id.starts_with('#') {
                continue;
            }
            self.push(seen, origin(i + 1), id);
        }
        Ok(())
    }
}

/// Reads the selection: `args` (where `-` means stdin, read at most once), then each `from`
/// file. An unreadable file is an error (the whole command is a usage error); a bad id is not.
pub(crate) fn read(
    args: &[String],
    from: &[PathBuf],
    stdin: impl FnOnce() -> Box<dyn BufRead>,
) -> anyhow::Result<Selection> {
    let mut sel = Selection::default();
    let mut seen = HashSet::new();
    let mut stdin = Some(stdin);
    for (i, arg) in args.iter().enumerate() {
        if arg == "-" {
            if let Some(open) = stdin.take() {
                sel.push_lines(&mut seen, open(), Origin::Stdin, &"stdin")?;
            }
        } else {
            sel.push(&mut seen, Origin::Argument(i + 1), arg.trim());
        }
    }
    for path in from {
        let file = std::fs::File::open(path)
            .with_context(|| format!("could not open --from file {}", path.display()))?;
        let reader = std::io::BufReader::new(file);
        let p: &Path = path;
        sel.push_lines(&mut seen, reader, |n| Origin::File(p.to_owned(), n), &p.display())?;
    }
    Ok(sel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const A: &str = "ea95132c15732412d22c1476fa83f27a";
    const B: &str = "0123456789abcdef0123456789abcdef";

    fn no_stdin() -> Box<dyn BufRead> {
        panic!("stdin must not be read")
    }

    #[test]
    fn args_are_validated_one_by_one() {
        let sel = read(&[A.into(), "../etc".into(), B.into(), A.into()], &[], no_stdin).unwrap();
        assert_eq!(sel.videos.len(), 2);
        assert_eq!(sel.duplicates, 1);
        assert_eq!(sel.bad.len(), 1);
        assert_eq!(sel.bad[0].origin, Origin::Argument(2));
        assert_eq!(sel.bad[0].origin.to_string(), "argument 2");
    }

    #[test]
    fn stdin_lines_have_numbers_and_skip_comments() {
        let text = format!("# header\n{A}\n\n  {B}  \nnot-an-id\n");
        let sel =
            read(&["-".into(), "-".into()], &[], move || Box::new(Cursor::new(text.into_bytes())))
                .unwrap();
        assert_eq!(sel.videos.iter().map(VideoId::as_str).collect::<Vec<_>>(), [A, B]);
        assert_eq!(sel.bad[0].origin, Origin::Stdin(5));
        assert!(sel.bad[0].error.to_string().contains("not-an-id"));
    }

    #[test]
    fn files_are_read_and_a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids.txt");
        std::fs::write(&path, format!("{A}\nzz\n")).unwrap();
        let sel = read(&[], std::slice::from_ref(&path), no_stdin).unwrap();
        assert_eq!(sel.videos.len(), 1);
        assert_eq!(sel.bad[0].origin, Origin::File(path.clone(), 2));
        assert_eq!(sel.bad[0].origin.source(), path.display().to_string());
        let e = read(&[], &[dir.path().join("missing")], no_stdin).unwrap_err();
        assert!(e.to_string().contains("could not open --from file"), "{e}");
    }
}
