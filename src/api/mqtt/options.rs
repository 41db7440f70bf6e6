//! `[mqtt]` config to rumqttc `MqttOptions`: identity, credentials, last will, session,
//! flow control (receive maximum, manual acknowledgements), packet size and TLS.

use super::topics::Topics;
use super::{tls, MqttError, MAX_IN_FLIGHT};
use crate::config::mqtt::MqttConfig;
use rumqttc::v5::mqttbytes::v5::LastWill;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::MqttOptions;
use rumqttc::{TlsConfiguration, Transport};
use std::sync::Arc;
use std::time::Duration;

/// Payload of the retained status message while connected.
pub(super) const ONLINE: &str = "online";
/// Payload of the retained status message (and last will) when gone.
pub(super) const OFFLINE: &str = "offline";

/// Our own QoS 1 publishes (replies, events) awaiting PUBACK; more wait their turn.
/// rumqttc's default (u16::MAX) preallocates a slot per packet id: 13 MB of RSS.
pub(super) const OUTGOING_IN_FLIGHT: u16 = 64;

/// Room for a publish's topic and properties beyond its payload.
const PACKET_OVERHEAD: u32 = 64 * 1024;

/// The largest packet the broker may send us: twice the payload limit plus headers, so
/// a request somewhat over the limit still arrives and gets a `too_large` reply; bigger
/// ones are dropped by the broker (MQTT 5 Maximum Packet Size) before they cost memory.
pub(super) fn max_packet_size(max_payload_bytes: usize) -> u32 {
    u32::try_from(max_payload_bytes)
        .unwrap_or(u32::MAX / 2)
        .saturating_mul(2)
        .saturating_add(PACKET_OVERHEAD)
}

/// Options for connecting as `device`. Reads the password and TLS files.
pub(super) fn build(
    config: &MqttConfig,
    device: &str,
    topics: &Topics,
) -> Result<MqttOptions, MqttError> {
    let host = config.host.clone().unwrap_or_default();
    let mut options = MqttOptions::new(config.client_id(device), host.clone(), config.port());
    options
        .set_keep_alive(Duration::from_secs(config.keep_alive_s))
        .set_last_will(LastWill::new(
            topics.status.clone(),
            OFFLINE,
            QoS::AtLeastOnce,
            true,
            None,
        ))
        // Requests are acknowledged when admitted to run, and the broker sends at most
        // MAX_IN_FLIGHT unacknowledged ones: that is the back-pressure.
        .set_manual_acks(true)
        .set_receive_maximum(Some(MAX_IN_FLIGHT))
        .set_outgoing_inflight_upper_limit(OUTGOING_IN_FLIGHT)
        .set_max_packet_size(Some(max_packet_size(config.max_payload_bytes)));
    // Small request/reply packets: without TCP_NODELAY a reply can wait for the broker's
    // delayed ACK (tens of ms per round trip).
    let mut network = options.network_options();
    network.set_tcp_nodelay(true);
    options.set_network_options(network);
    if config.session_expiry_s > 0 {
        options
            .set_clean_start(false)
            .set_session_expiry_interval(Some(config.session_expiry_s));
    }
    if let Some(username) = &config.username {
        options.set_credentials(username.clone(), password(config)?);
    }
    if let Some(tls_config) = &config.tls {
        let client = tls::client_config(tls_config, &host)?;
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(client),
        )));
    }
    Ok(options)
}

/// The password from `password` or the first line of `password_file` (empty if none).
fn password(config: &MqttConfig) -> Result<String, MqttError> {
    match (&config.password, &config.password_file) {
        (Some(p), _) => Ok(p.clone()),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|text| text.lines().next().unwrap_or_default().to_owned())
            .map_err(|source| MqttError::PasswordFile {
                path: path.clone(),
                source,
            }),
        (None, None) => Ok(String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> MqttConfig {
        let c: MqttConfig = toml::from_str(text).unwrap();
        c.validate().unwrap();
        c
    }

    #[test]
    fn options_carry_identity_will_and_flow_control() {
        let c = config("host = \"127.0.0.1\"\nport = 1884\nsession_expiry_s = 60\n");
        let topics = Topics::new(&c.prefix, "gw", &[]);
        let o = build(&c, "gw", &topics).unwrap();
        assert_eq!(o.client_id(), "ctrmgr-gw");
        assert_eq!(o.broker_address(), ("127.0.0.1".into(), 1884));
        assert!(!o.clean_start());
        assert_eq!(o.session_expiry_interval(), Some(60));
        assert_eq!(o.receive_maximum(), Some(MAX_IN_FLIGHT));
        assert_eq!(
            o.get_outgoing_inflight_upper_limit(),
            Some(OUTGOING_IN_FLIGHT)
        );
        let will = o.last_will().unwrap();
        assert_eq!(&will.topic[..], b"ctrmgr/gw/status");
        assert_eq!(&will.message[..], b"offline");
        assert!(will.retain);
    }

    #[test]
    fn password_file_first_line_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "s3cret\nignored\n").unwrap();
        let mut c = config("host = \"b\"\nusername = \"u\"\n");
        c.password_file = Some(file);
        assert_eq!(password(&c).unwrap(), "s3cret");
        c.password_file = Some(dir.path().join("absent"));
        let e = build(&c, "gw", &Topics::new("p", "gw", &[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("mqtt.password_file"), "{e}");
    }

    #[test]
    fn packet_limit_leaves_room_for_too_large_replies() {
        assert_eq!(max_packet_size(1000), 2000 + PACKET_OVERHEAD);
        assert!(max_packet_size(usize::MAX) > 0);
    }
}
