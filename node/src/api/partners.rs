//! The `Partners` service: the partner websites the province registers, at the gateway; and,
//! for a county, the enabled partners it may address (as the province declared them in its
//! feed: names, display names and what they handle, never secrets or webhooks).

use std::sync::Arc;

use fenghuo_proto::v1::{self, partners_server::Partners};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_gateway_staff, require_reader, Caller};
use crate::disposal::view::{self, PartnerFigures};
use crate::partner::{self, NewPartner, Partner};
use crate::state::NodeState;
use crate::timespec::now_ms;

/// Handlers of the `Partners` service.
#[derive(Debug, Clone)]
pub struct PartnersService {
    state: Arc<NodeState>,
}

impl PartnersService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    /// Publishes `p` in the province feed, so counties can check whom they address.
    async fn declare(&self, p: &Partner) -> Result<(), Status> {
        let cmd = crate::disposal::Command::DeclarePartner {
            name: p.name.clone(),
            display_name: p.display_name.clone(),
            disabled: p.disabled,
            handles: p.handles.clone(),
        };
        self.state
            .writer
            .submit(self.state.identity.path(), cmd)
            .await?;
        Ok(())
    }

    #[allow(clippy::result_large_err)]
    fn require_province<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        let c = caller(req)?;
        require_gateway_staff(&c, &self.state.identity, "partners")?;
        Ok(c)
    }
}

/// A partner as the API shows it (never its secret), with its delivery figures.
pub fn partner_to_proto(p: &Partner, f: &PartnerFigures) -> v1::Partner {
    v1::Partner {
        name: p.name.clone(),
        display_name: p.display_name.clone(),
        webhook_url: p.webhook_url.clone(),
        disabled: p.disabled,
        handles: p.handles.clone(),
        added_at_ms: p.added_at_ms,
        delivered: f.delivered,
        acknowledged: f.acknowledged,
        answered: f.answered,
        mean_ms_to_acknowledge: f.mean_ms_to_acknowledge,
        mean_ms_to_outcome: f.mean_ms_to_outcome,
    }
}

impl PartnersService {
    /// The enabled partners a county may address, as the province declared them: what its
    /// staff need to file a request, nothing of the gateway's own (secrets, webhooks,
    /// figures). For the node's own county's staff (and the province's), or, at the gateway,
    /// any county's of the province.
    #[allow(clippy::result_large_err)]
    fn addressable(&self, c: &Caller) -> Result<Response<v1::ListPartnersResponse>, Status> {
        let unit = self.state.unit();
        if unit.len() == 2 {
            let county = c
                .identity
                .unit()
                .filter(|u| u.is_county() && u.province_code() == unit);
            if county.is_none() {
                return Err(Status::permission_denied(format!(
                    "partners are listed for provincial staff and the counties of {unit}; you are {}",
                    c.identity
                )));
            }
        } else {
            require_reader(c, unit, "partners")?;
        }
        let partners = view::directory_all(self.state.store.as_ref())?
            .into_iter()
            .filter(|(_, e)| !e.disabled)
            .map(|(name, e)| v1::Partner {
                name,
                display_name: e.display_name,
                handles: e.handles,
                ..v1::Partner::default()
            })
            .collect();
        Ok(Response::new(v1::ListPartnersResponse {
            partners,
            addressable: true,
        }))
    }

    /// `p` with its figures.
    #[allow(clippy::result_large_err)]
    fn shown(&self, p: &Partner) -> Result<v1::Partner, Status> {
        let all = view::figures(&view::list(self.state.store.as_ref())?, now_ms());
        Ok(partner_to_proto(
            p,
            &all.get(&p.name).cloned().unwrap_or_default(),
        ))
    }
}

#[tonic::async_trait]
impl Partners for PartnersService {
    /// AddPartner.
    async fn add_partner(
        &self,
        req: Request<v1::AddPartnerRequest>,
    ) -> Result<Response<v1::Partner>, Status> {
        let c = self.require_province(&req)?;
        let r = req.into_inner();
        let p = partner::add(
            self.state.store.as_ref(),
            &NewPartner {
                name: r.name,
                display_name: r.display_name,
                handles: r.handles,
                webhook_url: r.webhook_url,
                webhook_secret: r.webhook_secret,
            },
            r.replace,
            &c.author(),
        )?;
        self.declare(&p).await?;
        tracing::info!(partner = %p.name, webhook = !p.webhook_url.is_empty(), by = %c.identity, "partner saved");
        Ok(Response::new(self.shown(&p)?))
    }

    /// ListPartners: for provincial staff at the gateway, every partner with its webhook and
    /// figures; for a county's staff (at its node or the gateway), whom they may address.
    async fn list_partners(
        &self,
        req: Request<v1::ListPartnersRequest>,
    ) -> Result<Response<v1::ListPartnersResponse>, Status> {
        let c = caller(&req)?;
        let unit = self.state.unit();
        if !(unit.len() == 2 && c.is_province(unit)) {
            return self.addressable(&c);
        }
        let store = self.state.store.as_ref();
        let figures = view::figures(&view::list(store)?, now_ms());
        let partners = partner::list(store)?
            .iter()
            .map(|p| partner_to_proto(p, &figures.get(&p.name).cloned().unwrap_or_default()))
            .collect();
        Ok(Response::new(v1::ListPartnersResponse {
            partners,
            addressable: false,
        }))
    }

    /// GetPartner.
    async fn get_partner(
        &self,
        req: Request<v1::GetPartnerRequest>,
    ) -> Result<Response<v1::Partner>, Status> {
        self.require_province(&req)?;
        let name = req.into_inner().name;
        let p = partner::require(self.state.store.as_ref(), name.trim())?;
        Ok(Response::new(self.shown(&p)?))
    }

    /// DisablePartner.
    async fn disable_partner(
        &self,
        req: Request<v1::GetPartnerRequest>,
    ) -> Result<Response<v1::Partner>, Status> {
        let c = self.require_province(&req)?;
        let name = req.into_inner().name;
        let p = partner::disable(self.state.store.as_ref(), name.trim())?;
        self.declare(&p).await?;
        tracing::info!(partner = %p.name, by = %c.identity, "partner disabled");
        Ok(Response::new(self.shown(&p)?))
    }
}
