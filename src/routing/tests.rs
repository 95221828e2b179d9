//! The router on records like the adapters make them, and the shipped urgent rules measured on
//! the labelled set `tests/fixtures/urgent_labelled.tsv`.

use intake_schema::{
    CallInfo, Channel, Content, Disposition, IntakeRequest, Language, Priority, RawPayload, Source,
};
use std::collections::BTreeMap;

use super::config::{DesksConfig, IvrDesk, LineConfig, MatchRule, RulesConfig, UrgentConfig};
use super::registry::Registry;
use super::Router;

const LABELLED: &str = include_str!("../../tests/fixtures/urgent_labelled.tsv");

fn record(channel: Channel, line: Option<&str>, text: &str) -> IntakeRequest {
    let source = Source {
        system: "sms:test".into(),
        message_id: "1".into(),
        line: line.map(Into::into),
        occurred_at: None,
    };
    let mut r = IntakeRequest::new(
        channel,
        source,
        chrono::Utc::now(),
        RawPayload::capture(None, b""),
        "0".repeat(32),
    );
    r.content = Content::text(text);
    r
}

fn router(rules: RulesConfig) -> Router {
    let lines = BTreeMap::from([
        (
            "12343".to_string(),
            LineConfig {
                name: "州长热线".into(),
                numbers: vec!["043312343".into()],
                ..LineConfig::default()
            },
        ),
        (
            "hunchun_arrears".to_string(),
            LineConfig {
                name: "珲春市民营企业清欠举报专线".into(),
                sms_numbers: vec!["1069012345601".into()],
                desk: Some("arrears".into()),
                tags: vec!["hunchun".into()],
                ..LineConfig::default()
            },
        ),
    ]);
    let desks = DesksConfig {
        ivr: BTreeMap::from([(
            "2".to_string(),
            IvrDesk {
                desk: "korean".into(),
                language: Some("ko".into()),
            },
        )]),
    };
    Router::new(
        Registry::new(&lines, &BTreeMap::new(), &BTreeMap::new()),
        &desks,
        &rules,
        &UrgentConfig::default(),
    )
    .unwrap()
}

#[test]
fn the_line_sets_name_desk_and_tags() {
    let r = router(RulesConfig::default());
    let mut rec = record(Channel::Sms, Some("hunchun_arrears"), "我要反映一个问题");
    r.route(&mut rec);
    let routing = rec.routing.unwrap();
    assert_eq!(
        routing.line_name.as_deref(),
        Some("珲春市民营企业清欠举报专线")
    );
    assert_eq!(routing.desk, "arrears");
    assert_eq!(routing.tags, ["hunchun"]);
    assert_eq!(routing.priority, Priority::Normal);
    assert_eq!(routing.reasons[0].by, "line:hunchun_arrears");
}

#[test]
fn the_ivr_choice_sets_the_korean_desk_and_language() {
    let r = router(RulesConfig::default());
    let mut rec = record(Channel::Phone, Some("12343"), "");
    rec.call = Some(CallInfo {
        call_id: "c".into(),
        direction: "inbound".into(),
        caller: None,
        callee: None,
        dialed_line: None,
        started_at: None,
        answered_at: None,
        ended_at: None,
        ring_seconds: None,
        talk_seconds: None,
        disposition: Disposition::Answered,
        hangup_cause: None,
        recording: None,
        queue: None,
        agent: None,
        callback_candidate: false,
        ivr: Some("2".into()),
    });
    r.route(&mut rec);
    assert_eq!(rec.content.language, Language::Ko);
    let routing = rec.routing.unwrap();
    assert_eq!(routing.desk, "korean");
    assert_eq!(routing.line_name.as_deref(), Some("州长热线"));
    assert!(routing
        .reasons
        .iter()
        .any(|x| x.sets == "language" && x.by == "ivr:2"));
}

#[test]
fn rules_add_desks_tags_and_urgency_and_defaults_can_be_turned_off() {
    let r = router(RulesConfig::default());
    let mut rec = record(Channel::Wechat, None, "疫情期间公司拖欠工程款");
    r.route(&mut rec);
    let routing = rec.routing.unwrap();
    assert_eq!(routing.desk, "arrears");
    assert_eq!(routing.tags, ["epidemic"]);
    let mut rec = record(Channel::Wechat, None, "楼下着火了");
    r.route(&mut rec);
    assert!(rec.routing.unwrap().is_urgent());

    let custom = router(RulesConfig {
        defaults: false,
        matches: vec![MatchRule {
            name: Some("school".into()),
            any: vec!["学校".into()],
            tags: vec!["education".into()],
            ..MatchRule::default()
        }],
    });
    let mut rec = record(Channel::Wechat, None, "楼下着火了，学校旁边");
    custom.route(&mut rec);
    let routing = rec.routing.unwrap();
    assert!(!routing.is_urgent());
    assert_eq!(routing.tags, ["education"]);
    assert_eq!(routing.reasons[0].by, "rule:school");
}

#[test]
fn advice_only_for_urgent_requests_in_the_citizens_language() {
    let r = router(RulesConfig::default());
    let mut ko = record(Channel::Wechat, None, "집에 불이 났어요");
    r.route(&mut ko);
    assert!(r
        .acknowledgement(&ko, "접수번호 X. ")
        .ends_with("110/119/120에 전화하십시오."));
    let mut zh = record(Channel::Wechat, None, "路灯坏了");
    r.route(&mut zh);
    assert_eq!(r.acknowledgement(&zh, "已受理"), "已受理");
}

#[test]
fn leaking_air_is_a_gas_leak_only_next_to_gas() {
    let r = Router::with_defaults();
    let mut rec = record(Channel::Wechat, None, "煤气罐漏气了，满屋子都是味");
    r.route(&mut rec);
    let routing = rec.routing.unwrap();
    assert!(routing.is_urgent());
    // Both urgent_gas rows match; the reasons still name the rule once.
    assert_eq!(
        routing
            .reasons
            .iter()
            .filter(|x| x.by == "rule:urgent_gas")
            .count(),
        2,
        "one tag and one priority reason: {:?}",
        routing.reasons
    );
    for text in ["暖气片漏气了", "自行车胎漏气了", "소음 강도가 너무 세요"] {
        let mut rec = record(Channel::Wechat, None, text);
        r.route(&mut rec);
        assert!(!rec.routing.unwrap().is_urgent(), "{text}");
    }
}

/// Precision and recall of the shipped urgent rules on the labelled set. Precision matters
/// more: no ordinary common complaint may be flagged urgent.
#[test]
fn shipped_urgent_rules_on_the_labelled_set() {
    let r = Router::with_defaults();
    let (mut tp, mut fp, mut fn_, mut tn) = (0u32, 0u32, 0u32, 0u32);
    let mut false_urgent = Vec::new();
    let mut missed = Vec::new();
    let mut rows = 0;
    let mut per_lang: BTreeMap<&str, (u32, u32, u32)> = BTreeMap::new();
    for line in LABELLED
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 4, "bad fixture line {line:?}");
        let (label, lang, topic, text) = (cols[0], cols[1], cols[2], cols[3]);
        rows += 1;
        let mut rec = record(Channel::Wechat, None, text);
        r.route(&mut rec);
        let flagged = rec.routing.unwrap().is_urgent();
        let e = per_lang.entry(lang).or_default();
        match (label == "urgent", flagged) {
            (true, true) => {
                tp += 1;
                e.0 += 1;
            }
            (false, true) => {
                fp += 1;
                e.1 += 1;
                false_urgent.push((topic, text));
            }
            (true, false) => {
                fn_ += 1;
                e.2 += 1;
                missed.push(text);
            }
            (false, false) => tn += 1,
        }
    }
    let precision = f64::from(tp) / f64::from((tp + fp).max(1));
    let recall = f64::from(tp) / f64::from((tp + fn_).max(1));
    println!(
        "labelled set: {rows} texts; urgent rules: tp={tp} fp={fp} fn={fn_} tn={tn}; precision={precision:.3} recall={recall:.3}"
    );
    for (lang, (tp, fp, fn_)) in &per_lang {
        println!("  {lang}: tp={tp} fp={fp} fn={fn_}");
    }
    for m in &missed {
        println!("  missed: {m}");
    }
    assert!(rows >= 200, "the labelled set must hold at least 200 texts");
    assert!(
        false_urgent.is_empty(),
        "ordinary texts flagged urgent: {false_urgent:?}"
    );
    assert!(
        recall >= 0.85,
        "recall {recall:.3} fell below 0.85; missed: {missed:?}"
    );
}

proptest::proptest! {
    #[test]
    fn routing_any_text_never_panics(text in "\\PC{0,200}", title in proptest::option::of("\\PC{0,40}")) {
        let router = Router::with_defaults();
        let mut r = intake_schema::IntakeRequest::new(
            intake_schema::Channel::Wechat,
            intake_schema::Source { system: "wechat:x".into(), message_id: "1".into(), line: Some(text.clone()), occurred_at: None },
            chrono::Utc::now(),
            intake_schema::RawPayload::capture(None, b""),
            "0".repeat(32),
        );
        r.content = intake_schema::Content::text(text);
        r.content.title = title;
        router.route(&mut r);
        let routing = r.routing.unwrap();
        proptest::prop_assert!(!routing.desk.is_empty());
    }
}
