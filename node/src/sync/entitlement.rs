//! Entitlement: may a node receive a feed? (receiver's relation to the origin) × audience.
//! Checked by the sender before it sends and by the receiver before it stores, both from
//! certificate identities, never from anything a peer says about itself.

use crate::feed::{Audience, FeedId};
use crate::identity::Identity;

/// True when `receiver` may hold `feed`. `named` says whether the feed's origin names the
/// receiver as one of its neighbouring counties (from configuration or its declaration).
pub fn may_receive(receiver: &Identity, feed: &FeedId, named: bool) -> bool {
    let Ok(origin) = Identity::from_path(&feed.origin) else {
        return false;
    };
    // Only nodes hold feeds: counties and the province, never people or partners.
    let (Some(o), Some(r)) = (node_unit(&origin), node_unit(receiver)) else {
        return false;
    };
    if o.province_code() != r.province_code() {
        return false;
    }
    let receiver_is_province = matches!(receiver, Identity::Province(_));
    match feed.audience {
        Audience::Local => false,
        Audience::Upstream => receiver_is_province || *receiver == origin,
        Audience::Neighbours => receiver_is_province || *receiver == origin || named,
        Audience::Province => true,
    }
}

/// How much of a node's federation status (`Federation.Feeds`, `Federation.Peers`) a caller
/// may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusView {
    /// The node itself, its own staff, and the province (its gateway and provincial staff,
    /// who run the federation): every feed head, every link with its address.
    Everything,
    /// Another county of the province (its node or its staff): the feeds this node would
    /// send that county's node, its own links with this node without their addresses, and
    /// nothing of the `local` feed, other links or node-wide counters.
    AsNode(Identity),
}

/// What `caller` sees of the federation status of `node`; `None` for anyone outside the
/// province (partners, other provinces), who see nothing.
pub fn status_view(caller: &Identity, node: &Identity) -> Option<StatusView> {
    let (Some(c), Some(n)) = (caller.unit(), node_unit(node)) else {
        return None;
    };
    if matches!(caller, Identity::Partner(_)) || c.province_code() != n.province_code() {
        return None;
    }
    if c == n || !c.is_county() {
        return Some(StatusView::Everything);
    }
    Some(StatusView::AsNode(Identity::County(c.clone())))
}

fn node_unit(id: &Identity) -> Option<&crate::identity::DivisionCode> {
    match id {
        Identity::County(c) | Identity::Province(c) => Some(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(origin: &str, audience: Audience) -> FeedId {
        FeedId::new(origin, audience)
    }

    fn county(c: &str) -> Identity {
        Identity::county(c).unwrap()
    }

    #[test]
    fn the_matrix() {
        let gw = Identity::province("51").unwrap();
        let b = county("510105");
        let c = county("510106");
        let a = "county/510104";
        // local never leaves.
        for r in [&gw, &b, &c] {
            assert!(!may_receive(r, &feed(a, Audience::Local), true));
        }
        // upstream: the province only.
        assert!(may_receive(&gw, &feed(a, Audience::Upstream), false));
        assert!(!may_receive(&b, &feed(a, Audience::Upstream), true));
        // neighbours: named counties and the province.
        assert!(may_receive(&gw, &feed(a, Audience::Neighbours), false));
        assert!(may_receive(&b, &feed(a, Audience::Neighbours), true));
        assert!(!may_receive(&c, &feed(a, Audience::Neighbours), false));
        // province: everyone in the province.
        for r in [&gw, &b, &c] {
            assert!(may_receive(r, &feed(a, Audience::Province), false));
        }
    }

    #[test]
    fn other_provinces_people_and_partners_receive_nothing() {
        let f = feed("county/510104", Audience::Province);
        assert!(!may_receive(&county("110101"), &f, true));
        assert!(!may_receive(&Identity::province("11").unwrap(), &f, true));
        assert!(!may_receive(
            &Identity::staff("510104", "zhang").unwrap(),
            &f,
            true
        ));
        assert!(!may_receive(&Identity::partner("weibo").unwrap(), &f, true));
        assert!(!may_receive(
            &county("510105"),
            &feed("staff/510104/zhang", Audience::Province),
            true
        ));
    }

    #[test]
    fn who_sees_how_much_of_a_nodes_status() {
        let a = county("510104");
        let id = |s: &str| s.parse::<Identity>().unwrap();
        for everything in [
            "fenghuo://county/510104",
            "fenghuo://staff/510104/zhang",
            "fenghuo://province/51",
            "fenghuo://staff/51/wang",
        ] {
            assert_eq!(
                status_view(&id(everything), &a),
                Some(StatusView::Everything),
                "{everything}"
            );
        }
        for neighbour in ["fenghuo://county/510105", "fenghuo://staff/510105/li"] {
            assert_eq!(
                status_view(&id(neighbour), &a),
                Some(StatusView::AsNode(county("510105"))),
                "{neighbour}"
            );
        }
        for nobody in [
            "fenghuo://partner/weibo",
            "fenghuo://staff/110101/x",
            "fenghuo://province/11",
        ] {
            assert_eq!(status_view(&id(nobody), &a), None, "{nobody}");
        }
        // At the gateway, a county's staff see what the gateway would send their county.
        assert_eq!(
            status_view(
                &id("fenghuo://staff/510104/zhang"),
                &Identity::province("51").unwrap()
            ),
            Some(StatusView::AsNode(a.clone()))
        );
    }

    #[test]
    fn an_origin_may_get_its_own_feeds_back_but_not_local() {
        let a = county("510104");
        assert!(may_receive(
            &a,
            &feed("county/510104", Audience::Upstream),
            false
        ));
        assert!(!may_receive(
            &a,
            &feed("county/510104", Audience::Local),
            false
        ));
    }
}
