# nooelint: oelint.var.bbclassextend - an on-device agent: a native or nativesdk build has no use
SUMMARY = "Container manager agent for embedded Linux edge gateways"
SUMMARY:${PN}-ctl = "ctrmgrctl, the command-line client of the ctrmgr agent"
DESCRIPTION = "ctrmgr manages containers through Docker or Podman (CLI or REST API) \
               on a device, takes requests over REST, MQTT, D-Bus and POSIX message \
               queues in JSON or Protobuf, and keeps its records in LMDB or Redis."
# nooelint: oelint.vars.homepageping - placeholder URL; and lint must not need the network
HOMEPAGE = "https://github.com/example/ctrmgr"
BUGTRACKER = "https://github.com/example/ctrmgr/issues"
SECTION = "admin"
LICENSE = "Apache-2.0"
CVE_PRODUCT = "ctrmgr"
LIC_FILES_CHKSUM = "file://LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

# Where the sources come from (see meta-ctrmgr/README.md, "Sources"): either a local
# checkout through externalsrc (INHERIT += "externalsrc" and EXTERNALSRC:pn-ctrmgr, as
# kas/ctrmgr-qemuarm64.yml does for the checkout this layer sits in), or the ctrmgr git
# repository: set CTRMGR_GIT_URI (URL with protocol and branch) and SRCREV (a commit of
# that branch; ctrmgr-crates.inc must come from that commit's Cargo.lock) in local.conf
# or a bbappend. With neither, the recipe is skipped and says why.
CTRMGR_GIT_URI ??= ""
PV .= "+git"
SRC_URI = "${CTRMGR_GIT_URI}"

# No S here: since whinlatter the git fetcher unpacks into ${UNPACKDIR}/${BP}
# (BB_GIT_DEFAULT_DESTSUFFIX), which is the default S; externalsrc sets S itself. On
# scarthgap with a newer Rust (see README.md) a bbappend sets S = "${WORKDIR}/git".

inherit cargo cargo-update-recipe-crates systemd useradd

require ${BPN}-crates.inc

# Cargo features, one PACKAGECONFIG option each, of the same name (scripts/check-layer.py
# checks the 1:1 mapping and the default). The cargo class passes the enabled options'
# first fields (PACKAGECONFIG_CONFARGS) to `cargo build`; repeated --features add up.
# The engines and brokers the agent talks to come in through RDEPENDS or RRECOMMENDS,
# per option: a Podman-only image pulls no Docker.
CARGO_BUILD_FLAGS += "--no-default-features"
# The default is Cargo.toml's default feature set (every transport, store and path).
PACKAGECONFIG ??= "rest docker-cli docker-api podman-cli podman-api lmdb redis mqtt dbus mqueue protobuf grpc ctl"
PACKAGECONFIG[rest] = "--features rest,,,,,"
PACKAGECONFIG[docker-cli] = "--features docker-cli,,,docker,,"
PACKAGECONFIG[docker-api] = "--features docker-api,,,docker,,"
PACKAGECONFIG[podman-cli] = "--features podman-cli,,,podman,,"
PACKAGECONFIG[podman-api] = "--features podman-api,,,podman,,"
PACKAGECONFIG[lmdb] = "--features lmdb,,,,,"
# Redis and the MQTT broker may well live elsewhere in the fleet: recommend a local one
# (drop it with BAD_RECOMMENDATIONS) rather than require it.
PACKAGECONFIG[redis] = "--features redis,,,,redis,"
PACKAGECONFIG[mqtt] = "--features mqtt,,,,mosquitto,"
PACKAGECONFIG[dbus] = "--features dbus,,,dbus,,"
PACKAGECONFIG[mqueue] = "--features mqueue,,,,,"
PACKAGECONFIG[protobuf] = "--features protobuf,,,,,"
# The gRPC server (tonic + hyper HTTP/2 on the tokio thread it shares with MQTT, ctrmgr-tokio): +347 KiB of a
# 4.7 MiB stripped x86_64 agent, +0.3 MiB idle RSS. On by default, like every transport,
# because it is small against the 8 MiB budget and other services on the device reach
# for gRPC; drop it from PACKAGECONFIG on a board that has no gRPC client.
PACKAGECONFIG[grpc] = "--features grpc,,,,,"
# ctrmgrctl, the command-line client (1.2 MiB stripped on x86_64; the agent binary does
# not grow): on by default for people on the device, in its own package ${PN}-ctl so an
# image can leave it out.
PACKAGECONFIG[ctl] = "--features ctl,,,,,"

# Which board-configs/<name>.toml becomes /etc/ctrmgr/ctrmgr.toml. Set
# CTRMGR_BOARD_CONFIG in local.conf to pick another one.
CTRMGR_MACHINE_BOARD_CONFIG = "qemuarm64"
# nooelint: oelint.vars.specific - MACHINE from its BSP layer, unknown to the linter
CTRMGR_MACHINE_BOARD_CONFIG:raspberrypi4-64 = "rpi4"
# nooelint: oelint.vars.specific - MACHINE from its BSP layer, unknown to the linter
CTRMGR_MACHINE_BOARD_CONFIG:imx8mm-lpddr4-evk = "imx8mm"
# nooelint: oelint.vars.specific - MACHINE from its BSP layer, unknown to the linter
CTRMGR_MACHINE_BOARD_CONFIG:beaglebone = "beaglebone-black"
# nooelint: oelint.vars.specific - MACHINE from its BSP layer, unknown to the linter
CTRMGR_MACHINE_BOARD_CONFIG:beaglebone-yocto = "beaglebone-black"
CTRMGR_BOARD_CONFIG ??= "${CTRMGR_MACHINE_BOARD_CONFIG}"

# Cargo.toml's release profile strips the binary; let OE strip it instead so that
# ${PN}-dbg gets the debug symbols (and the already-stripped QA check passes).
export CARGO_PROFILE_RELEASE_STRIP = "false"

# update_crates (bitbake -c update_crates ctrmgr) reads every Cargo.lock under
# CARGO_LOCK_SRC_DIR, all of S by default: give it the agent's alone, not
# fuzz/Cargo.lock (cargo-fuzz's own workspace, never built here) nor any under target/.
# scripts/gen-crates-inc.py writes the same file from the same one Cargo.lock.
CARGO_LOCK_SRC_DIR = "${WORKDIR}/cargo-lock"
do_update_crates:prepend() {
    rm -rf ${CARGO_LOCK_SRC_DIR}
    mkdir -p ${CARGO_LOCK_SRC_DIR}
    cp ${S}/Cargo.lock ${CARGO_LOCK_SRC_DIR}/
}

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/systemd/ctrmgr.service ${D}${systemd_system_unitdir}/
    sed -i -e 's,/usr/bin/,${bindir}/,g' -e 's,/etc/ctrmgr/,${sysconfdir}/ctrmgr/,g' \
        ${D}${systemd_system_unitdir}/ctrmgr.service

    install -d ${D}${sysconfdir}/ctrmgr
    install -m 0640 -g ctrmgr ${S}/board-configs/${CTRMGR_BOARD_CONFIG}.toml \
        ${D}${sysconfdir}/ctrmgr/ctrmgr.toml

    install -d ${D}${datadir}/dbus-1/system.d
    install -m 0644 ${S}/dbus/io.ctrmgr.Agent1.conf ${D}${datadir}/dbus-1/system.d/
}

USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system ctrmgr"

SYSTEMD_SERVICE:${PN} = "ctrmgr.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

PACKAGES =+ "${PN}-ctl"
FILES:${PN}-ctl += "${bindir}/ctrmgrctl"

CONFFILES:${PN} = "${sysconfdir}/ctrmgr/ctrmgr.toml"
FILES:${PN} += "${datadir}/dbus-1/system.d/io.ctrmgr.Agent1.conf"

# Skipping at parse time says at once, and why, instead of a do_compile that finds no
# Cargo.toml; only parse-time python can skip a recipe.
# nooelint: oelint.task.noanonpython - SkipRecipe needs it; two getVar calls, no side effects
python () {
    if not d.getVar("CTRMGR_GIT_URI") and not d.getVar("EXTERNALSRC"):
        raise bb.parse.SkipRecipe("no ctrmgr sources: set EXTERNALSRC:pn-ctrmgr to a checkout "
                                  "(with INHERIT += \"externalsrc\"), or CTRMGR_GIT_URI and SRCREV "
                                  "to the repository and commit (see meta-ctrmgr/README.md)")
}
