//! Generated files stay in step with the clap definitions: the completion scripts
//! under completions/ and the man page under doc/. `UPDATE_EXPECT=1 cargo test`
//! rewrites them.

use clap::CommandFactory;
use clap_complete::Shell;
use wspipe::cli::Cli;

fn completion(shell: Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "wspipe", &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn checked_in_completions_are_fresh() {
    expect_test::expect_file!["../../completions/wspipe.bash"].assert_eq(&completion(Shell::Bash));
    expect_test::expect_file!["../../completions/_wspipe"].assert_eq(&completion(Shell::Zsh));
    expect_test::expect_file!["../../completions/wspipe.fish"].assert_eq(&completion(Shell::Fish));
    expect_test::expect_file!["../../completions/_wspipe.ps1"]
        .assert_eq(&completion(Shell::PowerShell));
    expect_test::expect_file!["../../completions/wspipe.elv"].assert_eq(&completion(Shell::Elvish));
}

fn man_page(command: clap::Command) -> String {
    let mut out = Vec::new();
    clap_mangen::Man::new(command).render(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn checked_in_man_pages_are_fresh() {
    let top = Cli::command();
    expect_test::expect_file!["../../doc/wspipe.1"].assert_eq(&man_page(top.clone()));
    // One page per subcommand, as git does (`man wspipe-send`).
    let page = |name: &str, title: &'static str| {
        let sub = top.find_subcommand(name).unwrap().clone();
        // The page is wspipe-send(1); its synopsis is what a user types.
        man_page(sub.name(title).bin_name(format!("wspipe {name}")))
    };
    expect_test::expect_file!["../../doc/wspipe-connect.1"]
        .assert_eq(&page("connect", "wspipe-connect"));
    expect_test::expect_file!["../../doc/wspipe-send.1"].assert_eq(&page("send", "wspipe-send"));
    expect_test::expect_file!["../../doc/wspipe-listen.1"]
        .assert_eq(&page("listen", "wspipe-listen"));
    expect_test::expect_file!["../../doc/wspipe-chat.1"].assert_eq(&page("chat", "wspipe-chat"));
}

#[test]
fn subcommand_man_pages_show_the_command_as_typed() {
    for name in ["connect", "send", "listen", "chat"] {
        let page = std::fs::read_to_string(format!(
            "{}/doc/wspipe-{name}.1",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let synopsis = page
            .split(".SH SYNOPSIS\n")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .unwrap_or_default();
        assert!(
            synopsis.starts_with(&format!("\\fBwspipe {name}\\fR ")),
            "{name}: {synopsis}"
        );
    }
}

#[tokio::test]
async fn completions_command_prints_the_checked_in_script() {
    for (shell, file) in [
        ("bash", "wspipe.bash"),
        ("zsh", "_wspipe"),
        ("fish", "wspipe.fish"),
    ] {
        let out = crate::common::run(&["completions", shell], b"").await;
        assert_eq!(out.code, 0);
        let expected =
            std::fs::read(format!("{}/completions/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(
            out.stdout == expected,
            "{shell} completion differs from completions/{file}"
        );
    }
}

#[tokio::test]
async fn every_subcommand_help_shows_examples() {
    for command in ["connect", "send", "listen", "chat"] {
        let out = crate::common::run(&[command, "--help"], b"").await;
        assert_eq!(out.code, 0, "{command}");
        let help = out.stdout();
        assert!(
            help.contains("Examples:"),
            "{command} --help has no examples:\n{help}"
        );
        assert!(
            help.contains(&format!("wspipe {command}")),
            "{command}: {help}"
        );
    }
}

#[tokio::test]
async fn version_is_reported() {
    let out = crate::common::run(&["--version"], b"").await;
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout(),
        format!("wspipe {}\n", env!("CARGO_PKG_VERSION"))
    );
}
