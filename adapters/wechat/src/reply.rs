//! The passive reply (被动回复): the text a citizen sees right after their message, sent as the
//! HTTP response body to the push.
//!
//! A reply to an encrypted push must itself be encrypted, or WeChat drops it. Its `TimeStamp` is
//! in seconds like every WeChat timestamp; milliseconds make WeChat reject the signature.

use chrono::{DateTime, Utc};
use intake_adapter::AdapterError;
use intake_schema::Language;

use crate::crypto::encrypt;
use crate::signature::sha1_signature;
use crate::xml::push_cdata;
use crate::{Account, Mode, Push};

/// The acceptance reply in Chinese; `{tracking_no}` is replaced by the acceptance number.
pub const DEFAULT_REPLY_ZH: &str =
    "您的诉求已受理，受理编号：{tracking_no}。我们会尽快办理并回复。";

/// The acceptance reply in Korean, for citizens who wrote in Korean.
pub const DEFAULT_REPLY_KO: &str =
    "민원이 접수되었습니다. 접수번호: {tracking_no}. 신속히 처리하여 회신드리겠습니다.";

/// Fills `{tracking_no}` (every occurrence) in `template`.
pub fn reply_template(template: &str, tracking_no: &str) -> String {
    template.replace("{tracking_no}", tracking_no)
}

/// The default reply for a citizen who wrote in `language`: Korean only for Korean-only text,
/// since a mixed text's writer reads Chinese too.
pub fn choose_template(language: Language) -> &'static str {
    match language {
        Language::Ko => DEFAULT_REPLY_KO,
        _ => DEFAULT_REPLY_ZH,
    }
}

/// Renders the passive text reply to `push`: the bare message XML in plaintext mode, the
/// encrypted envelope (`Encrypt`, `MsgSignature`, `TimeStamp`, `Nonce`) in compatible and safe
/// mode. `random` and `nonce` must be fresh for each reply.
pub fn render_text_reply(
    push: &Push,
    account: &Account,
    content: &str,
    now: DateTime<Utc>,
    random: [u8; 16],
    nonce: &str,
) -> Result<String, AdapterError> {
    let timestamp = now.timestamp().to_string();
    // Written piece by piece into one string: `format!` over three `cdata` strings cost three
    // allocations and the formatting machinery on every push (callgrind).
    let mut message =
        String::with_capacity(220 + push.from_user.len() + push.to_user.len() + content.len());
    message.push_str("<xml><ToUserName>");
    push_cdata(&mut message, &push.from_user);
    message.push_str("</ToUserName><FromUserName>");
    push_cdata(&mut message, &push.to_user);
    message.push_str("</FromUserName><CreateTime>");
    message.push_str(&timestamp);
    message.push_str("</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>");
    push_cdata(&mut message, content);
    message.push_str("</Content></xml>");
    if push.mode == Mode::Plaintext {
        return Ok(message);
    }
    let key = account.key()?;
    // WeChat checks the app id inside the reply; the one it sent us is right by definition.
    let app_id = account
        .app_id
        .as_deref()
        .or(push.app_id.as_deref())
        .ok_or_else(|| AdapterError::Unauthorized("no app id to encrypt the reply for".into()))?;
    let encrypted = encrypt(&key, app_id, &message, random)?;
    let signature = sha1_signature(&[&account.token, &timestamp, nonce, &encrypted]);
    let mut envelope = String::with_capacity(200 + encrypted.len() + nonce.len());
    envelope.push_str("<xml><Encrypt>");
    push_cdata(&mut envelope, &encrypted);
    envelope.push_str("</Encrypt><MsgSignature>");
    push_cdata(&mut envelope, &signature);
    envelope.push_str("</MsgSignature><TimeStamp>");
    envelope.push_str(&timestamp);
    envelope.push_str("</TimeStamp><Nonce>");
    push_cdata(&mut envelope, nonce);
    envelope.push_str("</Nonce></xml>");
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decrypt, parse_xml, AesKey, PushKind};
    use intake_schema::{Channel, DeadLetter, RawPayload};

    fn push(mode: Mode) -> Push {
        let dead = DeadLetter::new(
            Channel::Wechat,
            "wechat:gh_1",
            "x",
            DateTime::UNIX_EPOCH,
            RawPayload::capture(None, b""),
            "0",
        );
        Push {
            mode,
            to_user: "gh_1".into(),
            from_user: "openid_1".into(),
            kind: PushKind::DeadLetter(Box::new(dead)),
            timestamp: 0,
            nonce: "n".into(),
            app_id: Some("wx_in".into()),
        }
    }

    fn account() -> Account {
        Account {
            name: "a".into(),
            token: "pamtest".into(),
            aes_key: Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into()),
            app_id: None,
            ..Default::default()
        }
    }

    #[test]
    fn templates() {
        assert_eq!(
            reply_template(DEFAULT_REPLY_ZH, "2345-6789-ABCD"),
            "您的诉求已受理，受理编号：2345-6789-ABCD。我们会尽快办理并回复。"
        );
        assert!(reply_template(DEFAULT_REPLY_KO, "X").contains("접수번호: X."));
        assert_eq!(choose_template(Language::Ko), DEFAULT_REPLY_KO);
        for lang in [Language::Zh, Language::Mixed, Language::Und] {
            assert_eq!(choose_template(lang), DEFAULT_REPLY_ZH);
        }
    }

    #[test]
    fn plaintext_reply() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let xml = render_text_reply(
            &push(Mode::Plaintext),
            &account(),
            "ok ]]> done",
            now,
            [0; 16],
            "n",
        )
        .unwrap();
        let f = parse_xml(&xml).unwrap();
        assert_eq!(f.get("ToUserName"), Some("openid_1"));
        assert_eq!(f.get("FromUserName"), Some("gh_1"));
        assert_eq!(f.get("CreateTime"), Some("1700000000"));
        assert_eq!(f.get("MsgType"), Some("text"));
        assert_eq!(f.get("Content"), Some("ok ]]> done"));
    }

    #[test]
    fn encrypted_reply_is_signed_in_seconds() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        for mode in [Mode::Safe, Mode::Compatible] {
            let xml =
                render_text_reply(&push(mode), &account(), "好", now, [9; 16], "nonce1").unwrap();
            let f = parse_xml(&xml).unwrap();
            assert_eq!(f.get("TimeStamp"), Some("1700000000"));
            assert_eq!(f.get("Nonce"), Some("nonce1"));
            let enc = f.get("Encrypt").unwrap();
            assert_eq!(
                f.get("MsgSignature").unwrap(),
                sha1_signature(&["pamtest", "1700000000", "nonce1", enc])
            );
            let key = AesKey::from_encoding_aes_key(account().aes_key.as_deref().unwrap()).unwrap();
            let inner = decrypt(&key, Some("wx_in"), enc).unwrap();
            assert_eq!(parse_xml(&inner.xml).unwrap().get("Content"), Some("好"));
        }
        let no_key = Account {
            aes_key: None,
            ..account()
        };
        assert!(render_text_reply(&push(Mode::Safe), &no_key, "x", now, [0; 16], "n").is_err());
    }
}
