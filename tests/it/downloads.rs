//! `cfstream downloads ...` against the in-process emulator: the table, JSON Lines, fetch
//! (byte-exact), resume of a `.part` file, ids from stdin and files.

use cfstream_emulator::expected_file_bytes;
use cfstream_types::{DownloadStatus, DownloadType, VideoId};

use crate::common::{Emu, emulator_file_etag, texts};

#[test]
fn create_then_list_prints_a_table() {
    let emu = Emu::start();
    let ready = emu.videos(true);
    let (a, b) = (ready[0].as_str(), ready[1].as_str());
    emu.cmd().args(["downloads", "create", a, "--type", "audio"]).assert().success();
    emu.cmd().args(["downloads", "create", a]).assert().success();
    let out = emu.cmd().args(["downloads", "list", a, b]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let (stdout, stderr) = texts(&out);
    insta::assert_snapshot!("list_table", emu.redact(&stdout, None));
    assert_eq!(stderr, "list: 2 of 2 videos succeeded\n");
}

#[test]
fn json_lines_are_one_object_per_result_then_a_summary() {
    let emu = Emu::start();
    let ready = emu.videos(true);
    let not_ready = emu.videos(false);
    let out = emu
        .cmd()
        .args(["--json", "downloads", "create", "--jobs", "1", ready[0].as_str(), "zz-not-hex"])
        .arg(not_ready[0].as_str())
        .arg("0000000000000000000000000000dead")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = texts(&out);
    assert_eq!(stderr, "", "--json keeps stderr for setup errors and logs");
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["event"].is_string(), "{line}");
    }
    insta::assert_snapshot!("create_json_lines", emu.redact(&stdout, None));
}

#[test]
fn fetch_writes_byte_exact_files_and_skips_existing_ones() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let ready = emu.videos(true);
    let out = emu
        .cmd()
        .current_dir(dir.path())
        .args(["--json", "downloads", "fetch", "-o", "out", "--type", "audio"])
        .args(ready.iter().map(VideoId::as_str))
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    for v in &ready {
        let got = std::fs::read(dir.path().join("out").join(format!("{v}.m4a"))).unwrap();
        assert_eq!(got, expected_file_bytes(v, &DownloadType::Audio, 0, 4096), "{v}");
    }
    // A second run finds the files and asks nothing of the server.
    let before = emu.running().admin().request_count();
    let out = emu
        .cmd()
        .current_dir(dir.path())
        .args(["downloads", "fetch", "-o", "out", "--type", "audio"])
        .args(ready.iter().map(VideoId::as_str))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(emu.running().admin().request_count(), before);
    let (stdout, _) = texts(&out);
    assert!(stdout.contains("(existed already)"), "{stdout}");
}

#[test]
fn fetch_resumes_a_partial_file_of_the_same_version() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let video = emu.videos(true)[0].clone();
    let dest = dir.path().join("clip.mp4");
    let part = dir.path().join("clip.mp4.part");
    std::fs::write(&part, expected_file_bytes(&video, &DownloadType::Default, 0, 1000)).unwrap();
    // The validator a cut fetch keeps beside its `.part` (the on-disk format a later version
    // of cfstream must still read), of the file the emulator serves once the download is ready.
    let e = emu.running();
    e.admin()
        .set_download_status(&e.account(), &video, DownloadType::Default, DownloadStatus::Ready)
        .unwrap();
    let etag = emulator_file_etag(e, &video);
    let meta = serde_json::json!({"etag": etag, "total": 4096});
    std::fs::write(dir.path().join("clip.mp4.part.meta"), meta.to_string()).unwrap();
    let out = emu
        .cmd()
        .args(["--json", "downloads", "fetch", video.as_str(), "-o"])
        .arg(&dest)
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["resumed_from"], 1000, "{stdout}");
    assert_eq!(first["bytes"], 4096);
    assert!(!part.exists());
    assert!(!dir.path().join("clip.mp4.part.meta").exists());
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        expected_file_bytes(&video, &DownloadType::Default, 0, 4096)
    );
}

#[test]
fn fetch_starts_over_from_a_partial_file_of_unknown_version() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let video = emu.videos(true)[0].clone();
    let dest = dir.path().join("clip.mp4");
    let part = dir.path().join("clip.mp4.part");
    // No validator beside it: these bytes may be of another version, so none of them is kept.
    std::fs::write(&part, vec![0xAB; 1000]).unwrap();
    let out = emu
        .cmd()
        .args(["--json", "downloads", "fetch", video.as_str(), "-o"])
        .arg(&dest)
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let first: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["resumed_from"], 0, "{stdout}");
    assert_eq!(first["bytes"], 4096);
    assert!(!part.exists());
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        expected_file_bytes(&video, &DownloadType::Default, 0, 4096)
    );
}

#[test]
fn ids_come_from_stdin_and_files_with_bad_lines_reported() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let ready = emu.videos(true);
    let list = dir.path().join("ids.txt");
    std::fs::write(&list, format!("# my videos\n{}\nnot/an/id\n", ready[1])).unwrap();
    let out = emu
        .cmd()
        .args(["--json", "downloads", "list", "-", "--from"])
        .arg(&list)
        .write_stdin(format!("{}\n\n{}\n", ready[0], ready[0]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "an invalid input line makes the run a partial failure");
    let (stdout, _) = texts(&out);
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let bad = &lines[0];
    assert_eq!(bad["event"], "invalid_input");
    assert_eq!(bad["line"], 3);
    assert_eq!(bad["source"], list.display().to_string());
    let ok: Vec<_> = lines.iter().filter(|l| l["event"] == "result").collect();
    assert_eq!(ok.len(), 2, "the duplicate id runs once: {stdout}");
    assert_eq!(lines.last().unwrap()["event"], "summary");
}

#[test]
fn delete_and_wait_report_per_video() {
    let emu = Emu::start();
    let video = emu.videos(true)[0].to_string();
    emu.cmd().args(["downloads", "create", &video]).assert().success();
    let out = emu.cmd().args(["downloads", "wait", &video, "--timeout", "30s"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(texts(&out).0.contains("ready"));
    let out = emu.cmd().args(["downloads", "delete", &video]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    insta::assert_snapshot!("delete_table", texts(&out).0);
    // Waiting for a download that does not exist fails this video, with a hint.
    let out = emu.cmd().args(["downloads", "wait", &video]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (_, stderr) = texts(&out);
    assert!(stderr.contains("hint: this download does not exist"), "{stderr}");
}

#[test]
fn a_from_file_with_a_bom_a_binary_line_and_a_huge_line_runs_the_other_ids() {
    let emu = Emu::start();
    let dir = tempfile::tempdir().unwrap();
    let ready = emu.videos(true);
    let list = dir.path().join("ids.txt");
    let mut bytes = b"\xef\xbb\xbf".to_vec();
    bytes.extend_from_slice(format!("{}\n", ready[0]).as_bytes());
    bytes.extend_from_slice(b"ab\xff\xfecd\x1b[2J\n");
    bytes.extend_from_slice(&vec![b'f'; 1 << 20]);
    bytes.extend_from_slice(format!("\n{}\r\n", ready[1]).as_bytes());
    std::fs::write(&list, bytes).unwrap();

    let out = emu.cmd().args(["downloads", "list", "--from"]).arg(&list).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let hint = "  hint: a video id is 1 to 32 hex digits (Cloudflare's are 32), as in the video's dashboard URL\n";
    let path = list.display();
    assert_eq!(
        stderr,
        format!(
            "error: {path} line 2: invalid video id 'ab\u{fffd}\u{fffd}cd\\u{{1b}}[2J': not UTF-8 text (byte 0xff at offset 2)\n{hint}\
             error: {path} line 3: invalid video id '{}...': the line is longer than 4096 bytes\n{hint}\
             list: 2 of 2 videos succeeded; 2 inputs were not video ids\n",
            "f".repeat(64)
        )
    );
    for v in &ready[..2] {
        assert!(stdout.contains(v.as_str()), "{v}: {stdout}");
    }

    let out =
        emu.cmd().args(["--json", "downloads", "list", "--from"]).arg(&list).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let (stdout, _) = texts(&out);
    let lines: Vec<serde_json::Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(
        lines[0],
        serde_json::json!({
            "event": "invalid_input", "source": path.to_string(), "line": 2,
            "input": "ab\u{fffd}\u{fffd}cd\u{1b}[2J",
            "error": "invalid video id 'ab\u{fffd}\u{fffd}cd\u{1b}[2J': not UTF-8 text (byte 0xff at offset 2)",
        })
    );
    assert_eq!(lines[1]["line"], 3);
    assert_eq!(lines[1]["input"], "f".repeat(64));
    assert_eq!(lines.iter().filter(|l| l["event"] == "result" && l["ok"] == true).count(), 2);
    assert_eq!(lines.last().unwrap()["invalid_input"], 2);
}
