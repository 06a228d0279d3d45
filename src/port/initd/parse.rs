//! Pure parsers: the variables of an init script that tie it to its process, a pidfile,
//! the start links of sysvinit's runlevel directories.

use std::collections::HashMap;

/// What an init script says about the process it runs: the values of its `DAEMON=` (a
/// sysvinit script) and `command=` (an OpenRC one) assignments, and of `PIDFILE=`,
/// `PID=` and `pidfile=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptVars {
    /// The programs it starts (absolute paths only), in the order assigned.
    pub daemons: Vec<String>,
    /// Its pidfiles (absolute paths only), in the order assigned.
    pub pidfiles: Vec<String>,
}

const DAEMON_VARS: [&str; 2] = ["DAEMON", "command"];
const PIDFILE_VARS: [&str; 3] = ["PIDFILE", "PID", "pidfile"];

/// Reads a script's `DAEMON`/`command` and `PIDFILE`/`PID`/`pidfile` assignments
/// (pure). Only plain assignments count (`NAME=value`, optionally quoted, optionally
/// after `export`, with `$VAR` and `${VAR}` of earlier plain assignments expanded);
/// anything computed (`$(...)`, backticks, `${VAR:-x}`, a variable never assigned) is
/// left out rather than guessed. Every value assigned is kept: a script that assigns
/// `PIDFILE` in two branches names both.
pub fn parse_script(text: &str) -> ScriptVars {
    let mut vars: HashMap<String, String> = HashMap::new();
    let mut out = ScriptVars::default();
    for line in text.lines() {
        let Some((name, value)) = assignment(line, &vars) else {
            continue;
        };
        let keep = |v: &str, list: &mut Vec<String>| {
            if v.starts_with('/') && !list.iter().any(|x| x == v) {
                list.push(v.to_string());
            }
        };
        if DAEMON_VARS.contains(&name.as_str()) {
            keep(&value, &mut out.daemons);
        }
        if PIDFILE_VARS.contains(&name.as_str()) {
            keep(&value, &mut out.pidfiles);
        }
        vars.insert(name, value);
    }
    out
}

/// `NAME=value` on one line, with its value expanded; `None` for anything else.
fn assignment(line: &str, vars: &HashMap<String, String>) -> Option<(String, String)> {
    let l = line.trim_start();
    let l = l
        .strip_prefix("export ")
        .or_else(|| l.strip_prefix("readonly "))
        .map_or(l, str::trim_start);
    let eq = l.find('=')?;
    let name = &l[..eq];
    let ok_name = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok_name {
        return None;
    }
    let (value, rest) = word(&l[eq + 1..], vars)?;
    let rest = rest.trim_start();
    // `A=b cmd` runs cmd with A set for it alone: not an assignment of the script.
    if !(rest.is_empty() || rest.starts_with('#') || rest.starts_with(';')) {
        return None;
    }
    Some((name.to_string(), value))
}

/// One shell word at the start of `s`: its expanded value and what follows it.
fn word<'a>(s: &'a str, vars: &HashMap<String, String>) -> Option<(String, &'a str)> {
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            ' ' | '\t' | ';' => return Some((out, &s[i..])),
            '\'' => {
                chars.next();
                let end = s[i + 1..].find('\'')? + i + 1;
                out.push_str(&s[i + 1..end]);
                while chars.peek().is_some_and(|&(j, _)| j <= end) {
                    chars.next();
                }
            }
            '"' => {
                chars.next();
                let end = s[i + 1..].find('"')? + i + 1;
                out.push_str(&expand(&s[i + 1..end], vars)?);
                while chars.peek().is_some_and(|&(j, _)| j <= end) {
                    chars.next();
                }
            }
            '`' | '\\' | '(' | ')' | '<' | '>' | '|' | '&' | '*' | '?' | '[' => return None,
            '$' => {
                let (v, used) = variable(&s[i..], vars)?;
                out.push_str(&v);
                for _ in 0..used {
                    chars.next();
                }
            }
            _ => {
                out.push(c);
                chars.next();
            }
        }
    }
    Some((out, ""))
}

/// Expands the variables of a double-quoted string; `None` when one cannot be.
fn expand(s: &str, vars: &HashMap<String, String>) -> Option<String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(['$', '`', '\\']) {
        out.push_str(&rest[..i]);
        if !rest[i..].starts_with('$') {
            return None;
        }
        let (v, used) = variable(&rest[i..], vars)?;
        out.push_str(&v);
        rest = rest[i..].get(used..)?;
    }
    out.push_str(rest);
    Some(out)
}

/// `$NAME` or `${NAME}` at the start of `s`: its value and how many chars it took.
fn variable(s: &str, vars: &HashMap<String, String>) -> Option<(String, usize)> {
    let body = s.strip_prefix('$')?;
    let (name, used) = if let Some(b) = body.strip_prefix('{') {
        let end = b.find('}')?;
        (&b[..end], end + 3)
    } else {
        let end = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        (&body[..end], end + 1)
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    vars.get(name).map(|v| (v.clone(), used))
}

/// The pid in a pidfile's text: its first line, a positive number (pure).
pub fn parse_pidfile(text: &str) -> Option<i32> {
    text.lines()
        .next()?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|p| *p > 0)
}

/// Whether a runlevel directory's entry is a start link of `name`: `S` then two digits
/// then the name (`S01nginx`), as `update-rc.d` makes them (pure).
pub fn is_start_link(entry: &str, name: &str) -> bool {
    entry
        .strip_prefix('S')
        .filter(|r| r.len() == name.len() + 2)
        .is_some_and(|r| r.as_bytes()[..2].iter().all(u8::is_ascii_digit) && &r[2..] == name)
}

/// Whether `name` may name a service in a command line: a file name of `/etc/init.d`
/// made of letters, digits and `._+@-`, not starting with `-` or `.`, and not one of the
/// files there that are no service (`README`, `skeleton`, `rc`, `rcS`, `functions`).
pub fn is_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+@-".contains(c))
        && !["README", "skeleton", "rc", "rcS", "functions"].contains(&name)
        && !name.ends_with(".dpkg-old")
        && !name.ends_with(".dpkg-dist")
        && !name.ends_with(".dpkg-new")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head of Debian 12's `/etc/init.d/nginx`.
    const NGINX: &str = include_str!("../../../tests/fixtures/initd/nginx");

    #[test]
    fn debian_nginx_script() {
        let v = parse_script(NGINX);
        assert_eq!(v.daemons, vec!["/usr/sbin/nginx"]);
        assert_eq!(v.pidfiles, vec!["/run/nginx.pid"]);
    }

    #[test]
    fn variables_expand_and_computed_values_are_left_out() {
        let v = parse_script(
            "NAME=lighttpd\nDAEMON=/usr/sbin/$NAME\nPIDFILE=\"/run/${NAME}.pid\"\n\
             PIDFILE=$UNSET/x.pid\nDAEMON=`which foo`\nexport DAEMON='/opt/x y/bin'\n\
             DAEMON=/usr/bin/env ls\nPIDFILE=/run/a.pid # comment\nPIDFILE=relative.pid\n",
        );
        assert_eq!(v.daemons, vec!["/usr/sbin/lighttpd", "/opt/x y/bin"]);
        assert_eq!(v.pidfiles, vec!["/run/lighttpd.pid", "/run/a.pid"]);
    }

    #[test]
    fn a_semicolon_ends_the_assignment_as_in_sh() {
        // `DAEMON=/A;x cmd` is `DAEMON=/A` then the command `x cmd` (found by the
        // property test of mangled lines, which first expected it to be left out).
        assert_eq!(parse_script("DAEMON=/A;x cmd\n").daemons, vec!["/A"]);
        assert!(parse_script("DAEMON=/A|x\n").daemons.is_empty());
    }

    #[test]
    fn openrc_scripts() {
        let v = parse_script(
            "#!/sbin/openrc-run\nname=\"nginx\"\ncommand=\"/usr/sbin/nginx\"\n\
             pidfile=\"/run/$name.pid\"\n",
        );
        assert_eq!(v.daemons, vec!["/usr/sbin/nginx"]);
        assert_eq!(v.pidfiles, vec!["/run/nginx.pid"]);
    }

    #[test]
    fn pidfiles_and_links() {
        assert_eq!(parse_pidfile("812\n"), Some(812));
        assert_eq!(parse_pidfile(" 812 \nextra"), Some(812));
        assert_eq!(parse_pidfile("0\n"), None);
        assert_eq!(parse_pidfile("-5"), None);
        assert_eq!(parse_pidfile(""), None);
        assert!(is_start_link("S01nginx", "nginx"));
        assert!(!is_start_link("K01nginx", "nginx"));
        assert!(!is_start_link("S01nginx-extra", "nginx"));
        assert!(!is_start_link("Sxxnginx", "nginx"));
        assert!(!is_start_link("S1nginx", "nginx"));
        assert!(is_service_name("nginx") && is_service_name("php8.2-fpm"));
        for bad in [
            "",
            "-f",
            ".depend.boot",
            "README",
            "a b",
            "x;y",
            "nginx.dpkg-old",
        ] {
            assert!(!is_service_name(bad), "{bad:?}");
        }
    }
}
