//! Progress bars under a real terminal (a pty from util-linux `script`), their absence with
//! `--no-progress` and when stderr is not a terminal, and Ctrl-C during a fetch.

use std::process::Command;
use std::time::Duration;

use cfstream_emulator::Progress;

use crate::common::{Emu, texts, token};

/// Runs `args` under a pty with `script`, returning the terminal transcript, or `None` when
/// util-linux's `script` is not installed.
fn under_pty(emu: &Emu, dir: &std::path::Path, args: &str) -> Option<String> {
    let probe = Command::new("script").arg("--version").output();
    if probe.is_err() {
        eprintln!("util-linux `script` is not installed: the pty test cannot run here");
        return None;
    }
    let bin = env!("CARGO_BIN_EXE_cfstream");
    let out = Command::new("script")
        .args(["-qec", &format!("'{bin}' {args}"), "/dev/null"])
        .current_dir(dir)
        .env("CLOUDFLARE_BASE_URL", emu.base_url())
        .env("CLOUDFLARE_ACCOUNT_ID", emu.running().account().to_string())
        .env("CLOUDFLARE_API_TOKEN", token(emu.running()))
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .env_remove("CLOUDFLARE_EMAIL")
        .env_remove("CLOUDFLARE_API_KEY")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    Some(stdout)
}

#[test]
fn progress_bars_draw_on_a_terminal_only() {
    let emu = Emu::with(|b| b.progress(Progress::Over(Duration::from_millis(1500))));
    let dir = tempfile::tempdir().unwrap();
    let video = emu.videos(true)[0].to_string();
    let Some(screen) = under_pty(&emu, dir.path(), &format!("downloads fetch {video} -o a/"))
    else {
        return;
    };
    // The overall bar and the per-video wait bar were drawn (and cleared at the end).
    assert!(screen.contains("0/1 videos"), "{screen}");
    assert!(screen.contains(&format!("{video} default [")), "{screen}");
    assert!(screen.contains("inprogress"), "{screen}");
    assert!(screen.contains("fetch: 1 of 1 videos succeeded"), "{screen}");

    let Some(screen) =
        under_pty(&emu, dir.path(), &format!("--no-progress downloads fetch {video} -o b/"))
    else {
        return;
    };
    assert!(!screen.contains("0/1 videos") && !screen.contains("inprogress"), "{screen}");
    assert!(screen.contains("fetch: 1 of 1 videos succeeded"), "{screen}");
}

#[test]
fn no_bars_when_stderr_is_not_a_terminal() {
    let emu = Emu::start();
    let video = emu.videos(true)[0].to_string();
    let dir = tempfile::tempdir().unwrap();
    let out =
        emu.cmd().current_dir(dir.path()).args(["downloads", "fetch", &video]).output().unwrap();
    assert_eq!(texts(&out).1, "fetch: 1 of 1 videos succeeded\n");
}

#[test]
fn ctrl_c_leaves_no_file_under_the_final_name() {
    // Downloads take a minute to turn ready: the fetch is still waiting when interrupted.
    let emu = Emu::with(|b| b.progress(Progress::Over(Duration::from_secs(60))));
    let video = emu.videos(true)[0].to_string();
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_cfstream");
    let child = Command::new(bin)
        .args(["downloads", "fetch", &video, "-o", "clip.mp4"])
        .current_dir(dir.path())
        .env("CLOUDFLARE_BASE_URL", emu.base_url())
        .env("CLOUDFLARE_ACCOUNT_ID", emu.running().account().to_string())
        .env("CLOUDFLARE_API_TOKEN", token(emu.running()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the download exists (the command is past create and into its wait).
    let admin = emu.running().admin();
    let account = emu.running().account();
    let id = video.parse().unwrap();
    for _ in 0..200 {
        if admin.downloads(&account, &id).is_ok_and(|d| d.default.is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("error: interrupted: 1 of 1 videos unfinished"), "{stderr}");
    assert!(stderr.contains("run the same command again to resume"), "{stderr}");
    assert!(!dir.path().join("clip.mp4").exists());
}
