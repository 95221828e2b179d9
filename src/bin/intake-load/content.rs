//! What the citizens of a load run say: unique, realistic hotline texts in Chinese, Korean and
//! both mixed (Yanbian's hotline hears all three), and unique phone numbers and openids.
//!
//! Everything is a pure function of the request number `n` and the run's seed, so a duplicate
//! (an earlier `n` sent again) is byte-for-byte the same message, and two runs never collide.

/// Places in Yanji, written the way callers name them.
const PLACES_ZH: [&str; 8] = [
    "延吉路",
    "公园路",
    "建工街",
    "河南街",
    "光明街",
    "人民路",
    "长白山路",
    "新兴街",
];
/// What goes wrong there.
const PROBLEMS_ZH: [&str; 8] = [
    "的路灯从周一起不亮了，晚上很危险，请尽快派人维修。",
    "的下水道堵了，污水外溢，味道很大。",
    "小区电梯故障三天了，老人上下楼很困难。",
    "夜里施工噪音扰民，影响休息。",
    "的垃圾已经一周没人清运了。",
    "路面塌陷，车辆通行有安全隐患。",
    "小区暖气不热，室温只有十二度。",
    "人行道被占道经营，行人只能走机动车道。",
];
/// The same places in Korean.
const PLACES_KO: [&str; 6] = [
    "연길시 공원로",
    "건공가",
    "하남가",
    "광명가",
    "인민로",
    "신흥가",
];
/// And the same troubles.
const PROBLEMS_KO: [&str; 6] = [
    " 가로등이 꺼졌어요. 밤에 너무 어두워요.",
    " 아파트 엘리베이터가 고장났어요. 빨리 수리해 주세요.",
    " 도로가 결빙되어 미끄럽습니다.",
    " 쓰레기가 일주일째 수거되지 않았어요.",
    " 하수도가 막혀서 냄새가 심합니다.",
    " 밤늦게 공사 소음이 심해요.",
];

/// Which language a message is in; `n % 3` picks it, so every run mixes all three evenly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    /// Mandarin.
    Zh,
    /// Korean.
    Ko,
    /// A Korean sentence with Chinese street names, as Yanbian's bilingual callers write.
    Mixed,
}

/// The language of message `n`.
pub fn language(n: u64) -> Language {
    match n % 3 {
        0 => Language::Zh,
        1 => Language::Ko,
        _ => Language::Mixed,
    }
}

/// The text of message `n`: a place, a trouble and a house number that makes it unique.
pub fn text(n: u64) -> String {
    let pick = |len: usize, salt: u64| ((n / 3).wrapping_mul(2_654_435_761) ^ salt) as usize % len;
    let house = n % 997 + 1;
    match language(n) {
        Language::Zh => {
            let place = PLACES_ZH[pick(PLACES_ZH.len(), 1)];
            let problem = PROBLEMS_ZH[pick(PROBLEMS_ZH.len(), 7)];
            format!("{place}{house}号{problem}（编号{n}）")
        }
        Language::Ko => {
            let place = PLACES_KO[pick(PLACES_KO.len(), 3)];
            let problem = PROBLEMS_KO[pick(PROBLEMS_KO.len(), 5)];
            format!("{place} {house}번지{problem} (번호 {n})")
        }
        Language::Mixed => {
            let place = PLACES_ZH[pick(PLACES_ZH.len(), 11)];
            let problem = PROBLEMS_KO[pick(PROBLEMS_KO.len(), 13)];
            format!("{place} {house}号{problem} 谢谢 (번호 {n})")
        }
    }
}

/// `text(n)` padded with more of the same complaint to at least `bytes` bytes (never cut inside
/// a character), for runs that want bigger bodies.
pub fn text_of_size(n: u64, bytes: usize) -> String {
    let mut out = text(n);
    const MORE: &str = " 请尽快处理。빨리 처리해 주세요.";
    while out.len() < bytes {
        out.push_str(MORE);
    }
    out
}

/// A mainland mobile number (11 digits) unique to `n` within the run `seed`: many numbers, so
/// per-sender limits and Kafka's partition key (the citizen's contact) spread the load.
pub fn mobile(seed: u64, n: u64) -> String {
    let prefix = ["138", "139", "136", "150", "186", "187"][(n % 6) as usize];
    format!(
        "{prefix}{:08}",
        (seed.wrapping_add(n.wrapping_mul(7919))) % 100_000_000
    )
}

/// A WeChat openid (28 characters, `o` + 27) unique to `(seed, n)`.
pub fn openid(seed: u64, n: u64) -> String {
    format!("o{:011x}{n:016x}", seed & 0xfff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn texts_are_unique_and_in_all_three_languages() {
        let texts: HashSet<String> = (0..3000).map(text).collect();
        assert_eq!(texts.len(), 3000);
        assert!(text(0).contains('号') && !text(0).contains('번'));
        assert!(text(1).contains("번지"));
        assert!(text(2).contains('号') && text(2).contains('요'));
        assert_eq!(text(41), text(41), "a duplicate is the same message");
        assert!(text_of_size(5, 300).len() >= 300);
        assert_eq!(openid(u64::MAX, 3).len(), 28);
        assert_eq!(mobile(9, 2).len(), 11);
        let phones: HashSet<String> = (0..10_000).map(|n| mobile(42, n)).collect();
        assert_eq!(phones.len(), 10_000);
    }
}
