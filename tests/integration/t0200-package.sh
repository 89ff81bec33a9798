#!/bin/bash
# t0200-package: the package type with the dpkg/apt provider, inside a
# temp root fed by a local apt repository (apt-ftparchive, a file: source)
# of .deb files built here: install, idempotence, upgrade to latest once
# the lists are older than 24 h, a pinned version (downgrade), removal,
# existing conffiles kept, twenty packages in one apt-get, a package no
# source offers failing alone while the rest installs, and a root with
# its own dpkg, into which apt chroots to run dpkg and the root's hooks.  The dpkg
# database in the root is checked with dpkg-query, not only tend's report.
. "$(dirname "$0")/lib.sh"
need dpkg-deb dpkg-query apt-get apt-cache apt-ftparchive ldd

REPO=$T/repo
mkdir -p "$REPO" "$T/build" "$T/bin"

# mkdeb NAME VERSION [CONF] - a package shipping /usr/share/tend-test/NAME
# and, with CONF, the conffile /etc/NAME.conf holding CONF.
mkdeb() {
	local d=$T/build/$1-$2
	mkdir -p "$d/DEBIAN" "$d/usr/share/tend-test"
	echo "$1 $2" >"$d/usr/share/tend-test/$1"
	printf 'Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: tend tests <t@example.invalid>\nDescription: tend test package %s\n' \
		"$1" "$2" "$1" >"$d/DEBIAN/control"
	if [ $# -ge 3 ]; then
		mkdir -p "$d/etc"
		echo "$3" >"$d/etc/$1.conf"
		echo "/etc/$1.conf" >"$d/DEBIAN/conffiles"
	fi
	dpkg-deb --root-owner-group -Zgzip --build "$d" "$REPO/${1}_${2}_all.deb" >/dev/null ||
		fail "dpkg-deb --build $1 $2"
}
# Only a compressed index: apt then keeps its own copy in the root's lists
# (an uncompressed one would be symlinked, and every new package would be
# seen at once, lists age or not).
index_repo() {
	(cd "$REPO" && apt-ftparchive packages . | gzip -9n >Packages.gz) || fail "apt-ftparchive"
}

# A root with what apt and dpkg need, and the repository as its only source.
mkdir -p "$ROOT"/etc/apt/apt.conf.d "$ROOT"/etc/apt/preferences.d "$ROOT"/etc/apt/sources.list.d \
	"$ROOT"/var/lib/dpkg/info "$ROOT"/var/lib/dpkg/updates "$ROOT"/var/lib/dpkg/triggers \
	"$ROOT"/var/lib/apt/lists/partial "$ROOT"/var/cache/apt/archives/partial "$ROOT"/var/log/apt
: >"$ROOT/var/lib/dpkg/status"
: >"$ROOT/var/lib/dpkg/available"
echo "deb [trusted=yes] file:$REPO ./" >"$ROOT/etc/apt/sources.list"

# Every apt-get and apt-cache tend runs is logged, one line each.
for tool in apt-get apt-cache; do
	cat >"$T/bin/$tool" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/$tool.log"
exec /usr/bin/$tool "\$@"
EOF
	chmod +x "$T/bin/$tool"
	: >"$T/$tool.log"
done
export PATH="$T/bin:$PATH"
apt_gets() { wc -l <"$T/apt-get.log"; }
apt_caches() { wc -l <"$T/apt-cache.log"; }

# dpkg_has NAME VERSION - the root's dpkg database has NAME installed at VERSION.
dpkg_has() {
	local got
	got=$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f '${db:Status-Status} ${Version}' "$1" 2>&1)
	if [ "$got" = "installed $2" ]; then
		ok "dpkg database: $1 $2 installed"
	else
		fail "dpkg database: $1 $2 installed" "got: $got"
	fi
}
dpkg_lacks() {
	local got
	got=$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f '${db:Status-Status}' "$1" 2>/dev/null)
	if [ "$got" != installed ]; then
		ok "dpkg database: $1 not installed"
	else
		fail "dpkg database: $1 not installed" "got: $got"
	fi
}
age_lists() {
	touch -d '2 days ago' "$ROOT/var/lib/apt/lists" "$ROOT/var/lib/apt/lists/partial"
}

mkdeb hello 1.0 "shipped 1.0"
mkdeb other 1.0
index_repo

cat >site.yaml <<EOF
resources:
  - package: hello
EOF

step "plan without apt lists: unknown, says why, writes nothing, runs no apt-get"
snapshot "$ROOT" >"$T/before"
expect_exit 2 tend plan site.yaml
stdout_has "? package:hello: unknown: package 'hello' is not in the apt lists (missing)"
assert_snapshot "the root is unchanged" "$T/before" "$ROOT"
check "no apt-get ran" test "$(apt_gets)" -eq 0

step "apply refreshes the missing lists, then installs"
expect_exit 0 tend apply site.yaml
stdout_has "changed package:hello: create, version (none) -> 1.0"
dpkg_has hello 1.0
assert_file_content "$ROOT/usr/share/tend-test/hello" $'hello 1.0\n'
check "two apt-get runs: update, then install" test "$(apt_gets)" -eq 2
check "the first was 'update'" grep -qx -- '-q update' "$T/apt-get.log"
check "the install is noninteractive and keeps conffiles" \
	grep -qE -- '-q -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install hello$' \
	"$T/apt-get.log"

step "a second apply changes nothing and runs no apt tool"
cp "$T/apt-get.log" "$T/apt-get.before"
cp "$T/apt-cache.log" "$T/apt-cache.before"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
check "no apt-get ran" cmp -s "$T/apt-get.log" "$T/apt-get.before"
check "no apt-cache ran (present and installed needs no lists)" cmp -s "$T/apt-cache.log" "$T/apt-cache.before"
expect_exit 0 tend plan site.yaml

step "latest: lists younger than 24 h are trusted, so 2.0 is not seen yet"
echo "local edit" >"$ROOT/etc/hello.conf"
mkdeb hello 2.0 "shipped 2.0"
index_repo
cat >latest.yaml <<EOF
resources:
  - package: hello
    ensure: latest
EOF
expect_exit 0 tend plan latest.yaml
expect_exit 0 tend apply latest.yaml
dpkg_has hello 1.0

step "latest: once the lists are older than 24 h, plan says unknown and apply refreshes and upgrades"
age_lists
snapshot "$ROOT" >"$T/before"
expect_exit 2 tend plan latest.yaml
stdout_matches "^\? package:hello: unknown: the apt lists are [0-9]+ h old \(older than 24 h\)"
assert_snapshot "plan (which ran apt-cache) left the root unchanged" "$T/before" "$ROOT"
n=$(apt_gets)
expect_exit 0 tend apply latest.yaml
stdout_has "changed package:hello: version 1.0 -> 2.0"
dpkg_has hello 2.0
assert_file_content "$ROOT/usr/share/tend-test/hello" $'hello 2.0\n'
check "one update and one install" test "$(apt_gets)" -eq $((n + 2))
assert_file_content "$ROOT/etc/hello.conf" $'local edit\n'
expect_exit 0 tend apply latest.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan latest.yaml

step "latest: aged lists with nothing newer: apply refreshes, then has nothing to do"
age_lists
n=$(apt_gets)
expect_exit 0 tend apply latest.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
check "only apt-get update ran" test "$(apt_gets)" -eq $((n + 1)) -a "$(tail -n 1 "$T/apt-get.log")" = "-q update"
dpkg_has hello 2.0

step "a pinned version downgrades to exactly that version"
cat >pin.yaml <<EOF
resources:
  - package: hello
    ensure: "1.0"
EOF
expect_exit 2 tend plan pin.yaml
stdout_has "~ package:hello: version 2.0 -> 1.0"
expect_exit 0 tend apply pin.yaml
dpkg_has hello 1.0
check "apt-get was allowed to downgrade to hello=1.0" \
	grep -qE -- '--allow-downgrades install hello=1.0$' "$T/apt-get.log"
assert_file_content "$ROOT/etc/hello.conf" $'local edit\n'
expect_exit 0 tend apply pin.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "a pinned version no source offers fails with the versions there are"
cat >badpin.yaml <<EOF
resources:
  - package: hello
    ensure: "3.0"
EOF
expect_exit 1 tend apply badpin.yaml
stdout_has "failed package:hello: version 3.0 of package 'hello' is not available from any configured source (offered: 2.0, 1.0)"
dpkg_has hello 1.0

step "absent removes the package"
cat >absent.yaml <<EOF
resources:
  - package: hello
    ensure: absent
EOF
expect_exit 2 tend plan absent.yaml
stdout_has "- package:hello: remove"
expect_exit 0 tend apply absent.yaml
dpkg_lacks hello
assert_absent "$ROOT/usr/share/tend-test/hello"
check "removed with 'hello-' in an install transaction" grep -qE -- 'install hello-$' "$T/apt-get.log"
expect_exit 0 tend apply absent.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "twenty packages install in one apt-get"
names=
echo "resources:" >batch.yaml
for i in $(seq -w 1 20); do
	mkdeb "batch$i" 1.0
	names="$names batch$i"
	echo "  - package: batch$i" >>batch.yaml
done
index_repo
: >"$T/apt-get.log"
: >"$T/apt-cache.log"
expect_exit 0 tend apply batch.yaml
summary_is "20 changed, 0 ok, 0 failed, 0 skipped"
check "apt-get ran twice: one update (the batch is not in the lists yet), one install" \
	test "$(apt_gets)" -eq 2 -a "$(grep -c ' install ' "$T/apt-get.log")" -eq 1
check "the one install names all twenty" \
	grep -qE -- "install$(printf ' %s' $names)\$" "$T/apt-get.log"
check "apt-cache policy ran once before and once after the update, each for all twenty" \
	test "$(apt_caches)" -eq 2 -a "$(grep -cE -- "policy$(printf ' %s' $names)\$" "$T/apt-cache.log")" -eq 2
all=1
for n in $names; do
	[ "$(dpkg-query --admindir="$ROOT/var/lib/dpkg" -W -f '${db:Status-Status}' "$n" 2>&1)" = installed ] || all=0
done
check "dpkg database: all twenty installed" test "$all" -eq 1
: >"$T/apt-cache.log"
sed 's/^\(  - package: .*\)$/\1\n    ensure: latest/' batch.yaml >batch-latest.yaml
expect_exit 0 tend plan batch-latest.yaml
check "a plan of twenty 'latest' asks apt-cache once" test "$(apt_caches)" -eq 1

step "a package no source offers fails alone; the others install in the same batch"
mkdeb extra1 1.0
mkdeb extra2 1.0
index_repo
age_lists
cat >unknown.yaml <<EOF
resources:
  - package: extra1
  - package: nope
  - package: extra2
EOF
: >"$T/apt-get.log"
expect_exit 1 tend apply unknown.yaml
stdout_has "failed package:nope: package 'nope' is not available from any configured source"
summary_is "2 changed, 0 ok, 1 failed, 0 skipped"
dpkg_has extra1 1.0
dpkg_has extra2 1.0
dpkg_lacks nope
check "one update, one install of the two others" \
	test "$(apt_gets)" -eq 2 -a "$(grep -c -- 'install extra1 extra2$' "$T/apt-get.log")" -eq 1

step "a failing transaction fails every package of its batch with apt's reason"
mkdir -p "$T/build/broken-1.0/DEBIAN"
printf 'Package: broken\nVersion: 1.0\nArchitecture: all\nDepends: missing-dependency\nMaintainer: t <t@example.invalid>\nDescription: x\n' \
	>"$T/build/broken-1.0/DEBIAN/control"
dpkg-deb --root-owner-group -Zgzip --build "$T/build/broken-1.0" "$REPO/broken_1.0_all.deb" >/dev/null
mkdeb fine 1.0
index_repo
age_lists
cat >broken.yaml <<EOF
resources:
  - package: fine
  - package: broken
EOF
expect_exit 1 tend apply broken.yaml
summary_is "0 changed, 0 ok, 2 failed, 0 skipped"
stdout_matches "^failed package:fine: apt-get failed \(exit 100\): .*E: Unable to correct problems"
stdout_matches "^failed package:broken: apt-get failed \(exit 100\)"
dpkg_lacks fine

step "a root with its own dpkg: apt chroots into it to run dpkg and the root's own hooks"
# A tiny system: the host's dpkg tools and /bin/sh with their libraries,
# stubs for the programs dpkg insists on, the repository inside it (dpkg
# runs chrooted and must reach the .deb), and a hook in its apt.conf.d
# that writes to a directory only the root has: run on the host, it would
# fail (and apt with it).
R2=$T/sys
mkdir -p "$R2"/etc/apt/apt.conf.d "$R2"/etc/apt/preferences.d "$R2"/var/lib/dpkg/info \
	"$R2"/var/lib/dpkg/updates "$R2"/var/lib/dpkg/triggers "$R2"/var/lib/apt/lists/partial \
	"$R2"/var/cache/apt/archives/partial "$R2"/var/log/apt "$R2"/tmp "$R2"/usr/sbin "$R2"/repo "$R2"/tend-hook
: >"$R2/var/lib/dpkg/status"
for b in /usr/bin/dpkg /usr/bin/dpkg-deb /usr/bin/dpkg-split /usr/bin/tar /usr/bin/rm /bin/sh; do
	mkdir -p "$R2$(dirname "$b")"
	cp -L "$b" "$R2$b"
	for l in $(ldd "$b" | grep -o '/[^ ]*'); do
		mkdir -p "$R2$(dirname "$l")"
		cp -L "$l" "$R2$l"
	done
done
for s in diff ldconfig start-stop-daemon; do
	printf '#!/bin/sh\nexit 0\n' >"$R2/usr/sbin/$s"
	chmod +x "$R2/usr/sbin/$s"
done
cp "$REPO/hello_1.0_all.deb" "$R2/repo/"
(cd "$R2/repo" && apt-ftparchive packages . | gzip -9n >Packages.gz)
echo "deb [trusted=yes] file:$R2/repo ./" >"$R2/etc/apt/sources.list"
echo 'DPkg::Pre-Invoke { ": > /tend-hook/ran"; };' >"$R2/etc/apt/apt.conf.d/50tend-test"
: >"$T/apt-get.log"
expect_exit 0 timeout -k 5 "$TEND_TIMEOUT" "$TEND" apply --root "$R2" site.yaml
stdout_has "changed package:hello: create, version (none) -> 1.0"
check "the root's hook ran inside the root" test -e "$R2/tend-hook/ran"
got=$(dpkg-query --admindir="$R2/var/lib/dpkg" -W -f '${db:Status-Status} ${Version}' hello 2>&1)
check "dpkg database of that root: hello 1.0 installed ($got)" test "$got" = "installed 1.0"
assert_file_content "$R2/usr/share/tend-test/hello" $'hello 1.0\n'
expect_exit 0 timeout -k 5 "$TEND_TIMEOUT" "$TEND" apply --root "$R2" site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "bad input: a misspelt ensure is an error at its position, nothing runs"
cat >bad.yaml <<EOF
resources:
  - package: fine
    ensure: lastest
EOF
: >"$T/apt-get.log"
snapshot "$ROOT" >"$T/before"
expect_exit 1 tend apply bad.yaml
stderr_has "bad.yaml:3:13: ensure of package:fine: 'lastest' is not present, absent, latest or a version (did you mean 'latest'?)"
cat >badname.yaml <<EOF
resources:
  - package: "-o=Dir=/"
EOF
expect_exit 1 tend apply badname.yaml
stderr_has "badname.yaml:2:14: '-o=Dir=/' is not a package name"
cat >badname2.yaml <<EOF
resources:
  - package: fine-
EOF
expect_exit 1 tend apply badname2.yaml
stderr_has "badname2.yaml:2:14: 'fine-' is not a package name"
assert_snapshot "the root is unchanged" "$T/before" "$ROOT"
check "no apt-get ran" test "$(apt_gets)" -eq 0

done_testing
