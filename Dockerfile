# Production image: gunicorn serving zhenxingdai.wsgi on port 8000. The same
# image runs the Celery worker and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pango and HarfBuzz are what WeasyPrint renders PDFs with; without a CJK font
# the Chinese reports come out as empty boxes. gettext provides msgfmt.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
        fonts-noto-cjk \
        gettext \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /home/app --uid 10001 app

WORKDIR /app

# Requirements alone first, so a code change does not reinstall every package.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

RUN msgfmt -o locale/zh_Hans/LC_MESSAGES/django.mo locale/zh_Hans/LC_MESSAGES/django.po

# Production mode selects whitenoise's manifest storage, so the hashed names
# gunicorn serves are the ones generated here. The key only lets settings load
# for this one step and never reaches the final image's environment.
RUN DJANGO_ENV=production \
    SECRET_KEY=build-time-only-collectstatic-key-not-used-at-runtime \
    python manage.py collectstatic --noinput

# The code stays root-owned and read-only to the app; only the media dir is
# writable. A fresh named volume mounted there inherits this ownership.
RUN mkdir -p /app/var/media && chown app:app /app/var/media

USER app

EXPOSE 8000

# Host 127.0.0.1 must stay in ALLOWED_HOSTS, or Django answers the probe with 400.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=8)"]

# Three workers: a two-core host also runs the Celery worker, so fewer than
# gunicorn's usual (2 x cores) + 1. PDF rendering can outlast the 30 s default.
CMD ["gunicorn", "zhenxingdai.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--workers", "3", \
     "--timeout", "120", \
     "--access-logfile", "-"]
