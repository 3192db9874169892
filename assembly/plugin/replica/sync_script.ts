// The one Lua script every replica runs on Redis, and its arguments. Redis runs a script
// atomically, so the merge of key states and each budget grant are decided in one place. Times are
// the gateways' clocks (ms), passed in, so the rules do not depend on Redis's clock. Pure.
//
// KEYS: 1 key states (hash: key id -> "version,out,returnsAt,limitedUntil,share,memberAt,shareAt,status"),
//       2 live replicas (sorted set: replica -> last sync), 3 probe lease ("replica,expiresAt"),
//       4 budgets (hash: key id -> "requests,tokens,at"; requests in thousandths; and the daily
//       quotas' use: "d:<key id>:<day>" -> "requests,tokens" by every replica, "r:<key id>:<day>:<replica>"
//       -> what that replica last reported; two days before dropped as a day is reported).
// ARGV: database, now, mode ("p" publish, "s" sync), replica, syncInterval, event count, events
//       (kind, id, at, x, y), then in sync mode the day count and days (id, day, requests and
//       tokens this replica used of the day so far: a report sent twice counts once), then the budget asks (id, request rate, request cap,
//       token rate, token cap, wanted requests, wanted tokens, charged requests, charged tokens).
// Events: "o" out at `at` until x (0: until a probe), status y; "i" in at `at`; "l" limited until x;
// "f" share x from `at`. Membership and share: the later event wins; limits and returns: the later
// deadline wins (0, until a probe, is the latest).
// Sync replies: { holds the probe lease (0/1), live replicas, grants ("id,requests,tokens"...), key states (flat),
// days ("id,day,requests,tokens": the day's use by every replica) }.
import { KeyEvent } from "../pool/pool_events";

export const SYNC_SCRIPT = `
local db = tonumber(ARGV[1])
if db ~= 0 then redis.call('SELECT', db) end
local now, mode, me, interval = tonumber(ARGV[2]), ARGV[3], ARGV[4], tonumber(ARGV[5])
local function fields(s)
  local t = {}
  for x in string.gmatch(s or '', '[^,]+') do t[#t + 1] = tonumber(x) or 0 end
  return t
end
local function fmt(...) local t = {...} for i = 1, #t do t[i] = string.format('%.0f', t[i]) end return table.concat(t, ',') end
local n, a = tonumber(ARGV[6]), 7
for e = 1, n do
  local kind, id, at, x, y = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  a = a + 5
  local r = fields(redis.call('HGET', KEYS[1], id))
  local v, out, ret, lim, f, mat, fat, st = r[1] or 0, r[2] or 0, r[3] or 0, r[4] or 0, r[5] or 1000, r[6] or 0, r[7] or 0, r[8] or 0
  if out == 1 and ret > 0 and ret <= now then out, ret = 0, 0 end
  local changed = false
  if kind == 'o' then
    if out == 1 then
      if ret > 0 and (x == 0 or x > ret) then ret, changed = x, true end
    elseif at >= mat then out, ret, mat, st, changed = 1, x, at, y, true end
  elseif kind == 'i' then
    if out == 1 and at >= mat then out, ret, mat, changed = 0, 0, at, true end
  elseif kind == 'l' then
    if x > lim then lim, changed = x, true end
  elseif kind == 'f' then
    if at >= fat and x ~= f then f, fat, changed = x, at, true end
  end
  if changed then redis.call('HSET', KEYS[1], id, fmt(v + 1, out, ret, lim, f, mat, fat, st)) end
end
redis.call('PEXPIRE', KEYS[1], 86400000)
if mode ~= 's' then return 'OK' end
redis.call('ZADD', KEYS[2], now, me)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 3 * interval)
redis.call('PEXPIRE', KEYS[2], 86400000)
local live = redis.call('ZCARD', KEYS[2])
local cur = redis.call('GET', KEYS[3])
local holder, expires = nil, 0
if cur then holder, expires = string.match(cur, '^([^,]*),(%d+)$') end
local held = 0
if not holder or holder == me or (tonumber(expires) or 0) <= now then
  redis.call('SET', KEYS[3], me .. ',' .. string.format('%.0f', now + 3 * interval), 'PX', 86400000)
  held = 1
end
local days, m = {}, tonumber(ARGV[a])
a = a + 1
for d = 1, m do
  local id, day, ur, ut = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  a = a + 4
  local sum, mine = 'd:' .. id .. ':' .. fmt(day), 'r:' .. id .. ':' .. fmt(day) .. ':' .. me
  local last, u = fields(redis.call('HGET', KEYS[4], mine)), fields(redis.call('HGET', KEYS[4], sum))
  local r, t = math.max(0, (u[1] or 0) + ur - (last[1] or 0)), math.max(0, (u[2] or 0) + ut - (last[2] or 0))
  redis.call('HSET', KEYS[4], sum, fmt(r, t))
  redis.call('HSET', KEYS[4], mine, fmt(ur, ut))
  redis.call('HDEL', KEYS[4], 'd:' .. id .. ':' .. fmt(day - 2), 'r:' .. id .. ':' .. fmt(day - 2) .. ':' .. me)
  days[#days + 1] = id .. ',' .. fmt(day, r, t)
end
local grants = {}
while a <= #ARGV do
  local id = ARGV[a]
  local rr, rc, tr, tc = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local wr, wt, cr, ct = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8])
  a = a + 9
  local b = fields(redis.call('HGET', KEYS[4], id))
  local req, tok, at = b[1] or rc, b[2] or tc, b[3] or now
  local dt = math.max(0, now - at)
  req = math.max(-rc, math.min(rc, req + rr * dt) - cr)
  tok = math.max(-tc, math.min(tc, tok + tr * dt) - ct)
  local gr, gt = 0, 0
  if wr > 0 and req > 0 then gr = math.floor(math.min(wr, req)) end
  if wt > 0 and tok > 0 then gt = math.floor(math.min(wt, tok)) end
  req, tok = req - gr, tok - gt
  redis.call('HSET', KEYS[4], id, fmt(req, tok, math.max(now, at)))
  grants[#grants + 1] = id .. ',' .. fmt(gr, gt)
end
redis.call('PEXPIRE', KEYS[4], 86400000)
return { held, live, grants, redis.call('HGETALL', KEYS[1]), days }
`;

/** What the sync asks of one key's shared budget: its rates (whole, at its share) and what this process wants and spent. */
export class BudgetAsk {
  constructor(public id: u64, public requestRate: f64, public requestCap: i64, public tokenRate: f64, public tokenCap: i64,
              public wantRequests: i64, public wantTokens: i64, public chargeRequests: i64, public chargeTokens: i64) {}
}

/** What this process used of one key's day so far. */
export class DayReport {
  constructor(public id: u64, public day: i64, public requests: i64, public tokens: i64) {}
}

/** The Redis keys of one pool; the braces keep them in one Redis Cluster slot. */
export class PoolKeys {
  readonly names: string[];
  constructor(prefix: string, pool: string) {
    const base = prefix + "{" + pool + "}:";
    this.names = [base + "keys", base + "replicas", base + "lease", base + "budget"];
  }
}

/** The EVAL command's arguments. */
export function scriptArgs(keys: PoolKeys, database: i32, now: i64, sync: bool, replica: string, intervalMs: i32,
                           events: KeyEvent[], days: DayReport[], asks: BudgetAsk[]): string[] {
  const args = ["EVAL", SYNC_SCRIPT, "4"];
  for (let i = 0; i < keys.names.length; i++) args.push(keys.names[i]);
  args.push(database.toString());
  args.push(now.toString());
  args.push(sync ? "s" : "p");
  args.push(replica);
  args.push(intervalMs.toString());
  args.push(events.length.toString());
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    args.push(e.kind); args.push(e.id.toString(16)); args.push(e.at.toString()); args.push(e.x.toString()); args.push(e.y.toString());
  }
  if (sync) args.push(days.length.toString());
  for (let i = 0; sync && i < days.length; i++) {
    const d = days[i];
    args.push(d.id.toString(16)); args.push(d.day.toString()); args.push(d.requests.toString()); args.push(d.tokens.toString());
  }
  for (let i = 0; i < asks.length; i++) {
    const k = asks[i];
    args.push(k.id.toString(16)); args.push(k.requestRate.toString()); args.push(k.requestCap.toString());
    args.push(k.tokenRate.toString()); args.push(k.tokenCap.toString()); args.push(k.wantRequests.toString());
    args.push(k.wantTokens.toString()); args.push(k.chargeRequests.toString()); args.push(k.chargeTokens.toString());
  }
  return args;
}
