//! One file per op: each looks up, checks, acts on the runtime and saves the record.

mod create;
mod images;
mod info;
mod inspect;
mod kill;
mod list;
mod logs;
mod prune_images;
mod pull;
mod remove;
mod remove_image;
mod restart;
mod start;
mod stats;
mod stop;

#[cfg(test)]
mod tests;
