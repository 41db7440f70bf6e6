//! The MQTT topics of one device, as fixed by the wire contract: requests on
//! `<prefix>/<device>/req` and `<prefix>/group/<group>/req`, default replies on
//! `<prefix>/<device>/res`, presence on `<prefix>/<device>/status`, events on
//! `<prefix>/<device>/events`; desired state on `<prefix>/<device>/desired` and
//! `<prefix>/group/<group>/desired`, its status on `<prefix>/<device>/deployment`.

/// Every topic this device uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Topics {
    /// `<prefix>/<device>/req`.
    pub device_requests: String,
    /// `<prefix>/group/<group>/req`, one per configured group.
    pub group_requests: Vec<String>,
    /// `<prefix>/<device>/res`: replies to requests without a Response Topic.
    pub default_replies: String,
    /// `<prefix>/<device>/status`: retained `online` / `offline`.
    pub status: String,
    /// `<prefix>/<device>/events`: container events in JSON.
    pub events: String,
    /// `<prefix>/<device>/desired`: the device's retained `apply` envelope.
    pub desired: String,
    /// `<prefix>/group/<group>/desired`, one per configured group.
    pub group_desired: Vec<String>,
    /// `<prefix>/<device>/deployment`: the retained DeploymentStatus.
    pub deployment: String,
    /// `<prefix>`: a Response Topic must lie under it...
    prefix: String,
    /// ...or under one of `mqtt.allowed_response_prefixes`.
    response_prefixes: Vec<String>,
}

impl Topics {
    /// The topics of `device` under `prefix` (both already validated by the config).
    pub fn new(prefix: &str, device: &str, groups: &[String]) -> Self {
        Self {
            device_requests: format!("{prefix}/{device}/req"),
            group_requests: groups
                .iter()
                .map(|g| format!("{prefix}/group/{g}/req"))
                .collect(),
            default_replies: format!("{prefix}/{device}/res"),
            status: format!("{prefix}/{device}/status"),
            events: format!("{prefix}/{device}/events"),
            desired: format!("{prefix}/{device}/desired"),
            group_desired: groups
                .iter()
                .map(|g| format!("{prefix}/group/{g}/desired"))
                .collect(),
            deployment: format!("{prefix}/{device}/deployment"),
            prefix: prefix.to_owned(),
            response_prefixes: Vec::new(),
        }
    }

    /// Also accepts Response Topics under `prefixes` (`mqtt.allowed_response_prefixes`).
    pub fn with_response_prefixes(mut self, prefixes: &[String]) -> Self {
        self.response_prefixes = prefixes.to_vec();
        self
    }

    /// Whether the agent may publish a reply on Response Topic `topic`: under the
    /// configured prefix, except the request, status and events topics of any device
    /// there (a reply must not pose as a request or a presence), or under an allowed
    /// prefix. Anything else would let a caller make the agent publish, with its broker
    /// identity, wherever that identity may write.
    pub fn may_reply_to(&self, topic: &str) -> bool {
        let under = |prefix: &str| {
            topic
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/') && rest.len() > 1)
        };
        let last = topic.rsplit('/').next().unwrap_or_default();
        let own_kind = matches!(last, "req" | "status" | "events");
        (under(&self.prefix) && !own_kind) || self.response_prefixes.iter().any(|p| under(p))
    }

    /// The request topics to subscribe to.
    pub fn request_topics(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.device_requests.as_str())
            .chain(self.group_requests.iter().map(String::as_str))
    }

    /// The desired-state topics to subscribe to: the device's first, so that its
    /// retained message arrives before its groups'.
    pub fn desired_topics(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.desired.as_str()).chain(self.group_desired.iter().map(String::as_str))
    }

    /// Whether a publish on `topic` is a request to this device.
    pub fn is_request(&self, topic: &[u8]) -> bool {
        self.request_topics().any(|t| t.as_bytes() == topic)
    }
}

/// Whether `topic` may be published to: non-empty, at most 65535 bytes, no wildcards,
/// no NUL (MQTT 5, section 4.7).
pub(super) fn is_publishable(topic: &str) -> bool {
    !topic.is_empty() && topic.len() <= usize::from(u16::MAX) && !topic.contains(['+', '#', '\0'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_contract() {
        let t = Topics::new("ctrmgr", "gw-7", &["north".into(), "all".into()]);
        assert_eq!(t.device_requests, "ctrmgr/gw-7/req");
        assert_eq!(
            t.group_requests,
            ["ctrmgr/group/north/req", "ctrmgr/group/all/req"]
        );
        assert_eq!(t.default_replies, "ctrmgr/gw-7/res");
        assert_eq!(t.status, "ctrmgr/gw-7/status");
        assert_eq!(t.events, "ctrmgr/gw-7/events");
        assert_eq!(t.request_topics().count(), 3);
    }

    #[test]
    fn replies_stay_under_the_prefix_or_an_allowed_one() {
        let t = Topics::new("ctrmgr", "gw", &[]).with_response_prefixes(&["app/replies".into()]);
        assert!(t.may_reply_to("ctrmgr/replies/c1"));
        assert!(t.may_reply_to("ctrmgr/gw/res"));
        assert!(t.may_reply_to("app/replies/x"));
        for refused in [
            "elsewhere/x",
            "ctrmgr",
            "ctrmgr/",
            "ctrmgrx/a",
            "ctrmgr/other/req",
            "ctrmgr/group/all/req",
            "ctrmgr/gw/status",
            "ctrmgr/gw/events",
            "app/repliesx/y",
            "app/replies",
        ] {
            assert!(!t.may_reply_to(refused), "{refused}");
        }
    }

    #[test]
    fn recognises_only_its_request_topics() {
        let t = Topics::new("fleet/eu", "gw", &["north".into()]);
        assert!(t.is_request(b"fleet/eu/gw/req"));
        assert!(t.is_request(b"fleet/eu/group/north/req"));
        assert!(!t.is_request(b"fleet/eu/gw/res"));
        assert!(!t.is_request(b"fleet/eu/group/south/req"));
    }

    #[test]
    fn publishable_topics_have_no_wildcards() {
        assert!(is_publishable("client/7/replies"));
        assert!(!is_publishable(""));
        assert!(!is_publishable("a/+/b"));
        assert!(!is_publishable("a/#"));
    }
}
