//! `fenghuo`: the command-line tool for people (CA, config generation, client commands).

fn main() -> std::process::ExitCode {
    fenghuo_node::cli::main()
}
