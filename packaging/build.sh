#!/usr/bin/env bash
# Builds the milterhost packages into packaging/out/:
#   packaging/build.sh deb        milterhost_<version>_amd64.deb     (dpkg-deb)
#   packaging/build.sh rpm        milterhost-<version>.x86_64.rpm    (rpmbuild; Debian's `rpm` package will do)
#   packaging/build.sh all        both, from one publish
#   packaging/build.sh selinux    milterhost.pp only (the SELinux policy module the rpm ships;
#                                 Debian's selinux-policy-dev will do), no publish
# Options: --reuse-publish  use packaging/out/publish from an earlier run instead of publishing again.
# The version is <VersionPrefix> in Directory.Build.props, the one place it is written.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
out=${MILTERHOST_PACKAGE_OUT:-$here/out}
maintainer=${MILTERHOST_MAINTAINER:-milterhost developers <postmaster@localhost>}

die() { echo "build.sh: $*" >&2; exit 1; }

reuse=0
kinds=()
for arg in "$@"; do
	case "$arg" in
		--reuse-publish) reuse=1 ;;
		deb|rpm|selinux) kinds+=("$arg") ;;
		all) kinds+=(deb rpm) ;;
		*) die "unknown argument '$arg'; usage: build.sh [--reuse-publish] deb|rpm|all|selinux" ;;
	esac
done
[ ${#kinds[@]} -gt 0 ] || die "usage: build.sh [--reuse-publish] deb|rpm|all|selinux"

version=$(sed -n 's:.*<VersionPrefix>\([^<]*\)</VersionPrefix>.*:\1:p' "$repo/Directory.Build.props")
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "no X.Y.Z <VersionPrefix> in Directory.Build.props (found '$version')"

publish="$out/publish"
stage="$out/stage"
mkdir -p "$out"

publish_binary() {
	if [ "$reuse" = 1 ] && [ -x "$publish/milterhost" ]; then
		return
	fi
	rm -rf "$publish"
	# Native AOT: one executable compiled ahead of time, the runtime inside, no
	# JIT; the target needs no .NET installed, and the daemon starts in
	# milliseconds and runs in about two thirds of the memory of the JIT build
	# (bench/RESULTS.md). The native SQLite library sits beside it. Needs a C
	# toolchain on the build machine (gcc or clang, zlib1g-dev).
	# Own artifacts path: a developer's (or the running test suite's) obj/ and
	# bin/ stay untouched.
	dotnet publish "$repo/src/MilterHost" -c Release -r linux-x64 -p:PublishAot=true -p:DebugType=none \
		-p:Version="$version" --artifacts-path "$out/artifacts" -o "$publish" --nologo -v quiet
	[ -x "$publish/milterhost" ] || die "dotnet publish produced no $publish/milterhost"
}

# The file tree both packages install, owned by whoever builds; the package
# tools record root:root.
stage_tree() {
	rm -rf "$stage"
	install -d "$stage/usr/bin" "$stage/usr/lib/milterhost" "$stage/etc/milterhost" \
		"$stage/etc/logrotate.d" "$stage/usr/lib/systemd/system" \
		"$stage/usr/share/milterhost/sendmail-cf" "$stage/usr/share/doc/milterhost" \
		"$stage/usr/share/man/man8"
	# backup-mail's destination (milterhost-backup.service): everyone's mail, root's alone.
	install -d -m 0700 "$stage/var/backups/milterhost"
	install -m 0755 "$publish/milterhost" "$stage/usr/lib/milterhost/milterhost"
	find "$publish" -maxdepth 1 -name '*.so' -exec install -m 0644 {} "$stage/usr/lib/milterhost/" \;
	ln -s ../lib/milterhost/milterhost "$stage/usr/bin/milterhost"
	install -m 0640 "$here/milterhost.yaml" "$stage/etc/milterhost/milterhost.yaml"
	install -m 0644 "$here/milterhost.logrotate" "$stage/etc/logrotate.d/milterhost"
	install -m 0644 "$here/milterhost.service" "$here/milterhost-logscan.service" "$here/milterhost-logscan.timer" \
		"$here/milterhost-backup.service" "$here/milterhost-backup.timer" "$stage/usr/lib/systemd/system/"
	install -m 0644 "$repo"/sendmail-cf/*.m4 "$repo/sendmail-cf/access.example" \
		"$repo/sendmail-cf/authinfo.example" "$repo/sendmail-cf/README.md" \
		"$stage/usr/share/milterhost/sendmail-cf/"
	install -m 0644 "$here/copyright" "$stage/usr/share/doc/milterhost/copyright"
	install -m 0644 "$repo/README.md" "$stage/usr/share/doc/milterhost/README.md"
	gzip -9n < "$here/milterhost.8" > "$stage/usr/share/man/man8/milterhost.8.gz"
	chmod 0644 "$stage/usr/share/man/man8/milterhost.8.gz"
}

# A maintainer script with the shared functions pasted where it says #FUNCTIONS#.
with_functions() {
	sed -e "/^#FUNCTIONS#\$/{r $here/scripts/functions.sh" -e 'd}' "$1"
}

# The shared libraries the native files need, as Depends: dpkg-shlibdeps reads
# their ELF headers and the versioned symbols they use (GLIBC_2.34 for the
# AOT binary) and answers with the Debian packages and minimum versions.
# It works on a source tree: a debian/control naming the package is enough.
shlibs_depends() {
	local root=$1 tree="$out/shlibdeps"
	command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps not found: apt-get install dpkg-dev"
	rm -rf "$tree" && mkdir -p "$tree/debian"
	printf 'Source: milterhost\n\nPackage: milterhost\nArchitecture: amd64\n' > "$tree/debian/control"
	local line
	line=$(cd "$tree" && dpkg-shlibdeps -O "$root/usr/lib/milterhost/milterhost" "$root"/usr/lib/milterhost/*.so 2>"$tree/warnings") \
		|| { cat "$tree/warnings" >&2; die "dpkg-shlibdeps failed"; }
	rm -rf "$tree"
	[[ "$line" == shlibs:Depends=* ]] || die "dpkg-shlibdeps printed no shlibs:Depends: '$line'"
	echo "${line#shlibs:Depends=}"
}

build_deb() {
	local root="$out/deb-root" file="$out/milterhost_${version}_amd64.deb"
	rm -rf "$root" && cp -a "$stage" "$root"
	local depends
	depends=$(shlibs_depends "$root")
	install -d -m 0755 "$root/DEBIAN"
	for script in preinst postinst prerm postrm; do
		with_functions "$here/deb/$script" > "$root/DEBIAN/$script"
		chmod 0755 "$root/DEBIAN/$script"
	done
	install -m 0644 "$here/deb/conffiles" "$root/DEBIAN/conffiles"
	(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
	local size
	size=$(du -sk --apparent-size --exclude=DEBIAN "$root" | cut -f1)
	sed -e "s/@VERSION@/$version/" -e "s/@MAINTAINER@/$maintainer/" -e "s/@INSTALLED_SIZE@/$size/" \
		-e "s/@SHLIBS_DEPENDS@/$depends/" "$here/deb/control" > "$root/DEBIAN/control"
	rm -f "$file"
	# gzip: quick to build and readable by every dpkg still in use.
	dpkg-deb --root-owner-group -Zgzip -z6 --build "$root" "$file" >/dev/null
	rm -rf "$root"
	echo "$file"
}

build_rpm() {
	command -v rpmbuild >/dev/null || die "rpmbuild not found: apt-get install rpm"
	local top="$out/rpmbuild" file="$out/milterhost-${version}.x86_64.rpm"
	rm -rf "$top" && mkdir -p "$top/SPECS" "$top/BUILD" "$top/BUILDROOT" "$top/tmp"
	local root="$top/root"
	cp -a "$stage" "$root"
	install -d "$root/usr/share/selinux/packages"
	install -m 0644 "$(build_selinux)" "$root/usr/share/selinux/packages/milterhost.pp"
	local spec="$top/SPECS/milterhost.spec"
	sed -e "s/@VERSION@/$version/" -e "s:@ROOT@:$root:" "$here/rpm/milterhost.spec" > "$spec.in"
	with_functions "$spec.in" > "$spec"
	rm -f "$file"
	rpmbuild -bb --target x86_64 \
		--define "_topdir $top" \
		--define "_tmppath $top/tmp" \
		--define "_rpmdir $out" \
		--define "_build_name_fmt %%{NAME}-%%{VERSION}.%%{ARCH}.rpm" \
		--define "_binary_payload w6.gzdio" \
		--define "packager $maintainer" \
		"$spec" >"$top/rpmbuild.log" 2>&1 || { cat "$top/rpmbuild.log" >&2; die "rpmbuild failed"; }
	[ -f "$file" ] || { cat "$top/rpmbuild.log" >&2; die "rpmbuild wrote no $file"; }
	rm -rf "$top"
	echo "$file"
}

# The SELinux policy module (packaging/selinux) compiled with the distribution's
# policy development Makefile; prints the path of milterhost.pp.
build_selinux() {
	local makefile=/usr/share/selinux/devel/Makefile tree="$out/selinux"
	[ -f "$makefile" ] || die "$makefile not found: apt-get install selinux-policy-dev (dnf install selinux-policy-devel)"
	rm -rf "$tree" && mkdir -p "$tree"
	cp "$here"/selinux/milterhost.te "$here"/selinux/milterhost.fc "$here"/selinux/milterhost.if "$tree/"
	make -C "$tree" -f "$makefile" milterhost.pp >"$tree/build.log" 2>&1 || { cat "$tree/build.log" >&2; die "the SELinux policy module did not build"; }
	[ -f "$tree/milterhost.pp" ] || die "make wrote no $tree/milterhost.pp"
	echo "$tree/milterhost.pp"
}

if [ "${kinds[*]}" = selinux ]; then
	build_selinux
	exit 0
fi
publish_binary
stage_tree
for kind in "${kinds[@]}"; do
	"build_$kind"
done
