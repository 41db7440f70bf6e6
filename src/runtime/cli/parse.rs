//! Parsing what the CLI prints: `container inspect` JSON, `stats` and `images` template
//! lines, human-readable sizes and percentages, and timestamped log lines.
//! Parsers return an [`OutputError`]; the caller names the command.

use crate::core::model::{ImageInfo, Stats};
use crate::core::runtime::EngineContainer;
use crate::runtime::inspect::Inspected;

pub(super) use crate::runtime::inspect::image_id;

/// What was wrong with a CLI's output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// `container inspect` printed no JSON array of containers.
    #[error("inspect JSON: {0}")]
    InspectJson(#[source] serde_json::Error),
    /// The command printed nothing where a line was expected.
    #[error("no {0} printed")]
    Nothing(&'static str),
    /// A size with no number.
    #[error("'{0}' is not a size (no number)")]
    NotASize(String),
    /// A size with a unit not known here.
    #[error("'{text}' has an unknown size unit '{unit}'")]
    SizeUnit {
        /// The whole size.
        text: String,
        /// Its unit.
        unit: String,
    },
    /// A percentage that is not a number.
    #[error("'{0}' is not a percentage")]
    NotAPercentage(String),
    /// A process count that is not a number.
    #[error("'{0}' is not a process count")]
    NotAProcessCount(String),
    /// Memory usage not written `USED / LIMIT`.
    #[error("memory usage '{0}' is not 'USED / LIMIT'")]
    MemoryUsage(String),
    /// A template line without the expected number of `|`-separated fields.
    #[error("{command} line '{line}' does not have {fields} fields")]
    Fields {
        /// `stats` or `images`.
        command: &'static str,
        /// The line.
        line: String,
        /// How many fields it should have.
        fields: usize,
    },
}

/// Two output errors are equal when they say the same (tests compare them).
impl PartialEq for OutputError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// Parses the JSON array `container inspect` prints (docker's and podman's share the
/// fields read here, see [`Inspected`]).
pub fn inspect(text: &str) -> Result<Vec<EngineContainer>, OutputError> {
    let items: Vec<Inspected> =
        serde_json::from_str(text.trim()).map_err(OutputError::InspectJson)?;
    Ok(items.into_iter().map(|i| i.into_engine().0).collect())
}

/// The last non-empty line, e.g. the id `create` prints after any warnings.
pub fn last_line(text: &str) -> Option<&str> {
    text.lines().map(str::trim).rfind(|l| !l.is_empty())
}

/// Parses a size as the CLIs print it: `0B`, `608KiB`, `1.035MiB`, `1.98MB`, `4.26 GB`.
/// Binary units (KiB...) are powers of 1024, SI units (kB, MB...) powers of 1000.
pub fn size(text: &str) -> Result<u64, OutputError> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| OutputError::NotASize(t.to_owned()))?;
    let factor: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "kB" | "KB" | "k" | "K" => 1e3,
        "MB" | "M" => 1e6,
        "GB" | "G" => 1e9,
        "TB" | "T" => 1e12,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(OutputError::SizeUnit {
                text: t.to_owned(),
                unit: other.to_owned(),
            })
        }
    };
    // Sizes are non-negative and far below 2^53: the rounded value fits a u64 exactly.
    Ok((value * factor).round() as u64)
}

/// Parses `1.23%`; `--` (no sample yet) is 0.
pub fn percent(text: &str) -> Result<f64, OutputError> {
    let t = text.trim();
    if t == "--" {
        return Ok(0.0);
    }
    t.trim_end_matches('%')
        .trim()
        .parse()
        .map_err(|_| OutputError::NotAPercentage(t.to_owned()))
}

/// Parses one `CPUPerc|MemUsage|PIDs` line, MemUsage being `USED / LIMIT`.
pub fn stats(text: &str) -> Result<Stats, OutputError> {
    let line = last_line(text).ok_or(OutputError::Nothing("stats line"))?;
    let fields: Vec<&str> = line.split('|').collect();
    let [cpu, mem, pids] = fields[..] else {
        return Err(OutputError::Fields {
            command: "stats",
            line: line.to_owned(),
            fields: 3,
        });
    };
    let (used, limit) = match mem.trim() {
        "--" => ("--", "--"),
        m => m
            .split_once('/')
            .ok_or_else(|| OutputError::MemoryUsage(m.to_owned()))?,
    };
    // `--` stands for "no sample" (a container that is not running).
    let bytes = |t: &str| if t.trim() == "--" { Ok(0) } else { size(t) };
    let pids = match pids.trim() {
        "--" => 0,
        p => p
            .parse()
            .map_err(|_| OutputError::NotAProcessCount(p.to_owned()))?,
    };
    Ok(Stats {
        cpu_percent: percent(cpu)?,
        memory_bytes: bytes(used)?,
        memory_limit_bytes: bytes(limit)?,
        pids,
    })
}

/// Parses `ID|Repository|Tag|Size` lines into one entry per image id, tags merged in the
/// order printed; `<none>` repositories or tags give no tag.
pub fn images(text: &str) -> Result<Vec<ImageInfo>, OutputError> {
    let mut out: Vec<ImageInfo> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split('|').collect();
        let [id, repo, tag, sz] = fields[..] else {
            return Err(OutputError::Fields {
                command: "images",
                line: line.to_owned(),
                fields: 4,
            });
        };
        let tag = (repo != "<none>" && tag != "<none>").then(|| format!("{repo}:{tag}"));
        let idx = match out.iter().position(|i| i.id == image_id(id)) {
            Some(i) => i,
            None => {
                out.push(ImageInfo {
                    id: image_id(id),
                    tags: Vec::new(),
                    size_bytes: size(sz)?,
                });
                out.len() - 1
            }
        };
        if let Some(t) = tag {
            if !out[idx].tags.contains(&t) {
                out[idx].tags.push(t);
            }
        }
    }
    Ok(out)
}

/// Merges the container's stdout and stderr lines (as `logs --timestamps` prints them on
/// the CLI's two streams) by timestamp and strips the timestamps. RFC 3339 UTC stamps of
/// equal precision sort as text; the merge is stable, so equal stamps keep stdout first.
pub fn merge_logs(stdout: &str, stderr: &str) -> Vec<String> {
    fn split(text: &str) -> Vec<(&str, &str)> {
        text.lines()
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .map(|l| l.split_once(' ').unwrap_or((l, "")))
            .collect()
    }
    let (a, b) = (split(stdout), split(stderr));
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len() + b.len());
    while i < a.len() || j < b.len() {
        let take_a = j >= b.len() || (i < a.len() && stamp_key(a[i].0) <= stamp_key(b[j].0));
        let line = if take_a {
            i += 1;
            a[i - 1].1
        } else {
            j += 1;
            b[j - 1].1
        };
        out.push(line.to_owned());
    }
    out
}

/// Sort key of an RFC 3339 stamp with trailing zeros of the fraction dropped by Go:
/// pads the fraction to nine digits so that text order is time order.
fn stamp_key(stamp: &str) -> String {
    let Some(body) = stamp.strip_suffix('Z') else {
        return stamp.to_owned();
    };
    let (secs, frac) = body.split_once('.').unwrap_or((body, ""));
    format!("{secs}.{frac:0<9}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::ContainerState;

    /// `docker container inspect -- cli-probe4` (docker 28.2.2 CLI, engine 20.10),
    /// trimmed to the fields read plus a few neighbours.
    const INSPECT_RUNNING: &str = r#"[
    {
        "Id": "61f05bab93cbdacea2cc18565733014bb220efd7e9afcf7853d4b8e4568504c4",
        "Created": "2026-11-29T03:27:49.5120Z",
        "Path": "sh",
        "Name": "/cli-probe4",
        "State": {"Status": "running", "Running": true, "Paused": false, "Restarting": false,
                  "OOMKilled": false, "Dead": false, "Pid": 12108, "ExitCode": 0, "Error": "",
                  "StartedAt": "2026-11-29T03:27:49.72554175Z", "FinishedAt": "0001-01-01T00:00:00Z"},
        "Config": {"Hostname": "61f05bab93cb", "Image": "ctrmgr-test/busybox:latest",
                   "Labels": {"io.ctrmgr.managed": "true", "app": "web"}}
    }
]"#;

    const INSPECT_EXITED: &str = r#"[{"Id":"35731704dad5","Name":"/cli-probe3",
        "State":{"Status":"exited","Running":false,"ExitCode":3},
        "Config":{"Image":"ctrmgr-test/busybox:latest","Labels":null}},
       {"Id":"f95baf815d9a","Name":"/cli-probe","State":{"Status":"created","ExitCode":128},
        "Config":{"Image":"ctrmgr-test/busybox:latest","Labels":{}}}]"#;

    #[test]
    fn parses_inspect() {
        let c = &inspect(INSPECT_RUNNING).unwrap()[0];
        assert_eq!(c.name, "cli-probe4");
        assert_eq!(c.id.len(), 64);
        assert_eq!(c.image, "ctrmgr-test/busybox:latest");
        assert_eq!(c.state, ContainerState::Running);
        assert_eq!(c.exit_code, None);
        assert_eq!(
            c.labels.get("io.ctrmgr.managed").map(String::as_str),
            Some("true")
        );

        let cs = inspect(INSPECT_EXITED).unwrap();
        assert_eq!(
            (cs[0].state, cs[0].exit_code),
            (ContainerState::Exited, Some(3))
        );
        assert!(cs[0].labels.is_empty());
        // Docker reports 128 for a created container whose start failed: not an exit.
        assert_eq!(
            (cs[1].state, cs[1].exit_code),
            (ContainerState::Created, None)
        );

        assert!(inspect("[]").unwrap().is_empty());
        assert!(inspect("").is_err());
        assert!(inspect("[{\"Id\":1}]").is_err());
    }

    #[test]
    fn parses_sizes() {
        assert_eq!(size("0B"), Ok(0));
        assert_eq!(size("608KiB"), Ok(608 * 1024));
        assert_eq!(size("1.035MiB"), Ok(1_085_276));
        assert_eq!(size("64MiB"), Ok(64 * 1024 * 1024));
        assert_eq!(size("23.54GiB"), Ok(25_275_882_537));
        assert_eq!(size("1.98MB"), Ok(1_980_000));
        assert_eq!(size("4.26 MB"), Ok(4_260_000));
        assert_eq!(size("12.3kB"), Ok(12_300));
        assert_eq!(size("7"), Ok(7));
        assert!(size("MB").is_err());
        assert!(size("1.2XB").is_err());
        assert!(size("").is_err());
    }

    #[test]
    fn parses_percent() {
        assert_eq!(percent("1.23%"), Ok(1.23));
        assert_eq!(percent("0.00%"), Ok(0.0));
        assert_eq!(percent("150.5%"), Ok(150.5));
        assert_eq!(percent("--"), Ok(0.0));
        assert!(percent("abc%").is_err());
    }

    #[test]
    fn parses_stats() {
        // Captured: a running container with --memory=64m, then a created one.
        let s = stats("0.00%|1.035MiB / 64MiB|1\n").unwrap();
        assert_eq!(s.memory_bytes, 1_085_276);
        assert_eq!(s.memory_limit_bytes, 64 * 1024 * 1024);
        assert_eq!(s.pids, 1);
        let s = stats("12.50%|608KiB / 23.54GiB|3\n").unwrap();
        assert!((s.cpu_percent - 12.5).abs() < 1e-9);
        assert_eq!(s.memory_limit_bytes, 25_275_882_537);
        assert_eq!(stats("0.00%|0B / 0B|0\n").unwrap(), Stats::default());
        assert_eq!(stats("--|-- / --|--\n").unwrap(), Stats::default());
        assert!(stats("").is_err());
        assert_eq!(stats("--|--|--\n").unwrap(), Stats::default());
        assert!(stats("1%|2MiB|3").is_err());
        assert!(stats("1%|2XB / 3MiB|3").is_err());
        assert!(stats("1%|2MiB / 3MiB").is_err());
    }

    #[test]
    fn parses_images() {
        let out = "sha256:366e544091c789c66a4328b0d965497067f4833b96c1169a981ec423ca980c06|ctrmgr-test/busybox|latest|1.98MB\n\
                   sha256:366e544091c789c66a4328b0d965497067f4833b96c1169a981ec423ca980c06|127.0.0.1:5000/ctrmgr-test/busybox|latest|1.98MB\n\
                   sha256:aaaa|<none>|<none>|4.26MB\n";
        let imgs = images(out).unwrap();
        assert_eq!(imgs.len(), 2);
        assert_eq!(
            imgs[0].tags,
            [
                "ctrmgr-test/busybox:latest",
                "127.0.0.1:5000/ctrmgr-test/busybox:latest"
            ]
        );
        assert_eq!(imgs[0].size_bytes, 1_980_000);
        assert_eq!(imgs[1].id, "sha256:aaaa");
        assert!(imgs[1].tags.is_empty());
        assert!(images("").unwrap().is_empty());
        assert!(images("a|b|c").is_err());
    }

    #[test]
    fn podman_output() {
        // Captured from podman 4.3.1: `images --no-trunc` (sizes with a space, the short
        // name under localhost/), the stats template in raw numbers, `image inspect`.
        let out = "sha256:366e544091c789c66a4328b0d965497067f4833b96c1169a981ec423ca980c06|127.0.0.1:5000/ctrmgr-test/busybox|latest|2.01 MB\n\
                   366e544091c789c66a4328b0d965497067f4833b96c1169a981ec423ca980c06|localhost/ctrmgr-test/busybox|latest|2.01 MB\n";
        let imgs = images(out).unwrap();
        assert_eq!(imgs.len(), 1);
        assert_eq!(imgs[0].size_bytes, 2_010_000);
        assert_eq!(
            imgs[0].tags,
            [
                "127.0.0.1:5000/ctrmgr-test/busybox:latest",
                "localhost/ctrmgr-test/busybox:latest"
            ]
        );
        let s = stats("0.13874843185649074|229376 / 67108864|1\n").unwrap();
        assert_eq!(
            (s.memory_bytes, s.memory_limit_bytes, s.pids),
            (229_376, 67_108_864, 1)
        );
        assert!((s.cpu_percent - 0.138_748_431_856_490_74).abs() < 1e-12);
        assert_eq!(stats("0|0 / 0|0\n").unwrap(), Stats::default());
        assert_eq!(image_id("366e5440"), "sha256:366e5440");
        assert_eq!(image_id("sha256:366e5440"), "sha256:366e5440");
        // Podman's inspect: no leading slash, the image as given at create.
        let c = &inspect(r#"[{"Id":"6f8f3f99","Name":"probe1","State":{"Status":"created","ExitCode":0},
            "Config":{"Image":"127.0.0.1:5000/ctrmgr-test/busybox:latest","Labels":{"io.ctrmgr.managed":"true"},
            "Entrypoint":"sh -c"}}]"#).unwrap()[0];
        assert_eq!(
            (c.name.as_str(), c.state, c.exit_code),
            ("probe1", ContainerState::Created, None)
        );
    }

    #[test]
    fn merges_logs_by_time() {
        // Captured from `sh -c 'echo one; echo two >&2; echo three'` with --timestamps;
        // Go drops trailing zeros of the fraction (the `three` stamp is one digit short).
        let stdout = "2026-11-29T03:27:49.726543210Z one\n2026-11-29T03:27:49.72691235Z three\n";
        let stderr = "2026-11-29T03:27:49.726712573Z two\n";
        assert_eq!(merge_logs(stdout, stderr), ["one", "two", "three"]);
        assert_eq!(merge_logs("2026-11-29T03:27:49Z a b\r\n", ""), ["a b"]);
        assert_eq!(merge_logs("2026-11-29T03:27:49.1Z last", ""), ["last"]);
        assert!(merge_logs("", "").is_empty());
        assert_eq!(merge_logs("2026-11-29T03:27:49.1Z \n", ""), [""]);
    }

    #[test]
    fn finds_last_line() {
        assert_eq!(last_line("WARNING: x\nabc123\n\n"), Some("abc123"));
        assert_eq!(last_line(" \n"), None);
    }
}
