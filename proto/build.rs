//! Compiles `proto/fenghuo/v1/*.proto` with protox (a Rust protobuf compiler), so a fresh
//! machine needs nothing but cargo. Also writes the encoded descriptor set for reflection.
use prost::Message;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/fenghuo/v1/feed.proto",
        "proto/fenghuo/v1/registry.proto",
        "proto/fenghuo/v1/federation.proto",
        "proto/fenghuo/v1/comms.proto",
        "proto/fenghuo/v1/overview.proto",
        "proto/fenghuo/v1/staff.proto",
        "proto/fenghuo/v1/disposal.proto",
        "proto/fenghuo/v1/admin.proto",
        "proto/fenghuo/v1/intake.proto",
        "proto/fenghuo/v1/notify.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["proto"])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("fenghuo_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
