#!/usr/bin/env bash
# Builds the sixgate Debian package with dpkg-deb, no network needed
# beyond the Go module cache the build already uses: make deb.
#
#   packaging/deb/build.sh [OUTDIR]     (default bin/)
#
# The version is the VERSION file's when there is one, else git describe's;
# Debian versions must start with a digit, so a bare revision becomes
# 0~gitREV. The package is written to OUTDIR/sixgate_VERSION_ARCH.deb and
# its path printed last.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
top="$(cd "$here/../.." && pwd)"
out="$(mkdir -p "${1:-$top/bin}" && cd "${1:-$top/bin}" && pwd)"
cd "$top"
GO="${GO:-go}"

if [ -f VERSION ]; then
	version="$(tr -d ' \n' <VERSION)"
else
	version="$(git describe --always --dirty --tags 2>/dev/null || echo unknown)"
fi
version="${version#v}"
debversion="${version//-/+}"
# A bare revision (no tag yet) sorts below any release.
if { [ ! -f VERSION ] && [[ "$version" =~ ^[0-9a-f]{4,40}(-dirty)?$ ]]; } || [[ "$debversion" != [0-9]* ]]; then
	debversion="0~git$debversion"
fi
revision="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

arch="$(dpkg --print-architecture)"
case "$arch" in
amd64 | arm64 | riscv64 | s390x | loong64) goarch="$arch" ;;
i386) goarch=386 ;;
armhf) goarch=arm goarm=7 ;;
armel) goarch=arm goarm=5 ;;
ppc64el) goarch=ppc64le ;;
*) echo "build.sh: no Go architecture for Debian's $arch" >&2; exit 1 ;;
esac

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
pkg="$root/pkg"
doc="$pkg/usr/share/doc/sixgate"
install -d -m 0755 "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/sixgate" "$doc/examples" \
	"$pkg/usr/share/man/man8" "$pkg/usr/share/lintian/overrides"

# A static binary (no cgo), stripped of its symbol table; the build
# information sixgate -version reads stays.
CGO_ENABLED=0 GOOS=linux GOARCH="$goarch" GOARM="${goarm:-}" \
	"$GO" build -trimpath -ldflags "-s -w -X main.version=$version" -o "$pkg/usr/bin/sixgate" ./cmd/sixgate
chmod 0755 "$pkg/usr/bin/sixgate"

install -m 0644 "$here/sixgate.service" "$pkg/lib/systemd/system/sixgate.service"
install -m 0644 "$here/sixgate.yaml" "$pkg/etc/sixgate/sixgate.yaml"
install -m 0644 README.md docs/*.md "$doc/"
install -m 0644 "$here/copyright" "$doc/copyright"
install -m 0644 "$here/engine-ports.conf" topo/examples/*.yaml "$doc/examples/"
sed -e "s/@VERSION@/$debversion/" -e "s/@REVISION@/$revision/" \
	-e "s/@DATE@/$(date -u -R -d "@$SOURCE_DATE_EPOCH")/" "$here/changelog.in" |
	gzip -9n >"$doc/changelog.gz"
gzip -9n <"$here/sixgate.8" >"$pkg/usr/share/man/man8/sixgate.8.gz"
install -m 0644 "$here/lintian-overrides" "$pkg/usr/share/lintian/overrides/sixgate"
chmod 0644 "$doc/changelog.gz" "$pkg/usr/share/man/man8/sixgate.8.gz"

for s in postinst prerm postrm; do
	install -m 0755 "$here/$s" "$pkg/DEBIAN/$s"
done
echo /etc/sixgate/sixgate.yaml >"$pkg/DEBIAN/conffiles"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
size="$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)"
sed -e "s/@VERSION@/$debversion/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$here/control.in" >"$pkg/DEBIAN/control"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"
find "$pkg" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

deb="$out/sixgate_${debversion}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
echo "$deb"
