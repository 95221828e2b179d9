//! `[channels.wechat]`: official accounts, their secrets and what the citizen is told.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::names::check_name;
use crate::config::Secret;

/// `[channels.wechat]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WechatChannelConfig {
    /// Accounts by the name in `/hooks/wechat/{account}`.
    pub accounts: BTreeMap<String, WechatAccountConfig>,
    /// The whole answer must leave within this; WeChat gives up after 5 s and re-sends.
    #[serde(with = "humantime_serde")]
    pub reply_budget: Duration,
}

impl Default for WechatChannelConfig {
    fn default() -> Self {
        WechatChannelConfig {
            accounts: BTreeMap::new(),
            reply_budget: Duration::from_secs(4),
        }
    }
}

/// `[channels.wechat.accounts.<name>]`
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WechatAccountConfig {
    /// The Token of the account's server configuration; the account is enabled only when set.
    pub token: Option<Secret>,
    /// The 43-character EncodingAESKey. When set, plaintext pushes are refused: WeChat sends
    /// every push encrypted in compatible and safe mode, and a plaintext push's signature does
    /// not cover its body.
    pub aes_key: Option<Secret>,
    /// The AppID; encrypted pushes must carry it.
    pub app_id: Option<String>,
    /// The original id (`gh_…`); when set, pushes addressed to another account are refused.
    pub original_id: Option<String>,
    /// Allowed distance between WeChat's timestamp and our clock.
    #[serde(with = "humantime_serde")]
    pub timestamp_tolerance: Duration,
    /// Passive reply for a request; `{tracking_no}` is replaced.
    pub reply_template: String,
    /// The same, used when the citizen wrote in Korean.
    pub reply_template_ko: String,
    /// Reply to a new follower (subscribe); empty = no reply.
    pub welcome_text: String,
    /// CLICK menu keys that mean "I want to file a request".
    pub menu_keys: Vec<String>,
    /// Reply to those clicks.
    pub menu_prompt: String,
}

impl Default for WechatAccountConfig {
    fn default() -> Self {
        WechatAccountConfig {
            token: None,
            aes_key: None,
            app_id: None,
            original_id: None,
            timestamp_tolerance: Duration::from_secs(300),
            reply_template: intake_wechat::DEFAULT_REPLY_ZH.to_string(),
            reply_template_ko: intake_wechat::DEFAULT_REPLY_KO.to_string(),
            welcome_text: "欢迎关注12345政务服务热线。请直接发送您的诉求（文字、语音、图片或位置），我们会尽快受理。\n12345 정무서비스 핫라인입니다. 민원 내용을 보내 주세요.".to_string(),
            menu_keys: Vec::new(),
            menu_prompt: "请直接发送您的诉求内容（文字、语音、图片或位置均可），我们收到后会回复受理编号。\n민원 내용을 보내 주시면 접수번호를 알려 드립니다.".to_string(),
        }
    }
}

impl WechatChannelConfig {
    /// Why this section cannot work, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        for (name, account) in &self.accounts {
            check_name("channels.wechat.accounts", name)?;
            account.validate(name)?;
        }
        Ok(())
    }
}

impl WechatAccountConfig {
    fn validate(&self, name: &str) -> Result<(), String> {
        if let Some(key) = self.aes_key.as_ref().filter(|k| !k.expose().is_empty()) {
            intake_wechat::AesKey::from_encoding_aes_key(key.expose())
                .map_err(|e| format!("channels.wechat.accounts.{name}.aes_key: {e}"))?;
        }
        if !self.reply_template.contains("{tracking_no}")
            || !self.reply_template_ko.contains("{tracking_no}")
        {
            return Err(format!(
                "channels.wechat.accounts.{name}: reply templates must contain {{tracking_no}}"
            ));
        }
        Ok(())
    }

    /// The adapter's view of the account, when it is enabled (has a token).
    pub fn account(&self, name: &str) -> Option<intake_wechat::Account> {
        let token = self.token.as_ref().filter(|t| !t.expose().is_empty())?;
        Some(intake_wechat::Account {
            name: name.to_string(),
            token: token.expose().to_string(),
            aes_key: self
                .aes_key
                .as_ref()
                .map(|k| k.expose().to_string())
                .filter(|k| !k.is_empty()),
            app_id: self.app_id.clone().filter(|a| !a.is_empty()),
            original_id: self.original_id.clone().filter(|o| !o.is_empty()),
            timestamp_tolerance_secs: self.timestamp_tolerance.as_secs(),
        })
    }
}
