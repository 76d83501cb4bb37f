//! The one mapping from domain errors to gRPC status codes, with messages a person can act on.

use tonic::Status;

use crate::accounts::AccountError;
use crate::comms::CommsError;
use crate::disposal::DisposalError;
use crate::notifications::NotifyError;
use crate::partner::PartnerError;
use crate::register::RegisterError;
use crate::store::StoreError;
use crate::writer::WriteError;

impl From<RegisterError> for Status {
    fn from(e: RegisterError) -> Self {
        match &e {
            RegisterError::InvalidField { .. } | RegisterError::Grading(_) => {
                Status::invalid_argument(e.to_string())
            }
            RegisterError::RiskNotFound(_) | RegisterError::MeasureNotFound { .. } => {
                Status::not_found(e.to_string())
            }
            RegisterError::Transition(_) | RegisterError::Precondition(_) => {
                Status::failed_precondition(e.to_string())
            }
            RegisterError::Store(s) => s.clone().into(),
        }
    }
}

impl From<CommsError> for Status {
    fn from(e: CommsError) -> Self {
        match &e {
            CommsError::InvalidField { .. } => Status::invalid_argument(e.to_string()),
            CommsError::NotFound(_) => Status::not_found(e.to_string()),
            CommsError::NotYours(_) => Status::permission_denied(e.to_string()),
            CommsError::Precondition(_) => Status::failed_precondition(e.to_string()),
            CommsError::Store(s) => s.clone().into(),
        }
    }
}

impl From<DisposalError> for Status {
    fn from(e: DisposalError) -> Self {
        match &e {
            DisposalError::InvalidField { .. } => Status::invalid_argument(e.to_string()),
            DisposalError::NotFound(_) => Status::not_found(e.to_string()),
            DisposalError::NotYours(_) => Status::permission_denied(e.to_string()),
            DisposalError::Precondition(_) => Status::failed_precondition(e.to_string()),
            DisposalError::Store(s) => s.clone().into(),
        }
    }
}

impl From<PartnerError> for Status {
    fn from(e: PartnerError) -> Self {
        match &e {
            PartnerError::Field { .. } => Status::invalid_argument(e.to_string()),
            PartnerError::Exists(_) => Status::already_exists(e.to_string()),
            PartnerError::NotFound(_) => Status::not_found(e.to_string()),
            PartnerError::Store(s) => s.clone().into(),
        }
    }
}

impl From<AccountError> for Status {
    fn from(e: AccountError) -> Self {
        match &e {
            AccountError::Name(_)
            | AccountError::Role(_)
            | AccountError::RoleNotHere { .. }
            | AccountError::Password
            | AccountError::Text { .. } => Status::invalid_argument(e.to_string()),
            AccountError::Exists(_) => Status::already_exists(e.to_string()),
            AccountError::NotFound(_) => Status::not_found(e.to_string()),
            AccountError::Hash(_) => Status::internal(e.to_string()),
            AccountError::Store(s) => s.clone().into(),
        }
    }
}

impl From<StoreError> for Status {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failure");
        Status::internal(format!("the node could not read or write its store: {e}"))
    }
}

impl From<WriteError> for Status {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Refused(r) => r.into(),
            WriteError::Comms(c) => c.into(),
            WriteError::Disposal(d) => d.into(),
            WriteError::Invalid(c) => Status::invalid_argument(c.to_string()),
            WriteError::Stopped => Status::unavailable("the node is shutting down; retry shortly"),
            e @ WriteError::ReadOnly { .. } => Status::failed_precondition(e.to_string()),
            e @ WriteError::CatchingUp => Status::unavailable(e.to_string()),
        }
    }
}

impl From<NotifyError> for Status {
    fn from(e: NotifyError) -> Self {
        match &e {
            NotifyError::Invalid { .. } => Status::invalid_argument(e.to_string()),
            NotifyError::NotFound { .. } => Status::not_found(e.to_string()),
            NotifyError::Exists { .. } => Status::already_exists(e.to_string()),
            NotifyError::InUse { .. } => Status::failed_precondition(e.to_string()),
            NotifyError::Store(s) => s.clone().into(),
        }
    }
}
