//! `spin-test-host up`: serve a Spin application the way `spin up` would, for browsers, load
//! tests and manual poking. Prints `Serving http://<addr>` once listening and stops on
//! SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use spin_test_host::{App, HostOptions, StorePaths};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
Usage: spin-test-host up [OPTIONS]

Options:
  --manifest <PATH>      the application manifest [default: spin.toml]
  --listen <ADDR>        the address to listen on [default: 127.0.0.1:3000]
  --data-dir <DIR>       where kv.db and sqlite_db.db live [default: .data]
  --runtime-config-file <PATH>
                         Spin runtime config; this host honours only local (type = \"spin\")
                         default stores with a path, and refuses Redis/libSQL by name
  --var <NAME=VALUE>     set an application variable (repeatable)
  --timeout <SECONDS>    wall-clock limit per request [default: 60]
  -h, --help             print this help

Application variables can also be set as SPIN_VARIABLE_<NAME> environment variables.";

struct Args {
    options: HostOptions,
    listen: SocketAddr,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Option<Args>> {
    match args.next().as_deref() {
        Some("up") => {}
        Some("-h" | "--help") | None => return Ok(None),
        Some(other) => bail!("unknown command {other:?} (expected `up`)"),
    }
    let mut manifest = PathBuf::from("spin.toml");
    let mut stores = StorePaths::default();
    let mut data_dir = PathBuf::from(".data");
    let mut listen: SocketAddr = ([127, 0, 0, 1], 3000).into();
    let mut variables = Vec::new();
    let mut timeout = None;
    while let Some(flag) = args.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                (name.to_owned(), Some(value.to_owned()))
            }
            _ => (flag.clone(), None),
        };
        if matches!(name.as_str(), "-h" | "--help") {
            return Ok(None);
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .with_context(|| format!("{name} needs a value"))
        };
        match name.as_str() {
            "--manifest" | "-f" | "--from" => manifest = value()?.into(),
            "--listen" => {
                let text = value()?;
                listen = text.parse().with_context(|| {
                    format!("--listen {text:?} is not an address like 127.0.0.1:3000")
                })?;
            }
            "--data-dir" | "--state-dir" => data_dir = value()?.into(),
            "--runtime-config-file" => stores = StorePaths::from_file(&PathBuf::from(value()?))?,
            "--var" | "--variable" => {
                let text = value()?;
                let (key, val) = text
                    .split_once('=')
                    .with_context(|| format!("--var {text:?} must be NAME=VALUE"))?;
                variables.push((key.to_owned(), val.to_owned()));
            }
            "--timeout" => {
                let text = value()?;
                let seconds: f64 = text
                    .parse()
                    .with_context(|| format!("--timeout {text:?} is not a number of seconds"))?;
                timeout = Some(
                    Duration::try_from_secs_f64(seconds)
                        .with_context(|| format!("--timeout {text:?} is out of range"))?,
                );
            }
            other => bail!("unknown option {other:?}\n\n{USAGE}"),
        }
    }
    let mut options = HostOptions::new(manifest, data_dir);
    options.stores = stores;
    options.variables.extend(variables);
    if let Some(timeout) = timeout {
        options.request_timeout = timeout;
    }
    Ok(Some(Args { options, listen }))
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for SIGINT"),
        _ = terminate.recv() => Ok(()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(args) = parse_args(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    let started = std::time::Instant::now();
    let app = App::load(args.options).await?;
    let server = app.serve(args.listen).await?;
    eprintln!(
        "spin-test-host: loaded {} in {:.1}s",
        app.name(),
        started.elapsed().as_secs_f64()
    );
    println!("Serving http://{}", server.addr);
    println!("Available Routes:");
    for (route, component) in app.routes() {
        println!("  {component}: http://{}{route}", server.addr);
    }
    wait_for_signal().await?;
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> anyhow::Result<Option<Args>> {
        parse_args(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn defaults_and_flags() -> anyhow::Result<()> {
        let args = parse(&["up"])?.context("should parse")?;
        assert_eq!(args.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(args.options.manifest, PathBuf::from("spin.toml"));
        assert_eq!(args.options.data_dir, PathBuf::from(".data"));

        let args = parse(&[
            "up",
            "--manifest",
            "app/spin.toml",
            "--listen=127.0.0.1:0",
            "--data-dir",
            "/tmp/x",
            "--var",
            "admin_email=a@b.c",
            "--var=token=x=y",
            "--timeout",
            "2.5",
        ])?
        .context("should parse")?;
        assert_eq!(args.listen.port(), 0);
        assert_eq!(args.options.manifest, PathBuf::from("app/spin.toml"));
        assert_eq!(args.options.variables["admin_email"], "a@b.c");
        assert_eq!(args.options.variables["token"], "x=y");
        assert_eq!(args.options.request_timeout, Duration::from_millis(2500));
        Ok(())
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse(&["down"]).is_err());
        assert!(parse(&["up", "--listen", "nowhere"]).is_err());
        assert!(parse(&["up", "--var", "novalue"]).is_err());
        assert!(parse(&["up", "--bogus"]).is_err());
        assert!(parse(&["up", "--manifest"]).is_err());
        assert!(matches!(parse(&["--help"]), Ok(None)));
    }
}
