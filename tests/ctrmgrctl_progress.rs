//! `ctrmgrctl pull` drawing `pull_progress` events under a pseudo-terminal and into a
//! pipe, with exact figures: a stand-in agent on loopback answers `GET /v1/events` with the
//! documented events `{image, layer, current, total}` for two layers and the pull a
//! moment later, so the bars (under a pseudo-terminal) and the plain lines (a pipe) are
//! exercised end to end. tests/ctrmgrctl.rs and tests/images.rs run the same verb against
//! the real agent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

const CTL: &str = env!("CARGO_BIN_EXE_ctrmgrctl");
const IMAGE: &str = "127.0.0.1:5000/ctrmgr-test/layers:1";

/// Serves the events and the pull on `listener` until the test process ends.
fn stand_in_agent(listener: TcpListener) {
    for conn in listener.incoming().map_while(Result::ok) {
        std::thread::spawn(move || answer(conn));
    }
}

fn answer(mut conn: TcpStream) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header == "\r\n" {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    if request_line.starts_with("GET /v1/events ") {
        conn.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n: ctrmgr events\n\n",
        )
        .unwrap();
        for step in 0..=4u64 {
            for (layer, total) in [("sha256:aaaa1111", 4000u64), ("sha256:bbbb2222", 8000)] {
                let event = format!(
                    r#"{{"image":"{IMAGE}","layer":"{layer}","current":{},"total":{total}}}"#,
                    total * step / 4
                );
                // The client may be gone already; nothing to do then.
                if conn
                    .write_all(format!("data: {event}\n\n").as_bytes())
                    .is_err()
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_secs(30));
    } else {
        let sent: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["op"], "pull");
        assert_eq!(sent["args"]["progress"], true);
        std::thread::sleep(Duration::from_millis(800));
        let reply = format!(r#"{{"ok":true,"result":{{"image":"{IMAGE}","id":"sha256:cafe"}}}}"#);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        );
        conn.write_all(head.as_bytes()).unwrap();
        conn.write_all(reply.as_bytes()).unwrap();
    }
}

fn start() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || stand_in_agent(listener));
    host
}

#[test]
fn bars_on_a_terminal() {
    let host = start();
    let line = format!("{CTL} --host {host} pull {IMAGE}");
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) must be installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // One bar per layer, named by the digest's first 12 characters, with byte counts.
    assert!(
        text.contains("aaaa1111") && text.contains("bbbb2222"),
        "{text}"
    );
    assert!(text.contains("[=") && text.contains("KiB"), "{text}");
    assert!(
        text.contains(&format!("pulled {IMAGE} (sha256:cafe)")),
        "{text}"
    );
}

#[test]
fn plain_lines_otherwise() {
    let host = start();
    let out = Command::new(CTL)
        .args(["--host", &host, "pull", IMAGE])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text,
        format!(
            "pulling {IMAGE} ...\nlayer sha256:aaaa1111: 4000 bytes\n\
             layer sha256:bbbb2222: 8000 bytes\npulled {IMAGE} (sha256:cafe)\n"
        )
    );
}
