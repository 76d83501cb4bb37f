//! What makes two observations one item: the same normalised URL, or the same text.
//!
//! URLs are normalised by the rule linked risks use ([`source_key`]: no scheme, no `www.`,
//! no fragment, no `utm_` tracking parameters, no trailing slash, host in lower case), so an
//! item and a risk promoted from it are keyed alike. Text is compared by a SHA-256 of its
//! whitespace-normalised form; a text shorter than [`MIN_HASHED_CHARS`] gets no hash, since
//! "转发微博" or "顶" under two different posts are not the same item.

use sha2::{Digest, Sha256};

use crate::domain::risk::source_key;

/// Shortest normalised text (in characters) that is deduplicated by its content hash.
pub const MIN_HASHED_CHARS: usize = 10;

/// The normalised form of a (checked) URL: the key of URL deduplication.
pub fn url_key(url: &str) -> String {
    source_key(url).unwrap_or_else(|| url.to_owned())
}

/// The text with every run of whitespace (line ends included) made one space, trimmed.
pub fn normalise_text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The SHA-256 (hex) of the whitespace-normalised text, or `None` when that text is shorter
/// than [`MIN_HASHED_CHARS`].
pub fn content_hash(text: &str) -> Option<String> {
    let normal = normalise_text(text);
    if normal.chars().count() < MIN_HASHED_CHARS {
        return None;
    }
    Some(hex::encode(Sha256::digest(normal.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_differing_by_scheme_www_fragment_tracking_or_slash_share_a_key() {
        let key = url_key("https://weibo.com/u/1/p/2");
        for variant in [
            "http://www.weibo.com/u/1/p/2",
            "https://WWW.Weibo.com/u/1/p/2/",
            "https://weibo.com/u/1/p/2#comments",
            "https://weibo.com/u/1/p/2?utm_source=wx&utm_medium=share",
        ] {
            assert_eq!(url_key(variant), key, "{variant}");
        }
        assert_ne!(url_key("https://weibo.com/u/1/p/3"), key);
        assert_ne!(
            url_key("https://bbs.example/t?id=1"),
            url_key("https://bbs.example/t?id=2")
        );
    }

    #[test]
    fn texts_differing_only_by_whitespace_share_a_hash() {
        let a = content_hash("某村拆迁补偿款 迟迟未发放,村民聚集").unwrap();
        let b = content_hash("  某村拆迁补偿款\n\n迟迟未发放,村民聚集 ").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(
            content_hash("某村拆迁补偿款迟迟未发放,村民聚集").unwrap(),
            a
        );
        assert_eq!(content_hash("转发微博"), None);
    }
}
