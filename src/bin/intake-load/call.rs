//! Call metadata: `POST /hooks/call/{source}`, one finished citizen call per post, in each PBX
//! kind's dialect. The call id (SIP Call-ID, Asterisk linkedid, CTI callId) is unique per
//! request number, so every post becomes exactly one request (the reply names its id).

use base64::Engine;

use crate::channel::{enc, Built, Channel, Target};
use crate::content;

/// Call `n`: started `n % 3600` seconds before the run began, five minutes long, answered.
pub fn build(target: &Target, n: u64) -> Built {
    let start = target.epoch - 3600 + (n % 3600) as i64;
    let (answer, end) = (start + 21, start + 321);
    let caller = content::mobile(target.seed, n);
    let call_id = format!("{:016x}-{n:012x}@198.51.100.20", target.seed);
    let body = match target.channel {
        Channel::CallFreeswitch => format!(
            r#"{{"core-uuid":"6d5d3a0e-9b7c-4c5e-8f27-2b1f0f4c9a10","switchname":"yj-fs01","channel_data":{{"state":"CS_REPORTING","direction":"inbound"}},"variables":{{"direction":"inbound","uuid":"{uuid}","sip_from_user":"{caller}","sip_call_id":"{call_id}","sip_req_user":"12345","sip_to_user":"12345","sip_P-Asserted-Identity":"<tel:+86{caller}>","cc_queue":"hotline@default","cc_queue_answered_epoch":"{answer}","cc_agent":"8012@default","start_epoch":"{start}","answer_epoch":"{answer}","end_epoch":"{end}","billsec":"300","hangup_cause":"NORMAL_CLEARING","sip_hangup_disposition":"recv_bye"}},"callflow":[{{"caller_profile":{{"caller_id_number":"{caller}","destination_number":"12345"}}}}]}}"#,
            uuid = uuid::Uuid::from_u64_pair(target.seed, n),
        ),
        Channel::CallAsterisk => {
            let local = |t: i64| {
                let at = chrono::DateTime::from_timestamp(t, 0).unwrap_or_default();
                (at + chrono::Duration::hours(8))
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            };
            let linked = format!("{}.{n}", target.seed % 10_000_000_000);
            format!(
                r#"{{"accountcode":"","src":"{caller}","dst":"12345","dcontext":"from-trunk","clid":"\"\" <{caller}>","channel":"PJSIP/cmcc-trunk-{n:08x}","dstchannel":"PJSIP/8007-{n:08x}","lastapp":"Dial","lastdata":"PJSIP/8007,30","start":"{}","answer":"{}","end":"{}","duration":321,"billsec":300,"disposition":"ANSWERED","amaflags":"DOCUMENTATION","uniqueid":"{linked}","linkedid":"{linked}","userfield":""}}"#,
                local(start),
                local(answer),
                local(end)
            )
        }
        Channel::CallKamailio => format!(
            r#"{{"call_id":"{call_id}","ruri_user":"12345","to_user":"12345","from_user":"{caller}","pai":"<sip:+86{caller}@ims.jl.chinamobile.com;user=phone>","invite_timestamp":"{start}","answer_timestamp":"{answer}","event":"end","timestamp":"{end}"}}"#
        ),
        _ => format!(
            r#"{{"event":"hangup","from":"{caller}","to":"12345","direction":"in","callId":"{uuid}","user":"王伟","answeringNumber":"8009","cause":"normalClearing","timestamp":"{end}"}}"#,
            uuid = uuid::Uuid::from_u64_pair(target.seed, n),
        ),
    };
    let mut headers = vec![("content-type", "application/json".to_string())];
    let mut path = format!("/hooks/call/{}", target.name);
    match (&target.username, target.channel) {
        (Some(user), _) => {
            let pair = format!("{user}:{}", target.secret);
            let b64 = base64::engine::general_purpose::STANDARD.encode(pair);
            headers.push(("authorization", format!("Basic {b64}")));
        }
        // Generic CTI servers (Zammad's shape) put the token in the URL.
        (None, Channel::CallCti) => path.push_str(&format!("?token={}", enc(&target.secret))),
        (None, _) => headers.push(("authorization", format!("Bearer {}", target.secret))),
    }
    Built {
        method: "POST",
        path_and_query: path,
        headers,
        body: body.into_bytes(),
    }
}
