//! The shipped rules (`[rules] defaults = true`): Chinese and Korean words for the two special
//! duties, the epidemic tag, and what belongs to 110/119/120.
//!
//! The urgent words are phrases of something happening now ("着火了", "煤气泄漏", "要跳楼"),
//! not topics: a complaint about a fire *hazard* in a stairwell, a gas *bill* or a neighbour's
//! *noise* is ordinary, and a false urgent costs a dispatcher's attention that a real one needs.
//! A word that also has an everyday meaning is either dropped for longer phrases (bare 강도 is
//! also "intensity": 소음 강도) or asked for context (漏气 only next to a gas word), and each
//! urgent rule has vetoes for the near misses seen (a radiator, a worry, a legal question).
//! Precision is measured on `tests/fixtures/urgent_labelled.tsv` (see the README).

use intake_schema::Priority;

use super::config::MatchRule;

/// One shipped rule: it matches when an `any` word and every `all` word occur and no word of
/// the `none` lists does. Rows may share a name: the rule then matches when one of its rows
/// does (`all` is how a row asks for context, e.g. 漏气 only next to a gas word).
struct Row {
    name: &'static str,
    any: &'static [&'static str],
    all: &'static [&'static str],
    none: &'static [&'static [&'static str]],
    tags: &'static [&'static str],
    desk: Option<&'static str>,
    urgent: bool,
}

/// Words that turn an urgent phrase into an ordinary report: hazards, drills, the past, a
/// question about rules or the law, a hypothetical, a bill or a refund.
const NOT_NOW: &[&str] = &[
    "隐患",
    "演练",
    "演习",
    "宣传",
    "培训",
    "去年",
    "上个月",
    "以前",
    "曾经",
    "消防检查",
    "罚款",
    "赔偿",
    "理赔",
    "退款",
    "费用",
    "账单",
    "缴费",
    // 煤气费, 燃气费, 暖气费: a bill shares 煤气 and 暖气 with a leak.
    "气费",
    "电视剧",
    "电影",
    "游戏",
    "小说",
    "新闻",
    // Asking about the law, a hotline or what to do "if": nothing is happening now.
    "咨询",
    "法律援助",
    "律师",
    "起诉",
    "判决",
    "万一",
    "假如",
    "预防",
    "화재위험",
    "훈련",
    "작년",
    "지난달",
    "예전",
    "보상",
    "환불",
    "요금",
    "가스비",
    "난방비",
    "드라마",
    "영화",
    "게임",
    "뉴스",
    "상담",
    "문의",
    "법률",
    "변호사",
    "재판",
    "만약",
    "예방",
];

/// Fire phrases that also occur in a stove that will not light (打不着火), a worry, a charcoal
/// grill, anger (열불났어), a question about "when a fire breaks out" or cigarette smoke.
const NOT_A_FIRE: &[&str] = &[
    "不着火",
    "担心着火",
    "担心起火",
    "担心失火",
    "怕着火",
    "如果着火",
    "炭火",
    "열불",
    "발생하면",
    "발생할",
    "났을때",
    "담배",
    "흡연",
];

/// 漏气 is a gas leak only next to a gas word or its smell: radiators, tyres, mattresses and
/// pressure cookers leak air too.
const GAS_CONTEXT: &[&str] = &[
    "煤气",
    "燃气",
    "天然气",
    "液化气",
    "瓦斯",
    "气罐",
    "气瓶",
    "都是味",
    "一股味",
    "味很大",
    "味道很大",
    "味很重",
    "气味",
];

/// Things that leak air or steam, not gas (a radiator's smell is no gas smell either).
const NOT_GAS: &[&str] = &[
    "暖气",
    "供暖",
    "采暖",
    "供热",
    "轮胎",
    "车胎",
    "床垫",
    "高压锅",
    "充气",
];

/// Violence words that also mean something else: felling trees on the pavement (砍人行道树),
/// 道德绑架, a price that is "robbery", a worry about being robbed, a talk against domestic
/// violence, a sign or a window being beaten by the wind (때리고 있어).
const NOT_VIOLENCE: &[&str] = &[
    "人行道",
    "道德绑架",
    "绑架消费",
    "简直是",
    "怕被抢",
    "担心被抢",
    "反家暴",
    "讲座",
    "간판",
    "창문",
];

/// Accident phrases in a habit (经常有人被撞), a worry, or a comparison (像爆炸了一样).
const NOT_AN_ACCIDENT: &[&str] = &[
    "经常有人",
    "老有人",
    "总有人",
    "担心有人",
    "担心被困",
    "怕被困",
    "像爆炸",
    "跟爆炸",
];

/// A worry about a child getting lost is no lost child.
const NOT_A_CHILD_IN_DANGER: &[&str] = &["担心孩子走丢", "怕孩子走丢", "防走丢"];

/// Building work shaking "like an earthquake" is no earthquake.
const NOT_A_DISASTER: &[&str] = &["像地震", "跟地震"];

const ROWS: &[Row] = &[
    Row {
        name: "business_environment",
        any: &[
            "营商环境",
            "吃拿卡要",
            "乱收费",
            "乱罚款",
            "乱摊派",
            "乱检查",
            "刁难企业",
            "门难进",
            "脸难看",
            "事难办",
            "索要好处",
            "吃拿卡",
            "不作为慢作为",
            "영업환경",
            "기업환경",
            "부당요금",
            "뒷돈",
            "급행료",
        ],
        all: &[],
        none: &[],
        tags: &[],
        desk: Some("business_environment"),
        urgent: false,
    },
    Row {
        name: "arrears",
        any: &[
            "拖欠",
            "欠款",
            "工程款",
            "欠薪",
            "讨薪",
            "账款",
            "欠账",
            "清欠",
            "货款不给",
            "체불",
            "공사대금",
            "밀린임금",
            "미지급",
            "대금을안",
            "월급을안",
        ],
        all: &[],
        none: &[],
        tags: &[],
        desk: Some("arrears"),
        urgent: false,
    },
    Row {
        name: "epidemic",
        any: &[
            "疫情",
            "核酸",
            "隔离",
            "新冠",
            "发热门诊",
            "健康码",
            "阳性",
            "防疫",
            "코로나",
            "격리",
            "핵산",
            "방역",
            "확진",
            "건강코드",
        ],
        all: &[],
        none: &[],
        tags: &["epidemic"],
        desk: None,
        urgent: false,
    },
    Row {
        name: "urgent_fire",
        any: &[
            "着火了",
            "起火了",
            "失火了",
            "着大火",
            "火灾现场",
            "烧起来了",
            "火烧起来",
            "冒烟起火",
            "浓烟滚滚",
            "房子着火",
            "楼着火",
            "着火啦",
            "불이났",
            "불났어",
            "불이붙었",
            "화재가발생",
            "불길이",
            "연기가가득",
        ],
        all: &[],
        none: &[NOT_NOW, NOT_A_FIRE],
        tags: &["fire"],
        desk: None,
        urgent: true,
    },
    Row {
        name: "urgent_gas",
        any: &[
            "煤气泄漏",
            "燃气泄漏",
            "天然气泄漏",
            "煤气味很重",
            "燃气味很重",
            "闻到煤气味",
            "闻到燃气味",
            "液化气泄漏",
            "가스누출",
            "가스가새",
            "가스냄새가심",
            "가스냄새가나",
        ],
        all: &[],
        none: &[NOT_NOW],
        tags: &["gas_leak"],
        desk: None,
        urgent: true,
    },
    Row {
        name: "urgent_gas",
        any: GAS_CONTEXT,
        all: &["漏气"],
        none: &[NOT_NOW, NOT_GAS],
        tags: &["gas_leak"],
        desk: None,
        urgent: true,
    },
    Row {
        name: "urgent_violence",
        any: &[
            "持刀",
            "拿刀砍",
            "砍人",
            "杀人了",
            "有人打人",
            "正在打人",
            "被人打了",
            "抢劫",
            "绑架",
            "家暴",
            "拿着刀",
            "动刀子",
            "被打伤",
            "要杀我",
            "칼을들고",
            "흉기",
            "폭행",
            "때리고있",
            // Not bare 강도: it is also "intensity" (소음 강도, 난방 강도).
            "강도가들었",
            "강도가들어",
            "강도를당했",
            "강도당했",
            "강도가침입",
            "강도가나타났",
            "납치",
            "가정폭력",
            "죽이겠다",
        ],
        all: &[],
        none: &[NOT_NOW, NOT_VIOLENCE],
        tags: &["violence"],
        desk: None,
        urgent: true,
    },
    Row {
        name: "urgent_self_harm",
        any: &[
            "想自杀",
            "要自杀",
            "准备自杀",
            "要跳楼",
            "想跳楼",
            "不想活了",
            "割腕",
            "喝农药",
            "吃了安眠药",
            "轻生",
            "자살",
            "죽고싶",
            "뛰어내리",
            "살고싶지않",
        ],
        // Only fiction vetoes a life at risk: a past attempt or a question may still be one.
        all: &[],
        none: &[&["电视剧", "电影", "新闻", "드라마", "영화", "뉴스"]],
        tags: &["self_harm"],
        desk: None,
        urgent: true,
    },
    Row {
        name: "urgent_child",
        any: &[
            "孩子被锁在车里",
            "小孩被锁在车里",
            "孩子锁车里",
            "孩子走丢",
            "孩子不见了",
            "小孩不见了",
            "孩子落水",
            "小孩落水",
            "孩子被拐",
            "虐待儿童",
            "虐待孩子",
            "아이가갇혔",
            "아이가없어졌",
            "아이를잃어버렸",
            "아이가물에",
            "아동학대",
        ],
        all: &[],
        none: &[NOT_NOW, NOT_A_CHILD_IN_DANGER],
        tags: &["child_in_danger"],
        desk: None,
        urgent: true,
    },
    Row {
        name: "urgent_accident",
        any: &[
            "有人落水",
            // A person in the river, not a phone (手机掉进河里).
            "人掉进河里",
            "人掉河里",
            "孩子掉进河里",
            "有人溺水",
            "被困电梯",
            "困在电梯",
            "电梯里困",
            "车祸有人受伤",
            "撞人了",
            "有人被撞",
            "有人触电",
            "触电了",
            "楼塌了",
            "房子塌了",
            "爆炸了",
            "有人晕倒",
            "昏迷不醒",
            // A person in the water (a phone falls in too), a person shocked (not 감전 위험).
            "사람이물에빠졌",
            "누가물에빠졌",
            "엘리베이터에갇혔",
            "사람이치였",
            "감전됐",
            "감전되었",
            "감전돼",
            "감전당했",
            "건물이무너",
            "폭발했",
            "쓰러져서의식",
        ],
        all: &[],
        none: &[NOT_NOW, NOT_AN_ACCIDENT],
        tags: &["accident"],
        desk: None,
        urgent: true,
    },
    Row {
        name: "urgent_disaster",
        any: &[
            "洪水进屋",
            "山体滑坡",
            "泥石流",
            // Flood water, not a burst pipe upstairs (楼上漏水，水漫进我家).
            "洪水漫进",
            "河水漫进",
            "大水漫进",
            "被洪水围困",
            "堤坝决口",
            "地震了",
            "산사태",
            "홍수로고립",
            "제방이무너",
        ],
        all: &[],
        none: &[NOT_NOW, NOT_A_DISASTER],
        tags: &["disaster"],
        desk: None,
        urgent: true,
    },
];

/// The shipped rules, in the order they are applied (desks first, then urgent).
pub fn rules() -> Vec<MatchRule> {
    ROWS.iter()
        .map(|row| MatchRule {
            name: Some(row.name.to_string()),
            any: words(row.any),
            all: words(row.all),
            none: row.none.iter().flat_map(|list| words(list)).collect(),
            tags: words(row.tags),
            desk: row.desk.map(str::to_string),
            priority: row.urgent.then_some(Priority::Urgent),
        })
        .collect()
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
