//! Shared helpers: the binary with a clean environment, and an emulator running in this test
//! process (its own tokio runtime, so it serves while the test blocks on the child process).

use std::path::Path;
use std::time::Duration;

use cfstream_emulator::{Emulator, EmulatorBuilder, Progress, RunningEmulator};
use cfstream_types::{DownloadStatus, DownloadType, VideoId};

/// Every variable the binary reads, removed so that the developer's shell cannot leak in.
const VARS: [&str; 6] = [
    "CLOUDFLARE_API_TOKEN",
    "CLOUDFLARE_EMAIL",
    "CLOUDFLARE_API_KEY",
    "CLOUDFLARE_ACCOUNT_ID",
    "CLOUDFLARE_BASE_URL",
    "RUST_LOG",
];

/// The `cfstream` binary, with no `CLOUDFLARE_*` variable set.
pub(crate) fn cfstream() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::new(env!("CARGO_BIN_EXE_cfstream"));
    for v in VARS {
        c.env_remove(v);
    }
    c.env("NO_COLOR", "1");
    c.timeout(Duration::from_secs(120));
    c
}

/// An emulator serving on 127.0.0.1:0 for the length of a test.
pub(crate) struct Emu {
    rt: tokio::runtime::Runtime,
    pub(crate) emu: Option<RunningEmulator>,
}

impl Emu {
    /// The demo seed, downloads ready at once, 4 KiB files.
    pub(crate) fn start() -> Emu {
        Emu::with(|b| b)
    }

    /// Like [`Emu::start`], with the builder adjusted by `f`.
    pub(crate) fn with(f: impl FnOnce(EmulatorBuilder) -> EmulatorBuilder) -> Emu {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let builder = Emulator::builder().progress(Progress::Instant).file_size(4096);
        let emu = rt.block_on(f(builder).start()).unwrap();
        Emu { rt, emu: Some(emu) }
    }

    pub(crate) fn running(&self) -> &RunningEmulator {
        self.emu.as_ref().unwrap()
    }

    /// The base URL as the binary gets it.
    pub(crate) fn base_url(&self) -> String {
        self.running().base_url().to_string()
    }

    /// The binary, pointed at this emulator with its token.
    pub(crate) fn cmd(&self) -> assert_cmd::Command {
        let e = self.running();
        let mut c = cfstream();
        c.env("CLOUDFLARE_BASE_URL", self.base_url());
        c.env("CLOUDFLARE_ACCOUNT_ID", e.account().to_string());
        c.env("CLOUDFLARE_API_TOKEN", token(e));
        c
    }

    /// Video ids of the seed that are ready (or not ready) to stream.
    pub(crate) fn videos(&self, ready: bool) -> Vec<VideoId> {
        self.running()
            .videos()
            .into_iter()
            .filter(|v| v.ready_to_stream == ready)
            .map(|v| v.id)
            .collect()
    }

    /// Makes the default download of `video` ready and returns the `ETag` the emulator sends
    /// with its file (a resume needs the validator of the bytes it continues).
    pub(crate) fn ready_file_etag(&self, video: &VideoId) -> String {
        let e = self.running();
        e.admin()
            .set_download_status(&e.account(), video, DownloadType::Default, DownloadStatus::Ready)
            .unwrap();
        let url = format!("http://{}/{video}/downloads/default.mp4", self.running().addr());
        self.rt.block_on(async {
            let resp = cfstream_http::reqwest::get(url).await.unwrap();
            resp.headers()["etag"].to_str().unwrap().to_owned()
        })
    }

    /// `text` with the emulator's port (and the given directory) replaced by placeholders.
    pub(crate) fn redact(&self, text: &str, dir: Option<&Path>) -> String {
        let port = self.running().addr().port().to_string();
        let mut t = text.replace(&format!("127.0.0.1:{port}"), "127.0.0.1:[PORT]");
        if let Some(d) = dir {
            t = t.replace(&d.display().to_string(), "[DIR]");
        }
        t
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        if let Some(e) = self.emu.take() {
            self.rt.block_on(e.shutdown());
        }
    }
}

/// The token the emulator accepts.
pub(crate) fn token(e: &RunningEmulator) -> String {
    e.credentials().secret().expose().to_owned()
}

/// Stdout and stderr of a finished command, as text.
pub(crate) fn texts(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A child process killed when dropped, so that a failed assertion leaves no server running.
pub(crate) struct KillOnDrop(pub(crate) std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
