//! Shared by the MQTT integration tests: a private Mosquitto per test (own port, own
//! config file, killable and restartable), test certificates made with the `openssl`
//! CLI, and an MQTT 5 test client (rumqttc's blocking `Client`) that does request/reply.

use rumqttc::v5::mqttbytes::v5::{Packet, Publish, PublishProperties};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{Client, Event, MqttOptions};
use rumqttc::{TlsConfiguration, Transport};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for one reply or status message.
pub const REPLY_WAIT: Duration = Duration::from_secs(60);

/// The mosquitto binary; the test fails loudly when it is not installed.
pub fn mosquitto_bin() -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let path = Path::new(dir).join("mosquitto");
        if path.exists() {
            return path;
        }
    }
    panic!("mosquitto is not installed (package mosquitto; `scripts/services.sh up` installs it)");
}

/// A private Mosquitto on its own port, killed when dropped.
pub struct Broker {
    child: Option<Child>,
    /// Its listener port on 127.0.0.1.
    pub port: u16,
    config: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Broker {
    /// A plain listener with anonymous access.
    pub fn start() -> Broker {
        Broker::start_with("")
    }

    /// A listener with extra lines after `listener PORT 127.0.0.1` (TLS options).
    pub fn start_with(listener_options: &str) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::common::free_port();
        let log = dir.path().join("mosquitto.log");
        let config = dir.path().join("mosquitto.conf");
        // Started as root, mosquitto would switch to user `mosquitto`, which cannot read
        // the test's private directory.
        let user = if nix::unistd::geteuid().is_root() {
            "user root\n"
        } else {
            ""
        };
        std::fs::write(
            &config,
            format!(
                "{user}per_listener_settings false\nallow_anonymous true\npersistence false\n\
                 log_dest file {}\nlog_type all\nlistener {port} 127.0.0.1\n{listener_options}\n",
                log.display()
            ),
        )
        .unwrap();
        let mut broker = Broker {
            child: None,
            port,
            config,
            log,
            _dir: dir,
        };
        broker.launch();
        broker
    }

    fn launch(&mut self) {
        let child = Command::new(mosquitto_bin())
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.log.with_extension("stderr")).unwrap())
            .spawn()
            .expect("mosquitto starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("mosquitto exited with {status}:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto does not listen on {}:\n{}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the broker (SIGKILL): sessions and retained messages are gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts the broker again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// The broker's log.
    pub fn log(&self) -> String {
        let stderr = std::fs::read_to_string(self.log.with_extension("stderr"));
        std::fs::read_to_string(&self.log).unwrap_or_default() + &stderr.unwrap_or_default()
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `[mqtt]` section for an agent on `broker`, with extra keys.
pub fn agent_mqtt_config(broker: &Broker, extra_keys: &str) -> String {
    format!(
        "[mqtt]\nhost = \"127.0.0.1\"\nport = {}\nreconnect_max_backoff_s = 2\n{extra_keys}\n",
        broker.port
    )
}

/// A received message.
#[derive(Debug, Clone)]
pub struct Message {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// Retained flag.
    pub retain: bool,
    /// MQTT 5 properties.
    pub properties: PublishProperties,
}

impl Message {
    fn from_publish(p: Publish) -> Message {
        Message {
            topic: String::from_utf8_lossy(&p.topic).into_owned(),
            payload: p.payload.to_vec(),
            retain: p.retain,
            properties: p.properties.unwrap_or_default(),
        }
    }

    /// The payload as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| {
            panic!(
                "payload on {} is not JSON ({e}): {}",
                self.topic,
                String::from_utf8_lossy(&self.payload)
            )
        })
    }

    /// A user property's value.
    pub fn user_property(&self, name: &str) -> Option<&str> {
        self.properties
            .user_properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An MQTT 5 test client that resubscribes after every reconnect.
pub struct TestClient {
    client: Client,
    messages: Receiver<Message>,
    subscriptions: Arc<Mutex<Vec<String>>>,
    suback: Receiver<()>,
    /// Messages received while waiting for others, oldest first.
    backlog: std::cell::RefCell<std::collections::VecDeque<Message>>,
}

impl TestClient {
    /// Connects to a plain broker.
    pub fn connect(broker: &Broker) -> TestClient {
        TestClient::connect_with(broker, None)
    }

    /// Connects, over TLS when `tls` is given.
    pub fn connect_with(broker: &Broker, tls: Option<Arc<rustls::ClientConfig>>) -> TestClient {
        let id = crate::common::unique("mqtt-client");
        let mut options = MqttOptions::new(id, "127.0.0.1", broker.port);
        options
            .set_keep_alive(Duration::from_secs(5))
            .set_max_packet_size(Some(4 * 1024 * 1024));
        if let Some(config) = tls {
            options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
        }
        let (client, mut connection) = Client::new(options, 64);
        let (tx, messages) = channel();
        let (suback_tx, suback) = channel();
        let subscriptions: Arc<Mutex<Vec<String>>> = Arc::default();
        let resubscribe = (client.clone(), subscriptions.clone());
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send(Message::from_publish(p)).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for topic in resubscribe.1.lock().unwrap().iter() {
                            let _ = resubscribe.0.try_subscribe(topic.clone(), QoS::AtLeastOnce);
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = suback_tx.send(());
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        TestClient {
            client,
            messages,
            subscriptions,
            suback,
            backlog: Default::default(),
        }
    }

    /// Subscribes (QoS 1) and waits for the broker's SUBACK.
    pub fn subscribe(&self, topic: &str) {
        self.subscriptions.lock().unwrap().push(topic.to_owned());
        while self.suback.try_recv().is_ok() {}
        self.client
            .subscribe(topic, QoS::AtLeastOnce)
            .expect("subscribe queued");
        self.suback
            .recv_timeout(REPLY_WAIT)
            .unwrap_or_else(|_| panic!("no SUBACK for {topic}"));
    }

    /// Publishes (QoS 1) with MQTT 5 properties.
    pub fn publish(&self, topic: &str, payload: &[u8], properties: PublishProperties) {
        self.client
            .publish_with_properties(topic, QoS::AtLeastOnce, false, payload.to_vec(), properties)
            .expect("publish queued");
    }

    /// The next message on `topic` for which `accept` holds, within `wait`.
    pub fn next_on(
        &self,
        topic: &str,
        wait: Duration,
        accept: impl Fn(&Message) -> bool,
    ) -> Option<Message> {
        let matches = |m: &Message| m.topic == topic && accept(m);
        {
            let mut backlog = self.backlog.borrow_mut();
            if let Some(i) = backlog.iter().position(matches) {
                return backlog.remove(i);
            }
        }
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(m) if matches(&m) => return Some(m),
                Ok(m) => self.backlog.borrow_mut().push_back(m),
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => panic!("test client connection ended"),
            }
        }
    }

    /// Waits until the retained status of `device` under `ctrmgr/` reads `payload`.
    pub fn wait_status(&self, device: &str, payload: &str) {
        let topic = format!("ctrmgr/{device}/status");
        self.subscribe(&topic);
        let seen = self.next_on(&topic, REPLY_WAIT, |m| m.payload == payload.as_bytes());
        assert!(seen.is_some(), "{topic} never said '{payload}'");
    }

    /// Sends `payload` with a Response Topic and Correlation Data and returns the reply.
    pub fn request_to(&self, topic: &str, payload: &[u8], content_type: Option<&str>) -> Message {
        let reply_topic = format!("ctrmgr/replies/{}", crate::common::unique("r"));
        self.subscribe(&reply_topic);
        let correlation = crate::common::unique("corr").into_bytes();
        self.publish(
            topic,
            payload,
            PublishProperties {
                response_topic: Some(reply_topic.clone()),
                correlation_data: Some(correlation.clone().into()),
                content_type: content_type.map(str::to_owned),
                ..PublishProperties::default()
            },
        );
        let reply = self.next_on(&reply_topic, REPLY_WAIT, |_| true);
        let reply =
            reply.unwrap_or_else(|| panic!("no reply on {reply_topic} to a request on {topic}"));
        assert_eq!(
            reply.properties.correlation_data.as_deref(),
            Some(&correlation[..]),
            "the reply carries the request's Correlation Data"
        );
        reply
    }

    /// Sends a JSON envelope to a device with a Response Topic; returns the reply JSON.
    pub fn call(&self, device: &str, envelope: &Value) -> Value {
        let reply = self.request_to(
            &format!("ctrmgr/{device}/req"),
            envelope.to_string().as_bytes(),
            None,
        );
        assert_eq!(
            reply.properties.content_type.as_deref(),
            Some("application/json")
        );
        reply.json()
    }
}

/// Test certificates: a CA, a server certificate for 127.0.0.1/localhost, a client
/// certificate, and a second CA that signed neither.
pub struct TestCerts {
    /// Directory holding the PEM files.
    pub dir: tempfile::TempDir,
}

impl TestCerts {
    /// Makes every file with the `openssl` CLI.
    pub fn generate() -> TestCerts {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(d)
                .output()
                .expect("the openssl CLI is installed");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        for ca in ["ca", "other-ca"] {
            openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN=ctrmgr test {ca}"),
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
            ]);
        }
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .unwrap();
        std::fs::write(d.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
        for (name, cn) in [("server", "localhost"), ("client", "ctrmgr-agent")] {
            openssl(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ]);
            openssl(&[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ]);
        }
        TestCerts { dir }
    }

    /// A file's path.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Mosquitto listener options: TLS with required client certificates.
    pub fn listener_options(&self) -> String {
        format!(
            "cafile {}\ncertfile {}\nkeyfile {}\nrequire_certificate true\n",
            self.path("ca.pem"),
            self.path("server.pem"),
            self.path("server.key")
        )
    }

    /// A rustls client config (ring) trusting `ca` with the client certificate.
    pub fn client_config(&self, ca: &str) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.path(ca)).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let certs = CertificateDer::pem_file_iter(self.path("client.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(self.path("client.key")).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(certs, key)
            .unwrap();
        Arc::new(config)
    }
}

/// Runs `mosquitto_sub` (the real client) until it has `count` messages or `wait_s`
/// passes, and returns what it printed.
pub fn mosquitto_sub(port: u16, topic: &str, count: u32, wait_s: u32) -> String {
    let out = Command::new("mosquitto_sub")
        .args([
            "-V",
            "5",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-q",
            "1",
        ])
        .args([
            "-t",
            topic,
            "-C",
            &count.to_string(),
            "-W",
            &wait_s.to_string(),
        ])
        .output()
        .expect("mosquitto_sub is installed (package mosquitto-clients)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// How an MQTT request reaches the agent and its reply comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttRoute {
    /// MQTT 5 Response Topic and Correlation Data; the format sniffed by the agent.
    ResponseTopic,
    /// Response Topic, and the format declared as the MQTT 5 content type.
    Declared,
    /// No properties: the reply goes to `ctrmgr/<device>/res` (JSON with an id only).
    DefaultTopic,
}

/// The MQTT transport as a [`ContractClient`]: requests on the device's request topic.
pub struct MqttClient<'a> {
    /// The connected test client.
    pub client: &'a TestClient,
    /// The agent's device id.
    pub device: String,
    /// How requests and replies travel.
    pub route: MqttRoute,
}

impl crate::common::contract::ContractClient for MqttClient<'_> {
    fn transport(&self) -> &'static str {
        "MQTT"
    }

    fn exchange(
        &self,
        format: ctrmgr::codec::Format,
        bytes: &[u8],
        _answerable: bool,
    ) -> Option<Vec<u8>> {
        let topic = format!("ctrmgr/{}/req", self.device);
        let declared = crate::common::contract::content_type(format);
        let reply = match self.route {
            MqttRoute::ResponseTopic => self.client.request_to(&topic, bytes, None),
            MqttRoute::Declared => self.client.request_to(&topic, bytes, Some(declared)),
            MqttRoute::DefaultTopic => {
                let res = format!("ctrmgr/{}/res", self.device);
                self.client.subscribe(&res);
                self.client
                    .publish(&topic, bytes, PublishProperties::default());
                let id = serde_json::from_slice::<Value>(bytes).unwrap()["id"].clone();
                self.client
                    .next_on(&res, REPLY_WAIT, |m| m.json()["id"] == id)
                    .unwrap_or_else(|| panic!("no reply on {res} to a request with id {id}"))
            }
        };
        assert_eq!(
            reply.properties.content_type.as_deref(),
            Some(declared),
            "the reply names its format"
        );
        Some(reply.payload)
    }
}
