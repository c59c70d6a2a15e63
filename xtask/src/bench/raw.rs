//! Small pieces shared by the benchmarks: runtimes, reading a hyper body to its end, and
//! percentiles.

use std::future::poll_fn;
use std::pin::Pin;

use anyhow::Context as _;
use hyper::body::{Body as _, Incoming};

/// A multi-thread runtime with `threads` workers (0: one per core).
pub(crate) fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        b.worker_threads(threads);
    }
    b.enable_all().build().context("cannot start a tokio runtime")
}

/// Reads `body` to its end and returns its length.
pub(crate) async fn body_len(mut body: Incoming) -> anyhow::Result<usize> {
    let mut n = 0;
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        if let Ok(data) = frame.context("cannot read a response body")?.into_data() {
            n += data.len();
        }
    }
    Ok(n)
}

/// The `p`-th percentile (0 to 100) of sorted values, nearest rank.
pub(crate) fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 99.0), 0);
    }
}
