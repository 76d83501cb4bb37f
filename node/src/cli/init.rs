//! `fenghuo init …`: writes a complete, commented configuration file.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use crate::config::NodeConfig;
use crate::identity::{DivisionCode, Identity};

/// `fenghuo init …` commands.
#[derive(Debug, clap::Subcommand)]
pub enum InitCommand {
    /// 为县级节点生成 node.toml · Write node.toml for a county node.
    #[command(
        long_about = "为县级节点生成带注释的完整 node.toml · Write a complete, commented node.toml \
        for a county node.\n\n\
        证书文件取自 --pki（fenghuo ca 写出的 ca.crt、crl.pem、county-<代码>.crt/.key）；路径写成\
        绝对路径，文件可以移动。用 `fenghuo-node run --config node.toml` 启动节点。\n\n\
        The certificate files are taken from --pki (ca.crt, crl.pem, county-<CODE>.crt/.key, as \
        `fenghuo ca` writes them). Paths are written absolute, so the file can be moved. \
        Start the node with `fenghuo-node run --config node.toml`."
    )]
    Node {
        /// 县的六位区划代码，如 510104 · The county's six-digit division code, e.g. 510104.
        #[arg(long)]
        county: String,
        #[command(flatten)]
        common: CommonInit,
        /// 省级汇聚节点地址 · The provincial gateway, host:port.
        #[arg(long, value_name = "ADDR")]
        gateway: Option<String>,
        /// 周边兄弟县（市），代码=地址（可重复） · A neighbouring county, CODE=host:port (repeat
        /// for several).
        #[arg(long = "neighbour", value_name = "CODE=ADDR")]
        neighbours: Vec<String>,
        /// 在此地址以 HTTPS 提供本县工作页面 · Serve the county's web pages to its staff over
        /// HTTPS on this address, e.g. 0.0.0.0:8443, with the certificate `fenghuo ca issue web
        /// <CODE>` makes (add accounts with `fenghuo staff add`).
        #[arg(long, visible_alias = "dashboard", value_name = "ADDR")]
        web: Option<SocketAddr>,
    },
    /// 为省级汇聚节点生成 gateway.toml · Write gateway.toml for the provincial gateway.
    #[command(
        long_about = "为省级汇聚节点生成带注释的完整 gateway.toml · Write a complete, commented \
        gateway.toml for the provincial gateway.\n\n\
        证书文件取自 --pki（ca.crt、crl.pem、province-<代码>.crt/.key）；用 \
        `fenghuo-gateway run --config gateway.toml` 启动。\n\n\
        The certificate files are taken from --pki (ca.crt, crl.pem, province-<CODE>.crt/.key). \
        Start it with `fenghuo-gateway run --config gateway.toml`."
    )]
    Gateway {
        /// 省的两位区划代码，如 51 · The province's two-digit division code, e.g. 51.
        #[arg(long)]
        province: String,
        #[command(flatten)]
        common: CommonInit,
        /// 在此地址以 HTTPS 提供省级工作页面 · Serve the web dashboard for provincial staff over
        /// HTTPS on this address, e.g. 127.0.0.1:8443 (accounts: `fenghuo staff add`).
        #[arg(long, value_name = "ADDR")]
        dashboard: Option<SocketAddr>,
    },
}

/// Options both kinds of node take.
#[derive(Debug, clap::Args)]
pub struct CommonInit {
    /// `fenghuo ca` 写出证书的目录 · The folder `fenghuo ca` wrote the certificates to.
    #[arg(long, value_name = "DIR", default_value = "pki")]
    pki: PathBuf,
    /// 监听地址 · Address to listen on, e.g. 127.0.0.1:7401.
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// 节点数据库目录（首次启动时创建） · Directory of the node's database (created at first
    /// start).
    #[arg(long = "data", value_name = "DIR")]
    data: PathBuf,
    /// 写入此文件而非标准输出 · Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// 覆盖已有的 --out 文件 · Overwrite --out if it exists.
    #[arg(long)]
    force: bool,
}

fn quote(p: &Path) -> String {
    // TOML basic strings: escape backslashes and quotes.
    format!(
        "\"{}\"",
        p.display()
            .to_string()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
    )
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
}

/// Renders the config file text for `identity`.
fn render(
    identity: &Identity,
    common: &CommonInit,
    gateway: Option<&str>,
    neighbours: &[(String, String)],
    dashboard: Option<SocketAddr>,
) -> anyhow::Result<String> {
    let pki = absolute(&common.pki)?;
    let data = absolute(&common.data)?;
    let stem = identity.file_stem();
    let mut s = String::new();
    let (kind_key, code) = match identity {
        Identity::County(c) => ("county", c.as_str()),
        Identity::Province(c) => ("province", c.as_str()),
        _ => bail!("only county nodes and the provincial gateway have a config file"),
    };
    writeln!(
        s,
        "# Fenghuo {} configuration, written by `fenghuo init`.",
        if kind_key == "county" {
            "county node"
        } else {
            "provincial gateway"
        }
    )?;
    writeln!(s, "# Every field is described in docs/configuration.md. Relative paths are relative to this file.")?;
    writeln!(s)?;
    writeln!(
        s,
        "# This node's division code (GB/T 2260); must match the URI SAN of tls.cert."
    )?;
    writeln!(s, "{kind_key} = \"{code}\"")?;
    writeln!(s)?;
    writeln!(s, "# Address the gRPC server (mutual TLS only) listens on.")?;
    writeln!(s, "listen = \"{}\"", common.listen)?;
    writeln!(s)?;
    writeln!(
        s,
        "# Where the node keeps its database (feeds and views). Back it up; never share it."
    )?;
    writeln!(s, "data_dir = {}", quote(&data))?;
    writeln!(s)?;
    writeln!(
        s,
        "# The grading standard; the built-in default (docs/grading-standard.toml) when absent."
    )?;
    writeln!(s, "# grading_standard = \"grading-standard.toml\"")?;
    writeln!(s)?;
    match gateway {
        Some(g) => {
            writeln!(s, "# The provincial gateway, host:port.")?;
            writeln!(s, "gateway = \"{g}\"")?;
        }
        None if kind_key == "county" => {
            writeln!(s, "# The provincial gateway, host:port.")?;
            writeln!(s, "# gateway = \"gateway.example:7400\"")?;
        }
        None => {}
    }
    writeln!(s)?;
    writeln!(s, "[tls]")?;
    writeln!(
        s,
        "# The provincial CA: only certificates it issued are accepted."
    )?;
    writeln!(s, "ca = {}", quote(&pki.join("ca.crt")))?;
    writeln!(s, "# This node's certificate and TLS key (ECDSA P-256).")?;
    writeln!(s, "cert = {}", quote(&pki.join(format!("{stem}.crt"))))?;
    writeln!(s, "key = {}", quote(&pki.join(format!("{stem}.key"))))?;
    let feed_key = pki.join(format!("{stem}.feed.key"));
    if pki.join(format!("{stem}.key")).exists() && !feed_key.exists() {
        writeln!(
            s,
            "# No feed_key: this certificate predates them, and its one Ed25519 key also signs\n\
             # the feeds. `fenghuo ca issue … --renew` moves it over (see docs/pki.md)."
        )?;
    } else {
        writeln!(
            s,
            "# The Ed25519 key this node signs its feeds with; its certificate certifies it."
        )?;
        writeln!(s, "feed_key = {}", quote(&feed_key))?;
    }
    writeln!(
        s,
        "# The province's revocation list; re-read automatically when it changes."
    )?;
    writeln!(s, "crl = {}", quote(&pki.join("crl.pem")))?;
    if kind_key == "province" {
        writeln!(
            s,
            "# The CA's directory of every county's certificate: published to every node, so\n\
             # codes naming no county of the province are refused. Re-read when it changes."
        )?;
        writeln!(s, "directory = {}", quote(&pki.join("directory.pem")))?;
    }
    writeln!(s)?;
    writeln!(s, "[log]")?;
    writeln!(s, "# human or json (`--log-format` overrides).")?;
    writeln!(s, "format = \"human\"")?;
    writeln!(s, "# A tracing filter; RUST_LOG overrides.")?;
    writeln!(s, "filter = \"info\"")?;
    writeln!(s)?;
    writeln!(s, "# [alerts]")?;
    writeln!(
        s,
        "# How long recipients have to acknowledge an extreme or severe alert issued here"
    )?;
    writeln!(s, "# before it shows as overdue (default 30m).")?;
    writeln!(s, "# acknowledge_within = \"30m\"")?;
    dashboard_section(&mut s, identity, &pki, dashboard)?;
    if kind_key == "county" {
        writeln!(s)?;
        writeln!(
            s,
            "# Neighbouring counties (周边兄弟县), one [[neighbours]] table each."
        )?;
        if neighbours.is_empty() {
            writeln!(
                s,
                "# [[neighbours]]\n# code = \"510105\"\n# address = \"127.0.0.1:7402\""
            )?;
        }
        for (code, address) in neighbours {
            writeln!(
                s,
                "[[neighbours]]\ncode = \"{code}\"\naddress = \"{address}\""
            )?;
        }
    }
    Ok(s)
}

/// The file stem of the web certificate of the node `identity`: `province-51-web` (what
/// `fenghuo ca issue web` makes for the gateway), `county-510104-web` (`fenghuo ca issue web
/// 510104`).
fn web_stem(identity: &Identity) -> String {
    format!("{}-web", identity.file_stem())
}

/// Writes the `[dashboard]` section of either kind of node: the pages served at `addr` with
/// the node's web certificate, or the section commented out without `addr`.
fn dashboard_section(
    s: &mut String,
    identity: &Identity,
    pki: &Path,
    addr: Option<SocketAddr>,
) -> anyhow::Result<()> {
    let (who, roles) = match identity {
        Identity::County(_) => (
            "The county's web pages for its staff",
            "viewer|officer|leader (查看人员|经办人员|分管领导)",
        ),
        _ => (
            "The web dashboard for provincial staff",
            "viewer|analyst|admin",
        ),
    };
    let web = web_stem(identity);
    writeln!(s)?;
    writeln!(s, "# {who}: HTTPS with this node's web certificate.")?;
    writeln!(s, "# Accounts: `fenghuo staff add <name> --role {roles}`.")?;
    match addr {
        Some(addr) => {
            writeln!(s, "[dashboard]")?;
            writeln!(s, "listen = \"{addr}\"")?;
            writeln!(
                s,
                "# ECDSA P-256, from `fenghuo ca issue web`: browsers accept no Ed25519."
            )?;
            writeln!(s, "cert = {}", quote(&pki.join(format!("{web}.crt"))))?;
            writeln!(s, "key = {}", quote(&pki.join(format!("{web}.key"))))?;
            writeln!(s, "# A session idle this long ends (default 8h).")?;
            writeln!(s, "# session_idle = \"8h\"")?;
        }
        None => {
            writeln!(s, "# [dashboard]")?;
            writeln!(s, "# listen = \"127.0.0.1:8443\"")?;
            writeln!(s, "# cert = \"pki/{web}.crt\"")?;
            writeln!(s, "# key = \"pki/{web}.key\"")?;
            writeln!(s, "# session_idle = \"8h\"")?;
        }
    }
    Ok(())
}

/// What to do after `init node --web`: issue the pages' certificate, then make the first
/// account (a leader, who can then make the others on the Staff page).
fn web_next_steps(identity: &Identity, common: &CommonInit, addr: SocketAddr) -> String {
    let code = identity.unit().map_or("", |u| u.as_str());
    let stem = identity.file_stem();
    let pki = common.pki.display();
    // A node listening on every address is reached on this machine at loopback.
    let mut grpc = common.listen;
    if grpc.ip().is_unspecified() {
        grpc.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    format!(
        "next, for the pages on {addr}:\n\
         1. issue their certificate (P-256, for browsers), on the CA machine:\n   \
            fenghuo ca issue web {code} --dir {pki} [--dns pages.example] [--ip 10.0.0.5]\n   \
            (it writes {pki}/{web}.crt and .key, which this config names; staff browsers trust {pki}/ca-web.crt)\n\
         2. start the node, then make the first account, a leader (分管领导), with the node's own certificate:\n   \
            fenghuo --node https://{grpc} --cert {pki}/{stem}.crt --key {pki}/{stem}.key --ca {pki}/ca.crt \\\n     \
            staff add <name> --role leader --display-name <姓名> --password-stdin\n   \
            a leader adds the others (officer 经办人员, viewer 查看人员) on the Staff page (账户) or with `fenghuo staff add`",
        web = web_stem(identity),
    )
}

fn parse_neighbour(s: &str) -> anyhow::Result<(String, String)> {
    let (code, addr) = s.split_once('=').with_context(|| {
        format!("--neighbour {s:?}: expected CODE=HOST:PORT, e.g. 510105=127.0.0.1:7402")
    })?;
    DivisionCode::county(code).with_context(|| format!("--neighbour {s:?}"))?;
    if addr.trim().is_empty() || !addr.contains(':') {
        bail!("--neighbour {s:?}: the address must be HOST:PORT");
    }
    Ok((code.to_owned(), addr.to_owned()))
}

fn write_out(text: &str, common: &CommonInit, identity: &Identity) -> anyhow::Result<()> {
    // Check the result the way the node will read it, so a bad file is never written.
    NodeConfig::parse(text, "generated config", Path::new("."))
        .context("the generated configuration does not parse (a bug)")?;
    let stem = identity.file_stem();
    for f in [
        format!("{stem}.crt"),
        format!("{stem}.key"),
        "ca.crt".into(),
        "crl.pem".into(),
    ] {
        let p = common.pki.join(&f);
        if !p.exists() {
            eprintln!(
                "note: {} does not exist yet; create it with `fenghuo ca … --dir {}` before starting",
                p.display(),
                common.pki.display()
            );
        }
    }
    match &common.out {
        None => crate::cli::output::print(text.strip_suffix('\n').unwrap_or(text))?,
        Some(path) => {
            if path.exists() && !common.force {
                bail!("{} exists; pass --force to overwrite it", path.display());
            }
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(())
}

/// Runs an init command.
pub fn run(cmd: InitCommand) -> anyhow::Result<()> {
    match cmd {
        InitCommand::Node {
            county,
            common,
            gateway,
            neighbours,
            web,
        } => {
            let identity = Identity::county(&county).context("--county")?;
            let neighbours = neighbours
                .iter()
                .map(|n| parse_neighbour(n))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let text = render(&identity, &common, gateway.as_deref(), &neighbours, web)?;
            write_out(&text, &common, &identity)?;
            if let Some(addr) = web {
                eprintln!("{}", web_next_steps(&identity, &common, addr));
            }
            Ok(())
        }
        InitCommand::Gateway {
            province,
            common,
            dashboard,
        } => {
            let identity = Identity::province(&province).context("--province")?;
            let text = render(&identity, &common, None, &[], dashboard)?;
            write_out(&text, &common, &identity)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(dir: &Path) -> CommonInit {
        CommonInit {
            pki: dir.join("pki"),
            listen: "127.0.0.1:7401".parse().unwrap(),
            data: dir.join("data"),
            out: None,
            force: false,
        }
    }

    #[test]
    fn both_kinds_of_node_get_the_same_dashboard_section_with_their_own_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let common = common(dir.path());
        let pki = absolute(&common.pki).unwrap();
        let web: SocketAddr = "0.0.0.0:8443".parse().unwrap();
        for (identity, stem, roles) in [
            (
                Identity::county("510104").unwrap(),
                "county-510104-web",
                "officer",
            ),
            (
                Identity::province("51").unwrap(),
                "province-51-web",
                "analyst",
            ),
        ] {
            let text = render(&identity, &common, None, &[], Some(web)).unwrap();
            let cfg = NodeConfig::parse(&text, "generated", Path::new(".")).unwrap();
            let d = cfg.dashboard.expect("a [dashboard] section");
            assert_eq!(d.listen, web);
            assert_eq!(d.cert, pki.join(format!("{stem}.crt")), "{text}");
            assert_eq!(d.key, pki.join(format!("{stem}.key")), "{text}");
            assert!(text.contains(roles), "{text}");
            // Without the address: commented out, and nothing served.
            let text = render(&identity, &common, None, &[], None).unwrap();
            let cfg = NodeConfig::parse(&text, "generated", Path::new(".")).unwrap();
            assert!(cfg.dashboard.is_none());
            assert!(
                text.contains(&format!("# cert = \"pki/{stem}.crt\"")),
                "{text}"
            );
        }
    }

    #[test]
    fn the_next_steps_name_the_certificate_and_the_first_account() {
        let dir = tempfile::tempdir().unwrap();
        let county = Identity::county("510104").unwrap();
        let steps = web_next_steps(
            &county,
            &common(dir.path()),
            "0.0.0.0:8443".parse().unwrap(),
        );
        for step in [
            "fenghuo ca issue web 510104",
            "county-510104-web.crt",
            "--node https://127.0.0.1:7401",
            "county-510104.crt",
            "staff add <name> --role leader",
        ] {
            assert!(steps.contains(step), "{step}: {steps}");
        }
    }
}
