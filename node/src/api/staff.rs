//! The `Staff` service: dashboard accounts at the provincial gateway.

use std::sync::Arc;

use fenghuo_proto::v1::{self, staff_server::Staff};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_gateway_staff, Caller};
use crate::accounts::{self, Account};
use crate::state::NodeState;
use crate::wire::{role_from_proto, role_to_proto};

/// Handlers of the `Staff` service.
#[derive(Debug, Clone)]
pub struct StaffService {
    state: Arc<NodeState>,
}

impl StaffService {
    /// Handlers over `state`.
    pub fn new(state: Arc<NodeState>) -> Self {
        Self { state }
    }

    /// Only the gateway keeps accounts, and only the province manages them.
    #[allow(clippy::result_large_err)]
    fn require_province<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        let c = caller(req)?;
        require_gateway_staff(&c, &self.state.identity, "dashboard accounts")?;
        Ok(c)
    }
}

fn account_to_proto(a: &Account) -> v1::StaffAccount {
    v1::StaffAccount {
        name: a.name.clone(),
        role: role_to_proto(a.role) as i32,
        created_at_ms: a.created_at_ms,
        created_by: a.created_by.clone(),
    }
}

#[tonic::async_trait]
impl Staff for StaffService {
    /// AddStaff: hashing is slow on purpose, so it runs off the executor.
    async fn add_staff(
        &self,
        req: Request<v1::AddStaffRequest>,
    ) -> Result<Response<v1::StaffAccount>, Status> {
        let c = self.require_province(&req)?;
        let r = req.into_inner();
        let role = role_from_proto(r.role)
            .ok_or_else(|| Status::invalid_argument("role: give viewer, analyst or admin"))?;
        let store = self.state.store.clone();
        let by = c.identity.uri();
        let account = tokio::task::spawn_blocking(move || {
            accounts::add(store.as_ref(), &r.name, role, &r.password, r.replace, &by)
        })
        .await
        .map_err(|e| Status::internal(format!("hashing task failed: {e}")))??;
        tracing::info!(staff = %account.name, role = %account.role, by = %c.identity, "staff account saved");
        Ok(Response::new(account_to_proto(&account)))
    }

    /// ListStaff: by name.
    async fn list_staff(
        &self,
        req: Request<v1::ListStaffRequest>,
    ) -> Result<Response<v1::ListStaffResponse>, Status> {
        self.require_province(&req)?;
        let accounts = accounts::list(self.state.store.as_ref())?
            .iter()
            .map(account_to_proto)
            .collect();
        Ok(Response::new(v1::ListStaffResponse { accounts }))
    }

    /// RemoveStaff: the dashboard checks the account on every request, so its sessions end.
    async fn remove_staff(
        &self,
        req: Request<v1::RemoveStaffRequest>,
    ) -> Result<Response<v1::StaffAccount>, Status> {
        let c = self.require_province(&req)?;
        let name = req.into_inner().name;
        let account = accounts::remove(self.state.store.as_ref(), name.trim())?;
        tracing::info!(staff = %account.name, by = %c.identity, "staff account removed");
        Ok(Response::new(account_to_proto(&account)))
    }
}
