//! D-Bus round trips measured in-process: `List` on `io.ctrmgr.Agent1` over one zbus
//! connection, one call at a time, so no client process start is counted (`busctl call`
//! per request measured mostly busctl's own start).

use crate::load::Summary;
use std::time::Instant;

/// Calls made before measuring (connection set-up, first allocations).
const WARMUP: usize = 20;

/// `count` measured `List` calls to the agent on the bus at `address`.
pub fn round_trips(address: &str, count: usize) -> Result<Summary, String> {
    let connection = zbus::blocking::connection::Builder::address(address)
        .and_then(|b| b.build())
        .map_err(|e| format!("connecting to the bus {address}: {e}"))?;
    let mut micros = Vec::with_capacity(count);
    let mut body_bytes = 0;
    let start = Instant::now();
    for i in 0..WARMUP + count {
        let t0 = Instant::now();
        let reply = connection
            .call_method(
                Some("io.ctrmgr.Agent1"),
                "/io/ctrmgr/Agent1",
                Some("io.ctrmgr.Agent1"),
                "List",
                &(),
            )
            .map_err(|e| format!("List: {e}"))?;
        let body: String = reply
            .body()
            .deserialize()
            .map_err(|e| format!("List reply: {e}"))?;
        if i >= WARMUP {
            micros.push(t0.elapsed().as_micros() as u64);
            body_bytes = body.len();
        }
    }
    let elapsed = start.elapsed();
    micros.sort_unstable();
    Ok(Summary {
        ok: micros.len(),
        errors: 0,
        elapsed,
        micros,
        body_bytes,
    })
}
