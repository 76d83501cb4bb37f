//! The `Notify` service: the duty roster, channels and deliveries of the node it runs on,
//! managed by that unit's own staff and node certificate.

use std::sync::Arc;

use fenghuo_proto::v1::{self, notify_server::Notify};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_own, Caller};
use crate::notifications::channel::{self, Channel, ChannelKind};
use crate::notifications::message::Message;
use crate::notifications::outbox::{self, DeliveryRecord};
use crate::notifications::roster::{self, NewPerson, Person};
use crate::state::NodeState;
use crate::timespec::now_ms;

/// Handlers of the `Notify` service.
#[derive(Debug, Clone)]
pub struct NotifyService {
    state: Arc<NodeState>,
}

impl NotifyService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    #[allow(clippy::result_large_err)]
    fn require_own<T>(&self, req: &Request<T>, what: &str) -> Result<Caller, Status> {
        let c = caller(req)?;
        require_own(&c, self.state.unit(), what)?;
        Ok(c)
    }

    fn person_to_proto(&self, p: &Person, now: i64) -> v1::DutyPerson {
        v1::DutyPerson {
            name: p.name.clone(),
            display_name: p.display_name.clone(),
            channels: p.channels.clone(),
            schedule: p
                .schedule
                .as_ref()
                .map(|s| s.text.clone())
                .unwrap_or_default(),
            leader: p.leader,
            on_duty_now: p.on_duty(now, self.state.notifier.zone()),
            added_by: p.added_by.clone(),
            added_at_ms: p.added_at_ms,
        }
    }
}

fn channel_to_proto(c: &Channel) -> v1::NotifyChannel {
    v1::NotifyChannel {
        name: c.name.clone(),
        kind: c.kind.as_str().to_owned(),
        target: c.kind.target(),
        added_by: c.added_by.clone(),
        added_at_ms: c.added_at_ms,
    }
}

fn delivery_to_proto(r: DeliveryRecord) -> v1::NotifyDelivery {
    v1::NotifyDelivery {
        event: r.event,
        channel: r.channel,
        people: r.people,
        title: r.title,
        state: r.state.as_str().to_owned(),
        queued_at_ms: r.queued_at_ms,
        next_at_ms: r.next_at_ms,
        attempts: r
            .attempts
            .into_iter()
            .map(|a| v1::DeliveryAttempt {
                at_ms: a.at_ms,
                error: a.error,
            })
            .collect(),
    }
}

/// The channel a request describes.
#[allow(clippy::result_large_err)]
fn kind_of(r: &v1::AddChannelRequest) -> Result<ChannelKind, Status> {
    Ok(match r.kind.as_str() {
        "email" => ChannelKind::Email {
            to: r.email.trim().to_owned(),
            smtp: r.smtp.trim().to_owned(),
            tls: if r.tls.is_empty() {
                channel::SmtpTls::Starttls
            } else {
                r.tls.parse()?
            },
            user: r.user.clone(),
            password: r.password.clone(),
            from: r.from.trim().to_owned(),
        },
        "wecom" => ChannelKind::Wecom {
            url: r.url.trim().to_owned(),
        },
        "dingtalk" => ChannelKind::Dingtalk {
            url: r.url.trim().to_owned(),
            secret: r.secret.trim().to_owned(),
        },
        "feishu" => ChannelKind::Feishu {
            url: r.url.trim().to_owned(),
            secret: r.secret.trim().to_owned(),
        },
        "webhook" => ChannelKind::Webhook {
            url: r.url.trim().to_owned(),
            secret: r.secret.trim().to_owned(),
        },
        other => {
            return Err(Status::invalid_argument(format!(
                "kind {other:?}: one of email, wecom, dingtalk, feishu, webhook"
            )))
        }
    })
}

#[tonic::async_trait]
impl Notify for NotifyService {
    /// AddPerson.
    async fn add_person(
        &self,
        req: Request<v1::AddPersonRequest>,
    ) -> Result<Response<v1::DutyPerson>, Status> {
        let c = self.require_own(&req, "manage the duty roster")?;
        let r = req.into_inner();
        let store = self.state.store.as_ref();
        let now = now_ms();
        let person = roster::add(
            store,
            NewPerson {
                name: r.name,
                display_name: r.display_name,
                channels: r.channels,
                schedule: r.schedule,
                leader: r.leader,
                replace: r.replace,
                by: c.identity.uri(),
            },
            now,
            |name| Ok(channel::get(store, name)?.is_some()),
        )?;
        tracing::info!(person = %person.name, by = %c.identity, "put on the duty roster");
        Ok(Response::new(self.person_to_proto(&person, now)))
    }

    /// ListPeople.
    async fn list_people(
        &self,
        req: Request<v1::ListPeopleRequest>,
    ) -> Result<Response<v1::ListPeopleResponse>, Status> {
        self.require_own(&req, "read the duty roster")?;
        let now = now_ms();
        let people = roster::list(self.state.store.as_ref())?
            .iter()
            .map(|p| self.person_to_proto(p, now))
            .collect();
        Ok(Response::new(v1::ListPeopleResponse { people }))
    }

    /// RemovePerson.
    async fn remove_person(
        &self,
        req: Request<v1::RemovePersonRequest>,
    ) -> Result<Response<v1::DutyPerson>, Status> {
        let c = self.require_own(&req, "manage the duty roster")?;
        let p = roster::remove(self.state.store.as_ref(), req.get_ref().name.trim())?;
        tracing::info!(person = %p.name, by = %c.identity, "taken off the duty roster");
        Ok(Response::new(self.person_to_proto(&p, now_ms())))
    }

    /// AddChannel.
    async fn add_channel(
        &self,
        req: Request<v1::AddChannelRequest>,
    ) -> Result<Response<v1::NotifyChannel>, Status> {
        let c = self.require_own(&req, "manage notification channels")?;
        let r = req.into_inner();
        let kind = kind_of(&r)?;
        let ch = channel::add(
            self.state.store.as_ref(),
            &r.name,
            kind,
            r.replace,
            &c.identity.uri(),
            now_ms(),
        )?;
        tracing::info!(channel = %ch.name, kind = ch.kind.as_str(), by = %c.identity, "notification channel saved");
        Ok(Response::new(channel_to_proto(&ch)))
    }

    /// ListChannels.
    async fn list_channels(
        &self,
        req: Request<v1::ListChannelsRequest>,
    ) -> Result<Response<v1::ListChannelsResponse>, Status> {
        self.require_own(&req, "read notification channels")?;
        let channels = channel::list(self.state.store.as_ref())?
            .iter()
            .map(channel_to_proto)
            .collect();
        Ok(Response::new(v1::ListChannelsResponse { channels }))
    }

    /// RemoveChannel.
    async fn remove_channel(
        &self,
        req: Request<v1::RemoveChannelRequest>,
    ) -> Result<Response<v1::NotifyChannel>, Status> {
        let c = self.require_own(&req, "manage notification channels")?;
        let ch = channel::remove(self.state.store.as_ref(), req.get_ref().name.trim())?;
        tracing::info!(channel = %ch.name, by = %c.identity, "notification channel removed");
        Ok(Response::new(channel_to_proto(&ch)))
    }

    /// TestChannel: sends now, outside the outbox.
    async fn test_channel(
        &self,
        req: Request<v1::TestChannelRequest>,
    ) -> Result<Response<v1::TestChannelResponse>, Status> {
        let c = self.require_own(&req, "test notification channels")?;
        let name = req.get_ref().name.trim().to_owned();
        let ch = channel::get(self.state.store.as_ref(), &name)?.ok_or_else(|| {
            Status::not_found(format!(
                "no channel named {name:?} (fenghuo notify channel list)"
            ))
        })?;
        let unit = crate::places::display(self.state.unit(), None);
        let m = Message {
            title: format!("【测试】烽火通知渠道 {name} · Fenghuo test message"),
            text: format!(
                "{unit} 的通知渠道可用。· This channel works. ({})",
                c.identity
            ),
            link: self.state.notifier.page_url().to_owned(),
            event: format!("test:{}", now_ms()),
        };
        let result = self.state.notifier.send(&ch, &m).await;
        tracing::info!(channel = %name, ok = result.is_ok(), by = %c.identity, "notification channel tested");
        Ok(Response::new(v1::TestChannelResponse {
            delivered: result.is_ok(),
            error: result.err().unwrap_or_default(),
        }))
    }

    /// ListDeliveries.
    async fn list_deliveries(
        &self,
        req: Request<v1::ListDeliveriesRequest>,
    ) -> Result<Response<v1::ListDeliveriesResponse>, Status> {
        self.require_own(&req, "read notification deliveries")?;
        let limit = match req.get_ref().limit {
            0 => 50,
            n => n.min(1000) as usize,
        };
        let deliveries = outbox::records(self.state.store.as_ref(), limit)?
            .into_iter()
            .map(delivery_to_proto)
            .collect();
        Ok(Response::new(v1::ListDeliveriesResponse { deliveries }))
    }
}
