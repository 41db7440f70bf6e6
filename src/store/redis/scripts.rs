//! The Lua scripts of [`super::RedisStore`]. Every write is one script: atomic on a
//! server, and on a cluster routed by its keys, which share the device's hash tag and so
//! one slot (a `MULTI`/`EXEC` pipeline has no key to route by).

/// Writes one record and indexes its name. KEYS: record key, names index. ARGV: value,
/// name.
pub const PUT_RECORD: &str = r"
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 0
";

/// Deletes one record and its index entry; answers how many records were deleted.
/// KEYS: record key, names index. ARGV: name.
pub const DELETE_RECORD: &str = r"
local deleted = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return deleted
";

/// Caches one reply and trims the cache, atomically, keeping the byte count exact.
/// KEYS: reply key, replies index, sizes hash, bytes counter. ARGV: value, stored_at,
/// seconds to keep (<= 0: the reply is already expired), expiry cutoff (scores at or
/// below it are expired, or `-inf`), max entries, reply key prefix, request id, max
/// bytes.
///
/// A reply that expired by its `EX` is gone from Redis but still indexed: dropping it
/// at the cutoff takes its size (kept in the sizes hash) off the counter.
pub const PUT_REPLY: &str = r"
local function drop(id)
  redis.call('DEL', ARGV[6] .. id)
  redis.call('ZREM', KEYS[2], id)
  local size = tonumber(redis.call('HGET', KEYS[3], id) or '0')
  redis.call('HDEL', KEYS[3], id)
  redis.call('DECRBY', KEYS[4], size)
end
drop(ARGV[7])
if tonumber(ARGV[3]) > 0 then
  local size = string.len(ARGV[1]) + string.len(ARGV[7])
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[7])
  redis.call('HSET', KEYS[3], ARGV[7], size)
  redis.call('INCRBY', KEYS[4], size)
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])) do
  drop(id)
end
while redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[5])
    or tonumber(redis.call('GET', KEYS[4]) or '0') > tonumber(ARGV[8]) do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #oldest == 0 then
    break
  end
  drop(oldest[1])
end
return 0
";

/// Every record, in name order, as one snapshot: `[name1, json1, name2, json2, ...]`.
/// KEYS: names index. ARGV: record key prefix.
///
/// The record keys are built inside the script from the names index (Redis Cluster
/// allows it because they share the index's hash tag, so they live in its slot).
pub const LIST_RECORDS: &str = r"
local out = {}
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local value = redis.call('GET', ARGV[1] .. name)
  if value then
    out[#out + 1] = name
    out[#out + 1] = value
  end
end
return out
";

/// Replaces the deployment journal. KEYS: journal key. ARGV: value.
pub const PUT_JOURNAL: &str = r"
redis.call('SET', KEYS[1], ARGV[1])
return 0
";
