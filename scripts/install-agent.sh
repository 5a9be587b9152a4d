#!/bin/sh
# install-agent.sh: set up a cmon agent on this machine, as root.  Paste it on a
# new machine with the server's URL and the workspace key:
#
#   sudo sh install-agent.sh --server https://cmon.example:8443 --key cmon_... \
#        [--deb ./cmon_0.1.0_amd64.deb] [--name NAME] [--ca /etc/cmon/ca.pem] [--no-start]
#
# It installs the cmon package when --deb is given (else cmon must be installed
# already), writes /etc/cmon/agent.env (mode 0600: it holds the key), and
# enables and starts cmon-agent.service under systemd.  The agent names itself
# after the host unless --name says otherwise, registers with the key, keeps
# its own token in /var/lib/cmon-agent and from then on needs no key.
set -eu
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
server= key= deb= name= ca= start=yes
while [ $# -gt 0 ]; do
    case "$1" in
        --server) server=${2:?}; shift 2 ;;
        --key) key=${2:?}; shift 2 ;;
        --deb) deb=${2:?}; shift 2 ;;
        --name) name=${2:?}; shift 2 ;;
        --ca) ca=${2:?}; shift 2 ;;
        --no-start) start=no; shift ;;
        -h|--help) usage 0 ;;
        *) echo "install-agent: unknown option $1" >&2; usage ;;
    esac
done
[ -n "$server" ] && [ -n "$key" ] || { echo "install-agent: --server and --key are required" >&2; usage; }
[ "$(id -u)" -eq 0 ] || { echo "install-agent: run it as root" >&2; exit 1; }
if [ -n "$deb" ]; then
    case "$deb" in /*|./*) ;; *) deb=./$deb ;; esac
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
fi
command -v cmon >/dev/null || { echo "install-agent: cmon is not installed (give --deb FILE)" >&2; exit 1; }
case "$server" in
    http://127.*|http://localhost*|http://\[::1\]*|https://*) ;;
    http://*) echo "install-agent: warning: $server is plain HTTP: the key and results cross the network in clear; use https:// and --ca" >&2 ;;
esac
args=
[ -n "$name" ] && args="$args --name $name"
[ -n "$ca" ] && args="$args --ca $ca"
umask 077
mkdir -p /etc/cmon
cat >/etc/cmon/agent.env <<ENV
# written by install-agent.sh; see cmon agent --help
CMON_SERVER=$server
CMON_AGENT_KEY=$key
CMON_AGENT_ARGS="${args# }"
ENV
chmod 0600 /etc/cmon/agent.env
if [ "$start" = yes ] && [ -d /run/systemd/system ]; then
    systemctl enable --now cmon-agent.service
    systemctl restart cmon-agent.service
    echo "install-agent: cmon-agent is running; journalctl -u cmon-agent shows its log"
else
    echo "install-agent: /etc/cmon/agent.env written; start the agent with: systemctl enable --now cmon-agent"
fi
