# The application image. By default it serves the site with gunicorn; the same image runs the
# Celery worker and beat (see docker-compose.yml). Build: docker build -t tracking .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Front-end libraries: the npm packages are copied into static/vendor/. Node.js is needed only here.
FROM ${PYTHON_IMAGE} AS assets
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY bin/vendor-static bin/vendor-static
RUN node bin/vendor-static

# Python packages in a virtual environment, and the compiled translations.
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
WORKDIR /src
# The dependencies first, read from pyproject.toml alone, so that a code change keeps this layer.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"], sep="\n")' \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt
COPY . .
RUN pip install . \
    && for po in locale/*/LC_MESSAGES/django.po; do \
        [ -e "$po" ] || continue; \
        msgfmt --check -o "${po%.po}.mo" "$po"; \
    done

# The image that runs.
FROM ${PYTHON_IMAGE}
# The app runs from its source tree in /app (PYTHONPATH puts it before the installed copy), because
# settings.py finds templates/, static/ and locale/ next to the tracking package.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONPATH=/app \
    PATH=/opt/venv/bin:$PATH \
    PORT=8000
# libzbar0: pyzbar decodes barcodes with it. gettext is needed only to compile the messages (above).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libzbar0 \
    && rm -rf /var/lib/apt/lists/*
# The app's files belong to root and are read-only to the user that runs it; it writes only to
# media/ and to its home directory.
RUN groupadd --system app \
    && useradd --system --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
COPY . .
COPY --from=build /src/locale ./locale
COPY --from=assets /src/static/vendor ./static/vendor
# Static files are collected (hashed and compressed by WhiteNoise) into the image. The secret key
# here is a throwaway that exists only for this step: settings.py refuses DJANGO_DEBUG=0 without one.
RUN DJANGO_DEBUG=0 SECRET_KEY=collectstatic-only-throwaway-key-not-used-at-run-time \
        python manage.py collectstatic --no-input -v 0 \
    && mkdir -p /app/media \
    && chown app:app /app/media
USER app
EXPOSE 8000
CMD ["sh", "-c", "exec gunicorn tracking.wsgi --bind 0.0.0.0:${PORT:-8000} --workers ${WEB_CONCURRENCY:-3} --access-logfile - --worker-tmp-dir /dev/shm"]
