//! Where line-editing history lives: `$XDG_DATA_HOME/wspipe/<file>`, falling back to
//! `~/.local/share/wspipe/<file>` (the XDG Base Directory default).

use std::ffi::OsString;
use std::path::PathBuf;

/// The REPL's history file; None when neither `XDG_DATA_HOME` nor `HOME` is usable.
pub fn history_path() -> Option<PathBuf> {
    history_file("history")
}

/// A history file named `name` in wspipe's data directory (the chat client keeps
/// its own, so chat lines do not mix with REPL commands).
pub fn history_file(name: &str) -> Option<PathBuf> {
    data_dir(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME")).map(|dir| dir.join(name))
}

/// `wspipe` under the XDG data directory. The spec says a relative
/// `XDG_DATA_HOME` is invalid and must be ignored, like an empty one.
fn data_dir(xdg_data_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute =
        |value: Option<OsString>| value.map(PathBuf::from).filter(|path| path.is_absolute());
    let base = absolute(xdg_data_home)
        .or_else(|| absolute(home).map(|home| home.join(".local").join("share")))?;
    Some(base.join("wspipe"))
}

/// Creates the directory the history file goes in (private: history can hold
/// tokens typed by hand).
pub fn create_parent(path: &std::path::Path) -> std::io::Result<()> {
    let Some(dir) = path.parent() else {
        return Ok(());
    };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_data_home_wins_over_home() {
        assert_eq!(
            data_dir(Some("/data".into()), Some("/home/u".into())),
            Some(PathBuf::from("/data/wspipe"))
        );
    }

    #[test]
    fn home_local_share_when_xdg_is_unset_empty_or_relative() {
        let expected = Some(PathBuf::from("/home/u/.local/share/wspipe"));
        assert_eq!(data_dir(None, Some("/home/u".into())), expected);
        assert_eq!(data_dir(Some("".into()), Some("/home/u".into())), expected);
        assert_eq!(
            data_dir(Some("rel".into()), Some("/home/u".into())),
            expected
        );
        assert_eq!(data_dir(None, None), None);
    }
}
