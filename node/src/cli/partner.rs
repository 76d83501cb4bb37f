//! `fenghuo partner`: the partner websites the province registers, at the gateway; `list` at
//! (or for) a county shows whom it may address with `fenghuo disposal request --partner`.

use std::path::PathBuf;

use anyhow::Context;
use fenghuo_proto::v1::{self, partners_client::PartnersClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{emit, short_time, table, time_text};
use super::risk::{status_message, Output};

/// `fenghuo partner` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PartnerCommand {
    /// 登记合作平台 · Register a partner website.
    ///
    /// 之后它需要证书（`fenghuo ca issue partner <名称>`）才能调用省级汇聚节点，或配置 webhook
    /// 接收推送。
    ///
    /// It then needs a certificate (`fenghuo ca issue partner <name>`) to call the gateway, or
    /// a webhook to be called.
    Add {
        /// 名称，与其证书一致 · Its name, as in its certificate: 1–63 of a–z, 0–9, '-', '_'.
        name: String,
        /// 显示名称，如 新浪微博 · For people, e.g. "Sina Weibo".
        #[arg(long)]
        display_name: String,
        /// 受理范围，如 微博帖文、评论和账号 · What it handles, for the counties (one line, at
        /// most 200 characters).
        #[arg(long, default_value = "")]
        handles: String,
        /// 以 HTTPS POST 推送请求到此网址 · Deliver requests by HTTPS POST to this URL (signed;
        /// see docs/partners.md) instead of waiting for the partner to subscribe over gRPC.
        #[arg(long, value_name = "URL", requires = "secret_file")]
        webhook: Option<String>,
        /// webhook 共享密钥文件 · The webhook's shared secret: `whsec_` and the base64 of at
        /// least 32 random bytes,
        /// e.g. from `echo "whsec_$(head -c 32 /dev/urandom | base64)" > secret` (a file of raw
        /// bytes works too); give the same file to the partner. Replacing it keeps the old
        /// one valid for 24 h.
        #[arg(long, value_name = "FILE", requires = "webhook")]
        secret_file: Option<PathBuf>,
        /// 修改已有合作平台的显示名称和 webhook · Change an existing partner's display name and
        /// webhook.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        out: Output,
    },
    /// 合作平台列表 · Every partner (at the gateway, with delivery figures; for a county, those
    /// it may address).
    List {
        #[command(flatten)]
        out: Output,
    },
    /// 查看一个合作平台 · One partner.
    Show {
        /// 名称 · Its name.
        name: String,
        #[command(flatten)]
        out: Output,
    },
    /// 停用合作平台（另须吊销其证书） · Stop delivering to a partner and refuse its calls
    /// (revoke its certificate too).
    Disable {
        /// 名称 · Its name.
        name: String,
        #[command(flatten)]
        out: Output,
    },
}

fn partner_json(p: &v1::Partner) -> Value {
    json!({
        "name": p.name,
        "display_name": p.display_name,
        "handles": p.handles,
        "webhook": (!p.webhook_url.is_empty()).then_some(&p.webhook_url),
        "disabled": p.disabled,
        "added_at": time_text(p.added_at_ms),
        "delivered": p.delivered,
        "acknowledged": p.acknowledged,
        "answered": p.answered,
        "mean_ms_to_acknowledge": p.mean_ms_to_acknowledge,
        "mean_ms_to_outcome": p.mean_ms_to_outcome,
    })
}

/// A partner a county may address, as scripts read it.
fn addressable_json(p: &v1::Partner) -> Value {
    json!({
        "name": p.name,
        "display_name": p.display_name,
        "handles": p.handles,
    })
}

fn addressable_text(partners: &[v1::Partner]) -> String {
    if partners.is_empty() {
        return "no partner websites to address yet: the province has declared none".into();
    }
    let mut t = table();
    t.set_header(["partner (--partner)", "display name", "handles"]);
    for p in partners {
        t.add_row([p.name.clone(), p.display_name.clone(), p.handles.clone()]);
    }
    format!("{t}\nfile a request with `fenghuo disposal request --partner NAME --url … --action …`")
}

fn partners_text(partners: &[v1::Partner]) -> String {
    if partners.is_empty() {
        return "no partners (add one with `fenghuo partner add <name> --display-name …`)".into();
    }
    let mut t = table();
    t.set_header([
        "name",
        "display name",
        "handles",
        "delivery",
        "state",
        "since",
    ]);
    for p in partners {
        t.add_row([
            p.name.clone(),
            p.display_name.clone(),
            p.handles.clone(),
            if p.webhook_url.is_empty() {
                "gRPC subscribe".to_owned()
            } else {
                format!("webhook {}", p.webhook_url)
            },
            if p.disabled { "disabled" } else { "active" }.to_owned(),
            short_time(p.added_at_ms),
        ]);
    }
    t.to_string()
}

/// Runs a `fenghuo partner` subcommand.
pub async fn run(connect: ConnectArgs, cmd: PartnerCommand) -> anyhow::Result<()> {
    let mut client = PartnersClient::new(connect.channel().await?);
    match cmd {
        PartnerCommand::Add {
            name,
            display_name,
            handles,
            webhook,
            secret_file,
            replace,
            out,
        } => {
            let webhook_secret = match &secret_file {
                Some(f) => std::fs::read(f)
                    .with_context(|| format!("reading the webhook secret {}", f.display()))?,
                None => Vec::new(),
            };
            let p = client
                .add_partner(v1::AddPartnerRequest {
                    name,
                    display_name,
                    webhook_url: webhook.unwrap_or_default(),
                    webhook_secret,
                    replace,
                    handles,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || partner_json(&p),
                || format!("partner {} saved", p.name),
            )
        }
        PartnerCommand::List { out } => {
            let list = client
                .list_partners(v1::ListPartnersRequest {})
                .await
                .map_err(status_message)?
                .into_inner();
            if list.addressable {
                emit(
                    out.json,
                    || list.partners.iter().map(addressable_json).collect(),
                    || addressable_text(&list.partners),
                )
            } else {
                emit(
                    out.json,
                    || list.partners.iter().map(partner_json).collect(),
                    || partners_text(&list.partners),
                )
            }
        }
        PartnerCommand::Show { name, out } => {
            let p = client
                .get_partner(v1::GetPartnerRequest { name })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || partner_json(&p),
                || partners_text(std::slice::from_ref(&p)),
            )
        }
        PartnerCommand::Disable { name, out } => {
            let p = client
                .disable_partner(v1::GetPartnerRequest { name })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || partner_json(&p),
                || format!("partner {} disabled", p.name),
            )
        }
    }
}
