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
