//! The shared harness of ctrmgr's integration tests, as a library so that each test
//! binary uses what it needs and none carries unused code: the agent process and its
//! REST client ([`common`]), the contract clients of every transport
//! ([`common::contract`]), deployments ([`deployment_support`]), a private Mosquitto and an MQTT 5 client ([`mqtt_support`]),
//! a private dbus-daemon and a zbus client ([`dbus_support`]), POSIX MQ reply queues
//! ([`mqueue_support`]) and Redis key prefixes of the store tests ([`redis_support`]).

pub mod common;
pub mod dbus_support;
pub mod deployment_support;
pub mod grpc_support;
pub mod mqtt_support;
pub mod mqueue_support;
pub mod redis_support;
