//! Authentication and authorization from the certificate identity only, never from a field
//! in the request. An interceptor turns the connection's [`PeerInfo`] into a [`Caller`].

use tonic::{Request, Status};

use crate::identity::Identity;
use crate::pki::standing::PeerInfo;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who the client certificate names.
    pub identity: Identity,
}

impl Caller {
    /// The identity path recorded as author of what the caller writes.
    pub fn author(&self) -> String {
        self.identity.path()
    }

    /// True when the caller acts for `unit`: its own node, or a staff member of it.
    pub fn acts_for(&self, unit: &str) -> bool {
        match &self.identity {
            Identity::County(c) | Identity::Province(c) => c.as_str() == unit,
            Identity::Staff { unit: u, .. } => u.as_str() == unit,
            Identity::Partner(_) => false,
        }
    }

    /// True when the caller acts for the province `province` (its gateway or its staff).
    pub fn is_province(&self, province: &str) -> bool {
        match &self.identity {
            Identity::Province(c) => c.as_str() == province,
            Identity::Staff { unit, .. } => !unit.is_county() && unit.as_str() == province,
            _ => false,
        }
    }
}

/// Refuses anyone but `unit`'s own staff (and node): they alone write in its name.
#[allow(clippy::result_large_err)]
pub fn require_own(c: &Caller, unit: &str, what: &str) -> Result<(), Status> {
    if c.acts_for(unit) {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "only {unit}'s own staff may {what}; you are {}",
            c.identity
        )))
    }
}

/// Refuses anyone but `unit`'s own staff and the province: who may read its node.
#[allow(clippy::result_large_err)]
pub fn require_reader(c: &Caller, unit: &str, what: &str) -> Result<(), Status> {
    let province = unit.get(..2).unwrap_or_default();
    if c.acts_for(unit) || c.is_province(province) {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "the {what} of {unit} are readable by its own staff and the province; you are {}",
            c.identity
        )))
    }
}

/// Refuses anything but the gateway (`node`) itself and provincial staff: who manage what
/// only the gateway keeps (dashboard accounts, partners).
#[allow(clippy::result_large_err)]
pub fn require_gateway_staff(c: &Caller, node: &Identity, what: &str) -> Result<(), Status> {
    let Identity::Province(province) = node else {
        return Err(Status::failed_precondition(format!(
            "{what} live at the provincial gateway; point --node at it"
        )));
    };
    if c.is_province(province.as_str()) {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "only the gateway's own certificate or provincial staff manage {what}; you are {}",
            c.identity
        )))
    }
}

/// Interceptor: requires a verified peer whose certificate still stands (not revoked or
/// expired since the handshake) and attaches its [`Caller`].
#[allow(clippy::result_large_err)]
pub fn authenticate(mut req: Request<()>) -> Result<Request<()>, Status> {
    let peer = req.extensions().get::<PeerInfo>().ok_or_else(|| {
        Status::unauthenticated("a client certificate from the provincial CA is required")
    })?;
    // One atomic load and a clock read: the chain itself was verified at the handshake and is
    // re-verified by the connection's watcher whenever the CRL changes.
    if let Some(lapse) = peer.standing.lapse() {
        peer.standing.refused();
        tracing::warn!(peer = %peer.identity, %lapse, "request refused: the caller's certificate no longer stands");
        return Err(Status::unauthenticated(
            lapse.message(&peer.identity, &peer.certificate),
        ));
    }
    let identity = peer.identity.clone();
    // The request span (see `server::serve`) declares this field.
    tracing::Span::current().record("caller", identity.path().as_str());
    req.extensions_mut().insert(Caller { identity });
    Ok(req)
}

/// The caller attached by [`authenticate`].
#[allow(clippy::result_large_err)]
pub fn caller<T>(req: &Request<T>) -> Result<Caller, Status> {
    req.extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no authenticated caller"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(uri: &str) -> Caller {
        Caller {
            identity: uri.parse().unwrap(),
        }
    }

    #[test]
    fn who_acts_for_whom() {
        assert!(c("fenghuo://staff/510104/zhang").acts_for("510104"));
        assert!(c("fenghuo://county/510104").acts_for("510104"));
        assert!(!c("fenghuo://staff/510105/li").acts_for("510104"));
        assert!(!c("fenghuo://partner/weibo").acts_for("510104"));
        assert!(c("fenghuo://staff/51/wang").is_province("51"));
        assert!(!c("fenghuo://staff/510104/zhang").is_province("51"));
    }
}
