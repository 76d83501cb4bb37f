//! Candidate incidents: items that probably belong together, so an officer triages them as
//! one. Items from the same account (platform and account) share a key; items without an
//! account share one when they come from the same URL family (host and first path segment:
//! `news.example/society`). An item has one key, its account's when it has an account.

use super::dedupe::url_key;

/// How the key of an account's group starts; what follows is `<platform>:<account>`.
pub const ACCOUNT_PREFIX: &str = "account:";

/// The candidate-incident key of an item: `account:<platform>:<account>` (both in lower
/// case, the account without a leading `@`), or `site:<host>/<first path segment>` from the
/// normalised URL when there is no account.
pub fn incident_key(platform: &str, account: &str, url: &str) -> String {
    let account = account.trim().trim_start_matches('@').to_lowercase();
    if !account.is_empty() {
        let platform = platform.trim().to_lowercase();
        return format!("{ACCOUNT_PREFIX}{platform}:{account}");
    }
    let key = url_key(url);
    let host_path = key.split('?').next().unwrap_or_default();
    let mut parts = host_path.splitn(3, '/');
    let host = parts.next().unwrap_or_default();
    match parts.next().filter(|s| !s.is_empty()) {
        Some(first) => format!("site:{host}/{first}"),
        None => format!("site:{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_account_groups_whatever_the_url() {
        let a = incident_key("weibo", "@Zhang_San", "https://weibo.com/u/1/p/2");
        let b = incident_key("Weibo", "zhang_san", "https://m.weibo.cn/detail/9");
        assert_eq!(a, b);
        assert_eq!(a, "account:weibo:zhang_san");
        assert_ne!(
            a,
            incident_key("douyin", "zhang_san", "https://weibo.com/u/1/p/2")
        );
        assert_ne!(
            a,
            incident_key("weibo", "li_si", "https://weibo.com/u/1/p/2")
        );
    }

    #[test]
    fn without_an_account_the_url_family_groups() {
        let a = incident_key(
            "news",
            "",
            "https://www.News.example/society/2026/1.html?utm_x=1",
        );
        let b = incident_key("news", " ", "http://news.example/society/2026/7.html#top");
        assert_eq!(a, b);
        assert_eq!(a, "site:news.example/society");
        assert_ne!(
            a,
            incident_key("news", "", "https://news.example/sports/1.html")
        );
        assert_eq!(
            incident_key("bbs", "", "https://bbs.example/?t=1"),
            "site:bbs.example"
        );
    }
}
