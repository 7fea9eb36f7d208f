#!/usr/bin/env bash
# Installs the Debian packages the stack and its tests need, only those that are missing.
# Idempotent; needs root (our machines and CI run as root). Nothing here downloads outside apt.
set -euo pipefail

need=()
command -v java >/dev/null        || need+=(openjdk-17-jre-headless)
command -v mvn >/dev/null         || need+=(maven)
[ -x /usr/lib/postgresql/15/bin/postgres ] || need+=(postgresql-15)
command -v redis-server >/dev/null || need+=(redis-server)
command -v rabbitmq-server >/dev/null || need+=(rabbitmq-server)
command -v runuser >/dev/null     || need+=(util-linux)
# report PDFs (api/reports/formats/pdf_out.py, WeasyPrint): Pango, the Traditional Chinese fonts, and
# HarfBuzz's subsetter (without it WeasyPrint subsets the 20 MB CJK fonts with fontTools: minutes per PDF)
compgen -G '/usr/lib/*/libpangoft2-1.0.so.0' >/dev/null || need+=(libpangoft2-1.0-0)
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
compgen -G '/usr/lib/*/libharfbuzz-subset.so.0' >/dev/null || need+=(libharfbuzz-subset0)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts these as system services on install; our stack and tests run their own instances.
for svc in redis-server rabbitmq-server postgresql; do
  service "$svc" stop >/dev/null 2>&1 || true
done
