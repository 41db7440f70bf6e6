# nooelint: oelint.var.bbclassextend - an on-device agent: a native or nativesdk build has no use
SUMMARY = "Container manager agent for embedded Linux edge gateways"
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

# Placeholder repository: point it at the real one. SRCREV must be the commit whose
# Cargo.lock ctrmgr-crates.inc was generated from (scripts/gen-crates-inc.py, checked
# by the repository's test command), so bump both together.
PV .= "+git"
SRC_URI = "git://github.com/example/ctrmgr.git;protocol=https;branch=main"
SRCREV = "0000000000000000000000000000000000000000"

# No S here: since whinlatter the git fetcher unpacks into ${UNPACKDIR}/${BP}
# (BB_GIT_DEFAULT_DESTSUFFIX), which is the default S. On scarthgap with a newer Rust
# (see README.md) a bbappend sets S = "${WORKDIR}/git".

inherit cargo cargo-update-recipe-crates systemd useradd

require ${BPN}-crates.inc

# Cargo features, one PACKAGECONFIG option each (enable = the feature's name); the
# engines and brokers the agent talks to come in through RDEPENDS or RRECOMMENDS.
# The default is Cargo.toml's default feature set (every transport, store and path).
PACKAGECONFIG ??= "rest docker-cli docker-api podman-cli podman-api lmdb redis mqtt dbus mqueue protobuf"
PACKAGECONFIG[rest] = "rest,,,,,"
PACKAGECONFIG[docker-cli] = "docker-cli,,,docker,,"
PACKAGECONFIG[docker-api] = "docker-api,,,docker,,"
PACKAGECONFIG[lmdb] = "lmdb,,,,,"
PACKAGECONFIG[podman-cli] = "podman-cli,,,podman,,"
PACKAGECONFIG[podman-api] = "podman-api,,,podman,,"
# Redis and the MQTT broker may well live elsewhere in the fleet: recommend a local one
# (drop it with BAD_RECOMMENDATIONS) rather than require it.
PACKAGECONFIG[redis] = "redis,,,,redis,"
PACKAGECONFIG[mqtt] = "mqtt,,,,mosquitto,"
PACKAGECONFIG[dbus] = "dbus,,,dbus,,"
PACKAGECONFIG[mqueue] = "mqueue,,,,,"
PACKAGECONFIG[protobuf] = "protobuf,,,,,"

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

do_compile() {
    oe_cargo_build --no-default-features --features "${PACKAGECONFIG_CONFARGS}"
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

CONFFILES:${PN} = "${sysconfdir}/ctrmgr/ctrmgr.toml"
FILES:${PN} += "${datadir}/dbus-1/system.d/io.ctrmgr.Agent1.conf"
