#!/usr/bin/env bash
# install-agent.sh - install the Roster agent on Linux as a systemd service.
#
# Usage: sudo scripts/install-agent.sh [OPTIONS]
#
# First installation (a registration token from the Roster admin API, the
# bind password in a file that only root reads):
#
#   sudo scripts/install-agent.sh --server-url https://roster.example.com \
#       --registration-token-file token.txt \
#       --ldap-url ldaps://dc01.corp.example.com \
#       --bind-dn 'svc-roster@CORP.EXAMPLE.COM' --password-file ldap-password.txt
#
# Later runs take only what changes: `--binary NEW` upgrades the agent,
# `--password-file FILE` replaces the password, the LDAP options together
# rewrite the settings, no option at all repairs the installation and starts
# the service. The service's first poll of the server brings the first push
# and import; no separate push is needed.
#
# Options:
#   --server-url URL                 the Roster server; needed to register
#   --registration-token-file FILE   the one-time registration token (one
#                                    line; - reads standard input); needed
#                                    to register, ignored once registered
#   --ldap-url URL                   the domain controller: ldaps://HOST, or
#                                    ldap://HOST with --starttls
#   --bind-dn ACCOUNT                the account the agent binds as: a DN,
#                                    user@REALM or DOMAIN\user
#   --password-file FILE             the bind account's password (one line;
#                                    - reads standard input)
#   --base-dn DN                     base of all reads [default: the domain]
#   --ca-file FILE                   PEM CA that issued the DC's certificate,
#                                    if the system does not trust it already
#   --starttls                       upgrade an ldap:// URL with StartTLS
#   --binary FILE                    the roster-agent binary to install
#                                    [default: roster-agent next to this script]
#   --dry-run                        print what would be done; change nothing
#   -h, --help                       show this help
#
# Steps, each taken only when needed, so a re-run is safe:
#   1. checks: root, systemd, the binary runs, roster-agent.service is
#      next to this script;
#   2. creates the system user roster-agent;
#   3. installs the binary as /usr/local/bin/roster-agent;
#   4. writes /var/lib/roster-agent/roster-agent.toml (the [ldap] section),
#      ldap-password.txt and ldap-ca.pem beside it: mode 0600, owned by
#      roster-agent, in a folder only roster-agent can open (0700);
#   5. registers the agent once (the token goes through standard input,
#      never a command line);
#   6. runs `roster-agent check` as roster-agent (LDAP, server, job);
#   7. installs /etc/systemd/system/roster-agent.service, enables it (start
#      at boot) and starts it, or restarts it when something changed;
#   8. says where to watch it.
#
# To remove it: systemctl disable --now roster-agent; then delete
# /etc/systemd/system/roster-agent.service, /usr/local/bin/roster-agent and,
# with the agent's identity, /var/lib/roster-agent.
set -euo pipefail

if [[ ${1:-} == --help || ${1:-} == -h ]]; then
    sed -n '2,/^set -euo pipefail/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
    exit 0
fi

readonly service_user=roster-agent
readonly state_dir=/var/lib/roster-agent
readonly installed_binary=/usr/local/bin/roster-agent
readonly unit_name=roster-agent.service
readonly installed_unit=/etc/systemd/system/$unit_name
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly script_dir

log() { echo "install-agent.sh: $*" >&2; }
die() { log "$*"; exit 1; }

server_url='' token_file='' ldap_url='' bind_dn='' password_file='' base_dn='' ca_file='' starttls=false
binary=$script_dir/roster-agent
dry_run=false
while [[ $# -gt 0 ]]; do
    case $1 in
        --server-url | --registration-token-file | --ldap-url | --bind-dn | --password-file | --base-dn | --ca-file | --binary)
            [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value (see --help)"
            case $1 in
                --server-url) server_url=$2 ;;
                --registration-token-file) token_file=$2 ;;
                --ldap-url) ldap_url=$2 ;;
                --bind-dn) bind_dn=$2 ;;
                --password-file) password_file=$2 ;;
                --base-dn) base_dn=$2 ;;
                --ca-file) ca_file=$2 ;;
                --binary) binary=$2 ;;
            esac
            shift 2
            ;;
        --starttls) starttls=true; shift ;;
        --dry-run) dry_run=true; shift ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
done

# The agent must see what the service will see: the config file, not
# ROSTER_* variables of this shell.
while read -r name; do unset "$name"; done < <(compgen -e ROSTER_ || true)

# Runs a command that changes the machine, or prints it under --dry-run.
change() {
    if $dry_run; then
        printf 'would run:'
        printf ' %q' "$@"
        printf '\n'
    else
        "$@"
    fi
}

# Runs the agent as the service user with the service's state directory.
agent() { runuser -u "$service_user" -- "$installed_binary" --state-dir "$state_dir" "$@"; }

# Copies standard input to DEST (mode 0600, owned by the service user),
# replacing it in one rename. Fails (status 1) when DEST already holds
# exactly that; `what` names the file in messages, never its content.
write_private() {
    local dest=$1 what=$2 tmp
    if $dry_run; then
        echo "would write $dest ($what; mode 0600, owner $service_user)"
        return 0
    fi
    tmp=$(mktemp "$dest.XXXXXX") || die "could not create a file next to $dest" # mode 0600 from the start
    if ! cat > "$tmp" || ! chown "$service_user:$service_user" "$tmp"; then
        rm -f "$tmp"
        die "could not write $dest ($what)"
    fi
    if cmp -s "$tmp" "$dest"; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$dest" || die "could not replace $dest ($what)"
    log "wrote $dest ($what)"
}

# A TOML basic string: backslashes and quotes escaped.
toml_string() {
    local value=${1//\\/\\\\}
    printf '"%s"' "${value//\"/\\\"}"
}

# The config file the agent reads by default (see agent/src/config.rs).
settings_toml() {
    echo '# Written by install-agent.sh; ROSTER_LDAP_* environment variables override these.'
    echo '# Relative paths are relative to this file.'
    echo '[ldap]'
    echo "url = $(toml_string "$ldap_url")"
    echo "bind_dn = $(toml_string "$bind_dn")"
    echo 'password_file = "ldap-password.txt"'
    if [[ -n $base_dn ]]; then echo "base_dn = $(toml_string "$base_dn")"; fi
    if [[ -n $ca_file ]]; then echo 'ca_file = "ldap-ca.pem"'; fi
    if $starttls; then echo 'starttls = true'; fi
}

# 1. Checks, before anything changes.
[[ $EUID -eq 0 ]] || die "run as root (sudo): it creates a user, a service and files under /var/lib and /usr/local/bin"
[[ -d /run/systemd/system ]] || die "systemd is not running on this machine; the agent is installed as a systemd service"
command -v runuser >/dev/null || die "runuser (util-linux) is missing"
[[ -f $script_dir/$unit_name ]] || die "$script_dir/$unit_name is missing (it ships next to this script)"
[[ -f $binary && -x $binary ]] || die "no executable roster-agent at $binary (give --binary FILE)"
version=$("$binary" --version) || die "$binary does not run on this machine (wrong architecture?)"
[[ $token_file != - || $password_file != - ]] || die "--registration-token-file and --password-file cannot both read standard input"
for file in "$token_file" "$password_file" "$ca_file"; do
    [[ -z $file || $file == - || -r $file ]] || die "cannot read $file"
done
for value in "$server_url" "$ldap_url" "$bind_dn" "$base_dn"; do
    [[ $value != *[[:cntrl:]]* ]] || die "option values cannot hold control characters (line breaks, tabs)"
done
if [[ -n $ldap_url ]]; then
    [[ $ldap_url =~ ^[Ll][Dd][Aa][Pp][Ss]?:// ]] || die "--ldap-url must start with ldaps:// or ldap://, got $ldap_url"
    [[ -n $bind_dn ]] || die "--ldap-url needs --bind-dn"
elif [[ -n $bind_dn || -n $base_dn || -n $ca_file || $starttls == true ]]; then
    die "the LDAP settings are written together: give --ldap-url with --bind-dn (and --base-dn, --ca-file, --starttls as needed)"
fi
registered=false
[[ -f $state_dir/agent.json ]] && registered=true
if ! $registered; then
    [[ -n $server_url && -n $token_file ]] || die "this agent is not registered yet: give --server-url and --registration-token-file"
elif [[ -n $token_file ]]; then
    log "already registered ($state_dir/agent.json); --registration-token-file ignored"
fi
if [[ -z $ldap_url && ! -f $state_dir/roster-agent.toml ]]; then
    die "no settings yet: give --ldap-url and --bind-dn"
fi
if [[ -z $password_file && ! -f $state_dir/ldap-password.txt ]]; then
    die "no LDAP password stored yet: give --password-file"
fi
log "agent: $version"
changed=false

# 2. The service user: a system account without a login shell.
if ! id -u "$service_user" >/dev/null 2>&1; then
    change useradd --system --user-group --home-dir "$state_dir" --no-create-home \
        --shell /usr/sbin/nologin --comment 'Roster agent' "$service_user"
fi
change install -d -m 0700 -o "$service_user" -g "$service_user" "$state_dir"

# 3. The binary, replaced only when it differs (a running service keeps the
#    old one until the restart below).
if ! cmp -s "$binary" "$installed_binary"; then
    change install -m 0755 -o root -g root "$binary" "$installed_binary"
    changed=true
fi

# 4. Settings. Relative paths in the file are relative to the file.
if [[ -n $password_file ]]; then
    if [[ $password_file == - ]]; then
        write_private "$state_dir/ldap-password.txt" "LDAP password" && changed=true
    else
        write_private "$state_dir/ldap-password.txt" "LDAP password" < "$password_file" && changed=true
    fi
fi
if [[ -n $ca_file ]]; then
    write_private "$state_dir/ldap-ca.pem" "LDAP CA certificate" < "$ca_file" && changed=true
fi
if [[ -n $ldap_url ]]; then
    write_private "$state_dir/roster-agent.toml" "settings" < <(settings_toml) && changed=true
fi

# 5. Registration, once: the token travels on standard input (`--token -`).
if ! $registered; then
    if $dry_run; then
        echo "would run: $installed_binary --state-dir $state_dir register --server $server_url --token - (as $service_user, token on standard input)"
    elif [[ $token_file == - ]]; then
        agent register --server "$server_url" --token - || die "roster-agent register failed (above)"
    else
        agent register --server "$server_url" --token - < "$token_file" || die "roster-agent register failed (above)"
    fi
fi

# 6. Preflight, as the service will run.
if $dry_run; then
    echo "would run: $installed_binary --state-dir $state_dir check (as $service_user)"
else
    agent check || die "roster-agent check failed (above); the service was not (re)started: fix the settings and run this script again"
fi

# 7. The service: started at boot, restarted on failure (see the unit).
if ! cmp -s "$script_dir/$unit_name" "$installed_unit"; then
    change install -m 0644 -o root -g root "$script_dir/$unit_name" "$installed_unit"
    change systemctl daemon-reload
    changed=true
fi
change systemctl enable --quiet "$unit_name"
if $changed; then
    change systemctl restart "$unit_name"
else
    change systemctl start "$unit_name" # nothing to do when it runs already
fi
if ! $dry_run && ! systemctl is-active --quiet "$unit_name"; then
    journalctl -u "$unit_name" -n 20 --no-pager >&2 || true
    die "$unit_name did not start (its last log lines are above)"
fi

# 8. Where to watch it.
job=$(sed -n 's/^ *"job_id": *"\([^"]*\)".*/\1/p' "$state_dir/agent.json" 2>/dev/null || true)
server=$(sed -n 's/^ *"server_url": *"\([^"]*\)".*/\1/p' "$state_dir/agent.json" 2>/dev/null || true)
server=${server:-$server_url}
cat <<EOF
The Roster agent runs as $unit_name (user $service_user, state in $state_dir).
  status:   systemctl status $unit_name
  logs:     journalctl -u $unit_name -f
  sessions: ${server%/}/api/v1/jobs/${job:-<job>}/sessions (admin token; the first import appears within minutes)
  health:   ${server%/}/api/v1/agents
EOF
