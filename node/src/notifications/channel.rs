//! Notification channels (通知渠道): named ways to reach people. Tree `notify_channels`:
//! name → JSON [`Channel`], secrets included (local state, covered by backups, never in a
//! feed); [`Channel::redacted`] is what lists show.

use serde::{Deserialize, Serialize};

use super::{check_name, corrupt, invalid, NotifyError};
use crate::store::{Batch, Store};

/// The channels' tree.
pub const CHANNELS_TREE: &str = "notify_channels";

/// How mail reaches the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network only).
    None,
    /// STARTTLS on the submission port (587).
    Starttls,
    /// TLS from the first byte (465).
    Tls,
}

impl std::str::FromStr for SmtpTls {
    type Err = NotifyError;
    fn from_str(s: &str) -> Result<Self, NotifyError> {
        match s {
            "none" => Ok(Self::None),
            "starttls" => Ok(Self::Starttls),
            "tls" => Ok(Self::Tls),
            _ => Err(invalid("tls", "one of none, starttls, tls")),
        }
    }
}

/// Where a channel delivers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ChannelKind {
    /// Mail to `to` through an SMTP server.
    Email {
        /// The recipient.
        to: String,
        /// `host:port` of the SMTP server.
        smtp: String,
        /// How to reach it.
        tls: SmtpTls,
        /// Sign-in name, if the server wants one.
        #[serde(default)]
        user: String,
        /// Its password.
        #[serde(default)]
        password: String,
        /// The sender; default `fenghuo@<host>`.
        #[serde(default)]
        from: String,
    },
    /// A WeCom (企业微信) group robot: the key is in the URL.
    Wecom {
        /// `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`.
        url: String,
    },
    /// A DingTalk (钉钉) group robot with 加签 signing.
    Dingtalk {
        /// `https://oapi.dingtalk.com/robot/send?access_token=…`.
        url: String,
        /// The robot's `SEC…` secret.
        secret: String,
    },
    /// A Feishu (飞书) group robot with 签名校验.
    Feishu {
        /// `https://open.feishu.cn/open-apis/bot/v2/hook/…`.
        url: String,
        /// The robot's secret.
        secret: String,
    },
    /// A generic JSON webhook signed as Standard Webhooks (for an SMS gateway).
    Webhook {
        /// Where to POST.
        url: String,
        /// `whsec_…` secret.
        secret: String,
    },
}

impl ChannelKind {
    /// `email`, `wecom`, `dingtalk`, `feishu`, `webhook`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Email { .. } => "email",
            Self::Wecom { .. } => "wecom",
            Self::Dingtalk { .. } => "dingtalk",
            Self::Feishu { .. } => "feishu",
            Self::Webhook { .. } => "webhook",
        }
    }

    /// Where it goes, without secrets: the address, or the URL without its query.
    pub fn target(&self) -> String {
        let bare = |url: &str| match url.split_once('?') {
            Some((base, _)) => format!("{base}?…"),
            None => url.to_owned(),
        };
        match self {
            Self::Email { to, smtp, .. } => format!("{to} via {smtp}"),
            Self::Wecom { url } => bare(url),
            Self::Dingtalk { url, .. } | Self::Feishu { url, .. } | Self::Webhook { url, .. } => {
                bare(url)
            }
        }
    }
}

/// One named channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channel {
    /// Its name (`lin-mail`, `duty-robot`).
    pub name: String,
    /// Where and how it delivers.
    #[serde(flatten)]
    pub kind: ChannelKind,
    /// Who added it.
    #[serde(default)]
    pub added_by: String,
    /// When, Unix ms.
    #[serde(default)]
    pub added_at_ms: i64,
}

fn check_url(url: &str, robot: bool) -> Result<(), NotifyError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| invalid("url", format!("{url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(invalid("url", "an https:// address"));
    }
    if robot && parsed.scheme() != "https" && !parsed.host_str().is_some_and(is_loopback) {
        return Err(invalid(
            "url",
            "an https:// address (the robot's secret and the message travel in it)",
        ));
    }
    Ok(())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_kind(kind: &ChannelKind) -> Result<(), NotifyError> {
    match kind {
        ChannelKind::Email {
            to,
            smtp,
            from,
            user,
            password,
            ..
        } => {
            for (field, addr) in [("email", to.as_str()), ("from", from.as_str())] {
                if !(addr.is_empty() && field == "from") && addr.parse::<lettre::Address>().is_err()
                {
                    return Err(invalid(field, format!("{addr:?} is not a mail address")));
                }
            }
            let (host, port) = smtp
                .rsplit_once(':')
                .ok_or_else(|| invalid("smtp", "HOST:PORT, e.g. smtp.example.gov.cn:587"))?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(invalid("smtp", "HOST:PORT, e.g. smtp.example.gov.cn:587"));
            }
            if user.is_empty() != password.is_empty() {
                return Err(invalid("user", "give --user and --password-stdin together"));
            }
            Ok(())
        }
        ChannelKind::Wecom { url } => check_url(url, true),
        ChannelKind::Dingtalk { url, secret } | ChannelKind::Feishu { url, secret } => {
            check_url(url, true)?;
            if secret.trim().is_empty() {
                return Err(invalid(
                    "secret-file",
                    "the robot's signing secret is empty",
                ));
            }
            Ok(())
        }
        ChannelKind::Webhook { url, secret } => {
            check_url(url, false)?;
            super::message::webhook_key(secret).map(|_| ())
        }
    }
}

/// Checks and stores a channel (`replace`: over one of the same name).
pub fn add(
    store: &dyn Store,
    name: &str,
    kind: ChannelKind,
    replace: bool,
    by: &str,
    now_ms: i64,
) -> Result<Channel, NotifyError> {
    let name = name.trim();
    check_name("channel", name)?;
    check_kind(&kind)?;
    if !replace && get(store, name)?.is_some() {
        return Err(NotifyError::Exists {
            what: "channel",
            name: name.to_owned(),
        });
    }
    let channel = Channel {
        name: name.to_owned(),
        kind,
        added_by: by.to_owned(),
        added_at_ms: now_ms,
    };
    let v = serde_json::to_vec(&channel).map_err(|e| corrupt("channel", e))?;
    let mut batch = Batch::new();
    batch.insert(CHANNELS_TREE, name.as_bytes().to_vec(), v);
    store.commit(&batch)?;
    Ok(channel)
}

/// The channel `name`, secrets included.
pub fn get(store: &dyn Store, name: &str) -> Result<Option<Channel>, NotifyError> {
    store
        .get(CHANNELS_TREE, name.as_bytes())?
        .map(|v| serde_json::from_slice(&v).map_err(|e| corrupt("channel", e).into()))
        .transpose()
}

/// Every channel, by name, secrets included.
pub fn list(store: &dyn Store) -> Result<Vec<Channel>, NotifyError> {
    store
        .scan_prefix(CHANNELS_TREE, &[])
        .map(|kv| {
            let (_, v) = kv?;
            serde_json::from_slice(&v).map_err(|e| corrupt("channel", e).into())
        })
        .collect()
}

/// Removes a channel no one on the roster uses.
pub fn remove(store: &dyn Store, name: &str) -> Result<Channel, NotifyError> {
    let channel = get(store, name)?.ok_or_else(|| NotifyError::NotFound {
        what: "channel",
        name: name.to_owned(),
    })?;
    let users: Vec<String> = super::roster::list(store)?
        .into_iter()
        .filter(|p| p.channels.iter().any(|c| c == name))
        .map(|p| p.name)
        .collect();
    if !users.is_empty() {
        return Err(NotifyError::InUse {
            name: name.to_owned(),
            people: users.join(", "),
        });
    }
    let mut batch = Batch::new();
    batch.remove(CHANNELS_TREE, name.as_bytes().to_vec());
    store.commit(&batch)?;
    Ok(channel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SledStore;

    #[test]
    fn channels_are_checked_listed_without_secrets_and_kept_while_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let ding = ChannelKind::Dingtalk {
            url: "https://oapi.dingtalk.com/robot/send?access_token=abc".into(),
            secret: "SECxyz".into(),
        };
        add(&store, "duty-robot", ding, false, "t", 0).unwrap();
        let c = get(&store, "duty-robot").unwrap().unwrap();
        assert_eq!(c.kind.target(), "https://oapi.dingtalk.com/robot/send?…");
        let field = |r: Result<Channel, NotifyError>| match r {
            Err(NotifyError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        let plain = ChannelKind::Wecom {
            url: "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k".into(),
        };
        assert_eq!(field(add(&store, "w", plain, false, "t", 0)), "url");
        let mail = |to: &str, smtp: &str| ChannelKind::Email {
            to: to.into(),
            smtp: smtp.into(),
            tls: SmtpTls::Starttls,
            user: String::new(),
            password: String::new(),
            from: String::new(),
        };
        assert_eq!(
            field(add(&store, "m", mail("lin", "smtp:587"), false, "t", 0)),
            "email"
        );
        assert_eq!(
            field(add(&store, "m", mail("lin@x.cn", "smtp"), false, "t", 0)),
            "smtp"
        );
        add(
            &store,
            "m",
            mail("lin@x.cn", "smtp.x.cn:587"),
            false,
            "t",
            0,
        )
        .unwrap();
        super::super::roster::add(
            &store,
            super::super::roster::NewPerson {
                name: "lin".into(),
                channels: vec!["m".into()],
                ..Default::default()
            },
            0,
            |c| Ok(get(&store, c)?.is_some()),
        )
        .unwrap();
        assert!(matches!(
            remove(&store, "m"),
            Err(NotifyError::InUse { .. })
        ));
        remove(&store, "duty-robot").unwrap();
        assert_eq!(list(&store).unwrap().len(), 1);
    }
}
