package redisstore

import "github.com/redis/go-redis/v9"

// The Lua scripts below are the only code that changes room state in
// Redis: each one runs atomically, so two nodes admitting a third key at
// the same moment cannot both succeed. Time comes from Redis (TIME), so
// node clocks need not agree.
//
// Every script takes the key prefix as ARGV[1] and builds key names from
// it. That is fine for a single Redis (or a primary with replicas and
// Sentinel) but not for Redis Cluster, where a script may only touch the
// keys it declares; the package doc says so.
//
// Replies are arrays: {status, members to close, ...}. A member is
// "<node id> <conn id>"; an empty string is an offline seat.

// lib is prepended to every script.
const lib = `
-- Redis < 5 replicates scripts verbatim unless told otherwise, which
-- forbids writes after TIME; later versions always replicate effects.
if redis.replicate_commands then redis.replicate_commands() end
local P = ARGV[1]
local function num(n) return string.format('%.0f', n) end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function node_of(m) return string.match(m, '^(%S+) ') end
-- alive: the member is connected to a node whose liveness key exists.
local function alive(m)
  if not m or m == '' then return false end
  local node = node_of(m)
  return node ~= nil and redis.call('EXISTS', P .. 'node:' .. node) == 1
end
local function online(r)
  local c = 0
  for i = 1, 2 do if alive(r.m[i]) then c = c + 1 end end
  return c
end
local function read(id)
  local rk = P .. 'room:' .. id
  local h = redis.call('HMGET', rk, 'c', 'x', 'n', 'k1', 'k2', 'm1', 'm2', 'idle', 'v')
  if not h[1] then return nil end
  return {id = id, rk = rk, c = tonumber(h[1]), x = tonumber(h[2]), n = tonumber(h[3]),
    k = {h[4] or '', h[5] or ''}, m = {h[6] or '', h[7] or ''}, idle = tonumber(h[8] or '0'),
    v = h[9] or ''}
end
-- arm_idle starts the idle countdown of a room nobody is connected to. The
-- hash outlives a self-destruct time that comes first, so that a late
-- access still finds it and leaves a tombstone (as the in-memory registry's
-- timer would have).
local function arm_idle(r, now, idlettl, tomb)
  local idle = now + idlettl
  local keep, score = idle, idle
  if r.x > 0 and r.x < idle then keep, score = r.x + tomb, r.x end
  redis.call('HSET', r.rk, 'idle', num(idle))
  redis.call('PEXPIREAT', r.rk, num(keep))
  redis.call('ZADD', P .. 'rooms', num(score), r.id)
end
local function disarm_idle(r)
  redis.call('HSET', r.rk, 'idle', '0')
  redis.call('PERSIST', r.rk)
  local score = '+inf'
  if r.x > 0 then score = num(r.x) end
  redis.call('ZADD', P .. 'rooms', score, r.id)
end
local function untrack(r)
  for i = 1, 2 do
    if r.m[i] ~= '' then
      local node = node_of(r.m[i])
      if node then redis.call('SREM', P .. 'noderooms:' .. node, r.id) end
    end
  end
end
local function drop(r)
  untrack(r)
  redis.call('DEL', r.rk)
  redis.call('ZREM', P .. 'rooms', r.id)
end
-- kill ends a room with a tombstone and returns the members to close.
local function kill(r, reason, tomb)
  local closes = {}
  for i = 1, 2 do if alive(r.m[i]) then closes[#closes + 1] = r.m[i] end end
  drop(r)
  redis.call('SET', P .. 'tomb:' .. r.id, reason, 'PX', num(tomb))
  return closes
end
-- load returns the live room, or nil, the status and the members to close,
-- first applying any expiry that is due.
local function load(id, now, tomb)
  local r = read(id)
  if not r then
    local t = redis.call('GET', P .. 'tomb:' .. id)
    return nil, t or 'notfound', {}
  end
  if r.x > 0 and now >= r.x then
    return nil, 'expired', kill(r, 'expired', tomb)
  end
  if r.idle > 0 and now >= r.idle and online(r) == 0 then
    drop(r)
    return nil, 'notfound', {}
  end
  return r
end
local function prune(now)
  redis.call('ZREMRANGEBYSCORE', P .. 'rooms', '-inf', num(now))
end
local function index_of(r, m)
  for i = 1, r.n do if r.m[i] == m then return i end end
  return nil
end
`

// ARGV: prefix, id, self-destruct ms, idle ttl ms, max rooms, tombstone ms,
// verifier (empty for none). Reply: ok, {}, created, expires, connected,
// verifier.
var createScript = redis.NewScript(lib + `
local id, sd, idlettl, max, tomb, v = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local now = now_ms()
prune(now)
if redis.call('ZCARD', P .. 'rooms') >= max then return {'toomany', {}} end
if redis.call('EXISTS', P .. 'room:' .. id, P .. 'tomb:' .. id) > 0 then return {'taken', {}} end
local x = 0
if sd > 0 then x = now + sd end
local r = {id = id, rk = P .. 'room:' .. id, x = x}
redis.call('HSET', r.rk, 'c', num(now), 'x', num(x), 'n', '0', 'v', v)
arm_idle(r, now, idlettl, tomb)
return {'ok', {}, now, x, 0, v}
`)

// ARGV: prefix, id, created ms, self-destruct at ms (0: none), idle ttl ms,
// max rooms, tombstone ms, verifier (empty for none). Reply as for create.
var restoreScript = redis.NewScript(lib + `
local id, c, x, idlettl, max, tomb, v = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8]
local now = now_ms()
local r, st, closes = load(id, now, tomb)
if r then return {'ok', {}, r.c, r.x, online(r), r.v} end
if st ~= 'notfound' then return {st, closes} end
if x > 0 and now >= x then return {'expired', {}} end
prune(now)
if redis.call('ZCARD', P .. 'rooms') >= max then return {'toomany', {}} end
r = {id = id, rk = P .. 'room:' .. id, x = x}
redis.call('HSET', r.rk, 'c', num(c), 'x', num(x), 'n', '0', 'v', v)
arm_idle(r, now, idlettl, tomb)
return {'ok', {}, c, x, 0, v}
`)

// ARGV: prefix, id, tombstone ms. Reply as for create.
var getScript = redis.NewScript(lib + `
local r, st, closes = load(ARGV[2], now_ms(), tonumber(ARGV[3]))
if not r then return {st, closes} end
return {'ok', {}, r.c, r.x, online(r), r.v}
`)

// ARGV: prefix, id, key, member, idle ttl ms, tombstone ms, proven
// verifier (empty for none). Reply: ok, {}, created, expires, connected,
// rejoin, peer key, peer online, replaced member, peer member, verifier.
// A room with a verifier refuses any other before its seats are looked at.
var joinScript = redis.NewScript(lib + `
local id, key, me, tomb, v = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[6]), ARGV[7]
local r, st, closes = load(id, now_ms(), tomb)
if not r then return {st, closes} end
if r.v ~= '' and r.v ~= v then return {'unauthorized', {}} end
local idx = nil
for i = 1, r.n do if r.k[i] == key then idx = i end end
local rejoin = 1
if not idx then
  if r.n >= 2 then return {'full', {}} end
  rejoin = 0
  r.n = r.n + 1
  idx = r.n
  r.k[idx] = key
  redis.call('HSET', r.rk, 'n', num(r.n), 'k' .. idx, key)
end
local replaced, old = '', r.m[idx]
if old ~= me and alive(old) then replaced = old end
r.m[idx] = me
redis.call('HSET', r.rk, 'm' .. idx, me)
if old ~= '' and old ~= me then
  local oldnode = node_of(old)
  if oldnode and oldnode ~= node_of(me) and (r.n < 2 or node_of(r.m[3 - idx] or '') ~= oldnode) then
    redis.call('SREM', P .. 'noderooms:' .. oldnode, id)
  end
end
disarm_idle(r)
redis.call('SADD', P .. 'noderooms:' .. node_of(me), id)
local peer, peerm, peeronline = '', '', 0
if r.n == 2 then
  local o = 3 - idx
  peer = r.k[o]
  if alive(r.m[o]) then peeronline, peerm = 1, r.m[o] end
end
return {'ok', {}, r.c, r.x, 1 + peeronline, rejoin, peer, peeronline, replaced, peerm, r.v}
`)

// ARGV: prefix, id, member, tombstone ms. Reply: ok, {}, peer member.
var relayScript = redis.NewScript(lib + `
local r, st, closes = load(ARGV[2], now_ms(), tonumber(ARGV[4]))
if not r then return {st, closes} end
local idx = index_of(r, ARGV[3])
if not idx then return {'notmember', {}} end
if r.n < 2 or not alive(r.m[3 - idx]) then return {'offline', {}} end
return {'ok', {}, r.m[3 - idx]}
`)

// ARGV: prefix, id, member, idle ttl ms, tombstone ms.
// Reply: ok, {}, peer member to tell, the leaving key.
var leaveScript = redis.NewScript(lib + `
local id, me, idlettl, tomb = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local r = read(id)
if not r then return {'ok', {}, '', ''} end
local idx = index_of(r, me)
if not idx then return {'ok', {}, '', ''} end
r.m[idx] = ''
redis.call('HSET', r.rk, 'm' .. idx, '')
local peerm = ''
if r.n == 2 and alive(r.m[3 - idx]) then peerm = r.m[3 - idx] end
if online(r) == 0 then arm_idle(r, now_ms(), idlettl, tomb) end
local mynode = node_of(me)
local here = false
for i = 1, 2 do
  if r.m[i] ~= '' and node_of(r.m[i]) == mynode then here = true end
end
if not here then redis.call('SREM', P .. 'noderooms:' .. mynode, id) end
return {'ok', {}, peerm, r.k[idx]}
`)

// ARGV: prefix, id, member, tombstone ms.
var destroyScript = redis.NewScript(lib + `
local r, st, closes = load(ARGV[2], now_ms(), tonumber(ARGV[4]))
if not r then return {st, closes} end
if not index_of(r, ARGV[3]) then return {'notmember', {}} end
return {'ok', kill(r, 'destroyed', tonumber(ARGV[4]))}
`)

// reapScript marks every member on a node offline: a dead node (found by
// a heartbeat) or this node closing. ARGV: prefix, node, idle ttl ms,
// tombstone ms. Reply: ok, {peer member, left key, ...}.
var reapScript = redis.NewScript(lib + `
local node, idlettl, tomb = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local set = P .. 'noderooms:' .. node
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', set)) do
  local r = read(id)
  if r then
    local changed = false
    for i = 1, 2 do
      if r.m[i] ~= '' and node_of(r.m[i]) == node then
        r.m[i] = ''
        redis.call('HSET', r.rk, 'm' .. i, '')
        changed = true
        local o = r.m[3 - i]
        if o ~= '' and node_of(o) ~= node and alive(o) then
          out[#out + 1] = o
          out[#out + 1] = r.k[i]
        end
      end
    end
    if changed and online(r) == 0 then arm_idle(r, now, idlettl, tomb) end
  end
end
redis.call('DEL', set, P .. 'node:' .. node)
redis.call('ZREM', P .. 'nodes', node)
return {'ok', out}
`)

// ARGV: prefix, node, liveness ttl ms. Reply: {1 if the liveness key was
// still there, {dead node ids}}.
var heartbeatScript = redis.NewScript(lib + `
local me, ttl = ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local had = redis.call('EXISTS', P .. 'node:' .. me)
redis.call('SET', P .. 'node:' .. me, '1', 'PX', num(ttl))
redis.call('ZADD', P .. 'nodes', num(now), me)
local dead = {}
for _, n in ipairs(redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', num(now - ttl))) do
  if n ~= me and redis.call('EXISTS', P .. 'node:' .. n) == 0 then dead[#dead + 1] = n end
end
return {had, dead}
`)

// ARGV: prefix. Reply: live rooms.
var lenScript = redis.NewScript(lib + `
prune(now_ms())
return redis.call('ZCARD', P .. 'rooms')
`)
