//! What a REST client may cost (issue 14, items 9 and 10), on the real agent and dockerd:
//! SIGTERM lets a request in flight finish; idle connections beyond `rest.max_connections`
//! are evicted so new clients and engine calls are still served under `nofile = 1024`;
//! slow bodies hold no in-flight permit and are cut off at `rest.request_timeout_s`.

use ctrmgr_testkit::common::{docker_inspect, docker_rm, require_docker, unique, Agent, IMAGE};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A ureq client of its own (the agent's is borrowed while it is being stopped).
fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn post(http: &ureq::Agent, bearer: &str, url: &str, body: &Value) -> (u16, Value) {
    let mut res = http
        .post(url)
        .header("Authorization", bearer)
        .header("Content-Type", "application/json")
        .send(body.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

fn get(http: &ureq::Agent, bearer: &str, url: &str) -> (u16, Value) {
    let mut res = http
        .get(url)
        .header("Authorization", bearer)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

/// A container whose PID 1 ignores SIGTERM, so `stop` waits its whole `timeout_s`.
fn start_stubborn(agent: &Agent, name: &str) {
    let (status, reply) = agent.post(
        "/v1/containers?runtime=docker-api",
        &json!({"name": name, "image": IMAGE, "cmd": ["sleep", "1000"], "start": true}),
    );
    assert_eq!(status, 201, "{reply}");
}

#[test]
fn sigterm_during_a_slow_stop_finishes_it_then_exits_0() {
    require_docker();
    let dir = tempfile::tempdir().unwrap();
    let mut agent = Agent::start_in(dir.path(), "");
    let name = unique("drain");
    start_stubborn(&agent, &name);
    let url = format!("{}/v1/containers/{name}/stop", agent.url);
    let started = Instant::now();
    let bearer = agent.bearer();
    let stopping =
        std::thread::spawn(move || post(&client(), &bearer, &url, &json!({"timeout_s": 4})));
    std::thread::sleep(Duration::from_secs(1));
    let exit = agent.stop();
    let (status, reply) = stopping.join().expect("the stop request's reply");
    let log = agent.log();
    assert!(exit.success(), "the agent exits 0, not {exit}:\n{log}");
    assert_eq!(status, 200, "{reply}\n{log}");
    assert_eq!(reply["result"]["state"], "exited", "{reply}");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the stop waited for the container's timeout"
    );
    let term = log
        .find("SIGTERM received")
        .expect("the agent logs SIGTERM");
    let stopped = log.rfind("stopped").unwrap();
    assert!(term < stopped, "{log}");
    assert_eq!(docker_inspect(&name)["State"]["Status"], "exited");
    // The record agrees, after a restart over the same store.
    let agent = Agent::start_in(dir.path(), "");
    let (_, listed) = agent.get("/v1/containers?all=true");
    docker_rm(&name);
    let record = listed["result"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("no record of {name}: {listed}"));
    assert_eq!(record["state"], "exited", "{record}");
}

/// Sets the agent's descriptor limit, as a systemd unit without `LimitNOFILE` would.
fn limit_descriptors(agent: &Agent, n: u32) {
    let status = std::process::Command::new("prlimit")
        .arg(format!("--pid={}", agent.pid()))
        .arg(format!("--nofile={n}:{n}"))
        .status()
        .expect("prlimit (util-linux)");
    assert!(status.success(), "prlimit failed");
}

/// Opens a connection and sends a request head whose body never comes.
fn slow_body(port: &str) -> TcpStream {
    let mut s = TcpStream::connect(port).unwrap();
    s.write_all(
        b"POST /v1/execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n{\"op\":",
    )
    .unwrap();
    s
}

#[test]
fn idle_and_slow_connections_do_not_starve_new_clients_or_engine_calls() {
    require_docker();
    let mut agent = Agent::start("[rest]\nmax_in_flight = 8\nrequest_timeout_s = 8\n");
    limit_descriptors(&agent, 1024);
    let address = agent.url.trim_start_matches("http://").to_owned();
    // More idle connections than descriptors: each new one past the cap evicts the
    // longest-idle one instead of using up the agent's descriptors.
    let idle: Vec<TcpStream> = (0..1500)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    // Slow bodies: more than max_in_flight, each holding its connection but no permit.
    let slow: Vec<TcpStream> = (0..32).map(|_| slow_body(&address)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let http = client();
    // `list` reads records only: its time is the REST layer's, not the engines' (this
    // machine may be loaded); well under rest.request_timeout_s, when the stalled bodies
    // would be cut off anyway.
    let asked = Instant::now();
    let (status, listed) = get(
        &http,
        &agent.bearer(),
        &format!("{}/v1/containers", agent.url),
    );
    assert_eq!(status, 200, "{listed}\n{}", agent.log());
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "a new client waited {:?} behind slow bodies",
        asked.elapsed()
    );
    // Engine calls still get descriptors: the CLI spawns a child with pipes, the API
    // opens a socket to dockerd.
    let name = unique("nofile");
    let (status, reply) = post(
        &http,
        &agent.bearer(),
        &format!("{}/v1/containers?runtime=docker", agent.url),
        &json!({"name": name, "image": IMAGE, "cmd": ["sleep", "60"], "start": true}),
    );
    assert_eq!(status, 201, "{reply}\n{}", agent.log());
    let (status, reply) = get(
        &http,
        &agent.bearer(),
        &format!("{}/v1/containers/{name}?runtime=docker-api", agent.url),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["result"]["state"], "running");
    let metrics = agent.metrics();
    assert!(
        metrics.contains("ctrmgr_rest_connections_evicted "),
        "{metrics}"
    );
    // The slow bodies are cut off at rest.request_timeout_s.
    for mut s in slow {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut rest = Vec::new();
        let cut = s.read_to_end(&mut rest);
        assert!(
            cut.is_ok()
                || cut
                    .as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "a slow body was not cut off: {cut:?}"
        );
    }
    drop(idle);
    let (status, _) = agent.delete(&format!("/v1/containers/{name}?force=true"));
    assert_eq!(status, 200);
    assert!(agent.stop().success());
}

#[test]
fn event_streams_have_their_own_small_pool() {
    let agent = Agent::start("[rest]\nmax_event_streams = 2\nmax_in_flight = 1\n");
    let address = agent.url.trim_start_matches("http://").to_owned();
    let open_stream = || {
        let mut s = TcpStream::connect(&address).unwrap();
        let head = format!(
            "GET /v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: {}\r\n\r\n",
            agent.bearer()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        (s, String::from_utf8_lossy(&head).into_owned())
    };
    let (_first, status) = open_stream();
    assert_eq!(status, "HTTP/1.1 200");
    let (_second, status) = open_stream();
    assert_eq!(status, "HTTP/1.1 200");
    let (_third, status) = open_stream();
    assert_eq!(status, "HTTP/1.1 503", "the pool is full");
    // Open streams hold no in-flight permit (max_in_flight = 1): requests still run.
    let (status, info) = get(
        &client(),
        &agent.bearer(),
        &format!("{}/v1/info", agent.url),
    );
    assert_eq!(status, 200, "{info}");
}
