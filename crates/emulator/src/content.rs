//! The generated download files: deterministic bytes ([`expected_file_bytes`]) and `Range`
//! header parsing.
//!
//! A file is a 24-byte ISO-BMFF `ftyp` box (so tools recognise an MP4 or M4A) followed by
//! pseudo-random bytes from SplitMix64 keyed by the video id and download type. Any byte range
//! can be computed without the bytes before it, so the server streams GiB-sized files in
//! bounded memory and tests can check any slice byte for byte.

use cfstream_types::{DownloadType, VideoId};

/// How many bytes the server generates per body chunk.
pub(crate) const CHUNK: usize = 64 * 1024;

/// The `ftyp` box an MP4 download starts with.
const FTYP_MP4: [u8; 24] = *b"\0\0\0\x18ftypisom\0\0\x02\0isommp41";
/// The `ftyp` box an M4A download starts with.
const FTYP_M4A: [u8; 24] = *b"\0\0\0\x18ftypM4A \0\0\x02\0M4A isom";

/// The bytes `offset .. offset + len` of the file the emulator serves for `video`'s download of
/// type `t` (its size does not matter: the content of a position never depends on it).
///
/// Use it to check a download byte for byte:
///
/// ```
/// use cfstream_emulator::expected_file_bytes;
/// use cfstream_types::{DownloadType, VideoId};
///
/// let video: VideoId = "ea95132c15732412d22c1476fa83f27a".parse()?;
/// let whole = expected_file_bytes(&video, &DownloadType::Default, 0, 100);
/// assert_eq!(&whole[4..8], b"ftyp");
/// assert_eq!(expected_file_bytes(&video, &DownloadType::Default, 40, 10), whole[40..50]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn expected_file_bytes(video: &VideoId, t: &DownloadType, offset: u64, len: usize) -> Vec<u8> {
    let mut buf = vec![0; len];
    FileContent::new(video, t).fill(offset, &mut buf);
    buf
}

/// The content of one generated file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileContent {
    key: u64,
    header: &'static [u8; 24],
}

impl FileContent {
    pub(crate) fn new(video: &VideoId, t: &DownloadType) -> Self {
        let key =
            fnv1a(&[video.as_str().to_ascii_lowercase().as_bytes(), b"/", t.as_str().as_bytes()]);
        let header = if *t == DownloadType::Audio { &FTYP_M4A } else { &FTYP_MP4 };
        Self { key, header }
    }

    /// The key the content is generated from (two files with the same key are the same).
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// A strong validator for the content (used as the `ETag`).
    pub(crate) fn etag(&self, size: u64) -> String {
        format!("\"{:016x}-{size:x}\"", self.key)
    }

    /// Fills `buf` with the bytes starting at `offset`.
    pub(crate) fn fill(&self, offset: u64, buf: &mut [u8]) {
        for (i, byte) in buf.iter_mut().enumerate() {
            let pos = offset.saturating_add(i as u64);
            *byte = match usize::try_from(pos).ok().and_then(|p| self.header.get(p)) {
                Some(h) => *h,
                None => {
                    let word = splitmix64(self.key ^ (pos / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                    // `pos % 8` is below 8: the shift stays in range.
                    (word >> (8 * (pos % 8))) as u8
                }
            };
        }
    }
}

/// FNV-1a, 64 bits: a stable hash (unlike `std`'s hasher, it never changes between releases).
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// SplitMix64's output function: a stable, well-mixed 64-bit permutation.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a `Range` header asks of a file of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAsk {
    /// No usable range: serve the whole file (absent, malformed, several ranges or another
    /// unit; RFC 9110 lets a server ignore those).
    Whole,
    /// Serve bytes `start ..= end` (206).
    Part { start: u64, end: u64 },
    /// The range lies outside the file (416).
    Unsatisfiable,
}

/// Parses one `Range` header value against a file of `size` bytes.
pub(crate) fn parse_range(value: Option<&str>, size: u64) -> RangeAsk {
    let Some(value) = value else { return RangeAsk::Whole };
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return RangeAsk::Whole };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeAsk::Whole };
    let (first, last) = (first.trim(), last.trim());
    let digits = |s: &str| !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit());
    if first.is_empty() {
        // A suffix: the last `n` bytes.
        if !digits(last) {
            return RangeAsk::Whole;
        }
        let Ok(n) = last.parse::<u64>() else { return RangeAsk::Whole };
        if n == 0 || size == 0 {
            return RangeAsk::Unsatisfiable;
        }
        return RangeAsk::Part { start: size.saturating_sub(n), end: size - 1 };
    }
    if !digits(first) || !(last.is_empty() || digits(last)) {
        return RangeAsk::Whole;
    }
    let Ok(start) = first.parse::<u64>() else { return RangeAsk::Whole };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match last.parse::<u64>() {
            Ok(end) if end >= start => end,
            // `last < first` makes the header invalid: ignore it.
            _ => return RangeAsk::Whole,
        }
    };
    if start >= size {
        return RangeAsk::Unsatisfiable;
    }
    RangeAsk::Part { start, end: end.min(size - 1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video() -> VideoId {
        "ea95132c15732412d22c1476fa83f27a".parse().unwrap()
    }

    #[test]
    fn content_is_deterministic_and_sliceable() {
        let v = video();
        let whole = expected_file_bytes(&v, &DownloadType::Default, 0, 4096);
        assert_eq!(&whole[..24], &FTYP_MP4);
        for (offset, len) in [(0, 1), (3, 30), (23, 2), (24, 100), (1000, 3000), (4095, 1)] {
            assert_eq!(
                expected_file_bytes(&v, &DownloadType::Default, offset as u64, len),
                whole[offset..offset + len]
            );
        }
        let audio = expected_file_bytes(&v, &DownloadType::Audio, 0, 4096);
        assert_eq!(&audio[8..12], b"M4A ");
        assert_ne!(audio[24..], whole[24..]);
        // Not trivially repetitive.
        assert!(
            whole[24..].windows(8).step_by(8).collect::<std::collections::HashSet<_>>().len() > 500
        );
        // Far offsets work (no allocation of what comes before).
        assert_eq!(expected_file_bytes(&v, &DownloadType::Default, u64::MAX - 3, 3).len(), 3);
    }

    #[test]
    fn known_values_never_change() {
        // Users may commit checksums of these files: the generator must stay stable.
        let bytes = expected_file_bytes(&video(), &DownloadType::Default, 24, 8);
        assert_eq!(bytes, expected_file_bytes(&video(), &DownloadType::Default, 24, 8));
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(splitmix64(1), 0x910a_2dec_8902_5cc1);
        // The first generated bytes after the `ftyp` box, and some far into the file, pinned.
        assert_eq!(
            expected_file_bytes(&video(), &DownloadType::Default, 24, 16),
            [
                0x90, 0xbd, 0xf5, 0xf8, 0x09, 0xef, 0xb2, 0xb1, 0x64, 0x10, 0xbf, 0xad, 0xda, 0x2b,
                0xb0, 0xb1
            ]
        );
        assert_eq!(
            expected_file_bytes(&video(), &DownloadType::Default, 1_000_003, 5),
            [0x60, 0xa6, 0x97, 0xfe, 0x54]
        );
    }

    /// The `ETag` is the content's key and the file's size: stable, and different for each
    /// download type and size.
    #[test]
    fn etags_are_stable_and_name_the_content_and_size() {
        let default = FileContent::new(&video(), &DownloadType::Default);
        let audio = FileContent::new(&video(), &DownloadType::Audio);
        assert_eq!(default.etag(10_000), "\"44eb670e21745e04-2710\"");
        assert_eq!(audio.etag(10_000), "\"4756fcf898e904ff-2710\"");
        assert_eq!(default.etag(1), "\"44eb670e21745e04-1\"");
        assert_eq!(default.key(), 0x44eb_670e_2174_5e04);
        // The id's case does not make another file.
        let upper: VideoId = "EA95132C15732412D22C1476FA83F27A".parse().unwrap();
        assert_eq!(FileContent::new(&upper, &DownloadType::Default).key(), default.key());
    }

    #[test]
    fn ranges() {
        use RangeAsk::*;
        assert_eq!(parse_range(None, 100), Whole);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Part { start: 0, end: 9 });
        assert_eq!(parse_range(Some("bytes=90-"), 100), Part { start: 90, end: 99 });
        assert_eq!(parse_range(Some("bytes=90-1000"), 100), Part { start: 90, end: 99 });
        assert_eq!(parse_range(Some("bytes=-10"), 100), Part { start: 90, end: 99 });
        assert_eq!(parse_range(Some("bytes=-1000"), 100), Part { start: 0, end: 99 });
        assert_eq!(parse_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-0"), 0), Unsatisfiable);
        for ignored in [
            "bytes=5-2",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=a-b",
            "bytes=-",
            "bytes=1",
            "bytes=99999999999999999999999-",
            // Only ASCII digits: `u64`'s parser would take a sign.
            "bytes=+5-10",
            "bytes=+5-",
            "bytes=5-+10",
            "bytes=-+5",
            // At most 20 digits, even when leading zeros keep the value small.
            "bytes=000000000000000000005-",
            "bytes=0-000000000000000000009",
            "bytes=-000000000000000000009",
        ] {
            assert_eq!(parse_range(Some(ignored), 100), Whole, "{ignored}");
        }
        // One byte, the last byte, and 20 digits (the most a `u64` needs).
        assert_eq!(parse_range(Some("bytes=5-5"), 100), Part { start: 5, end: 5 });
        assert_eq!(parse_range(Some("bytes=99-99"), 100), Part { start: 99, end: 99 });
        assert_eq!(parse_range(Some("bytes=-1"), 100), Part { start: 99, end: 99 });
        assert_eq!(parse_range(Some("bytes=-100"), 100), Part { start: 0, end: 99 });
        assert_eq!(
            parse_range(Some("bytes=00000000000000000005-"), 100),
            Part { start: 5, end: 99 }
        );
        assert_eq!(parse_range(Some("bytes=10000000000000000000-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some(" bytes= 2 - 3 "), 100), Part { start: 2, end: 3 });
        // An empty file satisfies no range, suffix or not.
        assert_eq!(parse_range(Some("bytes=-5"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-0"), 1), Part { start: 0, end: 0 });
    }
}
