//! `intake-gateway import` end to end: GBK CSV, JSON Lines and an XLSX sheet made here, submitted
//! by the real binary to a gateway on the real broker; transfers pushed and then imported are one
//! request; bad files get whole-file or per-row errors, never a panic.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use support::*;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// The printed line of `row`: `row N \t id \t status \t detail`.
    fn row(&self, row: usize) -> Vec<String> {
        self.stdout
            .lines()
            .find(|l| l.starts_with(&format!("row {row}\t")))
            .unwrap_or_else(|| panic!("no line for row {row}:\n{}", self.stdout))
            .split('\t')
            .map(str::to_string)
            .collect()
    }
}

async fn import(base: &str, args: &[&str], file: &Path) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_intake-gateway"));
    command
        .arg("import")
        .args(["--url", base, "--partner", PARTNER])
        .args(args)
        .arg(file)
        .env("INTAKE_IMPORT_SECRET", SECRET)
        .env_remove("INTAKE_CONFIG");
    let out = tokio::task::spawn_blocking(move || command.output().expect("import runs"))
        .await
        .unwrap();
    let run = Run {
        code: out.status.code().expect("exited, not killed"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

fn xlsx(path: &Path) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let headers = [
        "id",
        "kind",
        "body",
        "author.phone",
        "caller.phone",
        "caller.name",
        "moderation.moderator",
        "moderation.approved_at",
        "program.name",
        "program.episode",
        "transfer.platform",
        "transfer.original_id",
        "transfer.deadline",
        "transfer.instructions",
    ];
    for (c, h) in headers.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    let at = ExcelDateTime::parse_from_str("2026-11-30 17:00:00").unwrap();
    // A transfer with an Excel date as its deadline and a phone typed in as a number.
    sheet.write_number(1, 0, 880011.0).unwrap();
    sheet.write_string(1, 2, "工资拖欠三个月").unwrap();
    sheet.write_number(1, 3, 13812345678.0).unwrap();
    sheet.write_string(1, 10, "provincial_hotline").unwrap();
    sheet.write_string(1, 11, "SZ-2026-1").unwrap();
    sheet.write_datetime_with_format(1, 12, &at, &date).unwrap();
    sheet.write_string(1, 13, "依法督促支付").unwrap();
    // A radio call-in.
    sheet.write_string(2, 0, "radio-1").unwrap();
    sheet.write_string(2, 1, "radio").unwrap();
    sheet.write_string(2, 2, "路灯一周不亮").unwrap();
    sheet.write_string(2, 4, "13943312345").unwrap();
    sheet.write_string(2, 5, "金女士").unwrap();
    sheet.write_string(2, 6, "host-kim").unwrap();
    sheet.write_string(2, 7, "2026-11-24 09:15").unwrap();
    sheet.write_string(2, 8, "百姓热线").unwrap();
    sheet.write_string(2, 9, "2026-11-24").unwrap();
    book.save(path).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_by_push_and_by_import_land_once_each() {
    let app = spawn_app(true).await;
    let dir = tempfile::tempdir().unwrap();

    // The State Council ticket arrives by push first.
    let pushed = json!({"id": "push-1", "body": "营业执照办理超时", "transfer": {
        "platform": "state_council", "original_id": "GWY-1", "deadline": "2026-11-30T16:00:00+08:00",
        "instructions": "请核查整改"}});
    let reply: Value = app.post_web(&batch(&[pushed])).await.json().await.unwrap();
    assert_eq!(reply["results"][0]["status"], "accepted", "{reply}");
    let pushed_tracking = reply["results"][0]["tracking_no"]
        .as_str()
        .unwrap()
        .to_string();

    // Then in a GBK sheet of the mayor's mailbox office, with a broken row in the middle.
    let csv = "编号,标题,内容,姓名,联系电话,来源平台,原编号,转办时间,办理时限,批示意见\n\
        csv-1,审批超时,营业执照办理超时,王,13812345678,国务院转办,GWY-1,2026-11-23 16:00,2026-11-30 16:00,请核查整改\n\
        csv-2,多了一列,x,y,z,市长信箱,MB-2,,,,extra\n\
        csv-3,夜间施工,夜间施工噪音严重,张,13900001111,市长信箱,MB-1,2026-11-24 08:30,2026-11-29 17:00,五个工作日内答复\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(csv);
    let csv_path = dir.path().join("mailbox.csv");
    std::fs::write(&csv_path, &gbk).unwrap();
    let run = import(&app.base, &[], &csv_path).await;
    assert_eq!(
        run.code, 1,
        "a rejected row makes the exit non-zero:\n{}{}",
        run.stdout, run.stderr
    );
    assert_eq!(run.row(2)[2], "duplicate");
    assert_eq!(
        run.row(2)[3],
        pushed_tracking,
        "same ticket, same tracking number"
    );
    assert_eq!(run.row(3)[2], "rejected");
    assert!(run.row(3)[3].contains("11 fields"), "{:?}", run.row(3));
    assert_eq!(
        run.row(4)[2],
        "accepted",
        "rows after a broken one still land"
    );
    assert!(
        run.stdout
            .contains("3 rows: 1 accepted, 1 duplicate, 1 rejected"),
        "{}",
        run.stdout
    );

    // JSON Lines: one post in push shape, one flat row with a sheet-style time.
    let jsonl = [
        json!({"id": "j-1", "body": "增开公交班次", "transfer": {"platform": "people_daily",
            "original_id": "liuyan-1", "deadline": "2026-12-04 09:30", "instructions": "研究答复"}}),
        json!({"id": "j-2", "body": "小区垃圾清运", "moderation.moderator": "editor-li",
            "moderation.approved_at": "2026-11-24 10:00"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect::<Vec<_>>()
    .join("\n");
    let jsonl_path = dir.path().join("posts.jsonl");
    std::fs::write(&jsonl_path, jsonl + "\n").unwrap();
    let run = import(&app.base, &[], &jsonl_path).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        (run.row(1)[2].as_str(), run.row(2)[2].as_str()),
        ("accepted", "accepted")
    );
    let again = import(&app.base, &[], &jsonl_path).await;
    assert_eq!(again.code, 0, "a re-run is harmless");
    assert!(
        again
            .stdout
            .contains("2 rows: 0 accepted, 2 duplicate, 0 rejected"),
        "{}",
        again.stdout
    );

    // An XLSX sheet made here.
    let xlsx_path = dir.path().join("hotline.xlsx");
    xlsx(&xlsx_path);
    let run = import(&app.base, &[], &xlsx_path).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(run.row(2)[1], "880011");

    // One record per ticket or post: push 1, CSV 1 new, JSONL 2, XLSX 2.
    let records = app.consume_requests(6);
    assert_eq!(
        records.len(),
        6,
        "{:#?}",
        records
            .iter()
            .map(|r| &r.value["source"])
            .collect::<Vec<_>>()
    );
    let ids: BTreeSet<&str> = records
        .iter()
        .map(|r| r.value["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 6, "no request twice");
    for r in &records {
        assert_valid_request(&r.value);
    }
    let by_original = |id: &str| {
        records
            .iter()
            .find(|r| r.value["transfer"]["original_id"] == id)
            .unwrap_or_else(|| panic!("no record of {id}"))
            .value
            .clone()
    };
    let gwy = by_original("GWY-1");
    assert_eq!(
        gwy["source"]["message_id"], "push-1",
        "the first delivery is the record"
    );
    assert_eq!(gwy["transfer"]["deadline"], "2026-11-30T08:00:00.000Z");
    let mb = by_original("MB-1");
    assert_eq!(mb["transfer"]["platform"], "mayor_mailbox");
    assert_eq!(
        mb["transfer"]["deadline"], "2026-11-29T09:00:00.000Z",
        "local time, Asia/Shanghai"
    );
    assert_eq!(mb["citizen"]["contact"], "+8613900001111");
    assert!(mb.get("moderation").is_none());
    let sz = by_original("SZ-2026-1");
    assert_eq!(
        sz["transfer"]["deadline"], "2026-11-30T09:00:00.000Z",
        "an Excel date cell"
    );
    assert_eq!(sz["citizen"]["contact"], "+8613812345678");
    assert_eq!(
        by_original("liuyan-1")["transfer"]["deadline"],
        "2026-12-04T01:30:00.000Z"
    );
    let radio = records
        .iter()
        .find(|r| r.value["channel"] == "radio")
        .unwrap();
    assert_eq!(radio.value["citizen"]["contact"], "+8613943312345");
    assert_eq!(radio.value["moderation"]["program"]["live_call"], true);
    app.gateway.unwrap().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_files_get_clear_errors_and_nothing_panics() {
    let dir = tempfile::tempdir().unwrap();
    let base = "http://127.0.0.1:9"; // never reached: every case fails before sending or is a dry run
    let (gbk, _, _) =
        encoding_rs::GBK.encode("编号,内容,来源平台,原编号\n1,路灯不亮,州长信箱,ZZ-1\n");
    let path = dir.path().join("gbk.csv");
    std::fs::write(&path, &gbk).unwrap();
    let run = import(base, &["--encoding", "utf-8"], &path).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not valid UTF-8") && run.stderr.contains("--encoding gbk"),
        "{}",
        run.stderr
    );
    let run = import(base, &["--dry-run"], &path).await;
    assert_eq!(run.code, 0, "GBK is detected: {}{}", run.stdout, run.stderr);
    assert_eq!(run.row(2)[2], "valid");

    let path = dir.path().join("utf16.csv");
    std::fs::write(&path, b"\xff\xfe\x16\x7f\xf7\x53").unwrap();
    let run = import(base, &[], &path).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("UTF-16"), "{}", run.stderr);

    let path = dir.path().join("nobody.csv");
    std::fs::write(&path, "编号,标题\n1,x\n").unwrap();
    let run = import(base, &[], &path).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("missing required column: 内容"),
        "{}",
        run.stderr
    );

    let path = dir.path().join("huge.xlsx");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(50 * 1024 * 1024).unwrap();
    let run = import(base, &[], &path).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("50 MiB; at most 32 MiB"),
        "{}",
        run.stderr
    );
    let run = import(base, &["--max-size", "64"], &path).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("not an XLSX workbook"),
        "{}",
        run.stderr
    );

    let path = dir.path().join("rows.jsonl");
    std::fs::write(&path, "{\"id\":\"a\",\"body\":\"x\"}\n{broken\n[1]\n{\"id\":\"b\",\"body\":\"y\",\"transfer\":{\"platform\":\"state_council\",\"original_id\":\"G\",\"deadline\":\"明天\"}}\n").unwrap();
    let run = import(base, &["--dry-run"], &path).await;
    assert_eq!(run.code, 1);
    assert!(
        run.row(1)[3].contains("moderation is required"),
        "{:?}",
        run.row(1)
    );
    assert!(run.row(2)[3].contains("not valid JSON"));
    assert!(run.row(3)[3].contains("not a JSON object"));
    assert!(
        run.row(4)[3].contains("transfer.deadline"),
        "{:?}",
        run.row(4)
    );
}
