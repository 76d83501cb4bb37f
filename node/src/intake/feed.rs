//! RSS and Atom feeds as observations: the entries of one pulled feed (RSS 0.x/1.0/2.0 or
//! Atom, read by `feed-rs`), each made an [`Observation`] of the feed's configured system
//! and platform. Pure: fetching, conditional GET and backoff are the pull worker's
//! (`services::intake_pull`).
//!
//! An entry's text is its title and its summary (else its content) with HTML tags removed
//! and entities decoded, so watch rules and content deduplication read what a person reads.

use sha2::{Digest, Sha256};

use crate::event::check::{MAX_NAME, MAX_SHORT, MAX_TEXT};

use super::observation::{Engagement, Observation};

/// Why a feed's bytes are not a feed.
#[derive(Debug, thiserror::Error)]
#[error("not an RSS or Atom feed: {0}")]
pub struct FeedError(String);

/// What one feed document held.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// An observation per entry with an http(s) link, in the feed's order.
    pub observations: Vec<Observation>,
    /// Entries skipped for having no http(s) link: there is nothing to deduplicate or open.
    pub without_link: usize,
}

/// The entries of the feed document `bytes` as observations of system `system` on platform
/// `platform` (both as configured for the feed). An entry without a publication or update
/// time, or with one after `now_ms`, is taken as captured at `now_ms`.
pub fn parse(bytes: &[u8], system: &str, platform: &str, now_ms: i64) -> Result<Parsed, FeedError> {
    // An entry without an id (an RSS item without a guid) is identified by its link, so the
    // same item pulled again is the same submission; feed-rs would otherwise hash the title.
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|links, _title, _uri| {
            entry_link(links).map(str::to_owned).unwrap_or_default()
        })
        .build();
    let feed = parser.parse(bytes).map_err(|e| FeedError(e.to_string()))?;
    let mut parsed = Parsed::default();
    for entry in feed.entries {
        let Some(url) = entry_link(&entry.links).map(str::to_owned) else {
            parsed.without_link += 1;
            continue;
        };
        let title = entry
            .title
            .map(|t| plain_text(&t.content))
            .unwrap_or_default();
        let body = entry
            .summary
            .map(|s| s.content)
            .or_else(|| entry.content.and_then(|c| c.body))
            .map(|b| plain_text(&b))
            .unwrap_or_default();
        let text = match (title.is_empty(), body.is_empty()) {
            (_, true) => title,
            (true, false) => body,
            // A summary that repeats the title (common in RSS) is not said twice.
            (false, false) if body.starts_with(&title) => body,
            (false, false) => format!("{title}\n{body}"),
        };
        let captured_at_ms = entry
            .published
            .or(entry.updated)
            .map(|t| t.timestamp_millis())
            .filter(|t| *t > 0)
            .map_or(now_ms, |t| t.min(now_ms));
        let account = entry
            .authors
            .first()
            .map(|p| plain_text(&p.name))
            .unwrap_or_default();
        let id = if entry.id.trim().is_empty() {
            url.clone()
        } else {
            entry.id.trim().to_owned()
        };
        parsed.observations.push(Observation {
            url,
            platform: platform.to_owned(),
            account: truncate(&account, MAX_SHORT),
            text: truncate(&text, MAX_TEXT),
            captured_at_ms,
            engagement: Engagement::default(),
            keywords: Vec::new(),
            system: system.to_owned(),
            system_id: short_id(id),
        });
    }
    Ok(parsed)
}

/// The entry's page: its first http(s) link that is not a related resource (`alternate`,
/// or no `rel`), else its first http(s) link at all.
fn entry_link(links: &[feed_rs::model::Link]) -> Option<&str> {
    let http = |l: &&feed_rs::model::Link| {
        let h = l.href.trim();
        h.starts_with("http://") || h.starts_with("https://")
    };
    links
        .iter()
        .filter(http)
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .or_else(|| links.iter().find(http))
        .map(|l| l.href.trim())
}

/// An id longer than an observation's `system_id` may be is replaced by its hash: a guid
/// that is a long URL still identifies its entry.
fn short_id(id: String) -> String {
    if id.chars().count() <= MAX_NAME {
        id
    } else {
        format!("sha256:{}", hex::encode(Sha256::digest(id.as_bytes())))
    }
}

/// The first `max` characters of `s`.
fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((at, _)) => s[..at].trim_end().to_owned(),
        None => s.to_owned(),
    }
}

/// HTML as the text a reader sees: tags removed (the content of `script` and `style` with
/// them), entities decoded, control characters dropped, runs of blanks made one space and
/// block ends line breaks. Plain text passes through unchanged but for the entities.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&decode_entities(&rest[..lt]));
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            // A lone `<` is text ("a < b").
            out.push('<');
            rest = after;
            continue;
        };
        let tag = after[..gt].trim_start_matches('/').trim();
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &after[gt + 1..];
        if (name == "script" || name == "style") && !after.starts_with('/') {
            let close = format!("</{name}");
            rest = match rest.to_ascii_lowercase().find(&close) {
                Some(end) => rest[end..].find('>').map_or("", |g| &rest[end + g + 1..]),
                None => "",
            };
            continue;
        }
        if matches!(
            name.as_str(),
            "br" | "p"
                | "div"
                | "li"
                | "tr"
                | "h1"
                | "h2"
                | "h3"
                | "h4"
                | "h5"
                | "h6"
                | "blockquote"
        ) {
            out.push('\n');
        } else if name.is_empty() && !tag.starts_with('!') {
            // Not a tag after all ("1 <2 >0"): keep it as text.
            out.push('<');
            out.push_str(&after[..gt + 1]);
        }
    }
    out.push_str(&decode_entities(rest));
    tidy(&out)
}

/// Blanks collapsed within lines, blank lines dropped, control characters removed.
fn tidy(s: &str) -> String {
    s.lines()
        .map(|line| {
            line.split(|c: char| c.is_whitespace() || c.is_control())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `&amp;`, `&#20013;`, `&#x4e2d;` and the common named entities decoded; an unknown one is
/// left as written.
fn decode_entities(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let decoded = after.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let name = &after[..semi];
            let c = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok().and_then(char::from_u32)
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse().ok().and_then(char::from_u32)
            } else {
                named_entity(name)
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" | "ensp" | "emsp" | "thinsp" => ' ',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "ldquo" => '“',
        "rdquo" => '”',
        "lsquo" => '‘',
        "rsquo" => '’',
        "middot" => '·',
        "copy" => '©',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::observation::tests::NOW;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>某县论坛</title>
  <link>https://bbs.example.cn/</link>
  <description>民生版</description>
  <item>
    <title>某村拆迁补偿款迟迟未发放</title>
    <link>https://bbs.example.cn/t/1001</link>
    <guid isPermaLink="false">bbs-1001</guid>
    <dc:creator>张三</dc:creator>
    <description>&lt;p&gt;村民反映&amp;nbsp;补偿款&lt;b&gt;至今&lt;/b&gt;未到位&amp;hellip;&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</description>
    <pubDate>Mon, 07 Dec 2026 01:30:00 GMT</pubDate>
  </item>
  <item>
    <title>没有链接的条目</title>
    <description>跳过</description>
  </item>
  <item>
    <title>没有 guid 的条目</title>
    <link>https://bbs.example.cn/t/1002</link>
    <pubDate>Wed, 01 Jan 2031 00:00:00 GMT</pubDate>
  </item>
</channel>
</rss>"#;

    const ATOM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>某市新闻网</title>
  <id>tag:news.example.cn,2026:feed</id>
  <updated>2026-12-07T10:00:00+08:00</updated>
  <entry>
    <title type="html">化工项目&lt;em&gt;环评&lt;/em&gt;引发关注</title>
    <link rel="enclosure" href="https://news.example.cn/a/1.mp3"/>
    <link rel="alternate" type="text/html" href="https://news.example.cn/a/1"/>
    <id>tag:news.example.cn,2026:1</id>
    <updated>2026-12-07T09:30:00+08:00</updated>
    <author><name>记者 李四</name></author>
    <content type="html">&lt;div&gt;周边居民&lt;br/&gt;担心污染&lt;/div&gt;</content>
  </entry>
  <entry>
    <title>只有 ftp 链接</title>
    <link href="ftp://news.example.cn/a/2"/>
    <id>tag:news.example.cn,2026:2</id>
    <updated>2026-12-07T09:00:00+08:00</updated>
  </entry>
</feed>"#;

    /// 2026-12-07 09:30 +08:00.
    const DEC7: i64 = 1_796_607_000_000;

    #[test]
    fn an_rss_feed_with_chinese_text() {
        let now = DEC7 + 3_600_000;
        let p = parse(RSS.as_bytes(), "bbs-feed", "某县论坛", now).unwrap();
        assert_eq!(p.without_link, 1);
        assert_eq!(p.observations.len(), 2);
        let a = &p.observations[0];
        assert_eq!(a.url, "https://bbs.example.cn/t/1001");
        assert_eq!(a.platform, "某县论坛");
        assert_eq!(a.account, "张三");
        assert_eq!(
            a.text,
            "某村拆迁补偿款迟迟未发放\n村民反映 补偿款至今未到位…"
        );
        assert_eq!(a.captured_at_ms, DEC7);
        assert_eq!(a.system, "bbs-feed");
        assert_eq!(a.system_id, "bbs-1001");
        let b = &p.observations[1];
        // No guid: the link identifies it. Published after now: captured now.
        assert_eq!(b.system_id, "https://bbs.example.cn/t/1002");
        assert_eq!(b.captured_at_ms, now);
        assert_eq!(b.account, "");
        for o in p.observations {
            assert!(o.check(now).is_ok());
        }
    }

    #[test]
    fn an_atom_feed_with_chinese_text() {
        let p = parse(ATOM.as_bytes(), "news", "某市新闻网", NOW.max(DEC7)).unwrap();
        assert_eq!(p.without_link, 1);
        assert_eq!(p.observations.len(), 1);
        let a = &p.observations[0];
        assert_eq!(a.url, "https://news.example.cn/a/1");
        assert_eq!(a.account, "记者 李四");
        assert_eq!(a.text, "化工项目环评引发关注\n周边居民\n担心污染");
        assert_eq!(a.captured_at_ms, DEC7);
        assert_eq!(a.system_id, "tag:news.example.cn,2026:1");
    }

    #[test]
    fn a_gbk_feed_as_older_chinese_sites_serve_it() {
        let xml = RSS.replace("encoding=\"UTF-8\"", "encoding=\"GBK\"");
        let (bytes, _, unmappable) = encoding_rs::GBK.encode(&xml);
        assert!(!unmappable);
        let p = parse(&bytes, "bbs-feed", "某县论坛", DEC7).unwrap();
        assert_eq!(p.observations[0].account, "张三");
        assert!(p.observations[0].text.starts_with("某村拆迁补偿款"));
    }

    #[test]
    fn an_rss_1_feed() {
        let rdf = r#"<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
  <channel rdf:about="https://x.example.cn/"><title>x</title><link>https://x.example.cn/</link><description>x</description></channel>
  <item rdf:about="https://x.example.cn/1"><title>停水通知</title><link>https://x.example.cn/1</link></item>
</rdf:RDF>"#;
        let p = parse(rdf.as_bytes(), "x", "x", DEC7).unwrap();
        assert_eq!(p.observations.len(), 1);
        assert_eq!(p.observations[0].text, "停水通知");
        assert_eq!(p.observations[0].captured_at_ms, DEC7);
    }

    #[test]
    fn what_is_not_a_feed_is_refused() {
        assert!(parse(b"<html><body>502 Bad Gateway</body></html>", "x", "x", DEC7).is_err());
        assert!(parse(b"", "x", "x", DEC7).is_err());
    }

    #[test]
    fn html_as_a_reader_sees_it() {
        assert_eq!(plain_text("a &lt; b &amp;&amp; c"), "a < b && c");
        assert_eq!(plain_text("1 < 2"), "1 < 2");
        assert_eq!(
            plain_text("&#20013;&#x6587; &unknown; &"),
            "中文 &unknown; &"
        );
        assert_eq!(
            plain_text("<style>p{}</style><P>一</P><p>二<BR>三</p>"),
            "一\n二\n三"
        );
        assert_eq!(plain_text("x\u{7}y"), "x y");
    }

    #[test]
    fn long_ids_and_texts_are_cut_to_what_an_observation_holds() {
        let long = "长".repeat(MAX_TEXT + 10);
        assert_eq!(truncate(&long, MAX_TEXT).chars().count(), MAX_TEXT);
        let id = short_id("x".repeat(MAX_NAME + 1));
        assert!(id.starts_with("sha256:") && id.len() <= MAX_NAME);
        assert_eq!(short_id("g-1".into()), "g-1");
    }
}
