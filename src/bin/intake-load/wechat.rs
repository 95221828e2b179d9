//! WeChat official-account pushes: `POST /hooks/wechat/{account}` in plaintext, compatible and
//! safe mode, signed (`signature`, and `msg_signature` over the ciphertext) and encrypted
//! (AES-256-CBC, WeChat's 32-byte padding) with the adapter's own code.

use intake_schema::RequestId;
use intake_wechat::{Account, AesKey, Mode, PushKind};

use crate::channel::{Built, Channel, Target};
use crate::content;

/// `ToUserName` when the gateway's account has no `original_id` (then any is accepted).
const DEFAULT_TO_USER: &str = "gh_12345load";

fn to_user(target: &Target) -> &str {
    target.original_id.as_deref().unwrap_or(DEFAULT_TO_USER)
}

/// The account as the gateway's adapter sees it, from the tool's flags.
pub fn account(target: &Target) -> Account {
    Account {
        name: target.name.clone(),
        token: target.secret.clone(),
        aes_key: target.aes_key.clone(),
        app_id: None,
        original_id: target.original_id.clone(),
        ..Account::default()
    }
}

/// The message XML of push `n`: a text message with a unique MsgId and FromUserName.
pub fn message_xml(target: &Target, n: u64) -> String {
    let msg_id = (target.seed % 100_000_000) * 10_000_000_000 + n;
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName><CreateTime>{time}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>",
        to = to_user(target),
        from = content::openid(target.seed, n),
        time = target.epoch + (n % 86_400) as i64,
        text = content::text_of_size(n, target.text_bytes),
    )
}

/// Push `n`, signed (and sealed) now.
pub fn build(target: &Target, n: u64) -> Built {
    let xml = message_xml(target, n);
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let nonce = rand::random::<u32>().to_string();
    let signature = intake_wechat::sha1_signature(&[&target.secret, &timestamp, &nonce]);
    let openid = content::openid(target.seed, n);
    let mut query =
        format!("signature={signature}&timestamp={timestamp}&nonce={nonce}&openid={openid}");
    let body = match target.channel {
        Channel::WechatPlain => xml,
        mode => {
            let key = aes_key(target);
            let sealed = intake_wechat::encrypt(&key, &target.app_id, &xml, rand::random())
                .expect("a generated message always encrypts");
            let msg_signature =
                intake_wechat::sha1_signature(&[&target.secret, &timestamp, &nonce, &sealed]);
            query.push_str(&format!("&encrypt_type=aes&msg_signature={msg_signature}"));
            if mode == Channel::WechatSafe {
                format!(
                    "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{sealed}]]></Encrypt></xml>",
                    to_user(target)
                )
            } else {
                // Compatible mode: the plaintext fields and the sealed copy side by side.
                let inner = xml.trim_end_matches("</xml>");
                format!("{inner}<Encrypt><![CDATA[{sealed}]]></Encrypt></xml>")
            }
        }
    };
    Built {
        method: "POST",
        path_and_query: format!("/hooks/wechat/{}?{query}", target.name),
        headers: vec![("content-type", "text/xml".into())],
        body: body.into_bytes(),
    }
}

/// The decoded `--aes-key`; main checked it before the run.
fn aes_key(target: &Target) -> AesKey {
    let key = target.aes_key.as_deref().unwrap_or_default();
    AesKey::from_encoding_aes_key(key).expect("--aes-key was checked at start")
}

/// The request id of an acknowledged push, by the adapter over the bytes sent; and the passive
/// reply must carry that request's tracking number (decrypted in the encrypted modes, which also
/// proves the reply's AES and app id). A reply without it (e.g. the sender-limit answer) means
/// the push was not published.
pub fn request_ids(target: &Target, built: &Built, reply: &[u8]) -> Result<Vec<RequestId>, String> {
    let push = built
        .with_inbound(|inbound| intake_wechat::parse_push(inbound, &account(target)))
        .map_err(|e| format!("the adapter refuses what the tool sent: {e}"))?;
    let PushKind::Request(record) = &push.kind else {
        return Err("the adapter did not make a request of the push".into());
    };
    let reply = std::str::from_utf8(reply).map_err(|_| "reply is not UTF-8".to_string())?;
    let text = match push.mode {
        Mode::Plaintext => reply.to_string(),
        _ => {
            let fields = intake_wechat::parse_xml(reply).map_err(|e| format!("reply: {e}"))?;
            let sealed = fields
                .get("Encrypt")
                .ok_or("encrypted push, plaintext reply")?;
            intake_wechat::decrypt(&aes_key(target), Some(&target.app_id), sealed)
                .map_err(|e| format!("reply does not decrypt: {e}"))?
                .xml
        }
    };
    if !text.contains(record.tracking_no.as_str()) {
        return Err(format!(
            "reply lacks tracking number {}",
            record.tracking_no
        ));
    }
    Ok(vec![record.request_id])
}
