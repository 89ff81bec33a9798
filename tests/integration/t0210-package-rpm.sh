#!/bin/bash
# t0210-package-rpm: the package type with the rpm/dnf provider, inside a
# temp root with its own rpm database, fed by a local dnf repository
# (createrepo_c) of .rpm files built here with rpmbuild: install,
# idempotence, upgrade to latest, a pinned version (downgrade), removal,
# twenty packages in one dnf transaction, and a package no repository
# offers failing alone.  The root's rpm database is checked with rpm -q.
. "$(dirname "$0")/lib.sh"
need rpm rpmbuild dnf createrepo_c

REPO=$T/repo
mkdir -p "$REPO" "$T/bin" "$T/home"
# Debian's rpm keeps its database in ~/.rpmdb; RHEL's (and this root's) is
# /var/lib/rpm.  rpm and dnf both read this, so they agree.
export HOME=$T/home
echo '%_dbpath /var/lib/rpm' >"$HOME/.rpmmacros"

cat >"$T/t.spec" <<'EOF'
Name: %{pname}
Version: %{pver}
Release: 1
Summary: tend test package
License: MIT
BuildArch: noarch
%description
tend test package
%install
mkdir -p %{buildroot}/usr/share/tend-test
echo "%{pname} %{pver}" > %{buildroot}/usr/share/tend-test/%{pname}
%files
/usr/share/tend-test/%{pname}
EOF
# mkrpm NAME VERSION - build NAME-VERSION-1.noarch.rpm into the repository.
mkrpm() {
	rpmbuild --quiet --define "_topdir $T/rpmbuild" --define "pname $1" --define "pver $2" \
		-bb "$T/t.spec" >/dev/null 2>&1 || fail "rpmbuild $1 $2"
	mv "$T/rpmbuild/RPMS/noarch/$1-$2-1.noarch.rpm" "$REPO/"
}
# dnf tells new metadata from old by its timestamps (whole seconds): an
# index rebuilt within the second it was last read would look unchanged.
index_repo() {
	sleep 1
	createrepo_c -q --update --revision "$(date +%s%N)" "$REPO" >/dev/null || fail "createrepo_c"
}

mkdir -p "$ROOT/var/lib/rpm" "$ROOT/etc/yum.repos.d"
rpm --root "$ROOT" --initdb || skip "rpm --initdb failed in a temp root"
# metadata_expire=0: dnf checks the repository each time (the admin's knob
# for how stale dnf's metadata may be; apt's lists age has no equivalent here)
printf '[local]\nname=local\nbaseurl=file://%s\ngpgcheck=0\nenabled=1\nmetadata_expire=0\n' "$REPO" \
	>"$ROOT/etc/yum.repos.d/local.repo"

cat >"$T/bin/dnf" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$T/dnf.log"
exec /usr/bin/dnf "\$@"
EOF
chmod +x "$T/bin/dnf"
: >"$T/dnf.log"
export PATH="$T/bin:$PATH"
dnfs() { grep -c "$1" "$T/dnf.log"; }

# rpm_has NAME VERSION-RELEASE / rpm_lacks NAME - the root's rpm database.
rpm_has() {
	local got
	got=$(rpm --root "$ROOT" -q --qf '%{VERSION}-%{RELEASE}' "$1" 2>&1)
	if [ "$got" = "$2" ]; then ok "rpm database: $1 $2 installed"; else fail "rpm database: $1 $2 installed" "got: $got"; fi
}
rpm_lacks() {
	if rpm --root "$ROOT" -q "$1" >/dev/null 2>&1; then
		fail "rpm database: $1 not installed" "$(rpm --root "$ROOT" -q "$1" 2>&1)"
	else
		ok "rpm database: $1 not installed"
	fi
}

mkrpm tpkg 1.0
index_repo
cat >site.yaml <<EOF
resources:
  - package: tpkg
EOF

step "the provider is chosen from the root's rpm database; a plan runs no dnf"
expect_exit 2 tend plan site.yaml
stdout_has "? package:tpkg: unknown: cannot tell what the sources offer: a plan does not run dnf"
check "no dnf ran" test "$(dnfs .)" -eq 0

step "apply installs through dnf"
expect_exit 0 tend apply site.yaml
stdout_has "changed package:tpkg: create, version (none) -> 1.0-1"
rpm_has tpkg 1.0-1
assert_file_content "$ROOT/usr/share/tend-test/tpkg" $'tpkg 1.0\n'
check "one repoquery, one transaction" test "$(dnfs repoquery)" -eq 1 -a "$(dnfs ' -y install ')" -eq 1

step "a second apply changes nothing and runs no dnf"
: >"$T/dnf.log"
expect_exit 0 tend apply site.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
expect_exit 0 tend plan site.yaml
check "no dnf ran" test "$(dnfs .)" -eq 0

step "latest upgrades to the newest version the repository offers"
mkrpm tpkg 2.0
index_repo
cat >latest.yaml <<EOF
resources:
  - package: tpkg
    ensure: latest
EOF
expect_exit 0 tend apply latest.yaml
stdout_has "changed package:tpkg: version 1.0-1 -> 2.0-1"
rpm_has tpkg 2.0-1
expect_exit 0 tend apply latest.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"

step "a pinned version downgrades; a pin already installed needs no dnf"
cat >pin.yaml <<EOF
resources:
  - package: tpkg
    ensure: "1.0"
EOF
expect_exit 0 tend apply pin.yaml
stdout_has "changed package:tpkg: version 2.0-1 -> 1.0-1"
rpm_has tpkg 1.0-1
check "dnf installed exactly tpkg-1.0-1 over 2.0" grep -q -- '-y install tpkg-1.0-1$' "$T/dnf.log"
: >"$T/dnf.log"
expect_exit 0 tend plan pin.yaml
expect_exit 0 tend apply pin.yaml
summary_is "0 changed, 1 ok, 0 failed, 0 skipped"
check "no dnf ran" test "$(dnfs .)" -eq 0

step "absent removes the package"
cat >absent.yaml <<EOF
resources:
  - package: tpkg
    ensure: absent
EOF
expect_exit 2 tend plan absent.yaml
stdout_has "- package:tpkg: remove"
expect_exit 0 tend apply absent.yaml
rpm_lacks tpkg
assert_absent "$ROOT/usr/share/tend-test/tpkg"
check "through dnf remove" grep -q -- '-y remove tpkg$' "$T/dnf.log"

step "a transaction dnf cannot do fails its packages with dnf's reason"
cat >"$T/broken.spec" <<'EOF'
Name: broken
Version: 1.0
Release: 1
Summary: needs what no repository has
License: MIT
BuildArch: noarch
Requires: missing-dependency
%description
broken
%files
EOF
rpmbuild --quiet --define "_topdir $T/rpmbuild" -bb "$T/broken.spec" >/dev/null 2>&1
mv "$T/rpmbuild/RPMS/noarch/broken-1.0-1.noarch.rpm" "$REPO/"
index_repo
cat >broken.yaml <<EOF
resources:
  - package: broken
  - package: tpkg
EOF
expect_exit 1 tend apply broken.yaml
summary_is "0 changed, 0 ok, 2 failed, 0 skipped"
stdout_matches "^failed package:broken: dnf failed \(exit 1\): .*nothing provides missing-dependency"
stdout_matches "^failed package:tpkg: dnf failed \(exit 1\)"
rpm_lacks broken
rpm_lacks tpkg

step "twenty packages and an unknown one: one dnf transaction, the unknown fails alone"
echo "resources:" >batch.yaml
for i in $(seq -w 1 20); do
	mkrpm "batch$i" 1.0
	echo "  - package: batch$i" >>batch.yaml
done
echo "  - package: nope" >>batch.yaml
index_repo
: >"$T/dnf.log"
expect_exit 1 tend apply batch.yaml
summary_is "20 changed, 0 ok, 1 failed, 0 skipped"
stdout_has "failed package:nope: package 'nope' is not available from any configured source"
check "one dnf install naming all twenty" \
	test "$(dnfs ' -y install ')" -eq 1 -a "$(dnfs "install$(printf ' batch%s' $(seq -w 1 20))\$")" -eq 1
check "one metadata refresh for the unknown name" test "$(dnfs 'makecache --refresh')" -eq 1
all=1
for i in $(seq -w 1 20); do
	[ "$(rpm --root "$ROOT" -q --qf '%{VERSION}' "batch$i" 2>&1)" = 1.0 ] || all=0
done
check "rpm database: all twenty installed" test "$all" -eq 1
rpm_lacks nope

done_testing
