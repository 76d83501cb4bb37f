//! Authentication and authorization from the certificate identity only, never from a field
//! in the request. An interceptor turns the connection's [`PeerInfo`] into a [`Caller`].

use tonic::{Request, Status};

use crate::identity::Identity;
use crate::pki::standing::PeerInfo;
use crate::sync::entitlement::{status_view, StatusView};

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
            Identity::Partner(_) | Identity::Intake { .. } => false,
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

/// Refuses anyone who may not manage the web accounts of `node`: at the gateway its own
/// certificate and provincial staff ([`require_gateway_staff`]); at a county node its own
/// certificate and the county's staff. Anyone else (another county's staff, the province)
/// gets `PERMISSION_DENIED` naming who may.
#[allow(clippy::result_large_err)]
pub fn require_account_manager(c: &Caller, node: &Identity) -> Result<(), Status> {
    match node {
        Identity::County(county) if c.acts_for(county.as_str()) => Ok(()),
        Identity::County(county) => Err(Status::permission_denied(format!(
            "the web accounts of county {county} are managed with its node's certificate \
             (county/{county}) or its staff's (staff/{county}/…); you are {}",
            c.identity
        ))),
        _ => require_gateway_staff(c, node, "dashboard accounts"),
    }
}

/// Refuses anything but the node's own certificate (`node`), which only its operator holds;
/// `what` says what is done with it, e.g. `backups are taken`.
#[allow(clippy::result_large_err)]
pub fn require_node_itself(c: &Caller, node: &Identity, what: &str) -> Result<(), Status> {
    if c.identity == *node {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "{what} with the node's own certificate ({node}), not {}",
            c.identity
        )))
    }
}

/// Refuses anything but county nodes and the gateway of `province`: who sync with a node.
/// Staff and partners never sync, and no node of another province.
#[allow(clippy::result_large_err)]
pub fn require_sync_peer(c: &Caller, province: &str) -> Result<(), Status> {
    let same_province = c
        .identity
        .unit()
        .is_some_and(|u| u.province_code() == province);
    if matches!(c.identity, Identity::County(_) | Identity::Province(_)) && same_province {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "only county nodes and the gateway of province {province} sync; you are {}",
            c.identity
        )))
    }
}

/// How much of the federation status of `node` the caller sees ([`status_view`]); refuses
/// anyone outside its province (partners, other provinces).
#[allow(clippy::result_large_err)]
pub fn require_federation_member(c: &Caller, node: &Identity) -> Result<StatusView, Status> {
    status_view(&c.identity, node).ok_or_else(|| {
        Status::permission_denied(format!(
            "federation status is for members of province {}; you are {}",
            node.unit().map_or("", |u| u.province_code()),
            c.identity
        ))
    })
}

/// The calling partner's name; refuses every other certificate, and any node but a
/// provincial gateway (`node`), the only one partners are served by.
#[allow(clippy::result_large_err)]
pub fn require_partner<'a>(c: &'a Caller, node: &Identity) -> Result<&'a str, Status> {
    let Identity::Partner(name) = &c.identity else {
        return Err(Status::permission_denied(format!(
            "PartnerService is for partner websites' certificates; you are {}",
            c.identity
        )));
    };
    if !matches!(node, Identity::Province(_)) {
        return Err(Status::failed_precondition(
            "partners talk to the provincial gateway only",
        ));
    }
    Ok(name)
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

/// Refuses (`PERMISSION_DENIED`) anyone but the node's own certificate or a staff
/// certificate of this county whose account here is a leader's, where the county requires a
/// leader's sign-off of `what` (`closures`, `reports`).
#[allow(clippy::result_large_err)]
pub fn require_leader(
    c: &Caller,
    store: &dyn crate::store::Store,
    node: &Identity,
    what: &str,
) -> Result<(), Status> {
    if c.identity == *node {
        return Ok(());
    }
    if let (Identity::County(county), Identity::Staff { unit, name }) = (node, &c.identity) {
        if unit == county
            && matches!(
                crate::accounts::get(store, name),
                Ok(Some(a)) if a.role == crate::accounts::Role::Leader
            )
        {
            return Ok(());
        }
    }
    Err(Status::permission_denied(format!(
        "this county requires a leader's sign-off of {what} (分管领导签批): use a leader's \
         certificate, whose account here has the role leader, or the node's own (closures can \
         also be proposed on the county's pages); you are {}",
        c.identity
    )))
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
    fn each_helper_lets_in_only_whom_it_names() {
        let county: Identity = "fenghuo://county/510104".parse().unwrap();
        let gateway: Identity = "fenghuo://province/51".parse().unwrap();
        assert!(
            require_node_itself(&c("fenghuo://county/510104"), &county, "backups are taken")
                .is_ok()
        );
        let refused = require_node_itself(
            &c("fenghuo://staff/510104/zhang"),
            &county,
            "backups are taken",
        )
        .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(refused
            .message()
            .starts_with("backups are taken with the node's own certificate"));

        assert!(require_sync_peer(&c("fenghuo://county/510105"), "51").is_ok());
        assert!(require_sync_peer(&c("fenghuo://province/51"), "51").is_ok());
        for other in [
            "fenghuo://staff/510104/zhang",
            "fenghuo://partner/weibo",
            "fenghuo://county/520102",
        ] {
            assert_eq!(
                require_sync_peer(&c(other), "51").unwrap_err().code(),
                tonic::Code::PermissionDenied,
                "{other}"
            );
        }

        assert!(matches!(
            require_federation_member(&c("fenghuo://staff/51/wang"), &county),
            Ok(StatusView::Everything)
        ));
        let refused =
            require_federation_member(&c("fenghuo://partner/weibo"), &county).unwrap_err();
        assert!(
            refused.message().contains("members of province 51"),
            "{}",
            refused.message()
        );

        let partner = c("fenghuo://partner/weibo");
        assert_eq!(require_partner(&partner, &gateway).ok(), Some("weibo"));
        assert_eq!(
            require_partner(&partner, &county).unwrap_err().code(),
            tonic::Code::FailedPrecondition
        );
        assert_eq!(
            require_partner(&c("fenghuo://county/510104"), &gateway)
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied
        );
    }

    #[test]
    fn a_countys_accounts_are_its_own_and_the_gateways_the_provinces() {
        let county: Identity = "fenghuo://county/510104".parse().unwrap();
        let gateway: Identity = "fenghuo://province/51".parse().unwrap();
        for ok in ["fenghuo://county/510104", "fenghuo://staff/510104/lin"] {
            assert!(require_account_manager(&c(ok), &county).is_ok(), "{ok}");
        }
        for other in [
            "fenghuo://staff/510105/li",
            "fenghuo://county/510105",
            "fenghuo://staff/51/wang",
            "fenghuo://province/51",
        ] {
            let refused = require_account_manager(&c(other), &county).unwrap_err();
            assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{other}");
            assert!(
                refused
                    .message()
                    .contains("county/510104) or its staff's (staff/510104/…)"),
                "{}",
                refused.message()
            );
        }
        assert!(require_account_manager(&c("fenghuo://staff/51/wang"), &gateway).is_ok());
        assert_eq!(
            require_account_manager(&c("fenghuo://staff/510104/lin"), &gateway)
                .unwrap_err()
                .code(),
            tonic::Code::PermissionDenied
        );
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
