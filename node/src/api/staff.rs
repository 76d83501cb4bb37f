//! The `Staff` service: the web accounts of the node it runs on (the gateway's dashboard, or a
//! county node's pages), managed by that node's own people.

use std::sync::Arc;

use fenghuo_proto::v1::{self, staff_server::Staff};
use tonic::{Request, Response, Status};

use super::auth::{caller, require_account_manager, Caller};
use crate::accounts::{self, Account, NewAccount};
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

    /// Each node's accounts are managed by its own people: the gateway's by the province, a
    /// county's by the county.
    #[allow(clippy::result_large_err)]
    fn require_manager<T>(&self, req: &Request<T>) -> Result<Caller, Status> {
        let c = caller(req)?;
        require_account_manager(&c, &self.state.identity)?;
        Ok(c)
    }
}

fn account_to_proto(a: &Account) -> v1::StaffAccount {
    v1::StaffAccount {
        name: a.name.clone(),
        role: role_to_proto(a.role) as i32,
        created_at_ms: a.created_at_ms,
        created_by: a.created_by.clone(),
        display_name: a.display_name.clone(),
        department: a.department.clone(),
    }
}

#[tonic::async_trait]
impl Staff for StaffService {
    /// AddStaff: hashing is slow on purpose, so it runs off the executor.
    async fn add_staff(
        &self,
        req: Request<v1::AddStaffRequest>,
    ) -> Result<Response<v1::StaffAccount>, Status> {
        let c = self.require_manager(&req)?;
        let unit = self
            .state
            .identity
            .unit()
            .cloned()
            .ok_or_else(|| Status::internal("this node has no division code"))?;
        let r = req.into_inner();
        let role = role_from_proto(r.role).ok_or_else(|| {
            let roles: Vec<String> = accounts::Role::at(&unit)
                .iter()
                .map(|r| r.labelled())
                .collect();
            Status::invalid_argument(format!("role: give one of {}", roles.join(", ")))
        })?;
        let store = self.state.store.clone();
        let new = NewAccount {
            name: r.name,
            role,
            password: r.password,
            display_name: r.display_name,
            department: r.department,
            replace: r.replace,
            by: c.identity.uri(),
        };
        let account =
            tokio::task::spawn_blocking(move || accounts::save(store.as_ref(), &unit, new))
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
        self.require_manager(&req)?;
        let accounts = accounts::list(self.state.store.as_ref())?
            .iter()
            .map(account_to_proto)
            .collect();
        Ok(Response::new(v1::ListStaffResponse { accounts }))
    }

    /// RemoveStaff: the pages check the account on every request, so its sessions end.
    async fn remove_staff(
        &self,
        req: Request<v1::RemoveStaffRequest>,
    ) -> Result<Response<v1::StaffAccount>, Status> {
        let c = self.require_manager(&req)?;
        let name = req.into_inner().name;
        let account = accounts::remove(self.state.store.as_ref(), name.trim())?;
        tracing::info!(staff = %account.name, by = %c.identity, "staff account removed");
        Ok(Response::new(account_to_proto(&account)))
    }
}
