#!/usr/bin/env bash
# Restore a backup made by scripts/backup.sh into DATABASE_URL, replacing
# what is there (in one transaction: a failed restore changes nothing).
#
#   DATABASE_URL=postgres://user@host:5432/zhenxingdai scripts/restore.sh /backups/zhenxingdai-<time>.dump [media-<time>.tar.gz]
#
# Stop web, worker and beat first; run `manage.py migrate` afterwards if the
# code is newer than the backup.
set -euo pipefail

dump=${1:?usage: scripts/restore.sh DUMP [MEDIA_TARBALL]}
: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database to restore into}"
media=${MEDIA_ROOT:-"$(dirname "$0")/../var/media"}

pg_restore --clean --if-exists --no-owner --no-privileges --single-transaction \
  --exit-on-error --dbname "$DATABASE_URL" "$dump"
if [ $# -ge 2 ]; then
  mkdir -p "$media"
  tar -xzf "$2" -C "$media"
fi
echo "restored $dump"
