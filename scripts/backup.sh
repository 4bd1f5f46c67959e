#!/usr/bin/env bash
# Back up the database (pg_dump, custom format) and the stored report files.
#
#   DATABASE_URL=postgres://user@host:5432/zhenxingdai scripts/backup.sh /backups
#
# writes /backups/zhenxingdai-<time>.dump and, when MEDIA_ROOT (default
# var/media) exists, /backups/media-<time>.tar.gz. Restore with
# scripts/restore.sh. The dump holds personal data: keep it as the database
# is kept (encrypted storage, access logged).
set -euo pipefail

target=${1:?usage: scripts/backup.sh DIRECTORY}
: "${DATABASE_URL:?set DATABASE_URL to the PostgreSQL database to back up}"
media=${MEDIA_ROOT:-"$(dirname "$0")/../var/media"}
stamp=$(date +%Y%m%d-%H%M%S)

mkdir -p "$target"
umask 077
pg_dump --format=custom --no-owner --no-privileges --file "$target/zhenxingdai-$stamp.dump" "$DATABASE_URL"
echo "$target/zhenxingdai-$stamp.dump"
if [ -d "$media" ]; then
  tar -czf "$target/media-$stamp.tar.gz" -C "$media" .
  echo "$target/media-$stamp.tar.gz"
fi
