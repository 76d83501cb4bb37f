//! The `Partners` service: the partner websites the province registers, at the gateway.

use std::sync::Arc;

use fenghuo_proto::v1::{self, partners_server::Partners};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_gateway_staff, Caller};
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
        added_at_ms: p.added_at_ms,
        delivered: f.delivered,
        acknowledged: f.acknowledged,
        answered: f.answered,
        mean_ms_to_acknowledge: f.mean_ms_to_acknowledge,
        mean_ms_to_outcome: f.mean_ms_to_outcome,
    }
}

impl PartnersService {
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

    /// ListPartners.
    async fn list_partners(
        &self,
        req: Request<v1::ListPartnersRequest>,
    ) -> Result<Response<v1::ListPartnersResponse>, Status> {
        self.require_province(&req)?;
        let store = self.state.store.as_ref();
        let figures = view::figures(&view::list(store)?, now_ms());
        let partners = partner::list(store)?
            .iter()
            .map(|p| partner_to_proto(p, &figures.get(&p.name).cloned().unwrap_or_default()))
            .collect();
        Ok(Response::new(v1::ListPartnersResponse { partners }))
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
