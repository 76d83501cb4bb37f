//! `fenghuo ca`: run the offline provincial certificate authority from the command line.
//!
//! A thin edge over [`crate::pki::ca`]: parse, call the library, print one or two lines of
//! text (or JSON with `--json`).

use crate::cli::output::outln;
use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::Context;
use comfy_table::Table;
use serde_json::json;
use time::OffsetDateTime;

use super::output::{unit_name, unit_text};
use crate::identity::Identity;
use crate::pki::ca::{
    rfc3339_text, CertificateAuthority, IssueOptions, IssuedRecord, CA_CERT_FILE, CA_KEY_FILE,
    DEFAULT_DAYS, REGISTRY_FILE,
};

/// Options every `fenghuo ca` command takes: where the CA lives and how to print.
#[derive(Debug, Clone, clap::Args)]
pub struct CaArgs {
    /// 证书机构目录，须放在离线机器上 · CA directory: holds ca.crt, ca.key, crl.pem,
    /// issued.json and every issued <stem>.crt / <stem>.key. Keep it on an offline machine.
    #[arg(long, env = "FENGHUO_PKI", default_value = "pki", value_name = "DIR")]
    pub dir: PathBuf,
    /// 以 JSON 输出 · Print the result as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `fenghuo ca …`: the offline provincial certificate authority.
#[derive(Debug, clap::Subcommand)]
pub enum CaCommand {
    /// 建立省级证书机构 · Create the provincial CA: ca.crt, ca.key, an empty crl.pem and
    /// issued.json in --dir.
    #[command(
        long_about = "在 --dir 中建立省级证书机构 · Create the provincial certificate authority in \
        --dir.\n\n\
        写出 ca.crt（各节点和客户端信任的根证书，有效十年）、ca.key（须离线保管）、crl.pem（空的\
        已签名吊销列表）和 issued.json（签发登记）。已有证书机构时拒绝，除非加 --force。\n\n\
        Writes ca.crt (the trust anchor every node and client is configured with, valid ten \
        years), ca.key (its Ed25519 key, mode 0600: keep it offline), crl.pem (an empty, signed \
        revocation list) and issued.json (the registry of issued certificates). \
        Refuses if a CA already exists there, unless --force."
    )]
    Init {
        /// 省的两位区划代码，如 51 · The province this CA issues for: its two-digit GB/T 2260
        /// code, e.g. 51.
        #[arg(long, value_name = "CODE")]
        province: String,
        /// 替换已有证书机构，旧证书全部失效 · Replace an existing CA: every certificate the old
        /// CA issued stops validating, and its registry is reset.
        #[arg(long, conflicts_with = "keep")]
        force: bool,
        /// 已有则保留并视为成功 · Leave an existing CA as it is and succeed (setup scripts that
        /// run again).
        #[arg(long)]
        keep: bool,
        #[command(flatten)]
        args: CaArgs,
    },
    /// 签发证书和密钥 · Issue a certificate and key: <stem>.crt and <stem>.key in --dir.
    #[command(
        long_about = "为县级节点、省级、合作平台或工作人员签发证书和 ECDSA P-256 密钥 · Issue a \
        certificate and ECDSA P-256 key for a county node, the province, a partner or a staff \
        member.\n\n\
        在 --dir 中写出 <stem>.crt 和 <stem>.key（权限 0600），并登记到 issued.json；县和省另有\
        签名数据流用的 <stem>.feed.key。\n\n\
        Writes <stem>.crt (PEM certificate, identity in its URI SAN, e.g. fenghuo://county/510104) \
        and <stem>.key (PKCS#8 PEM, mode 0600, readable by OpenSSL and every gRPC stack) in \
        --dir, and records the certificate in issued.json. A county or the province also gets \
        <stem>.feed.key, the Ed25519 key its feeds are signed with, which the certificate \
        certifies. The stem is county-510104, province-51, partner-<name>, \
        staff-<code>-<name> or intake-<county>-<system>. Every certificate also names \
        localhost and 127.0.0.1."
    )]
    Issue {
        /// Who to issue for.
        #[command(subcommand)]
        what: IssueCommand,
    },
    /// 按文件名吊销证书并重签 crl.pem · Revoke a certificate by its file stem and re-sign
    /// crl.pem.
    #[command(
        long_about = "按文件名吊销证书并重签 crl.pem · Revoke a certificate and re-sign crl.pem.\n\n\
        将新的 crl.pem 交给省级汇聚节点，它会发布到各节点，几秒内生效；也复制到工作人员电脑。\n\n\
        Revoke every live certificate issued under a file stem (e.g. \
        staff-510104-zhang, as shown by `fenghuo ca list`) and re-sign crl.pem with a new CRL \
        number. Give the new crl.pem to the gateway: it publishes each newer CRL in the province \
        feed, every node adopts it within seconds and refuses the holder from then on. Copy it \
        to staff machines too (the CLI checks nodes against it)."
    )]
    Revoke {
        /// 证书文件名，如 county-510104 · File stem of the certificate, e.g. county-510104 or
        /// staff-510104-zhang (its identity URI or .crt file name also work).
        #[arg(value_name = "STEM")]
        stem: String,
        #[command(flatten)]
        args: CaArgs,
    },
    /// 列出已签发的证书：单位名称、序列号、到期和吊销 · List every certificate issued, with its
    /// unit's name, serial, expiry and revocation.
    List {
        #[command(flatten)]
        args: CaArgs,
    },
    /// 重签 crl.pem（吊销不变，30 天后更新） · Re-sign crl.pem (same revocations, new number,
    /// next update 30 days on).
    #[command(long_about = "重签 crl.pem · Re-sign crl.pem.\n\n\
        在当前 CRL 的下次更新时间之前运行，并把结果交给省级汇聚节点；建议每周一次。\n\n\
        Re-sign crl.pem with the same revocations, the next CRL number and a \
        next-update 30 days from now. Run it, and give the result to the gateway (which publishes \
        it to every node), before the current CRL's next update passes: nodes raise an alarm \
        for a CRL past its next update. A weekly timer is a good schedule (docs/pki.md).")]
    Crl {
        #[command(flatten)]
        args: CaArgs,
    },
}

/// `fenghuo ca issue …`: who the certificate is for.
#[derive(Debug, clap::Subcommand)]
pub enum IssueCommand {
    /// 县级节点证书 · A county node: <stem> county-<CODE>; TLS server and client.
    County {
        /// 县的六位区划代码，如 510104 · Six-digit county code (GB/T 2260) in the CA's
        /// province, e.g. 510104.
        #[arg(value_name = "CODE")]
        code: String,
        /// 县名，如 锦江区，写入证书并处处显示在代码旁（默认取 GB/T 2260 名称） · The county's
        /// name, written in the certificate's subject (O) and shown beside the code.
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        #[command(flatten)]
        opts: IssueArgs,
    },
    /// 省级汇聚节点证书 · The provincial gateway: <stem> province-<CODE>; TLS server and
    /// client.
    Province {
        /// 省的两位区划代码，如 51 · Two-digit province code, the CA's own, e.g. 51.
        #[arg(value_name = "CODE")]
        code: String,
        /// 省名，如 四川省，写入证书（默认取 GB/T 2260 名称） · The province's name, written in
        /// the certificate's subject (O).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
        #[command(flatten)]
        opts: IssueArgs,
    },
    /// 合作平台证书 · A partner website: <stem> partner-<NAME>; TLS client only.
    Partner {
        /// 合作平台名称 · Partner name: 1-63 lowercase letters, digits, '-' or '_'.
        #[arg(value_name = "NAME")]
        name: String,
        #[command(flatten)]
        opts: IssueArgs,
    },
    /// 舆情监测系统证书 · A monitoring system feeding a county's intake: <stem>
    /// intake-<COUNTY>-<SYSTEM>; TLS client only, allowed nothing but Intake.Submit.
    Intake {
        /// 县代码（六位） · The county whose node it feeds (six digits).
        #[arg(value_name = "COUNTY")]
        code: String,
        /// 系统名称 · The system's name: 1-63 lowercase letters, digits, '-' or '_'; its
        /// observations carry it.
        #[arg(value_name = "SYSTEM")]
        system: String,
        #[command(flatten)]
        opts: IssueArgs,
    },
    /// 节点工作页面的 HTTPS 证书 · A node's pages (HTTPS for browsers).
    ///
    /// 省级为 province-<代码>-web，县级为 county-<代码>-web；由目录中的网页证书机构（ca-web.crt）签发，
    /// 请让工作人员浏览器信任 ca-web.crt。
    ///
    /// <stem> province-<CODE>-web for the gateway, or county-<CODE>-web with a county's code;
    /// an ECDSA P-256 certificate from the CA folder's web CA (ca-web.crt, made on first use),
    /// since browsers accept no Ed25519. Give staff browsers ca-web.crt to trust.
    Web {
        /// 县代码（六位）；不给则为省级 · A county of this province (six digits) whose pages it
        /// is for; without it, the gateway's.
        #[arg(value_name = "COUNTY")]
        code: Option<String>,
        #[command(flatten)]
        opts: IssueArgs,
    },
    /// 工作人员证书 · A person acting for a county or the province: <stem>
    /// staff-<CODE>-<NAME>; TLS client only.
    Staff {
        /// 所属县（六位）或省（两位）代码 · County (six digits) or province (two digits) the
        /// person acts for.
        #[arg(value_name = "CODE")]
        code: String,
        /// 登录名 · Login-style name: 1-63 lowercase letters, digits, '-' or '_'.
        #[arg(value_name = "NAME")]
        name: String,
        #[command(flatten)]
        opts: IssueArgs,
    },
}

/// Options of every `fenghuo ca issue` command.
#[derive(Debug, Clone, clap::Args)]
pub struct IssueArgs {
    /// 额外的域名（可重复） · Extra DNS name the holder serves under (repeatable); localhost is
    /// always included.
    #[arg(long = "dns", value_name = "NAME")]
    pub dns: Vec<String>,
    /// 额外的 IP 地址（可重复） · Extra IP address the holder serves under (repeatable);
    /// 127.0.0.1 is always included.
    #[arg(long = "ip", value_name = "ADDR")]
    pub ip: Vec<IpAddr>,
    /// 有效天数 · Validity in days from now (at most until the CA expires).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_DAYS,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub days: u32,
    /// 已有证书时仍然签发并替换文件 · Issue even if the identity already has a live
    /// certificate or its files exist; the files are replaced, and the old certificate stays
    /// valid until it expires or is revoked.
    #[arg(long, conflicts_with = "keep")]
    pub force: bool,
    /// 已有则保留并视为成功 · Leave an existing certificate and key as they are and succeed
    /// (setup scripts that run again).
    #[arg(long, conflicts_with = "renew")]
    pub keep: bool,
    /// 续期：沿用原密钥签发新证书 · Renew: a new certificate (new dates, names as given) for
    /// the holder's existing keys in --dir, so the feeds a node signed stay valid under it. A holder issued before TLS keys
    /// were ECDSA P-256 is moved over: its Ed25519 key becomes <stem>.feed.key and it gets a
    /// new <stem>.key. The old certificate stays valid until it expires or is revoked.
    #[arg(long, conflicts_with = "force")]
    pub renew: bool,
    #[command(flatten)]
    pub args: CaArgs,
}

/// Runs one `fenghuo ca` command.
pub fn run(cmd: CaCommand) -> anyhow::Result<()> {
    match cmd {
        CaCommand::Init {
            province,
            force,
            keep,
            args,
        } => {
            if keep && args.dir.join(CA_CERT_FILE).exists() {
                return kept(&args, &args.dir.join(CA_CERT_FILE));
            }
            init(&province, force, &args)
        }
        CaCommand::Issue { what } => issue(what),
        CaCommand::Revoke { stem, args } => revoke(&stem, &args),
        CaCommand::List { args } => list(&args),
        CaCommand::Crl { args } => crl(&args),
    }
}

/// Reports that `path` was there already and left alone (`--keep`).
fn kept(args: &CaArgs, path: &std::path::Path) -> anyhow::Result<()> {
    if args.json {
        print_json(&json!({ "kept": path }))
    } else {
        outln!("kept {} (already there)", path.display());
        Ok(())
    }
}

/// `fenghuo ca init`.
fn init(province: &str, force: bool, args: &CaArgs) -> anyhow::Result<()> {
    let ca = CertificateAuthority::init(&args.dir, province, force)?;
    let cert = ca.ca_cert_path();
    let key = ca.dir().join(CA_KEY_FILE);
    let crl = ca.crl_path();
    if args.json {
        print_json(&json!({
            "province": ca.province().as_str(),
            "dir": ca.dir(),
            "ca_cert": cert,
            "ca_key": key,
            "crl": crl,
            "registry": ca.dir().join(REGISTRY_FILE),
            "not_after": rfc3339_text(ca.not_after()),
        }))
    } else {
        outln!(
            "created CA for province {} → {}, {}, {} (valid until {})",
            ca.province(),
            cert.display(),
            key.display(),
            crl.display(),
            date(ca.not_after()),
        );
        outln!(
            "give {} and {} to every node; keep {} offline",
            cert.display(),
            crl.display(),
            key.display()
        );
        Ok(())
    }
}

/// `fenghuo ca issue web [COUNTY]`.
fn issue_web(code: Option<String>, opts: IssueArgs) -> anyhow::Result<()> {
    if opts.renew {
        anyhow::bail!("--renew keeps a node's signing key; the pages' certificate signs nothing: replace it with --force");
    }
    let ca = CertificateAuthority::open(&opts.args.dir)?;
    let identity = match &code {
        Some(code) => Identity::county(code)?,
        None => Identity::Province(ca.province().clone()),
    };
    let stem = crate::pki::web::web_stem_of(&identity);
    let cert = ca.dir().join(format!("{stem}.crt"));
    if opts.keep && cert.exists() && ca.dir().join(format!("{stem}.key")).exists() {
        return kept(&opts.args, &cert);
    }
    let issued =
        crate::pki::web::issue_for(&ca, &identity, &opts.dns, &opts.ip, opts.days, opts.force)?;
    if opts.args.json {
        print_json(&json!({
            "cert": issued.cert_path,
            "key": issued.key_path,
            "web_ca": issued.ca_path,
            "not_after": rfc3339_text(issued.not_after),
        }))
    } else {
        outln!(
            "issued the pages' certificate of {identity} → {}, {} (valid until {}); browsers trust {}",
            issued.cert_path.display(),
            issued.key_path.display(),
            date(issued.not_after),
            issued.ca_path.display(),
        );
        Ok(())
    }
}

/// `fenghuo ca issue …`.
fn issue(what: IssueCommand) -> anyhow::Result<()> {
    let (identity, unit_name, opts) = match what {
        IssueCommand::Web { code, opts } => return issue_web(code, opts),
        IssueCommand::County { code, name, opts } => (Identity::county(&code), name, opts),
        IssueCommand::Province { code, name, opts } => (Identity::province(&code), name, opts),
        IssueCommand::Partner { name, opts } => (Identity::partner(&name), None, opts),
        IssueCommand::Intake { code, system, opts } => {
            (Identity::intake(&code, &system), None, opts)
        }
        IssueCommand::Staff { code, name, opts } => (Identity::staff(&code, &name), None, opts),
    };
    let identity = identity?;
    let mut ca = CertificateAuthority::open(&opts.args.dir)?;
    let stem = identity.file_stem();
    let cert = ca.dir().join(format!("{stem}.crt"));
    if opts.keep && cert.exists() && ca.dir().join(format!("{stem}.key")).exists() {
        return kept(&opts.args, &cert);
    }
    let issued = ca.issue(
        &identity,
        &IssueOptions {
            dns: opts.dns,
            ips: opts.ip,
            days: opts.days,
            force: opts.force,
            renew: opts.renew,
            legacy_ed25519: false,
            unit_name,
        },
    )?;
    if opts.args.json {
        print_json(&json!({
            "identity": issued.identity.uri(),
            "stem": issued.identity.file_stem(),
            "cert": issued.cert_path,
            "key": issued.key_path,
            "feed_key": issued.feed_key_path,
            "serial": issued.serial,
            "not_after": rfc3339_text(issued.not_after),
        }))
    } else {
        let feed_key = issued
            .feed_key_path
            .as_ref()
            .map(|p| format!(", {}", p.display()))
            .unwrap_or_default();
        outln!(
            "issued {} → {}, {}{feed_key} (valid until {}, serial {})",
            issued.identity,
            issued.cert_path.display(),
            issued.key_path.display(),
            date(issued.not_after),
            issued.serial,
        );
        Ok(())
    }
}

/// `fenghuo ca revoke`.
fn revoke(stem: &str, args: &CaArgs) -> anyhow::Result<()> {
    let mut ca = CertificateAuthority::open(&args.dir)?;
    let revoked = ca.revoke(stem)?;
    let crl = &revoked.crl;
    if args.json {
        print_json(&json!({
            "revoked": revoked.records,
            "crl": {
                "path": crl.path,
                "number": crl.number,
                "revoked": crl.revoked,
                "next_update": rfc3339_text(crl.next_update),
            },
        }))
    } else {
        for record in &revoked.records {
            outln!("revoked {} (serial {})", record.identity, record.serial);
        }
        outln!(
            "{} now lists {} revoked serial(s) (CRL number {}, next update {}); distribute it",
            crl.path.display(),
            crl.revoked,
            crl.number,
            date(crl.next_update),
        );
        Ok(())
    }
}

/// `fenghuo ca list`.
fn list(args: &CaArgs) -> anyhow::Result<()> {
    let ca = CertificateAuthority::open(&args.dir)?;
    let records = ca.list();
    let names = unit_names(ca.dir(), records);
    if args.json {
        // Each record as before, with its unit's name beside it (null: no unit, or none known).
        let mut list = serde_json::to_value(records).context("cannot render JSON output")?;
        if let Some(list) = list.as_array_mut() {
            for (value, record) in list.iter_mut().zip(records) {
                if let Some(fields) = value.as_object_mut() {
                    let name = record
                        .identity
                        .unit()
                        .map_or(serde_json::Value::Null, |u| unit_name(u.as_str(), &names));
                    fields.insert("unit_name".into(), name);
                }
            }
        }
        return print_json(&list);
    }
    if records.is_empty() {
        outln!(
            "no certificates issued yet from {} (province {})",
            ca.dir().display(),
            ca.province()
        );
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header(vec![
        "stem",
        "identity",
        "unit",
        "serial",
        "not after",
        "status",
    ]);
    for record in records {
        table.add_row(vec![
            record.stem.clone(),
            record.identity.uri(),
            record
                .identity
                .unit()
                .map(|u| unit_text(u.as_str(), &names))
                .unwrap_or_default(),
            record.serial.clone(),
            date(record.not_after),
            status(record, now),
        ]);
    }
    outln!("{table}");
    Ok(())
}

/// Division code → the name written in the subject (O) of its county's or province's
/// certificate in `dir` (`fenghuo ca issue county 510104 --name 锦江区`), for the certificates
/// still on file there; units without one are absent and show the GB/T 2260 table's name.
fn unit_names(
    dir: &std::path::Path,
    records: &[IssuedRecord],
) -> std::collections::HashMap<String, String> {
    records
        .iter()
        .filter(|r| matches!(r.identity, Identity::County(_) | Identity::Province(_)))
        .filter_map(|r| {
            let unit = r.identity.unit()?.as_str().to_owned();
            let path = dir.join(format!("{}.crt", r.identity.file_stem()));
            let der = crate::pki::cert::read_cert_pem(&path)
                .ok()?
                .into_iter()
                .next()?;
            let name = crate::pki::cert::unit_name_of(&der)?;
            let name = crate::places::check_unit_name(&name).ok()?.to_owned();
            Some((unit, name))
        })
        .collect()
}

/// `fenghuo ca crl`.
fn crl(args: &CaArgs) -> anyhow::Result<()> {
    let mut ca = CertificateAuthority::open(&args.dir)?;
    let crl = ca.refresh_crl()?;
    if args.json {
        print_json(&json!({
            "path": crl.path,
            "number": crl.number,
            "revoked": crl.revoked,
            "next_update": rfc3339_text(crl.next_update),
        }))
    } else {
        outln!(
            "re-signed {} (CRL number {}, {} revoked serial(s), next update {}); distribute it",
            crl.path.display(),
            crl.number,
            crl.revoked,
            date(crl.next_update),
        );
        Ok(())
    }
}

/// The status column of `list`.
fn status(record: &IssuedRecord, now: OffsetDateTime) -> String {
    match record.revoked_at {
        Some(at) => format!("revoked {}", date(at)),
        None if record.not_after < now => "expired".to_owned(),
        None => "valid".to_owned(),
    }
}

/// A date for people, e.g. `2027-11-25`.
fn date(t: OffsetDateTime) -> String {
    t.date().to_string()
}

/// Prints a JSON value, pretty, on stdout.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("cannot render JSON output")?;
    outln!("{text}");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A failed unwrap is a failed test.
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// Stands in for the `fenghuo` binary's top level.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        ca: CaCommand,
    }

    fn parse(args: &[&str]) -> Result<CaCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("ca").chain(args.iter().copied())).map(|c| c.ca)
    }

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn keep_leaves_what_is_there_so_setup_can_run_again() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_str().unwrap();
        let go = |args: &[&str]| run(parse(args).unwrap());
        go(&["init", "--province", "51", "--dir", dir]).unwrap();
        let ca = std::fs::read(tmp.path().join("ca.crt")).unwrap();
        assert!(go(&["init", "--province", "51", "--dir", dir]).is_err());
        go(&["init", "--province", "51", "--keep", "--dir", dir]).unwrap();
        assert_eq!(std::fs::read(tmp.path().join("ca.crt")).unwrap(), ca);
        go(&["issue", "county", "510104", "--keep", "--dir", dir]).unwrap();
        let cert = std::fs::read(tmp.path().join("county-510104.crt")).unwrap();
        assert!(go(&["issue", "county", "510104", "--dir", dir]).is_err());
        go(&["issue", "county", "510104", "--keep", "--dir", dir]).unwrap();
        assert_eq!(
            std::fs::read(tmp.path().join("county-510104.crt")).unwrap(),
            cert
        );
        assert!(parse(&["issue", "county", "510104", "--keep", "--force"]).is_err());
    }

    #[test]
    fn issue_takes_names_days_force_dir_and_json() {
        let cmd = parse(&[
            "issue",
            "county",
            "510104",
            "--dns",
            "a.example",
            "--dns",
            "b.example",
            "--ip",
            "10.0.0.1",
            "--days",
            "30",
            "--force",
            "--dir",
            "/tmp/x",
            "--json",
        ])
        .unwrap();
        let CaCommand::Issue {
            what: IssueCommand::County { code, name, opts },
        } = cmd
        else {
            panic!("parsed as {cmd:?}");
        };
        assert_eq!(code, "510104");
        assert_eq!(name, None);
        assert_eq!(opts.dns, ["a.example", "b.example"]);
        assert_eq!(opts.ip, ["10.0.0.1".parse::<IpAddr>().unwrap()]);
        assert_eq!(opts.days, 30);
        assert!(opts.force && opts.args.json);
        assert_eq!(opts.args.dir, PathBuf::from("/tmp/x"));

        let cmd = parse(&["issue", "county", "510104", "--name", "锦江区"]).unwrap();
        let CaCommand::Issue {
            what: IssueCommand::County { name, .. },
        } = cmd
        else {
            panic!("parsed as {cmd:?}");
        };
        assert_eq!(name.as_deref(), Some("锦江区"));

        let cmd = parse(&["issue", "staff", "510104", "zhang"]).unwrap();
        let CaCommand::Issue {
            what: IssueCommand::Staff { code, name, opts },
        } = cmd
        else {
            panic!("parsed as {cmd:?}");
        };
        assert_eq!((code.as_str(), name.as_str()), ("510104", "zhang"));
        assert_eq!(opts.days, DEFAULT_DAYS);
        assert!(!opts.force);

        assert!(parse(&["issue", "county", "510104", "--days", "0"]).is_err());
        assert!(parse(&["issue", "county", "510104", "--ip", "localhost"]).is_err());
        assert!(parse(&["init"]).is_err(), "--province is required");
    }

    #[test]
    fn dir_defaults_to_pki_and_reads_fenghuo_pki() {
        let command = Cli::command();
        for sub in ["init", "revoke", "list", "crl"] {
            let sub = command.find_subcommand(sub).unwrap();
            let dir = sub.get_arguments().find(|a| a.get_id() == "dir").unwrap();
            assert_eq!(dir.get_env().unwrap(), "FENGHUO_PKI");
            assert_eq!(dir.get_default_values(), ["pki"]);
        }
    }

    #[test]
    fn commands_run_end_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let run_args = |args: &[&str]| run(parse(args).unwrap());
        run_args(&["init", "--province", "51", "--dir", d]).unwrap();
        assert!(run_args(&["init", "--province", "51", "--dir", d]).is_err());
        run_args(&["issue", "county", "510104", "--dir", d, "--json"]).unwrap();
        run_args(&["issue", "staff", "510104", "zhang", "--dir", d]).unwrap();
        run_args(&["issue", "partner", "weibo", "--dir", d]).unwrap();
        run_args(&["issue", "province", "51", "--dir", d]).unwrap();
        let err = run_args(&["issue", "county", "520102", "--dir", d]).unwrap_err();
        assert!(err.to_string().contains("province 51"), "{err}");
        let err = run_args(&["issue", "county", "5101", "--dir", d]).unwrap_err();
        assert!(err.to_string().contains("six digits"), "{err}");
        run_args(&["revoke", "staff-510104-zhang", "--dir", d]).unwrap();
        run_args(&["list", "--dir", d]).unwrap();
        run_args(&["list", "--dir", d, "--json"]).unwrap();
        run_args(&["crl", "--dir", d]).unwrap();
        for file in [
            "county-510104.crt",
            "county-510104.key",
            "staff-510104-zhang.crt",
        ] {
            assert!(dir.path().join(file).is_file(), "{file}");
        }
    }
}
