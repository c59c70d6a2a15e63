//! A keep-alive connection keeps its last list answer while the store is unchanged: every
//! acknowledged change, made on another connection or in process, shows in its next list.

use cfstream_emulator::{Progress, RateLimit};
use cfstream_types::{AccountId, DownloadStatus, DownloadType, VideoId};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::common::*;

/// One HTTP/1.1 connection, kept open: every request goes over the same socket.
struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    host: String,
}

impl Conn {
    async fn open(addr: std::net::SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(conn);
        Conn { sender, host: addr.to_string() }
    }

    /// The `result` of a list on this connection.
    async fn list(&mut self, path: &str) -> Value {
        let req = hyper::Request::get(path)
            .header("host", &self.host)
            .header("authorization", format!("Bearer {}", cfstream_emulator::DEMO_TOKEN))
            .body(Empty::new())
            .unwrap();
        self.sender.ready().await.unwrap();
        let res = self.sender.send_request(req).await.unwrap();
        assert_eq!(res.status(), 200);
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&body).unwrap();
        v["result"].clone()
    }
}

fn status(result: &Value, t: &str) -> Option<String> {
    result.get(t).map(|d| d["status"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_list_answer_never_outlives_an_acknowledged_change() {
    let emu = builder()
        .progress(Progress::Instant)
        .rate_limit(RateLimit::disabled())
        .start()
        .await
        .unwrap();
    let (video, other) = (ready_video(&emu), emu.admin().add_video(&emu.account(), true));
    let url = downloads_url(&emu, &video, "");
    let path = url::Url::parse(&url).unwrap().path().to_owned();
    let other_path = path.replace(&video, other.as_str());
    let web = client();
    let (s, _, _) = authed(web.post(&url)).await;
    assert_eq!(s, 200);

    let mut conn = Conn::open(emu.addr()).await;
    let first = conn.list(&path).await;
    assert_eq!((status(&first, "default"), status(&first, "audio")), (Some("ready".into()), None));
    assert_eq!(conn.list(&path).await, first, "unchanged store, same answer");
    // The same connection, another video: not the kept answer.
    assert_eq!(conn.list(&other_path).await, serde_json::json!({}));
    assert_eq!(conn.list(&path).await, first);

    // A change on another connection.
    let (s, _, _) = authed(web.post(format!("{url}/audio"))).await;
    assert_eq!(s, 200);
    let after_create = conn.list(&path).await;
    assert_eq!(status(&after_create, "audio"), Some("ready".into()), "{after_create}");

    // A change in process.
    let account = AccountId::new(emu.account().as_str()).unwrap();
    let id = VideoId::new(&video).unwrap();
    emu.admin()
        .set_download_status(&account, &id, DownloadType::Default, DownloadStatus::Error)
        .unwrap();
    let after_admin = conn.list(&path).await;
    assert_eq!(status(&after_admin, "default"), Some("error".into()), "{after_admin}");

    // A delete, then the reset of the whole store.
    let (s, _, _) = authed(web.delete(format!("{url}/audio"))).await;
    assert_eq!(s, 200);
    assert_eq!(status(&conn.list(&path).await, "audio"), None);
    emu.admin().reset();
    assert_eq!(conn.list(&path).await, serde_json::json!({}));
}
