fn main() -> std::process::ExitCode {
    kubectl_waves::cli::main()
}
