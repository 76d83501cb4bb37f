//! `fenghuo duty`: the duty roster (值班表) of the node `--node` points at.

use anyhow::Context as _;
use fenghuo_proto::v1::{self, notify_client::NotifyClient};
use serde_json::{json, Value};

use super::connect::ConnectArgs;
use super::output::{emit, short_time, table};
use super::risk::{status_message, Output};

/// `fenghuo duty` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DutyCommand {
    /// 排班：把人加入值班表 · Put a person on the duty roster.
    ///
    /// 不给 --schedule 则始终在班。排班写法：`mon-fri 08:30-17:30; daily 17:30-08:30; off
    /// 2026-12-25`，也可写 周一-周五、每天、不值班；按本单位时区。
    ///
    /// Without --schedule they are on duty at all times. Schedules are written
    /// `mon-fri 08:30-17:30; daily 17:30-08:30; off 2026-12-25` (周一-周五, 每天, 不值班 work
    /// too), in the unit's time zone; a shift that ends before it starts runs past midnight.
    Add {
        /// 值班名：a–z、0–9、'_'、'-' · Roster name: a–z, 0–9, '_', '-'.
        person: String,
        /// 通知渠道名（可多次给出；先用 fenghuo notify channel add 建立） · A channel that
        /// reaches them (repeat for several; add it first with `fenghuo notify channel add`).
        #[arg(long = "channel", value_name = "NAME", required = true)]
        channels: Vec<String>,
        /// 值班时间 · When they are on duty (see above).
        #[arg(long)]
        schedule: Option<String>,
        /// 姓名，如 林晓 · Their name as colleagues write it.
        #[arg(long, value_name = "NAME")]
        display_name: Option<String>,
        /// 分管领导：无人确认时升级通知 · A leader, notified when nobody on duty acknowledges.
        #[arg(long)]
        leader: bool,
        /// 替换已有的同名条目 · Replace an existing entry of that name.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        out: Output,
    },
    /// 值班表全部人员，标出此刻在班者 · Everyone on the roster, marking who is on duty now.
    List {
        #[command(flatten)]
        out: Output,
    },
    /// 此刻在班的人 · Who is on duty now.
    Now {
        #[command(flatten)]
        out: Output,
    },
    /// 把人移出值班表 · Take a person off the roster.
    Remove {
        /// 值班名 · Roster name.
        person: String,
        #[command(flatten)]
        out: Output,
    },
}

fn who(p: &v1::DutyPerson) -> String {
    if p.display_name.is_empty() {
        p.name.clone()
    } else {
        format!("{} ({})", p.display_name, p.name)
    }
}

fn person_json(p: &v1::DutyPerson) -> Value {
    json!({
        "name": p.name,
        "display_name": p.display_name,
        "channels": p.channels,
        "schedule": p.schedule,
        "leader": p.leader,
        "on_duty_now": p.on_duty_now,
        "added_by": p.added_by,
        "added_at": super::output::time_text(p.added_at_ms),
    })
}

fn people_text(people: &[&v1::DutyPerson], empty: &str) -> String {
    if people.is_empty() {
        return empty.to_owned();
    }
    let mut t = table();
    t.set_header([
        "person",
        "on duty now",
        "schedule",
        "channels",
        "leader",
        "since",
    ]);
    for p in people {
        t.add_row([
            who(p),
            if p.on_duty_now { "在班 yes" } else { "—" }.to_owned(),
            if p.schedule.is_empty() {
                "始终 always".to_owned()
            } else {
                p.schedule.clone()
            },
            p.channels.join(", "),
            if p.leader { "领导 leader" } else { "" }.to_owned(),
            short_time(p.added_at_ms),
        ]);
    }
    t.to_string()
}

/// Runs a `fenghuo duty` subcommand.
pub async fn run(connect: ConnectArgs, cmd: DutyCommand) -> anyhow::Result<()> {
    let mut client = NotifyClient::new(connect.channel().await?);
    match cmd {
        DutyCommand::Add {
            person,
            channels,
            schedule,
            display_name,
            leader,
            replace,
            out,
        } => {
            let p = client
                .add_person(v1::AddPersonRequest {
                    name: person,
                    display_name: display_name.unwrap_or_default(),
                    channels,
                    schedule: schedule.unwrap_or_default(),
                    leader,
                    replace,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            emit(
                out.json,
                || person_json(&p),
                || {
                    format!(
                        "{} is on the duty roster{}",
                        who(&p),
                        if p.on_duty_now {
                            " and on duty now"
                        } else {
                            ""
                        }
                    )
                },
            )
        }
        DutyCommand::List { out } => {
            let list = client
                .list_people(v1::ListPeopleRequest {})
                .await
                .map_err(status_message)?
                .into_inner();
            let all: Vec<&v1::DutyPerson> = list.people.iter().collect();
            emit(
                out.json,
                || list.people.iter().map(person_json).collect(),
                || {
                    people_text(&all, "nobody on the duty roster: add someone with `fenghuo duty add PERSON --channel NAME`")
                },
            )
        }
        DutyCommand::Now { out } => {
            let list = client
                .list_people(v1::ListPeopleRequest {})
                .await
                .map_err(status_message)?
                .into_inner();
            // As notifications go: whoever is on duty, else the leaders.
            let mut now: Vec<&v1::DutyPerson> = list
                .people
                .iter()
                .filter(|p| p.on_duty_now && !p.leader)
                .collect();
            if now.is_empty() {
                now = list.people.iter().filter(|p| p.leader).collect();
            }
            emit(
                out.json,
                || now.iter().map(|p| person_json(p)).collect(),
                || {
                    people_text(&now, "nobody is on duty now and there is no leader on the roster: notifications reach nobody")
                },
            )
        }
        DutyCommand::Remove { person, out } => {
            let p = client
                .remove_person(v1::RemovePersonRequest { name: person })
                .await
                .map_err(status_message)
                .context("removing from the roster")?
                .into_inner();
            emit(
                out.json,
                || person_json(&p),
                || format!("{} taken off the duty roster", who(&p)),
            )
        }
    }
}
