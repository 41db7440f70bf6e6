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

/// Caches one reply and trims the cache, atomically.
/// KEYS: reply key, replies index. ARGV: value, stored_at, seconds to keep (<= 0: the
/// reply is already expired), expiry cutoff (scores at or below it are expired, or
/// `-inf`), max entries, reply key prefix, request id.
pub const PUT_REPLY: &str = r"
local keep = tonumber(ARGV[3])
if keep > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', keep)
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[7])
else
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[7])
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])) do
  redis.call('DEL', ARGV[6] .. id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, over - 1)) do
    redis.call('DEL', ARGV[6] .. id)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
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
