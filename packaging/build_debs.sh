#!/bin/bash
# Builds the Debian packages wirewarp-reconciler, wirewarp-agent and wwctl with dpkg-deb from
# binaries already built in a Release build directory (`make package` and the packaging test
# call it). Depends: fields come from dpkg-shlibdeps over the binaries, plus the tools the
# agent runs. Maintainer scripts are assembled from packaging/debian/*-systemd (as
# dh_installsystemd writes them) and, for the reconciler, the user creation.
#
# Usage: build_debs.sh --version V --arch amd64|arm64 --build-type TYPE --out DIR \
#          --reconciler BIN --agent BIN --wwctl BIN
set -euo pipefail
PACKAGING=$(cd "$(dirname "$0")" && pwd)
VERSION="" ARCH="" BUILD_TYPE="" OUT="" RECONCILER="" AGENT="" WWCTL=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) VERSION=$2 ;;
    --arch) ARCH=$2 ;;
    --build-type) BUILD_TYPE=$2 ;;
    --out) OUT=$2 ;;
    --reconciler) RECONCILER=$2 ;;
    --agent) AGENT=$2 ;;
    --wwctl) WWCTL=$2 ;;
    *) echo "build_debs.sh: unknown argument \"$1\"" >&2; exit 2 ;;
  esac
  shift 2
done
for name in VERSION ARCH OUT RECONCILER AGENT WWCTL; do
  if [ -z "${!name}" ]; then echo "build_debs.sh: --${name,,} is required" >&2; exit 2; fi
done
if [ "$BUILD_TYPE" != Release ]; then
  echo "build_debs.sh: the build directory is a \"$BUILD_TYPE\" build; packages come from Release builds" \
       "(cmake -DCMAKE_BUILD_TYPE=Release)" >&2
  exit 2
fi
case "$ARCH" in
  amd64) STRIP="strip" ;;
  arm64) STRIP="aarch64-linux-gnu-strip" ;;
  *) echo "build_debs.sh: --arch \"$ARCH\" is not amd64 or arm64" >&2; exit 2 ;;
esac
# The changelog's newest entry is the version being packaged (lintian checks they agree).
CHANGELOG_VERSION=$(sed -n '1s/^wirewarp (\([^)]*\)).*/\1/p' "$PACKAGING/debian/changelog")
if [ "$CHANGELOG_VERSION" != "$VERSION" ]; then
  echo "build_debs.sh: packaging/debian/changelog starts with version \"$CHANGELOG_VERSION\"," \
       "the project is \"$VERSION\": add a changelog entry" >&2
  exit 2
fi

MAINTAINER="WireWarp developers <wirewarp@example.org>"
# deb-systemd-helper and deb-systemd-invoke, which the maintainer scripts call (as debhelper's
# packages depend on them).
SYSTEMD_HELPERS="init-system-helpers (>= 1.54~)"
WORK=$(mktemp -d /tmp/wirewarp-debs.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
# Package roots (each with its DEBIAN/, where dpkg-shlibdeps looks for them) in a stand-in
# source tree: dpkg-shlibdeps reads debian/control.
STAGE=$WORK/debian
mkdir -p "$STAGE"
printf 'Source: wirewarp\n\nPackage: wirewarp\nArchitecture: any\n' > "$STAGE/control"

# install_file MODE SOURCE DESTINATION (under the package root)
install_file() { install -D -m "$1" "$2" "$3"; }

# stage PACKAGE BINARY SECTION MAN_SECTION: the binary (stripped), its man page, copyright and
# changelog.
stage() {
  local package=$1 binary=$2 man_section=$3 root=$STAGE/$1
  local name
  name=$(basename "$binary")
  install_file 0755 "$binary" "$root/usr/bin/$name"
  "$STRIP" --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/$name"
  mkdir -p "$root/DEBIAN" "$root/usr/share/man/man$man_section" "$root/usr/share/doc/$package"
  gzip -9n < "$PACKAGING/man/$name.$man_section" > "$root/usr/share/man/man$man_section/$name.$man_section.gz"
  install -m 0644 "$PACKAGING/debian/copyright" "$root/usr/share/doc/$package/copyright"
  gzip -9n < "$PACKAGING/debian/changelog" > "$root/usr/share/doc/$package/changelog.gz"
}

# maintainer_scripts PACKAGE UNIT [PREFIX_FILE]: postinst, prerm and postrm for the unit.
maintainer_scripts() {
  local package=$1 unit=$2 prefix=${3:-}
  local debian=$STAGE/$package/DEBIAN kind
  for kind in postinst prerm postrm; do
    {
      printf '#!/bin/sh\nset -e\n\n'
      if [ "$kind" = postinst ] && [ -n "$prefix" ]; then cat "$prefix"; echo; fi
      sed "s/@UNIT@/$unit/g" "$PACKAGING/debian/$kind-systemd"
    } > "$debian/$kind"
    chmod 0755 "$debian/$kind"
  done
}

# shlib_depends PACKAGE BINARY: "libc6 (>= 2.34), libssl3 (>= 3.0.0), ..." from dpkg-shlibdeps.
shlib_depends() {
  (cd "$WORK" && dpkg-shlibdeps -O -e"debian/$1/usr/bin/$2") | sed -n 's/^shlibs:Depends=//p'
}

# control PACKAGE DEPENDS [RECOMMENDS]; the description comes on standard input.
control() {
  local package=$1 depends=$2 recommends=${3:-} root=$STAGE/$1
  local size
  mkdir -p "$root/DEBIAN"
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  {
    echo "Package: $package"
    echo "Version: $VERSION"
    echo "Architecture: $ARCH"
    echo "Maintainer: $MAINTAINER"
    echo "Installed-Size: $size"
    echo "Depends: $depends"
    if [ -n "$recommends" ]; then echo "Recommends: $recommends"; fi
    echo "Section: net"
    echo "Priority: optional"
    cat
  } > "$root/DEBIAN/control"
}

finish() {  # md5sums, then the .deb
  local package=$1 root=$STAGE/$1
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    > "$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"
  find "$root" -type d -exec chmod 0755 {} +
  dpkg-deb --root-owner-group -Zxz --build "$root" "$OUT/${package}_${VERSION}_${ARCH}.deb" >/dev/null
  echo "$OUT/${package}_${VERSION}_${ARCH}.deb"
}

# wirewarp-reconciler
stage wirewarp-reconciler "$RECONCILER" 8
root=$STAGE/wirewarp-reconciler
install_file 0644 "$PACKAGING/systemd/wirewarp-reconciler.service" "$root/lib/systemd/system/wirewarp-reconciler.service"
install_file 0644 "$PACKAGING/sysusers/wirewarp-reconciler.conf" "$root/usr/lib/sysusers.d/wirewarp-reconciler.conf"
install_file 0644 "$PACKAGING/reconciler.yaml" "$root/etc/wirewarp/reconciler.yaml"
control wirewarp-reconciler "$(shlib_depends wirewarp-reconciler wirewarp-reconciler), passwd, $SYSTEMD_HELPERS" <<'EOF'
Description: WireWarp reconciler: GitOps control plane for WireGuard tunnels
 WireWarp keeps WireGuard tunnel servers on VPSes and gateways at home true to
 a fleet declared as YAML in git. The reconciler follows the repository, plans
 every agent's changes and serves them over a mutual-TLS API, with a read-only
 status page.
 .
 The package installs the systemd unit wirewarp-reconciler.service (enabled,
 not started) running as the wirewarp-reconciler system user, and its flags
 in /etc/wirewarp/reconciler.yaml: set "advertise" there before the first start.
EOF
echo /etc/wirewarp/reconciler.yaml > "$root/DEBIAN/conffiles"
chmod 0644 "$root/DEBIAN/conffiles"
maintainer_scripts wirewarp-reconciler wirewarp-reconciler.service "$PACKAGING/debian/postinst-user"
finish wirewarp-reconciler

# wirewarp-agent: it runs wg, ip, iptables(-restore) and sysctl.
stage wirewarp-agent "$AGENT" 8
root=$STAGE/wirewarp-agent
install_file 0644 "$PACKAGING/systemd/wirewarp-agent.service" "$root/lib/systemd/system/wirewarp-agent.service"
control wirewarp-agent "$(shlib_depends wirewarp-agent wirewarp-agent), wireguard-tools, iptables, iproute2, procps, $SYSTEMD_HELPERS" \
  wireguard-go <<'EOF'
Description: WireWarp agent: keeps a host's WireGuard tunnels and forwards
 WireWarp keeps WireGuard tunnel servers on VPSes and gateways at home true to
 a fleet declared as YAML in git. The agent makes one host match its config:
 WireGuard interfaces, routes and iptables rules for port forwards that keep
 the player's real address, restored from disk at boot.
 .
 The package installs the systemd unit wirewarp-agent.service, enabled; it
 runs once the host is enrolled (wirewarp-agent enroll). Stopping it never
 takes the tunnel down.
EOF
maintainer_scripts wirewarp-agent wirewarp-agent.service
finish wirewarp-agent

# wwctl
stage wwctl "$WWCTL" 1
control wwctl "$(shlib_depends wwctl wwctl)" <<'EOF'
Description: WireWarp command line: validate, plan and operate a fleet
 WireWarp keeps WireGuard tunnel servers on VPSes and gateways at home true to
 a fleet declared as YAML in git. wwctl validates and renders fleet files
 offline (for CI), previews plans, and talks to the reconciler: status, wait,
 tokens for new agents, history and rollback, phone and laptop peers.
EOF
finish wwctl
