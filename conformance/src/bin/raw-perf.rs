//! `raw-perf`: the kernel baseline of the perf runs, nanomsg's perf tools over plain TCP
//! and Unix sockets (see `conformance::perf`).

fn main() -> std::process::ExitCode {
    conformance::perf::raw_main()
}
