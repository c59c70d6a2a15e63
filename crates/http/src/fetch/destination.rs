//! Where a fetched file goes: the parts of the file URL, the final path inside the chosen
//! directory, and the `.part` file beside it.

use std::path::{Component, Path, PathBuf};

use cfstream_types::{DownloadType, VideoId};

use crate::error::Error;

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
        let odd = url_parts(
            &reqwest::Url::parse("http://h/%2E%2E/downloads/..%2F..%2Fx.m4a%2F").unwrap(),
        );
        let path = final_path(&dir, &odd, None).unwrap();
        assert_eq!(path.parent(), Some(dir.as_path()), "{}", path.display());
    }
}
