//! Reading video ids from arguments, stdin (`-`) and `--from FILE`: each id is validated with
//! [`VideoId`]; a bad one is reported with where it came from and does not stop the others.
//!
//! Lines are read as bytes, so that one line that is not UTF-8 is a bad input like any other
//! (with its line number) instead of the end of the batch; a UTF-8 byte order mark at the
//! start is skipped; a line longer than [`MAX_LINE`] bytes is reported without being held in
//! memory (only its first bytes are kept, to show).

use std::collections::HashSet;
use std::fmt;
use std::io::{self, BufRead};
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

/// The longest line, in bytes, read as an id (ids are 32 characters; 4 KiB leaves room for
/// spaces and comments).
pub(crate) const MAX_LINE: usize = 4096;

/// How many characters of a bad line an error shows (as [`IdError::value`] does).
const SHOWN: usize = 64;

/// An input that is not a video id.
#[derive(Debug)]
pub(crate) struct BadInput {
    pub(crate) origin: Origin,
    pub(crate) error: InputError,
}

/// Why an input is not a video id.
#[derive(Debug)]
pub(crate) enum InputError {
    /// Text that is not a valid id.
    Id(IdError),
    /// A line that is not UTF-8 text.
    NotUtf8 {
        /// The line, lossily decoded and cut to 64 characters.
        shown: String,
        /// The first invalid byte and its offset in the line.
        byte: u8,
        at: usize,
    },
    /// A line longer than [`MAX_LINE`] bytes.
    TooLong {
        /// Its first 64 characters.
        shown: String,
    },
}

impl InputError {
    /// The rejected input, cut to 64 characters.
    pub(crate) fn value(&self) -> &str {
        match self {
            InputError::Id(e) => e.value(),
            InputError::NotUtf8 { shown, .. } | InputError::TooLong { shown } => shown,
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Id(e) => e.fmt(f),
            InputError::NotUtf8 { shown, byte, at } => write!(
                f,
                "invalid video id '{shown}': not UTF-8 text (byte 0x{byte:02x} at offset {at})"
            ),
            InputError::TooLong { shown } => {
                write!(f, "invalid video id '{shown}...': the line is longer than {MAX_LINE} bytes")
            }
        }
    }
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
            Err(error) => self.bad.push(BadInput { origin, error: InputError::Id(error) }),
        }
    }

    fn push_lines(
        &mut self,
        seen: &mut HashSet<VideoId>,
        mut reader: impl BufRead,
        origin: impl Fn(usize) -> Origin,
        what: &dyn fmt::Display,
    ) -> anyhow::Result<()> {
        let mut buf = Vec::with_capacity(128);
        let mut n = 0;
        while let Some(len) =
            next_line(&mut reader, &mut buf).with_context(|| format!("could not read {what}"))?
        {
            n += 1;
            let mut line = buf.as_slice();
            if n == 1 {
                line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
            }
            if len > MAX_LINE {
                let shown = String::from_utf8_lossy(line);
                let shown = shown.trim_start();
                if !shown.starts_with('#') {
                    let shown = shown.chars().take(SHOWN).collect();
                    let error = InputError::TooLong { shown };
                    self.bad.push(BadInput { origin: origin(n), error });
                }
                continue;
            }
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let text = match std::str::from_utf8(line) {
                Ok(t) => t,
                Err(e) => {
                    let at = e.valid_up_to();
                    let shown = String::from_utf8_lossy(line).trim().chars().take(SHOWN).collect();
                    let error = InputError::NotUtf8 { shown, byte: line[at], at };
                    self.bad.push(BadInput { origin: origin(n), error });
                    continue;
                }
            };
            let id = text.trim();
            if id.is_empty() || id.starts_with('#') {
                continue;
            }
            self.push(seen, origin(n), id);
        }
        Ok(())
    }
}

/// Reads the next line (without its `\n`) into `buf`, keeping at most [`MAX_LINE`]` + 1` of its
/// bytes; returns its whole length, or `None` at the end of the input.
fn next_line(reader: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
    buf.clear();
    let mut len = 0usize;
    let mut started = false;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(started.then_some(len));
        }
        started = true;
        let newline = available.iter().position(|&b| b == b'\n');
        let chunk = &available[..newline.unwrap_or(available.len())];
        let room = (MAX_LINE + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
        len = len.saturating_add(chunk.len());
        let used = newline.map_or(available.len(), |i| i + 1);
        reader.consume(used);
        if newline.is_some() {
            return Ok(Some(len));
        }
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
    use std::io::{Cursor, Read as _};

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

    #[test]
    fn a_line_that_is_not_utf8_is_one_bad_input() {
        let mut bytes = format!("{A}\n").into_bytes();
        bytes.extend_from_slice(b"ab\xffcd\n");
        bytes.extend_from_slice(format!("{B}\r\n").as_bytes());
        let sel = read(&["-".into()], &[], move || Box::new(Cursor::new(bytes))).unwrap();
        assert_eq!(sel.videos.iter().map(VideoId::as_str).collect::<Vec<_>>(), [A, B]);
        assert_eq!(sel.bad.len(), 1);
        assert_eq!(sel.bad[0].origin, Origin::Stdin(2));
        assert_eq!(
            sel.bad[0].error.to_string(),
            "invalid video id 'ab\u{fffd}cd': not UTF-8 text (byte 0xff at offset 2)"
        );
        assert_eq!(sel.bad[0].error.value(), "ab\u{fffd}cd");
    }

    /// A reader that fails once with `error`, then reads `data`.
    struct FailOnce(Option<io::ErrorKind>, Cursor<Vec<u8>>);

    impl io::Read for FailOnce {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.take() {
                Some(kind) => Err(io::Error::new(kind, "injected")),
                None => self.1.read(buf),
            }
        }
    }

    #[test]
    fn an_interrupted_read_is_retried_and_another_error_is_reported() {
        let data = format!("{A}\n").into_bytes();
        let reader = FailOnce(Some(io::ErrorKind::Interrupted), Cursor::new(data.clone()));
        let sel = read(&["-".into()], &[], move || Box::new(io::BufReader::new(reader))).unwrap();
        assert_eq!(sel.videos.iter().map(VideoId::as_str).collect::<Vec<_>>(), [A]);
        let reader = FailOnce(Some(io::ErrorKind::BrokenPipe), Cursor::new(data));
        let e = read(&["-".into()], &[], move || Box::new(io::BufReader::new(reader))).unwrap_err();
        assert_eq!(e.to_string(), "could not read stdin");
        assert_eq!(e.root_cause().to_string(), "injected");
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let bytes = format!("\u{feff}{A}\n\u{feff}{B}\n").into_bytes();
        let sel = read(&["-".into()], &[], move || Box::new(Cursor::new(bytes))).unwrap();
        assert_eq!(sel.videos.iter().map(VideoId::as_str).collect::<Vec<_>>(), [A]);
        // Only at the start: a BOM inside is a character like another.
        assert_eq!(sel.bad.len(), 1);
        assert_eq!(sel.bad[0].origin, Origin::Stdin(2));
        let bytes = format!("\u{feff}# comment\n{B}").into_bytes();
        let sel = read(&["-".into()], &[], move || Box::new(Cursor::new(bytes))).unwrap();
        assert_eq!(sel.videos.iter().map(VideoId::as_str).collect::<Vec<_>>(), [B]);
        assert!(sel.bad.is_empty());
    }

    #[test]
    fn a_huge_line_is_reported_without_being_held() {
        let huge = 64usize << 20;
        let input = io::repeat(b'a')
            .take(huge as u64)
            .chain(Cursor::new(format!("\n{A}\n# {}\n", "c".repeat(10_000))));
        let mut reader = io::BufReader::new(input);
        let mut buf = Vec::new();
        assert_eq!(next_line(&mut reader, &mut buf).unwrap(), Some(huge));
        assert_eq!(buf.len(), MAX_LINE + 1);
        assert!(buf.capacity() < 16 * 1024, "held {} bytes", buf.capacity());
        assert_eq!(next_line(&mut reader, &mut buf).unwrap(), Some(A.len()));
        assert_eq!(buf, A.as_bytes());
        assert_eq!(next_line(&mut reader, &mut buf).unwrap(), Some(10_002));
        assert_eq!(next_line(&mut reader, &mut buf).unwrap(), None);

        let input = io::repeat(b'a').take(5000).chain(Cursor::new(format!("\n{A}\n")));
        let sel = read(&["-".into()], &[], move || Box::new(io::BufReader::new(input))).unwrap();
        assert_eq!(sel.videos.iter().map(VideoId::as_str).collect::<Vec<_>>(), [A]);
        assert_eq!(sel.bad.len(), 1);
        assert_eq!(sel.bad[0].origin, Origin::Stdin(1));
        assert_eq!(
            sel.bad[0].error.to_string(),
            format!("invalid video id '{}...': the line is longer than 4096 bytes", "a".repeat(64))
        );
        // A line of exactly the limit is read as an id (and refused as one).
        let line = "a".repeat(MAX_LINE);
        let sel = read(&["-".into()], &[], move || Box::new(Cursor::new(line))).unwrap();
        assert!(matches!(sel.bad[0].error, InputError::Id(_)), "{}", sel.bad[0].error);
    }
}
