//! Build script: compiles `proto/ctrmgr.proto` with protox (pure Rust, no `protoc`) into
//! prost types, and writes the table of every message's known field numbers that the
//! Protobuf codec uses to refuse unknown fields. Does nothing without feature `protobuf`.

fn main() {
    if std::env::var_os("CARGO_FEATURE_PROTOBUF").is_none() {
        return;
    }
    if let Err(e) = protobuf::generate() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "protobuf")]
mod protobuf {
    use protox::prost_reflect::prost_types::field_descriptor_proto::{Label, Type};
    use protox::prost_reflect::prost_types::DescriptorProto;
    use std::fmt::Write as _;
    use std::path::PathBuf;

    const PROTO: &str = "proto/ctrmgr.proto";

    pub fn generate() -> Result<(), String> {
        println!("cargo:rerun-if-changed={PROTO}");
        let fds = protox::compile([PROTO], ["proto"])
            .map_err(|e| format!("{PROTO} does not compile: {e}"))?;
        let out_dir =
            PathBuf::from(std::env::var_os("OUT_DIR").ok_or("cargo did not set OUT_DIR")?);
        let mut schema = String::from("&[\n");
        for file in &fds.file {
            let package = file.package.as_deref().unwrap_or_default();
            for message in &file.message_type {
                write_message(&mut schema, &format!(".{package}"), message);
            }
        }
        schema.push(']');
        std::fs::write(out_dir.join("ctrmgr_v1_fields.rs"), schema)
            .map_err(|e| format!("cannot write the field table to {}: {e}", out_dir.display()))?;
        prost_build::Config::new()
            .btree_map(["."])
            .compile_fds(fds)
            .map_err(|e| format!("prost-build failed on {PROTO}: {e}"))
    }

    /// Appends one `MessageFields` entry per message (nested ones too, e.g. map entries).
    fn write_message(out: &mut String, scope: &str, message: &DescriptorProto) {
        let full_name = format!("{scope}.{}", message.name());
        let _ = writeln!(out, "MessageFields {{ name: {full_name:?}, fields: &[");
        for field in &message.field {
            let oneof = field
                .oneof_index
                .filter(|_| !field.proto3_optional())
                .and_then(|i| message.oneof_decl.get(usize::try_from(i).ok()?))
                .map(|o| o.name().to_owned());
            let message_type = field
                .type_name
                .as_deref()
                .filter(|_| field.r#type() == Type::Message);
            let _ = writeln!(
                out,
                "  KnownField {{ number: {}, name: {:?}, message: {:?}, repeated: {}, oneof: {:?} }},",
                field.number(),
                field.name(),
                message_type,
                field.label() == Label::Repeated,
                oneof,
            );
        }
        out.push_str("] },\n");
        for nested in &message.nested_type {
            write_message(out, &full_name, nested);
        }
    }
}

#[cfg(not(feature = "protobuf"))]
mod protobuf {
    pub fn generate() -> Result<(), String> {
        Ok(())
    }
}
