//! `pull` with progress: the pull runs on one thread while another reads the agent's
//! event stream, subscribed before the pull is sent, for `pull_progress` events
//! (`{image, layer, current, total}`, DESIGN.md "Images"). On a terminal they drive one
//! bar per layer under a spinner; otherwise a plain line per finished layer. A pull
//! through an access path that reports no progress (the CLI paths: README, "Images"),
//! or an older agent, leaves the spinner, or the plain "pulling ..." line, until the
//! result arrives.

use crate::args::PullArgs;
use crate::client::Client;
use crate::error::CtlError;
use crate::output::{line, print_json, text};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::sync::mpsc;
use std::time::Duration;

/// One `pull_progress` event.
#[derive(Debug, PartialEq, Eq)]
pub struct Progress {
    /// The image being pulled.
    pub image: String,
    /// The layer (digest or id).
    pub layer: String,
    /// Bytes so far.
    pub current: u64,
    /// Bytes in all, when the registry said.
    pub total: Option<u64>,
}

impl Progress {
    /// Reads a `pull_progress` event: the fields at the top, or under a
    /// `pull_progress` key (the contract fixes the fields, not the framing).
    pub fn from_event(event: &Value) -> Option<Progress> {
        let body = event.get("pull_progress").unwrap_or(event);
        Some(Progress {
            image: body.get("image")?.as_str()?.to_owned(),
            layer: body.get("layer")?.as_str()?.to_owned(),
            current: body.get("current")?.as_u64()?,
            total: body.get("total").and_then(Value::as_u64),
        })
    }
}

enum Message {
    Event(Value),
    Done(Result<Value, CtlError>),
}

/// `pull`
pub fn pull(client: &Client, args: &PullArgs, as_json: bool) -> Result<(), CtlError> {
    if as_json {
        return print_json(&client.execute("pull", json!({"image": args.image}))?);
    }
    let (tx, rx) = mpsc::channel();
    let events = client.events()?;
    let events_tx = tx.clone();
    std::thread::spawn(move || {
        for event in events.flatten() {
            if events_tx.send(Message::Event(event)).is_err() {
                break;
            }
        }
    });
    let pull_client = client.clone();
    let image = args.image.clone();
    std::thread::spawn(move || {
        let _ = tx.send(Message::Done(pull_with_progress(&pull_client, &image)));
    });
    let mut view: Box<dyn View> = if std::io::stdout().is_terminal() {
        Box::new(Bars::new(&args.image))
    } else {
        line(&format!("pulling {} ...", args.image))?;
        Box::new(Lines::default())
    };
    let ours = |p: &Progress| p.image == args.image || p.image == format!("{}:latest", args.image);
    for message in rx {
        match message {
            Message::Event(event) => match Progress::from_event(&event) {
                Some(p) if ours(&p) => view.update(&p)?,
                _ => {}
            },
            Message::Done(result) => {
                view.finish();
                let result = result?;
                return line(&format!(
                    "pulled {} ({})",
                    text(&result["image"]),
                    text(&result["id"])
                ));
            }
        }
    }
    Err(CtlError::Local(
        "the pull thread ended without a result".into(),
    ))
}

/// Asks for progress events; an agent without them (before issue 17) refuses the
/// unknown `progress` field, and the pull is sent again without it.
fn pull_with_progress(client: &Client, image: &str) -> Result<Value, CtlError> {
    match client.execute("pull", json!({"image": image, "progress": true})) {
        Err(CtlError::Agent { code, message })
            if code == "invalid_request" && message.contains("progress") =>
        {
            client.execute("pull", json!({"image": image}))
        }
        other => other,
    }
}

/// How progress is shown.
trait View {
    fn update(&mut self, p: &Progress) -> Result<(), CtlError>;
    fn finish(&mut self);
}

/// A line per layer once it is complete (output that is not a terminal).
#[derive(Default)]
struct Lines {
    done: HashSet<String>,
}

impl View for Lines {
    fn update(&mut self, p: &Progress) -> Result<(), CtlError> {
        if p.total.is_some_and(|t| p.current >= t) && self.done.insert(p.layer.clone()) {
            line(&format!("layer {}: {} bytes", p.layer, p.current))?;
        }
        Ok(())
    }

    fn finish(&mut self) {}
}

/// A spinner and one bar per layer (a terminal).
struct Bars {
    multi: MultiProgress,
    spinner: ProgressBar,
    layers: HashMap<String, ProgressBar>,
}

impl Bars {
    fn new(image: &str) -> Bars {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        let spinner = multi.add(ProgressBar::new_spinner());
        spinner.set_message(format!("pulling {image}"));
        spinner.enable_steady_tick(Duration::from_millis(120));
        Bars {
            multi,
            spinner,
            layers: HashMap::new(),
        }
    }
}

impl View for Bars {
    fn update(&mut self, p: &Progress) -> Result<(), CtlError> {
        let bar = self.layers.entry(p.layer.clone()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(p.total.unwrap_or(0)));
            let style = ProgressStyle::with_template(
                "{prefix:>12} [{bar:30}] {bytes:>10}/{total_bytes:10}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(
                p.layer
                    .trim_start_matches("sha256:")
                    .chars()
                    .take(12)
                    .collect::<String>(),
            );
            bar
        });
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        bar.set_position(p.current);
        Ok(())
    }

    fn finish(&mut self) {
        for bar in self.layers.values() {
            bar.finish_and_clear();
        }
        self.spinner.finish_and_clear();
        // Nothing useful to do if the terminal went away.
        let _ = self.multi.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_events() {
        let flat = json!({"image": "a:1", "layer": "sha256:ab", "current": 5, "total": 10});
        let want = Progress {
            image: "a:1".into(),
            layer: "sha256:ab".into(),
            current: 5,
            total: Some(10),
        };
        assert_eq!(Progress::from_event(&flat), Some(want));
        let nested = json!({"pull_progress": {"image": "a:1", "layer": "l", "current": 1}});
        assert_eq!(Progress::from_event(&nested).unwrap().total, None);
        let container = json!({"action": "start", "name": "web"});
        assert_eq!(Progress::from_event(&container), None);
    }

    #[test]
    fn bars_take_layers_of_known_and_unknown_size() {
        let mut bars = Bars::new("a:1");
        for (layer, current, total) in [
            ("sha256:aa", 5, Some(10)),
            ("bb", 1, None),
            ("sha256:aa", 10, Some(10)),
        ] {
            let p = Progress {
                image: "a:1".into(),
                layer: layer.into(),
                current,
                total,
            };
            bars.update(&p).unwrap();
        }
        assert_eq!(bars.layers.len(), 2);
        assert_eq!(bars.layers["sha256:aa"].position(), 10);
        bars.finish();
    }
}
