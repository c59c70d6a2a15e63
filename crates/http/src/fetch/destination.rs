//! Where a fetched file goes: the parts of the file URL, the final path inside the chosen
//! directory, the `.part` file beside it, and the checks that fetch only ever writes regular
//! files (a symbolic link, FIFO or device at either path is refused, never followed).

use std::fs::FileType;
use std::path::{Component, Path, PathBuf};

use cfstream_types::{DownloadType, VideoId};

use crate::error::{Error, ErrorKind};

/// What the file URL says: `.../<video>/downloads/<type>.<ext>`.
#[derive(Debug, PartialEq)]
pub(crate) struct UrlParts {
    pub(crate) video: Option<VideoId>,
    pub(crate) download_type: Option<DownloadType>,
    pub(crate) ext: String,
}

pub(crate) fn url_parts(url: &reqwest::Url) -> UrlParts {
    let segs: Vec<&str> =
        url.path_segments().map(|s| s.filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    let last = segs.last().copied().unwrap_or("");
    let (stem, ext) = last.rsplit_once('.').unwrap_or((last, ""));
    let download_type = stem.parse::<DownloadType>().ok();
    let video = segs.iter().rev().nth(2).and_then(|s| s.parse::<VideoId>().ok());
    let ext = if (1..=8).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric()) {
        ext.to_ascii_lowercase()
    } else {
        download_type.as_ref().and_then(DownloadType::extension).unwrap_or("bin").to_owned()
    };
    UrlParts { video, download_type, ext }
}

/// The final path: `dest` itself, or a name made of validated parts inside the directory
/// `dest`. The name is one plain component, so the file never lands outside that directory.
pub(crate) fn final_path(
    dest: &Path,
    parts: &UrlParts,
    filename: Option<&str>,
) -> Result<PathBuf, Error> {
    if !dest.is_dir() {
        if dest.file_name().is_none() {
            return Err(Error::build(format!(
                "invalid destination '{}': it names no file",
                dest.display()
            )));
        }
        return Ok(dest.to_path_buf());
    }
    let name = match filename {
        Some(f) => format!("{f}.{}", parts.ext),
        None => {
            let video = parts.video.as_ref().map_or("download", VideoId::as_str);
            let t = parts.download_type.as_ref().map_or("file", DownloadType::as_str);
            format!("{video}-{t}.{}", parts.ext)
        }
    };
    let mut comps = Path::new(&name).components();
    match (comps.next(), comps.next()) {
        (Some(Component::Normal(_)), None) => Ok(dest.join(name)),
        _ => Err(Error::build(format!("invalid file name '{name}'"))),
    }
}

/// `NAME.part` beside `NAME`.
pub(crate) fn part_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".part");
    path.with_file_name(name)
}

/// Whether `path` holds a regular file (`true`) or nothing (`false`); anything else (a
/// symbolic link, whatever it points to, a directory, a FIFO, a device, a socket) is an
/// [`ErrorKind::NotRegularFile`] error naming the path and what it is.
pub(crate) async fn regular_or_absent(path: &Path) -> Result<bool, Error> {
    match tokio::fs::symlink_metadata(path).await {
        Ok(m) if m.file_type().is_file() => Ok(true),
        Ok(m) => Err(not_regular(path, m.file_type())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(format!("cannot inspect '{}'", path.display()), e)),
    }
}

/// Opens `path` for writing with `opts`, refusing to follow a symbolic link at its last
/// component (`O_NOFOLLOW`), to wait on a FIFO (`O_NONBLOCK`), or to keep anything but a
/// regular file: the checks of [`regular_or_absent`] again, at the moment of opening.
pub(crate) async fn open_regular(
    path: &Path,
    opts: &mut tokio::fs::OpenOptions,
) -> Result<tokio::fs::File, Error> {
    #[cfg(unix)]
    opts.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    let io = |e| Error::io(format!("cannot open '{}'", path.display()), e);
    let file = match opts.open(path).await {
        Ok(f) => f,
        // A link (ELOOP) or a FIFO without a reader (ENXIO): say what is there.
        Err(e) => {
            return Err(match regular_or_absent(path).await {
                Err(not) if not.kind() == ErrorKind::NotRegularFile => not,
                _ => io(e),
            });
        }
    };
    let meta = file.metadata().await.map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path, meta.file_type()));
    }
    Ok(file)
}

fn not_regular(path: &Path, t: FileType) -> Error {
    Error::new(
        ErrorKind::NotRegularFile,
        format!(
            "'{}' is {}, not a regular file: fetch never follows or replaces it",
            path.display(),
            describe(t)
        ),
    )
}

/// What a file type is, in words.
fn describe(t: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever the server's URL says and whatever filename passes validation, the file
        /// lands directly inside the chosen directory.
        #[test]
        fn the_file_never_leaves_the_directory(
            path in "(/[^/?#]{0,12}){0,5}",
            filename in prop::option::of("[A-Za-z0-9_-]{1,20}"),
        ) {
            let dir = std::env::temp_dir();
            let Ok(url) = reqwest::Url::parse(&format!("http://files.example{path}")) else {
                return Ok(());
            };
            let parts = url_parts(&url);
            if let Ok(p) = final_path(&dir, &parts, filename.as_deref()) {
                prop_assert_eq!(p.parent(), Some(dir.as_path()), "{:?} from {}", p, url);
                prop_assert!(p.file_name().is_some());
            }
        }
    }

    /// The check at the moment of opening, for what appears after the first check.
    #[cfg(unix)]
    #[tokio::test]
    async fn open_regular_follows_no_link_and_waits_on_no_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let mut opts = tokio::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        let e = open_regular(&link, &mut opts).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotRegularFile, "{e}");
        assert!(e.to_string().contains("is a symbolic link"), "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep", "not truncated through the link");
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = open_regular(&fifo, &mut opts).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotRegularFile, "{e}");
        assert!(e.to_string().contains("is a FIFO"), "{e}");
        let mut read = tokio::fs::OpenOptions::new();
        read.read(true);
        let e = open_regular(dir.path(), &mut read).await.unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        let plain = dir.path().join("plain");
        open_regular(&plain, &mut opts).await.unwrap();
        assert!(plain.is_file());
    }

    /// Only "nothing there" counts as absent: a path that cannot be inspected (here, under a
    /// regular file) is an I/O error naming it, never a free place to write.
    #[tokio::test]
    async fn only_a_missing_path_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        assert!(regular_or_absent(&file).await.unwrap());
        assert!(!regular_or_absent(&dir.path().join("missing")).await.unwrap());
        let under = file.join("x");
        let e = regular_or_absent(&under).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert!(e.to_string().contains(&format!("cannot inspect '{}'", under.display())), "{e}");
        // Opening there fails as an I/O error about the opening, not the inspection after it.
        let mut opts = tokio::fs::OpenOptions::new();
        opts.write(true).create(true);
        let e = open_regular(&under, &mut opts).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Io, "{e}");
        assert!(e.to_string().contains(&format!("cannot open '{}'", under.display())), "{e}");
    }

    #[test]
    fn url_parts_name_the_file() {
        let u = reqwest::Url::parse(
            "https://customer-x.cloudflarestream.com/ea95132c15732412d22c1476fa83f27a/downloads/default.mp4",
        )
        .unwrap();
        let p = url_parts(&u);
        assert_eq!(p.video.as_ref().map(VideoId::as_str), Some("ea95132c15732412d22c1476fa83f27a"));
        assert_eq!(p.download_type, Some(DownloadType::Default));
        assert_eq!(p.ext, "mp4");
        let dir = std::env::temp_dir();
        assert_eq!(
            final_path(&dir, &p, None).unwrap(),
            dir.join("ea95132c15732412d22c1476fa83f27a-default.mp4")
        );
        assert_eq!(final_path(&dir, &p, Some("clip")).unwrap(), dir.join("clip.mp4"));
        // An extension is kept only when short (1 to 8) AND alphanumeric; else the type's.
        for (url, ext) in [
            ("http://h/v/downloads/default.verylongext1", "mp4"),
            ("http://h/v/downloads/audio.m+a", "m4a"),
            ("http://h/v/downloads/other.MKV", "mkv"),
            ("http://h/v/downloads/other.m+v", "bin"),
        ] {
            assert_eq!(url_parts(&reqwest::Url::parse(url).unwrap()).ext, ext, "{url}");
        }
        let odd = url_parts(
            &reqwest::Url::parse("http://h/%2E%2E/downloads/..%2F..%2Fx.m4a%2F").unwrap(),
        );
        let path = final_path(&dir, &odd, None).unwrap();
        assert_eq!(path.parent(), Some(dir.as_path()), "{}", path.display());
    }
}
