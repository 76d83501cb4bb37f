//! `fenghuo notify`: the notification channels of the node `--node` points at, a test
//! message through one, and what was delivered.

use std::io::BufRead as _;
use std::path::PathBuf;

use anyhow::{bail, Context as _};
use fenghuo_proto::v1::{self, notify_client::NotifyClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{emit, short_time, table};
use super::risk::{status_message, Output};

/// `fenghuo notify` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum NotifyCommand {
    /// 通知渠道：添加、列出、删除 · Notification channels: add, list, remove.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// 经某渠道立即发一条测试消息 · Send a test message through a channel now.
    Test {
        /// 渠道名 · The channel.
        #[arg(long)]
        channel: String,
        #[command(flatten)]
        out: Output,
    },
    /// 最近的通知投递及每次尝试 · The latest deliveries, with every attempt.
    Deliveries {
        /// 最多列出几条 · At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        out: Output,
    },
}

/// `fenghuo notify channel` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ChannelCommand {
    /// 添加渠道：邮件、企业微信、钉钉、飞书群机器人，或签名 webhook（如短信网关） · Add a
    /// channel: mail, a WeCom, DingTalk or Feishu group robot, or a signed webhook (an SMS
    /// gateway).
    ///
    /// 密钥从文件读入，由节点保存，不再显示。 · Secrets are read from files and kept by the
    /// node; they are never shown again.
    Add(Box<AddChannel>),
    /// 全部渠道（不含密钥） · Every channel, without secrets.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// 删除没有人使用的渠道 · Remove a channel nobody on the roster uses.
    Remove {
        /// 渠道名 · Channel name.
        name: String,
        #[command(flatten)]
        out: Output,
    },
}

/// `fenghuo notify channel add`'s arguments.
#[derive(Debug, clap::Args)]
pub struct AddChannel {
    /// 渠道名：a–z、0–9、'_'、'-' · Channel name: a–z, 0–9, '_', '-'.
    pub name: String,
    /// 收件地址 · Mail to this address (with --smtp).
    #[arg(long, value_name = "ADDR", group = "kind", requires = "smtp")]
    pub email: Option<String>,
    /// 邮件服务器 HOST:PORT · The SMTP server, HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub smtp: Option<String>,
    /// 加密方式：none、starttls（默认）、tls · How to reach it: none, starttls (default),
    /// tls.
    #[arg(long, value_parser = ["none", "starttls", "tls"])]
    pub tls: Option<String>,
    /// 邮件服务器登录名（密码用 --password-stdin） · SMTP sign-in (its password with
    /// --password-stdin).
    #[arg(long, requires = "password_stdin")]
    pub user: Option<String>,
    /// 从标准输入第一行读 SMTP 密码 · Read the SMTP password from stdin's first line.
    #[arg(long)]
    pub password_stdin: bool,
    /// 发件地址 · The sender (default fenghuo@ the SMTP host).
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
    /// 企业微信群机器人地址 · A WeCom group robot's URL (…/webhook/send?key=…).
    #[arg(long, value_name = "URL", group = "kind")]
    pub wecom: Option<String>,
    /// 钉钉群机器人地址（加签，密钥用 --secret-file） · A DingTalk group robot's URL
    /// (signed: its SEC… secret in --secret-file).
    #[arg(long, value_name = "URL", group = "kind", requires = "secret_file")]
    pub dingtalk: Option<String>,
    /// 飞书群机器人地址（签名校验，密钥用 --secret-file） · A Feishu group robot's URL
    /// (signed: its secret in --secret-file).
    #[arg(long, value_name = "URL", group = "kind", requires = "secret_file")]
    pub feishu: Option<String>,
    /// 通用 webhook 地址（Standard Webhooks 签名，whsec_ 密钥用 --secret-file） · A
    /// generic webhook (signed as Standard Webhooks; its whsec_ secret in --secret-file).
    #[arg(long, value_name = "URL", group = "kind", requires = "secret_file")]
    pub webhook: Option<String>,
    /// 存放密钥的文件 · The file holding the secret.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
    /// 替换同名渠道 · Replace a channel of that name.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub out: Output,
}

fn channel_json(c: &v1::NotifyChannel) -> Value {
    json!({
        "name": c.name,
        "kind": c.kind,
        "target": c.target,
        "added_by": c.added_by,
        "added_at": super::output::time_text(c.added_at_ms),
    })
}

fn delivery_json(d: &v1::NotifyDelivery) -> Value {
    json!({
        "event": d.event,
        "channel": d.channel,
        "people": d.people,
        "title": d.title,
        "state": d.state,
        "queued_at": super::output::time_text(d.queued_at_ms),
        "next_at": super::output::time_text(d.next_at_ms),
        "attempts": d.attempts.iter().map(|a| json!({
            "at": super::output::time_text(a.at_ms),
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}

fn read_secret(file: &Option<PathBuf>) -> anyhow::Result<String> {
    let Some(f) = file else {
        return Ok(String::new());
    };
    let s = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
    let s = s.trim().to_owned();
    if s.is_empty() {
        bail!("{} is empty: it should hold the secret", f.display());
    }
    Ok(s)
}

/// Runs a `fenghuo notify` subcommand.
pub async fn run(connect: ConnectArgs, cmd: NotifyCommand) -> anyhow::Result<()> {
    match cmd {
        NotifyCommand::Channel(ChannelCommand::Add(add)) => {
            let AddChannel {
                name,
                email,
                smtp,
                tls,
                user,
                password_stdin,
                from,
                wecom,
                dingtalk,
                feishu,
                webhook,
                secret_file,
                replace,
                out,
            } = *add;
            let (kind, url) = match (email.is_some(), wecom, dingtalk, feishu, webhook) {
                (true, ..) => ("email", String::new()),
                (_, Some(u), ..) => ("wecom", u),
                (_, _, Some(u), ..) => ("dingtalk", u),
                (_, _, _, Some(u), _) => ("feishu", u),
                (_, _, _, _, Some(u)) => ("webhook", u),
                _ => bail!("give one of --email, --wecom, --dingtalk, --feishu, --webhook"),
            };
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the SMTP password from stdin")?;
                line.trim_end_matches(['\r', '\n']).to_owned()
            } else {
                String::new()
            };
            let secret = read_secret(&secret_file)?;
            let mut client = NotifyClient::new(connect.channel().await?);
            let c = client
                .add_channel(v1::AddChannelRequest {
                    name,
                    kind: kind.to_owned(),
                    url,
                    secret,
                    email: email.unwrap_or_default(),
                    smtp: smtp.unwrap_or_default(),
                    tls: tls.unwrap_or_default(),
                    user: user.unwrap_or_default(),
                    password,
                    from: from.unwrap_or_default(),
                    replace,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || channel_json(&c),
                || {
                    format!(
                        "channel {} saved ({}: {}); try it with `fenghuo notify test --channel {}`",
                        c.name, c.kind, c.target, c.name
                    )
                },
            )
        }
        NotifyCommand::Channel(ChannelCommand::List { out }) => {
            let mut client = NotifyClient::new(connect.channel().await?);
            let list = client
                .list_channels(v1::ListChannelsRequest {})
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || list.channels.iter().map(channel_json).collect(),
                || {
                    if list.channels.is_empty() {
                        return "no channels: add one with `fenghuo notify channel add NAME --email ADDR --smtp HOST:PORT` (or --wecom, --dingtalk, --feishu, --webhook)".into();
                    }
                    let mut t = table();
                    t.set_header(["channel", "kind", "target", "since", "by"]);
                    for c in &list.channels {
                        t.add_row([
                            c.name.clone(),
                            c.kind.clone(),
                            c.target.clone(),
                            short_time(c.added_at_ms),
                            c.added_by.clone(),
                        ]);
                    }
                    t.to_string()
                },
            )
        }
        NotifyCommand::Channel(ChannelCommand::Remove { name, out }) => {
            let mut client = NotifyClient::new(connect.channel().await?);
            let c = client
                .remove_channel(v1::RemoveChannelRequest { name })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || channel_json(&c),
                || format!("channel {} removed", c.name),
            )
        }
        NotifyCommand::Test { channel, out } => {
            let mut client = NotifyClient::new(connect.channel().await?);
            let r = client
                .test_channel(v1::TestChannelRequest {
                    name: channel.clone(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            if out.json {
                emit(
                    true,
                    || json!({ "channel": channel, "delivered": r.delivered, "error": r.error }),
                    String::new,
                )?;
            }
            if !r.delivered {
                bail!("test message NOT delivered through {channel}: {}", r.error);
            }
            if !out.json {
                emit(
                    false,
                    || Value::Null,
                    || format!("test message delivered through {channel}"),
                )?;
            }
            Ok(())
        }
        NotifyCommand::Deliveries { limit, out } => {
            let mut client = NotifyClient::new(connect.channel().await?);
            let list = client
                .list_deliveries(v1::ListDeliveriesRequest { limit })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || list.deliveries.iter().map(delivery_json).collect(),
                || {
                    if list.deliveries.is_empty() {
                        return "no notifications sent yet".into();
                    }
                    let mut t = table();
                    t.set_header([
                        "queued",
                        "event",
                        "channel",
                        "people",
                        "state",
                        "attempts",
                        "last error",
                    ]);
                    for d in &list.deliveries {
                        t.add_row([
                            short_time(d.queued_at_ms),
                            d.title.clone(),
                            d.channel.clone(),
                            d.people.join(", "),
                            d.state.clone(),
                            d.attempts.len().to_string(),
                            d.attempts
                                .iter()
                                .rev()
                                .find(|a| !a.error.is_empty())
                                .map(|a| a.error.clone())
                                .unwrap_or_default(),
                        ]);
                    }
                    t.to_string()
                },
            )
        }
    }
}
