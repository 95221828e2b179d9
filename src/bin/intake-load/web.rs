//! The web push hook: `POST /hooks/web/{partner}`, a signed `{"posts":[...]}` batch.

use crate::channel::{Built, Target};
use crate::content;

/// `X-Intake-Signature` for `body` sent at unix second `ts`: `v1=<hex HMAC-SHA256(secret,
/// "{ts}.{body}")>`, by the adapters' own code so that tool and gateway cannot drift apart.
pub fn signature(secret: &str, ts: i64, body: &[u8]) -> String {
    let ts = ts.to_string();
    let parts: [&[u8]; 3] = [ts.as_bytes(), b".", body];
    let hex = intake_adapter::signature::hmac_sha256_hex(secret.as_bytes(), &parts);
    format!("v1={hex}")
}

/// One moderated post: id `{run}-{n}-{i}`, its author's phone unique to it.
fn post(target: &Target, n: u64, i: u32) -> String {
    let k = n.wrapping_mul(u64::from(target.posts)) + u64::from(i);
    let text = content::text_of_size(k, target.text_bytes);
    let phone = content::mobile(target.seed, k);
    // Every value is generated text without quotes or backslashes, so it needs no escaping;
    // building the JSON by hand keeps the tool's CPU for sending.
    format!(
        r#"{{"id":"load-{seed:016x}-{n}-{i}","title":"市民来信","body":"{text}","author":{{"name":"市民","phone":"{phone}"}},"posted_at":"2026-01-01T08:00:00+08:00","moderation":{{"moderator":"load-tool","approved_at":"2026-01-01T08:05:00+08:00"}}}}"#,
        seed = target.seed,
    )
}

/// Batch `n`: `--posts` posts, signed now.
pub fn build(target: &Target, n: u64) -> Built {
    let posts: Vec<String> = (0..target.posts).map(|i| post(target, n, i)).collect();
    let body = format!(r#"{{"posts":[{}]}}"#, posts.join(","));
    // Signed at send time, so the timestamp is always fresh: a run longer than the gateway's
    // 300 s window is never refused as stale.
    let ts = chrono::Utc::now().timestamp();
    let sig = signature(&target.secret, ts, body.as_bytes());
    Built {
        method: "POST",
        path_and_query: format!("/hooks/web/{}", target.name),
        headers: vec![
            ("content-type", "application/json".into()),
            ("x-intake-timestamp", ts.to_string()),
            ("x-intake-signature", sig),
        ],
        body: body.into_bytes(),
    }
}
