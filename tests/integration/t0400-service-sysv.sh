#!/bin/bash
# t0400-service-sysv: a sysvinit service in a temp root, driven through its
# own /etc/init.d script run chrooted into the root.  A small test daemon
# (a shell loop) records its pid in ROOT/run/testd.pid and counts its
# starts and reloads, so every claim is checked against the process
# itself (alive, from the host): start, stop, restart on notify exactly
# once however many resources notify, no restart when the run starts it,
# reload_on_notify, rc.d links exactly as update-rc.d makes them,
# idempotence, and a plan that changes nothing.
#
# The chroot is built from the host: dash as /bin/sh, sleep and rm, and
# the libraries ldd lists for them.  Needs root (chroot).
. "$(dirname "$0")/lib.sh"

need chroot ldd
[ "$(id -u)" -eq 0 ] || skip "needs root to chroot into the test root"

# --- the root -----------------------------------------------------------------

copy_bin() { # HOST-BINARY ROOT-PATH
	local lib
	mkdir -p "$ROOT$(dirname "$2")"
	cp -L "$1" "$ROOT$2"
	for lib in $(ldd "$1" | grep -o '/[^ ]*'); do
		mkdir -p "$ROOT$(dirname "$lib")"
		[ -e "$ROOT$lib" ] || cp -L "$lib" "$ROOT$lib"
	done
}
copy_bin "$(readlink -f /bin/sh)" /bin/sh
copy_bin "$(command -v sleep)" /bin/sleep
copy_bin "$(command -v rm)" /bin/rm
mkdir -p "$ROOT/etc/init.d" "$ROOT/run" "$ROOT/var/lib/testd" "$ROOT/var/log" "$ROOT/usr/sbin" "$ROOT/dev"
# dash gives background jobs /dev/null as stdin; an empty file serves where mknod may not
mknod -m 666 "$ROOT/dev/null" c 1 3 2>/dev/null || : >"$ROOT/dev/null"
chroot "$ROOT" /bin/sh -c 'sleep 0.01 && rm -f /run/x' ||
	skip "cannot run a shell chrooted into the test root"

cat >"$ROOT/usr/sbin/testd" <<'EOF'
#!/bin/sh
# testd - tend's test daemon: writes its pid, counts starts and reloads, runs until TERM.
echo $$ > /run/testd.pid
echo $$ >> /var/lib/testd/pids
n=0
[ -f /var/lib/testd/starts ] && read n < /var/lib/testd/starts
echo $((n + 1)) > /var/lib/testd/starts
trap 'echo $$ >> /var/lib/testd/reloads' HUP
trap 'exit 0' TERM
while :; do
	sleep 1 &
	wait $!
done
EOF
cat >"$ROOT/etc/init.d/testd" <<'EOF'
#!/bin/sh
### BEGIN INIT INFO
# Provides:          testd
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: tend's test daemon
### END INIT INFO
PIDFILE=/run/testd.pid
running() {
	[ -f $PIDFILE ] && read pid < $PIDFILE && [ -n "$pid" ] && kill -0 "$pid" 2>&-
}
case "$1" in
start)
	running && exit 0
	# a parent shell reaps the daemon: PID 1 of a container may not reap
	# orphans, and kill -0 takes a zombie for a running process
	(/usr/sbin/testd >>/var/log/testd.log 2>&1 & wait) &
	i=0
	while [ $i -lt 100 ]; do
		running && exit 0
		sleep 0.05
		i=$((i + 1))
	done
	exit 1 ;;
stop)
	running || { rm -f $PIDFILE; exit 0; }
	kill "$pid"
	i=0
	while kill -0 "$pid" 2>&-; do
		[ $i -gt 100 ] && exit 1
		sleep 0.05
		i=$((i + 1))
	done
	rm -f $PIDFILE ;;
restart|force-reload)
	"$0" stop && "$0" start ;;
reload)
	running || exit 7
	kill -HUP "$pid" ;;
status)
	running && exit 0
	[ -f $PIDFILE ] && exit 1
	exit 3 ;;
*)
	echo "usage: $0 start|stop|restart|reload|status" >&2
	exit 2 ;;
esac
EOF
chmod 755 "$ROOT/usr/sbin/testd" "$ROOT/etc/init.d/testd"
# every daemon ever started is killed when the test ends, however it ends
: >"$ROOT/var/lib/testd/pids"
reap_pidfile "$ROOT/var/lib/testd/pids"

# --- helpers ------------------------------------------------------------------

pid() { cat "$ROOT/run/testd.pid" 2>/dev/null; }
# running PID - PID is a live process (an empty PID is not)
running() { [ -n "$1" ] && alive "$1"; }
starts() { cat "$ROOT/var/lib/testd/starts" 2>/dev/null || echo 0; }
reloads() { [ -f "$ROOT/var/lib/testd/reloads" ] && wc -l <"$ROOT/var/lib/testd/reloads" || echo 0; }
# links - every entry of ROOT/etc/rc?.d as "DIR/NAME -> TARGET", sorted
links() {
	(cd "$ROOT/etc" && find rc?.d -mindepth 1 -printf '%p -> %l\n' 2>/dev/null | LC_ALL=C sort)
}
assert_links() { # EXPECTED-LINES...
	local want got
	want=$(printf '%s\n' "$@")
	got=$(links)
	if [ "$want" = "$got" ]; then
		ok "the rc.d links are exactly: $*"
	else
		fail "the rc.d links are exactly as expected" "want:" "$want" "got:" "$got"
	fi
}
ENABLED=("rc0.d/K01testd -> ../init.d/testd" "rc1.d/K01testd -> ../init.d/testd"
	"rc2.d/S01testd -> ../init.d/testd" "rc3.d/S01testd -> ../init.d/testd"
	"rc4.d/S01testd -> ../init.d/testd" "rc5.d/S01testd -> ../init.d/testd"
	"rc6.d/K01testd -> ../init.d/testd")
DISABLED=("rc0.d/K01testd -> ../init.d/testd" "rc1.d/K01testd -> ../init.d/testd"
	"rc2.d/K01testd -> ../init.d/testd" "rc3.d/K01testd -> ../init.d/testd"
	"rc4.d/K01testd -> ../init.d/testd" "rc5.d/K01testd -> ../init.d/testd"
	"rc6.d/K01testd -> ../init.d/testd")

manifest() { # STATE ENABLED [EXTRA-ATTRIBUTE-LINE]
	{
		echo "resources:"
		echo "  - service: testd"
		[ -n "$1" ] && echo "    state: $1"
		[ -n "$2" ] && echo "    enabled: $2"
		[ -n "${3:-}" ] && echo "    $3"
	} >site.yaml
}

# --- start and enable ---------------------------------------------------------

manifest running true

step "plan shows starting and enabling, and changes nothing (status only reads)"
snapshot "$ROOT" >before
expect_exit 2 tend plan site.yaml
stdout_has "~ service:testd: enabled false -> true, state stopped -> running"
assert_snapshot "the root is unchanged by plan" before "$ROOT"
check "no daemon was started" test "$(starts)" -eq 0

step "apply starts the daemon and makes the rc.d links"
expect_exit 0 tend apply site.yaml
stdout_has "changed service:testd: enabled false -> true, state stopped -> running"
summary_is "1 changed, 0 ok, 0 failed, 0 skipped"
P1=$(pid)
check "the daemon runs (pid ${P1:-none}, seen from the host)" running "$P1"
check "it started once" test "$(starts)" -eq 1
assert_links "${ENABLED[@]}"

step "a second apply changes nothing and does not restart it, named with or without .service"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
check "same pid" test "$(pid)" = "$P1"
check "still one start" test "$(starts)" -eq 1
expect_exit 0 tend plan site.yaml
sed -i 's/service: testd$/service: testd.service/' site.yaml
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
manifest running true

step "a daemon that died is started again"
kill "$P1"
for _ in $(seq 50); do running "$P1" || break; sleep 0.1; done
expect_exit 0 tend apply site.yaml
stdout_has "changed service:testd: state stopped -> running"
P1=$(pid)
check "a new daemon runs" running "$P1"
check "two starts" test "$(starts)" -eq 2

# --- notifications ------------------------------------------------------------

notify_manifest() { # CONF-CONTENT EXTRA-CONTENT [SERVICE-ATTRIBUTE-LINES...]
	{
		echo "resources:"
		echo "  - file: /etc/testd.conf"
		echo "    content: \"$1\\n\""
		echo "    notify: service:testd"
		echo "  - file: /etc/testd.extra"
		echo "    content: \"$2\\n\""
		echo "    notify: service:testd"
		echo "  - service: testd"
		shift 2
		for a in "$@"; do echo "    $a"; done
	} >site.yaml
}

notify_manifest a=1 b=1 "state: running" "enabled: true"
step "plan shows the restart a notification will cause"
expect_exit 2 tend plan site.yaml
stdout_has "~ service:testd: state running -> restart (notified)"
check "plan did not restart it" test "$(pid)" = "$P1"

step "two changed files notify it: one restart"
expect_exit 0 tend apply site.yaml
stdout_has "changed service:testd: state running -> restart (notified)"
summary_is "3 changed, 0 ok, 0 failed, 0 skipped"
P2=$(pid)
check "it started exactly once more" test "$(starts)" -eq 3
check "a new process runs (pid ${P2:-none})" running "$P2"
check "the new pid differs" test "${P2:-0}" != "$P1"
refute "the old process is gone" running "$P1"

step "nothing changed, nothing notified: no restart"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 3 ok, 0 failed, 0 skipped"
check "no further start" test "$(starts)" -eq 3

step "one changed file: one restart"
notify_manifest a=2 b=1 "state: running" "enabled: true"
expect_exit 0 tend apply site.yaml
summary_is "2 changed, 1 ok, 0 failed, 0 skipped"
check "one more start" test "$(starts)" -eq 4
P3=$(pid)
check "it runs under a new pid" running "$P3"

step "reload_on_notify reloads the running process instead"
notify_manifest a=3 b=3 "state: running" "reload_on_notify: true"
expect_exit 2 tend plan site.yaml
stdout_has "~ service:testd: state running -> reload (notified)"
expect_exit 0 tend apply site.yaml
stdout_has "changed service:testd: state running -> reload (notified)"
for _ in $(seq 20); do [ "$(reloads)" -ge 1 ] && break; sleep 0.1; done
check "it reloaded once" test "$(reloads)" -eq 1
check "same pid" test "$(pid)" = "$P3"
check "no start" test "$(starts)" -eq 4

# --- stop and disable ---------------------------------------------------------

step "state stopped stops the process; enabled false turns S links into K links"
manifest stopped false
expect_exit 0 tend apply site.yaml
stdout_has "changed service:testd: enabled true -> false, state running -> stopped"
refute "the process is gone" running "$P3"
assert_absent "$ROOT/run/testd.pid"
assert_links "${DISABLED[@]}"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "a notification does not start a stopped service"
notify_manifest a=4 b=4 "state: stopped"
expect_exit 0 tend apply site.yaml
summary_is "2 changed, 1 ok, 0 failed, 0 skipped"
notify_manifest a=5 b=5
expect_exit 0 tend apply site.yaml
summary_is "2 changed, 1 ok, 0 failed, 0 skipped"
check "no start" test "$(starts)" -eq 4
assert_absent "$ROOT/run/testd.pid"

step "notified while this run starts it: started once, not restarted"
notify_manifest a=6 b=6 "state: running"
expect_exit 2 tend plan site.yaml
stdout_has "~ service:testd: state stopped -> running"
stdout_lacks "restart"
expect_exit 0 tend apply site.yaml
stdout_has "changed service:testd: state stopped -> running"
check "one start" test "$(starts)" -eq 5
check "it runs" running "$(pid)"

step "enable again: S links back in 2-5, K links kept in 0 1 6"
manifest "" true
expect_exit 0 tend apply site.yaml
stdout_has "changed service:testd: enabled false -> true"
assert_links "${ENABLED[@]}"
manifest stopped ""
expect_exit 0 tend apply site.yaml
refute "stopped" running "$(tail -n 1 "$ROOT/var/lib/testd/pids")"

# --- what cannot be done --------------------------------------------------------

step "a missing init script is a failure naming it"
cat >missing.yaml <<'EOF'
resources:
  - service: nosuchd
    state: running
EOF
expect_exit 1 tend apply missing.yaml
stdout_has "failed service:nosuchd: /etc/init.d/nosuchd does not exist in $ROOT"

step "a root without /bin/sh: state is unknown in plan, fails in apply, enabled is still made"
BARE=$T/bare
mkdir -p "$BARE/etc/init.d"
cp "$ROOT/etc/init.d/testd" "$BARE/etc/init.d/testd"
manifest running true
expect_exit 2 timeout 60 "$TEND" plan --root "$BARE" site.yaml
stdout_has "? service:testd: unknown: cannot start /etc/init.d/testd: $BARE/bin/sh does not exist"
stdout_has "; enabled is still managed (enabled false -> true)"
expect_exit 1 timeout 60 "$TEND" apply --root "$BARE" site.yaml
stdout_has "failed service:testd: cannot start /etc/init.d/testd: $BARE/bin/sh does not exist"
check "enabled was made anyway" test -L "$BARE/etc/rc2.d/S01testd"

step "a script whose status cannot tell: unknown, not guessed"
sed -i 's/^status)$/status)\n\texit 4 ;;\nstatus-real)/' "$ROOT/etc/init.d/testd"
expect_exit 2 tend plan site.yaml
stdout_has "? service:testd: unknown: /etc/init.d/testd status exited 4: cannot tell whether it runs"

done_testing
