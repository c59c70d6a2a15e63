//! `cfstream serve`: prints the exports a newcomer pastes, serves them, stops on Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::{KillOnDrop, cfstream, texts};

#[test]
fn serve_prints_working_exports_and_stops_on_ctrl_c() {
    let bin = env!("CARGO_BIN_EXE_cfstream");
    let child = Command::new(bin)
        .args(["serve", "--port", "0", "--progress", "instant", "--file-size", "1000"])
        .env_remove("CLOUDFLARE_API_TOKEN")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut guard = KillOnDrop(child);
    let child = &mut guard.0;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let mut exports = vec![];
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if let Some(kv) = line.trim().strip_prefix("export ") {
            let (k, v) = kv.split_once('=').unwrap();
            exports.push((k.to_owned(), v.to_owned()));
        }
        if line.starts_with("Requests are logged below") {
            break;
        }
    }
    assert_eq!(exports.len(), 3, "{banner}");
    let port = exports[0].1.split(':').nth(2).unwrap().split('/').next().unwrap().to_owned();
    insta::assert_snapshot!("serve_banner", banner.replace(&port, "[PORT]"));

    let out = cfstream()
        .envs(exports.clone())
        .args(["downloads", "create", "5d5bc37ffcf54c9b82e996823bffbb81"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", texts(&out).1);

    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("POST") && log.contains("status=200"), "each request is logged: {log}");
    assert!(!log.contains("cfstream-demo-token"), "{log}");
}
