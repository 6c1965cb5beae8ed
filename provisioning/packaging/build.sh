#!/usr/bin/env bash
# make package: the Debian packages, with nfpm (pinned, through go run):
# dmpkiosk-kiosk for amd64, arm64 and armhf; dmpkiosk-bridge (the bridge,
# its embedded broker and the provisioning tool) for amd64 and arm64;
# dmpkiosk-testtools (simulators, virtual cards) for amd64. Into dist/;
# lintian then reads every package and must report no error.
set -euo pipefail
cd "$(dirname "$0")/../.."
NFPM=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
sha=$(git rev-parse --short HEAD 2>/dev/null || echo 0)
dirty=
git diff --quiet 2>/dev/null || dirty=+dirty
export PKG_VERSION="0.1.0+git${sha}${dirty}"
ldflags="-s -w -X dmpkiosk/cmd/internal/cli.Version=$PKG_VERSION"
rm -rf dist && mkdir -p dist/build

# build ARCH GOARCH CC PKGCONFIGDIR GOARM CMD...
build() {
  local arch=$1 goarch=$2 cc=$3 pc=$4 goarm=$5; shift 5
  mkdir -p "dist/build/$arch"
  for cmd in "$@"; do
    CGO_ENABLED=1 GOOS=linux GOARCH=$goarch GOARM=$goarm CC=$cc PKG_CONFIG_LIBDIR=$pc \
      go build -trimpath -buildmode=pie -ldflags "$ldflags" -o "dist/build/$arch/$cmd" "./cmd/$cmd"
  done
}
build amd64 amd64 gcc /usr/lib/x86_64-linux-gnu/pkgconfig:/usr/share/pkgconfig "" kiosk bridge provision dmpsim insisim cardsim gamsim
build arm64 arm64 aarch64-linux-gnu-gcc /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig "" kiosk bridge provision
build armhf arm arm-linux-gnueabihf-gcc /usr/lib/arm-linux-gnueabihf/pkgconfig:/usr/share/pkgconfig 7 kiosk

# A Debian changelog for each (native) package.
for pkg in kiosk bridge testtools; do
  mkdir -p "dist/build/$pkg"
  { printf 'dmpkiosk-%s (%s) unstable; urgency=medium\n\n' "$pkg" "$PKG_VERSION"
    printf '  * Built from commit %s.\n\n' "$sha"
    printf ' -- dmpkiosk authors <dmpkiosk@example.org>  %s\n' "$(date -u -R)"
  } | gzip -9n > "dist/build/$pkg/changelog.gz"
done

export BUILD_DIR=dist/build
pack() { # pack PKG DEB_ARCH: the configuration's ${...} filled in, then nfpm
  sed -e "s#\${DEB_ARCH}#$2#g; s#\${PKG_VERSION}#$PKG_VERSION#g; s#\${BIN_DIR}#dist/build/$2#g; s#\${BUILD_DIR}#$BUILD_DIR#g" \
    "provisioning/packaging/nfpm/$1.yaml" > "dist/build/$1-$2.yaml"
  go run "$NFPM" package --packager deb --config "dist/build/$1-$2.yaml" --target dist/ >/dev/null
}
for a in amd64 arm64 armhf; do pack kiosk $a; done
for a in amd64 arm64; do pack bridge $a; done
pack testtools amd64
ls -1 dist/*.deb

# lintian: no error on any package (warnings are listed).
out=$(lintian --no-tag-display-limit dist/*.deb 2>&1 || true)
[ -n "$out" ] && printf '%s\n' "$out"
if printf '%s\n' "$out" | grep -q '^E: '; then
  echo "package: lintian reports errors" >&2
  exit 1
fi
echo "package: $(ls dist/*.deb | wc -l) packages in dist/, lintian reports no error"
