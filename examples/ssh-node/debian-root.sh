#!/bin/bash
# debian-root.sh DEST - put a minimal Debian 12 (bookworm, debootstrap
# minbase) into DEST, an empty directory.  The first call debootstraps
# once into a cache (TEND_DEBIAN_CACHE, default /var/cache/tend/bookworm-minbase,
# about 35 s and 200 MB); later calls copy the cache (a few seconds).
# Uses the Debian mirror apt already uses on this machine.
set -eu
dest=${1:?usage: debian-root.sh DEST}
cache=${TEND_DEBIAN_CACHE:-/var/cache/tend/bookworm-minbase}

mirror() {
	local m
	m=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
		grep -v security | head -n1 | sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//; s/ .*//')
	echo "${m:-http://deb.debian.org/debian}"
}

mkdir -p "$(dirname "$cache")"
exec 9>"$cache.lock"
flock 9
if [ ! -e "$cache/.complete" ]; then
	command -v debootstrap >/dev/null || { echo "debian-root: debootstrap is not installed" >&2; exit 2; }
	rm -rf "$cache.tmp"
	echo "debian-root: debootstrapping bookworm (minbase) into $cache, once" >&2
	if ! debootstrap --variant=minbase bookworm "$cache.tmp" "$(mirror)" >"$cache.log" 2>&1; then
		echo "debian-root: debootstrap failed; see $cache.log" >&2
		rm -rf "$cache.tmp"
		exit 3
	fi
	rm -rf "$cache"
	mv "$cache.tmp" "$cache"
	touch "$cache/.complete"
fi
cp -a "$cache/." "$dest/"
rm -f "$dest/.complete"
