#!/usr/bin/env python3
"""Checks of the Yocto layer (meta-ctrmgr) against the crate; scripts/test.sh runs them.

Usage (from anywhere; the tree checked is the one this script sits in):
    scripts/check-layer.py features         PACKAGECONFIG options map 1:1 onto the cargo features
    scripts/check-layer.py vendor [--all-combinations]
                                            OE's offline vendoring resolves every option set
    scripts/check-layer.py msrv             rust-version is the highest of the locked crates
    scripts/check-layer.py cargo-features [--default]
                                            print Cargo.toml's features (not `default`),
                                            or its default ones, one a line

`vendor` does what OE-Core's cargo_common class does: a cargo home whose config replaces
crates.io with a directory holding exactly the crates that ctrmgr-crates.inc lists
(`source.replace-with`), then `cargo metadata --frozen` with `--no-default-features`
and the `--features` of each option set. The directory is made of links into a cache
that `cargo vendor` fills once per Cargo.lock ($CTRMGR_TOOLS_DIR/vendor, default
target/ctrmgr-tools/vendor; it may download from crates.io the first time).

Which option sets: cargo resolves Cargo.lock against the replaced source as a whole,
every optional dependency included, whatever features are asked (with zbus missing,
`--features rest` fails too); the features only choose what is built and must each
exist. So a set resolves if and only if the whole list is there and each of its
features exists, and the default run covers every combination the recipe allows (any
subset of the options): none, each option alone, all of them, and the recipe's default.
`--all-combinations` runs all 2^n subsets instead (2048: about 0.2 s of CPU each, 6 min
of CPU in all; measured passing on this tree).
"""

import argparse
import hashlib
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "Cargo.lock"
MANIFEST = ROOT / "Cargo.toml"
RECIPE_DIR = ROOT / "meta-ctrmgr" / "recipes-containers" / "ctrmgr"
INC = RECIPE_DIR / "ctrmgr-crates.inc"
TOOLS_DIR = Path(os.environ.get("CTRMGR_TOOLS_DIR") or ROOT / "target" / "ctrmgr-tools")

# Cargo features that are deliberately not PACKAGECONFIG options, with the reason.
TEST_ONLY_FEATURES = {
    "store-conformance": "exposes the store conformance suite to the integration tests",
}

PKGCONF_RE = re.compile(r'^PACKAGECONFIG\[([^\]]+)\]\s*=\s*"([^"]*)"\s*$')
DEFAULT_RE = re.compile(r'^PACKAGECONFIG\s*\?\?=\s*"([^"]*)"\s*$')
CRATE_RE = re.compile(r"crate://crates\.io/([^/\s]+)/([^/\s\\]+)")


class CheckFailed(Exception):
    """A check found the layer and the crate out of step; the message says how."""


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def recipe() -> Path:
    found = sorted(RECIPE_DIR.glob("ctrmgr_*.bb"))
    if len(found) != 1:
        raise CheckFailed(f"expected one ctrmgr_*.bb in {rel(RECIPE_DIR)}, found {len(found)}")
    return found[0]


def cargo_features() -> tuple[list[str], list[str]]:
    """Cargo.toml's features (not `default`) and its default feature list."""
    with MANIFEST.open("rb") as f:
        features = tomllib.load(f).get("features", {})
    return [n for n in features if n != "default"], list(features.get("default", []))


def recipe_options() -> tuple[dict[str, str], list[str], str]:
    """The recipe's PACKAGECONFIG[...] flags by option, its default list, and its text."""
    path = recipe()
    text = path.read_text()
    options: dict[str, str] = {}
    default = None
    for line in text.splitlines():
        if m := PKGCONF_RE.match(line):
            if m.group(1) in options:
                raise CheckFailed(f"{rel(path)}: PACKAGECONFIG[{m.group(1)}] set twice")
            options[m.group(1)] = m.group(2)
        elif m := DEFAULT_RE.match(line):
            default = m.group(1).split()
    if default is None:
        raise CheckFailed(f'{rel(path)}: no `PACKAGECONFIG ??= "..."` line')
    return options, default, text


def check_features() -> None:
    features, cargo_default = cargo_features()
    options, default, text = recipe_options()
    path = rel(recipe())
    problems = []
    device = [f for f in features if f not in TEST_ONLY_FEATURES]
    for f in device:
        if f not in options:
            problems.append(f"cargo feature `{f}` has no PACKAGECONFIG[{f}] option")
    for name, flags in options.items():
        if name not in features:
            problems.append(f"PACKAGECONFIG[{name}] has no cargo feature `{name}`")
        fields = flags.split(",")
        if fields[0] != f"--features {name}" or (len(fields) > 1 and fields[1]):
            problems.append(f'PACKAGECONFIG[{name}] must start with "--features {name},," '
                            f'(enable: that feature; disable: nothing), not "{flags}"')
        if name in TEST_ONLY_FEATURES:
            problems.append(f"PACKAGECONFIG[{name}]: `{name}` is test-only "
                            f"({TEST_ONLY_FEATURES[name]})")
    for name in default:
        if name not in options:
            problems.append(f"the default PACKAGECONFIG names `{name}`, which is no option")
    if sorted(default) != sorted(cargo_default):
        problems.append(f"the default PACKAGECONFIG ({' '.join(default)}) is not Cargo.toml's "
                        f"default features ({' '.join(cargo_default)})")
    if not re.search(r'^CARGO_BUILD_FLAGS\s*\+=\s*"[^"]*--no-default-features', text, re.M):
        problems.append('no `CARGO_BUILD_FLAGS += "--no-default-features"`: the options '
                        "would only ever add to the default features")
    if problems:
        raise CheckFailed(f"{path} and Cargo.toml disagree:\n  " + "\n  ".join(problems))
    print(f"{path}: {len(options)} PACKAGECONFIG options = the cargo features "
          f"(test-only, no option: {', '.join(TEST_ONLY_FEATURES)}); same default set")


def lock_crates() -> list[tuple[str, str]]:
    with LOCK.open("rb") as f:
        lock = tomllib.load(f)
    return [(p["name"], p["version"]) for p in lock.get("package", [])
            if "crates.io" in p.get("source", "")]


def vendor_cache() -> Path:
    """A directory with every crate of Cargo.lock (`cargo vendor --versioned-dirs`)."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:16]
    base = TOOLS_DIR / "vendor"
    cache = base / digest
    if cache.is_dir():
        return cache
    base.mkdir(parents=True, exist_ok=True)
    for old in base.iterdir():
        if old.name != digest and not old.name.startswith("tmp"):
            shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix="tmp", dir=base))
    print(f"vendoring Cargo.lock's crates into {cache} (once per Cargo.lock) ...",
          file=sys.stderr)
    run(["cargo", "vendor", "--locked", "--versioned-dirs", "--quiet", str(tmp / "v")],
        stdout=subprocess.DEVNULL)
    try:
        (tmp / "v").rename(cache)
    except OSError:
        if not cache.is_dir():  # another run made it at the same time: keep theirs
            raise
    shutil.rmtree(tmp, ignore_errors=True)
    return cache


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=ROOT, text=True, stderr=subprocess.PIPE, **kw)
    if proc.returncode != 0:
        raise CheckFailed(f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n"
                          + proc.stderr.strip())
    return proc


def cargo_home(parent: Path, crates_dir: Path) -> dict[str, str]:
    """A cargo home configured as OE's cargo_common does; the environment to use it."""
    home = Path(tempfile.mkdtemp(prefix="cargo-home-", dir=parent))
    (home / "config.toml").write_text(
        "# as OE-Core's cargo_common class writes it\n"
        f'[source.bitbake]\ndirectory = "{crates_dir}"\n\n'
        '[source.crates-io]\nreplace-with = "bitbake"\nlocal-registry = "/nonexistent"\n')
    env = dict(os.environ, CARGO_HOME=str(home))
    env.pop("CARGO_TARGET_DIR", None)
    return env


def inc_crates() -> list[tuple[str, str]]:
    crates = CRATE_RE.findall(INC.read_text())
    if not crates:
        raise CheckFailed(f"{rel(INC)}: no crate:// entries")
    return crates


def option_sets(options: list[str], default: list[str], every: bool) -> list[list[str]]:
    if every:
        return [list(c) for n in range(len(options) + 1)
                for c in itertools.combinations(options, n)]
    return [[], *([o] for o in options), list(options), list(default)]


def check_vendor(every: bool) -> None:
    cache = vendor_cache()
    options, default, _ = recipe_options()
    with tempfile.TemporaryDirectory(prefix="ctrmgr-vendor-check-") as tmp:
        crates_dir = Path(tmp) / "bitbake"
        crates_dir.mkdir()
        not_locked = []
        for name, version in inc_crates():
            src = cache / f"{name}-{version}"
            if src.is_dir():
                (crates_dir / src.name).symlink_to(src)
            else:
                not_locked.append(f"{name} {version}")
        if not_locked:
            print(f"note: {rel(INC)} lists crates that Cargo.lock does not: "
                  + ", ".join(not_locked), file=sys.stderr)
        sets = option_sets(list(options), default, every)
        workers = os.cpu_count() or 1
        # One cargo home per worker: cargo locks its package cache per home.
        envs = [cargo_home(Path(tmp), crates_dir) for _ in range(workers)]

        def resolve(i: int) -> str | None:
            chosen = sets[i]
            cmd = ["cargo", "metadata", "--frozen", "--format-version", "1",
                   "--no-default-features", "--features", ",".join(chosen)]
            proc = subprocess.run(cmd, cwd=ROOT, env=envs[i % workers], text=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if proc.returncode == 0:
                return None
            return (f"PACKAGECONFIG = \"{' '.join(chosen)}\": `{' '.join(cmd)}` failed:\n"
                    + proc.stderr.strip())

        with ThreadPoolExecutor(workers) as pool:
            failures = [f for f in pool.map(resolve, range(len(sets))) if f]
    if failures:
        raise CheckFailed(f"OE's offline vendoring of {rel(INC)} fails for "
                          f"{len(failures)} of {len(sets)} option sets; the first:\n"
                          + failures[0])
    print(f"{rel(INC)}: `cargo metadata --frozen` resolves offline from its "
          f"{len(inc_crates())} crates for {len(sets)} option sets"
          + (" (every combination)" if every else
             " (none, each alone, all, default: see --help for why that covers all)"))


def version_tuple(v: str) -> tuple[int, ...]:
    parts = [int(x) for x in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def check_msrv() -> None:
    cache = vendor_cache()
    with MANIFEST.open("rb") as f:
        declared = tomllib.load(f)["package"].get("rust-version")
    if not declared:
        raise CheckFailed("Cargo.toml has no package.rust-version")
    with tempfile.TemporaryDirectory(prefix="ctrmgr-msrv-check-") as tmp:
        proc = subprocess.run(
            ["cargo", "metadata", "--frozen", "--format-version", "1", "--all-features"],
            cwd=ROOT, env=cargo_home(Path(tmp), cache), text=True,
            capture_output=True)
    if proc.returncode != 0:
        raise CheckFailed("cargo metadata failed:\n" + proc.stderr.strip())
    meta = json.loads(proc.stdout)
    members = set(meta["workspace_members"])
    locked = {(p["name"], p["version"]): p.get("rust_version")
              for p in meta["packages"] if p["id"] not in members}
    missing = set(lock_crates()) - set(locked)
    if missing:
        raise CheckFailed(f"cargo metadata did not report {len(missing)} locked crates: "
                          + ", ".join(f"{n} {v}" for n, v in sorted(missing)[:10]))
    with_rv = {k: v for k, v in locked.items() if v}
    highest = max(with_rv.values(), key=version_tuple)
    setters = sorted(f"{n} {v}" for (n, v), rv in with_rv.items()
                     if version_tuple(rv) == version_tuple(highest))
    if version_tuple(declared) != version_tuple(highest):
        raise CheckFailed(
            f"Cargo.toml's rust-version is {declared}, but the highest rust-version of the "
            f"{len(locked)} locked crates is {highest} ({', '.join(setters)}): set "
            f'rust-version = "{highest}" (and the MSRV in meta-ctrmgr/conf/layer.conf, '
            "meta-ctrmgr/README.md and README.md)")
    print(f"rust-version {declared} = the highest of the {len(locked)} locked crates' "
          f"({len(with_rv)} declare one; {highest} from {', '.join(setters)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[1:]))
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("features")
    vendor = sub.add_parser("vendor")
    vendor.add_argument("--all-combinations", action="store_true")
    sub.add_parser("msrv")
    features = sub.add_parser("cargo-features")
    features.add_argument("--default", action="store_true")
    args = parser.parse_args()
    try:
        if args.cmd == "features":
            check_features()
        elif args.cmd == "vendor":
            check_vendor(args.all_combinations)
        elif args.cmd == "msrv":
            check_msrv()
        else:
            print("\n".join(cargo_features()[1 if args.default else 0]))
    except CheckFailed as e:
        print(f"check-layer {args.cmd}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
