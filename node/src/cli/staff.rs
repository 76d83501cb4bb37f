//! `fenghuo staff`: the web accounts of the node `--node` points at (the gateway's dashboard,
//! or a county node's pages).

use std::io::{BufRead, IsTerminal};

use anyhow::{bail, Context};
use fenghuo_proto::v1::{self, staff_client::StaffClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{emit, short_time, table};
use super::risk::{status_message, Output};
use crate::accounts::{Role, MIN_PASSWORD_CHARS};
use crate::wire::{role_from_proto, role_to_proto};

/// `fenghuo staff` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum StaffCommand {
    /// 在本节点开设页面账号 · Create a web account at this node.
    ///
    /// 加 --replace 则为已有账号更换角色、密码和姓名。密码从终端读两次，或用 --password-stdin
    /// 从标准输入读；节点只保存其 argon2id 散列。
    ///
    /// With --replace, give an existing one a new role, password and names. The password is
    /// read from the terminal, twice, or from stdin with --password-stdin; the node stores only
    /// its argon2id hash.
    Add {
        /// 登录名：a–z、0–9、'_'、'-'（中文姓名用 --display-name） · Sign-in name: a–z, 0–9,
        /// '_', '-' (recorded as staff/<unit>/<name>; a Chinese name goes in --display-name).
        name: String,
        /// 角色（中英文均可）：县级 查看人员、经办人员、分管领导；省级 查看人员、研判人员、管理员 ·
        /// Role (either word). At a county: viewer reads; officer also does the register work,
        /// alerts, answers and disposal requests; leader also signs off and manages accounts.
        /// At the gateway: viewer; analyst also acknowledges reports and issues directives;
        /// admin also manages accounts.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// 姓名，如 林晓，显示在页面上 · The person's name as colleagues write it, shown on the
        /// pages.
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
        /// 所在部门，如 县委网信办 · The person's department.
        #[arg(long)]
        department: Option<String>,
        /// 从标准输入第一行读密码（供脚本用） · Read the password from the first line of stdin
        /// (for scripts).
        #[arg(long)]
        password_stdin: bool,
        /// 更换已有账号的角色、密码和姓名 · Replace the role, password and names of an existing
        /// account.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        out: Output,
    },
    /// 列出本节点全部页面账号 · Every web account of this node.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// 删除账号，其会话随即失效 · Delete an account; its sessions end at their next request.
    Remove {
        /// 登录名 · Sign-in name.
        name: String,
        #[command(flatten)]
        out: Output,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: crate::accounts::AccountError| e.to_string())
}

fn role_name(r: i32) -> &'static str {
    role_from_proto(r).map_or("unknown", Role::as_str)
}

/// `officer (经办人员)`, as people read a role.
fn role_text(r: i32) -> String {
    role_from_proto(r).map_or_else(|| "unknown".to_owned(), Role::labelled)
}

fn account_json(a: &v1::StaffAccount) -> Value {
    json!({
        "name": a.name,
        "role": role_name(a.role),
        "display_name": a.display_name,
        "department": a.department,
        "created_at": super::output::time_text(a.created_at_ms),
        "created_by": a.created_by,
    })
}

fn accounts_text(accounts: &[v1::StaffAccount]) -> String {
    if accounts.is_empty() {
        return "no staff accounts (add one with `fenghuo staff add <name> --role leader` at a \
                county, `--role admin` at the gateway)"
            .into();
    }
    let mut t = table();
    t.set_header(["name", "display name", "department", "role", "since", "by"]);
    for a in accounts {
        t.add_row([
            a.name.clone(),
            a.display_name.clone(),
            a.department.clone(),
            role_text(a.role),
            short_time(a.created_at_ms),
            a.created_by.clone(),
        ]);
    }
    t.to_string()
}

/// `林晓 (lin)`, or `lin` without a display name.
fn who(a: &v1::StaffAccount) -> String {
    crate::accounts::label(&a.name, &a.display_name)
}

/// The password from stdin's first line, or typed twice at the terminal.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the password: pass --password-stdin and pipe it in");
    }
    let first = rpassword::prompt_password(format!(
        "password (at least {MIN_PASSWORD_CHARS} characters): "
    ))?;
    let again = rpassword::prompt_password("again: ")?;
    if first != again {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

/// Runs a `fenghuo staff` subcommand.
pub async fn run(connect: ConnectArgs, cmd: StaffCommand) -> anyhow::Result<()> {
    match cmd {
        StaffCommand::Add {
            name,
            role,
            display_name,
            department,
            password_stdin,
            replace,
            out,
        } => {
            let password = read_password(password_stdin)?;
            let mut client = StaffClient::new(connect.channel().await?);
            let a = client
                .add_staff(v1::AddStaffRequest {
                    name,
                    role: role_to_proto(role) as i32,
                    password,
                    replace,
                    display_name: display_name.unwrap_or_default(),
                    department: department.unwrap_or_default(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || account_json(&a),
                || format!("staff account {} saved ({})", who(&a), role_text(a.role)),
            )
        }
        StaffCommand::List { out } => {
            let mut client = StaffClient::new(connect.channel().await?);
            let list = client
                .list_staff(v1::ListStaffRequest {})
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || list.accounts.iter().map(account_json).collect(),
                || accounts_text(&list.accounts),
            )
        }
        StaffCommand::Remove { name, out } => {
            let mut client = StaffClient::new(connect.channel().await?);
            let a = client
                .remove_staff(v1::RemoveStaffRequest { name })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || account_json(&a),
                || format!("staff account {} removed", who(&a)),
            )
        }
    }
}
