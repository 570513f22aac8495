#!/usr/bin/env bash
# install-deps.sh installs the Debian packages that premetrics' end-to-end
# tests and demo run as real components, and makes sure none of their own
# system services is left running: tests and the demo start private
# instances on 127.0.0.1, and a packaged Prometheus on :9090 or node
# exporter on :9100 would only get in the way.
#
# Idempotent: installs only what is missing (apt-get update runs once, and
# only then), stops and disables the packages' services whenever they run.
# Root is needed only to install or to stop something; as another user the
# script checks and reports.
#
#   sudo scripts/install-deps.sh
set -euo pipefail

# One line per package: the Debian package, a file that proves it is
# usable, and the system services its installation may start. Adding a
# component is one line, e.g.
#   "mosquitto   /usr/sbin/mosquitto     mosquitto"
# PostgreSQL's server binaries live in /usr/lib/postgresql/NN/bin
# (internal/testenv finds them there); tests run a throwaway initdb
# cluster as the postgres user the package creates.
# prometheus-node-exporter is only a Recommends of prometheus (not
# installed here) but is often already present; its service is stopped too.
DEPS=(
	"prometheus               /usr/bin/prometheus               prometheus prometheus-node-exporter"
	"prometheus-alertmanager  /usr/bin/prometheus-alertmanager  prometheus-alertmanager"
	"mosquitto                /usr/sbin/mosquitto               mosquitto"
	"mosquitto-clients        /usr/bin/mosquitto_pub"
	"postgresql               /usr/bin/pg_ctlcluster            postgresql"
)

POLICY_RC_D=/usr/sbin/policy-rc.d
policy_backup=""
policy_installed=0
problems=0

log() { printf 'install-deps: %s\n' "$*"; }
warn() { printf 'install-deps: warning: %s\n' "$*" >&2; problems=$((problems + 1)); }
die() { printf 'install-deps: error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# installed PACKAGE FILE: the package is installed (when dpkg exists) and
# FILE is present.
installed() {
	if command -v dpkg-query >/dev/null 2>&1; then
		dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || return 1
	fi
	[ -e "$2" ]
}

pkg_version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "unknown version"
}

# While apt-get runs, a policy-rc.d that answers 101 ("action forbidden")
# stops maintainer scripts from starting services through invoke-rc.d or
# deb-systemd-invoke. Any existing policy is restored afterwards.
forbid_service_starts() {
	if [ -e "$POLICY_RC_D" ]; then
		policy_backup=$(mktemp)
		cp -p "$POLICY_RC_D" "$policy_backup"
	fi
	trap restore_policy EXIT
	printf '#!/bin/sh\n# Written by premetrics scripts/install-deps.sh for the duration of apt-get.\nexit 101\n' >"$POLICY_RC_D"
	chmod 0755 "$POLICY_RC_D"
	policy_installed=1
}

restore_policy() {
	[ "$policy_installed" -eq 1 ] || return 0
	if [ -n "$policy_backup" ]; then
		mv -f "$policy_backup" "$POLICY_RC_D"
	else
		rm -f "$POLICY_RC_D"
	fi
	policy_installed=0
}

systemd_running() { [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; }

# daemon_pids SERVICE: pids of processes that run the service's daemon
# binary as the service's user, both taken from its systemd unit file (the
# packages ship one even where systemd does not run). Empty when unknown.
daemon_pids() {
	local unit="" user bin d
	for d in /lib/systemd/system /usr/lib/systemd/system; do
		if [ -r "$d/$1.service" ]; then unit="$d/$1.service"; break; fi
	done
	[ -n "$unit" ] || return 0
	user=$(sed -n 's/^User=//p' "$unit" | head -n1)
	bin=$(sed -n 's/^ExecStart=[-@+!]*\([^ ]*\).*/\1/p' "$unit" | head -n1)
	[ -n "$user" ] && [ -n "$bin" ] || return 0
	for d in /proc/[0-9]*; do
		[ "$(readlink "$d/exe" 2>/dev/null)" = "$bin" ] || continue
		[ "$(stat -c %U "$d" 2>/dev/null)" = "$user" ] || continue
		echo "${d#/proc/}"
	done
}

# alive PID...: prints the pids that still run (a zombie does not).
alive() {
	local pid state
	for pid in "$@"; do
		state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null) || true
		if [ -n "$state" ] && [ "$state" != Z ]; then echo "$pid"; fi
	done
}

sysv_enabled() { compgen -G "/etc/rc[2345].d/S[0-9][0-9]$1" >/dev/null; }

# stop_service SERVICE: stop it if it runs, disable it if it starts at
# boot, and kill daemons it left behind.
stop_service() {
	local svc=$1 pids i
	if systemd_running; then
		if systemctl is-active --quiet "$svc" 2>/dev/null; then
			if is_root; then systemctl stop "$svc" && log "stopped service $svc"; else warn "service $svc is running; run as root to stop it"; fi
		fi
		if systemctl is-enabled --quiet "$svc" 2>/dev/null; then
			if is_root; then systemctl disable --quiet "$svc" && log "disabled service $svc"; else warn "service $svc is enabled; run as root to disable it"; fi
		fi
	elif [ -x "/etc/init.d/$svc" ]; then
		if "/etc/init.d/$svc" status >/dev/null 2>&1; then
			if is_root; then "/etc/init.d/$svc" stop >/dev/null && log "stopped service $svc"; else warn "service $svc is running; run as root to stop it"; fi
		fi
		if sysv_enabled "$svc" && command -v update-rc.d >/dev/null 2>&1; then
			if is_root; then update-rc.d "$svc" disable >/dev/null 2>&1 && log "disabled boot start of service $svc"; else warn "service $svc starts at boot; run as root to disable it"; fi
		fi
	fi

	pids=$(daemon_pids "$svc")
	[ -n "$pids" ] || return 0
	if ! is_root; then
		warn "daemon of service $svc still runs (pid $(echo $pids)); run as root to stop it"
		return 0
	fi
	log "terminating leftover $svc daemon (pid $(echo $pids))"
	kill -TERM $pids 2>/dev/null || true
	for i in $(seq 1 100); do
		pids=$(alive $pids)
		[ -n "$pids" ] || return 0
		sleep 0.1
	done
	log "killing leftover $svc daemon (pid $(echo $pids))"
	kill -KILL $pids 2>/dev/null || true
}

main() {
	local line pkg file services missing=() svc
	for line in "${DEPS[@]}"; do
		read -r pkg file services <<<"$line"
		if installed "$pkg" "$file"; then
			log "$pkg $(pkg_version "$pkg") already installed"
		else
			missing+=("$pkg")
		fi
	done

	if [ "${#missing[@]}" -gt 0 ]; then
		is_root || die "missing packages: ${missing[*]}; run as root: sudo $0"
		command -v apt-get >/dev/null 2>&1 || die "missing packages: ${missing[*]}; apt-get not found: install them with your system's package manager"
		forbid_service_starts
		export DEBIAN_FRONTEND=noninteractive
		log "apt-get update"
		apt-get -o DPkg::Lock::Timeout=300 update -q
		log "apt-get install ${missing[*]}"
		apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
			-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
			"${missing[@]}"
		restore_policy
		trap - EXIT
		for line in "${DEPS[@]}"; do
			read -r pkg file services <<<"$line"
			installed "$pkg" "$file" || die "$pkg is still not usable after apt-get install ($file missing)"
		done
		for pkg in "${missing[@]}"; do
			log "installed $pkg $(pkg_version "$pkg")"
		done
	fi

	for line in "${DEPS[@]}"; do
		read -r pkg file services <<<"$line"
		for svc in $services; do
			stop_service "$svc"
		done
	done

	if [ "$problems" -gt 0 ]; then
		die "$problems problem(s) above"
	fi
	log "ok: dependencies installed, no packaged services running"
}

main "$@"
