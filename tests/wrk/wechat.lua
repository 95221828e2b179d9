-- wrk script for tests/bench_wrk.sh: unique WeChat plaintext text pushes, as the performance
-- issue measured them (a new MsgId and FromUserName on every request, so none is a duplicate
-- and each sender's limiter is new).
--
-- WRK_PATH is the path with a signed query. WeChat's signature covers the token, timestamp and
-- nonce, never the body, so one signed query serves every request of a run (the gateway tracks
-- no nonces; the timestamp has to be within its window, which bench_wrk.sh renews per run).
-- WRK_SEED keeps runs apart: a MsgId seen in an earlier run would be a duplicate.

local next_thread = 0
function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local path = os.getenv("WRK_PATH")
local seed = tonumber(os.getenv("WRK_SEED") or "1") % 100000
local headers = { ["Content-Type"] = "text/xml" }
-- Chinese, Korean and mixed, the prefecture's languages; each request numbers its own.
local texts = {
  "小区门口的路灯坏了三天，晚上很黑，老人出行不便，请尽快派人维修。",
  "아파트 앞 도로에 큰 구멍이 생겨서 차량 통행이 위험합니다. 빨리 보수해 주세요.",
  "延吉市公园街道供暖温度不达标，室内只有十四度。난방이 너무 약합니다.",
}
local sent = 0

function request()
  sent = sent + 1
  local n = (thread_no or 0) * 1000000000 + sent
  local body = string.format(
    "<xml><ToUserName><![CDATA[gh_12345load]]></ToUserName>"
      .. "<FromUserName><![CDATA[oWrk%05d%019d]]></FromUserName>"
      .. "<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType>"
      .. "<Content><![CDATA[%s（%d）]]></Content><MsgId>%d%011d</MsgId></xml>",
    seed, n, 1765000000 + sent % 86400, texts[sent % 3 + 1], n, seed, n)
  return wrk.format("POST", path, headers, body)
end
