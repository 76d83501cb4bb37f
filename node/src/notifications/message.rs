//! What a notification says, and how each channel's receiver wants it: the group robots'
//! documented JSON bodies and signatures (WeCom: key in the URL; DingTalk 加签:
//! `timestamp` and `sign` = Base64(HMAC-SHA256(secret, "{ms}\n{secret}")) in the query;
//! Feishu 签名校验: `timestamp` and `sign` = Base64(HMAC-SHA256(key "{s}\n{secret}", empty))
//! in the body), and a Standard Webhooks body for a generic receiver. Pure: sending is the
//! notifier's.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;

use super::{invalid, NotifyError};

/// One notification, in the words people read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// What it is about, short: `【预警】橙色 锦江区 510104：…`.
    pub title: String,
    /// The lines that follow.
    pub text: String,
    /// The item on the unit's pages.
    pub link: String,
    /// The event it is for (`alert:<id>`), the same in every delivery of it.
    pub event: String,
}

impl Message {
    /// Title, text and link as plain text (mail, Feishu).
    pub fn plain(&self) -> String {
        format!(
            "{}\n\n{}\n\n查看 · Open: {}",
            self.title, self.text, self.link
        )
    }

    fn markdown(&self) -> String {
        format!(
            "### {}\n\n{}\n\n[查看 · Open]({})",
            self.title,
            self.text.replace('\n', "\n\n"),
            self.link
        )
    }
}

/// An HTTP request to make: where, and the JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct RobotRequest {
    /// The URL with any signing query added.
    pub url: String,
    /// The body.
    pub body: Value,
}

fn hmac_b64(key: &[u8], data: &[u8]) -> String {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The WeCom group robot's markdown message.
pub fn wecom(url: &str, m: &Message) -> RobotRequest {
    RobotRequest {
        url: url.to_owned(),
        body: json!({ "msgtype": "markdown", "markdown": { "content": m.markdown() } }),
    }
}

/// The DingTalk group robot's markdown message, signed at `now_ms`.
pub fn dingtalk(
    url: &str,
    secret: &str,
    m: &Message,
    now_ms: i64,
) -> Result<RobotRequest, NotifyError> {
    let sign = hmac_b64(secret.as_bytes(), format!("{now_ms}\n{secret}").as_bytes());
    let mut u = reqwest::Url::parse(url).map_err(|e| invalid("url", e.to_string()))?;
    u.query_pairs_mut()
        .append_pair("timestamp", &now_ms.to_string())
        .append_pair("sign", &sign);
    Ok(RobotRequest {
        url: u.to_string(),
        body: json!({
            "msgtype": "markdown",
            "markdown": { "title": m.title, "text": m.markdown() },
        }),
    })
}

/// The Feishu group robot's text message, signed at `now_ms`.
pub fn feishu(url: &str, secret: &str, m: &Message, now_ms: i64) -> RobotRequest {
    let secs = now_ms.div_euclid(1000);
    let sign = hmac_b64(format!("{secs}\n{secret}").as_bytes(), b"");
    RobotRequest {
        url: url.to_owned(),
        body: json!({
            "timestamp": secs.to_string(),
            "sign": sign,
            "msg_type": "text",
            "content": { "text": m.plain() },
        }),
    }
}

/// The generic webhook's JSON body.
pub fn webhook_body(m: &Message) -> Value {
    json!({
        "type": "fenghuo.notification",
        "event": m.event,
        "title": m.title,
        "text": m.text,
        "link": m.link,
    })
}

/// The key of a `whsec_…` secret.
pub fn webhook_key(secret: &str) -> Result<Vec<u8>, NotifyError> {
    let b64 = secret.trim().strip_prefix("whsec_").ok_or_else(|| {
        invalid(
            "secret-file",
            "a Standard Webhooks secret: whsec_ and Base64 of 24 to 64 bytes",
        )
    })?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| invalid("secret-file", "whsec_ followed by Base64"))?;
    if !(24..=64).contains(&key.len()) {
        return Err(invalid("secret-file", "the key must be 24 to 64 bytes"));
    }
    Ok(key)
}

/// What a robot's answer says: the robots answer HTTP 200 with an error code in the body
/// (`errcode` for WeCom and DingTalk, `code` or `StatusCode` for Feishu); `Err` with their
/// message when it is not 0.
pub fn robot_answer(body: &str) -> Result<(), String> {
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        return Ok(());
    };
    for key in ["errcode", "code", "StatusCode"] {
        if let Some(code) = v.get(key).and_then(Value::as_i64) {
            if code != 0 {
                let msg = ["errmsg", "msg", "StatusMessage"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(Value::as_str))
                    .unwrap_or("");
                return Err(format!("{key} {code}: {msg}"));
            }
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> Message {
        Message {
            title: "【预警】橙色".into(),
            text: "某村聚集\n请核实".into(),
            link: "https://county.example:8443/inbox#a1".into(),
            event: "alert:a1".into(),
        }
    }

    #[test]
    fn dingtalk_signs_timestamp_and_secret_in_the_query() {
        let r = dingtalk(
            "https://oapi.dingtalk.com/robot/send?access_token=T",
            "SECabc",
            &msg(),
            1_700_000_000_000,
        )
        .unwrap();
        let u = reqwest::Url::parse(&r.url).unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q["access_token"], "T");
        assert_eq!(q["timestamp"], "1700000000000");
        assert_eq!(q["sign"], hmac_b64(b"SECabc", b"1700000000000\nSECabc"));
        assert_eq!(r.body["msgtype"], "markdown");
        assert!(r.body["markdown"]["text"]
            .as_str()
            .unwrap()
            .contains("https://county.example:8443/inbox#a1"));
    }

    #[test]
    fn feishu_signs_with_timestamp_and_secret_as_the_key() {
        let r = feishu(
            "https://open.feishu.cn/open-apis/bot/v2/hook/x",
            "s3cret",
            &msg(),
            1_700_000_000_999,
        );
        assert_eq!(r.body["timestamp"], "1700000000");
        assert_eq!(r.body["sign"], hmac_b64(b"1700000000\ns3cret", b""));
        assert_eq!(r.body["msg_type"], "text");
    }

    #[test]
    fn robot_answers_carry_their_error_in_the_body() {
        assert!(robot_answer(r#"{"errcode":0,"errmsg":"ok"}"#).is_ok());
        assert!(robot_answer(r#"{"code":0,"msg":"success"}"#).is_ok());
        assert_eq!(
            robot_answer(r#"{"errcode":310000,"errmsg":"sign not match"}"#).unwrap_err(),
            "errcode 310000: sign not match"
        );
        assert!(robot_answer(r#"{"code":19021,"msg":"sign match fail"}"#).is_err());
        assert!(robot_answer("ok").is_ok());
    }
}
