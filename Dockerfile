# python:3.11-slim-bookworm, pinned by the digest of its multi-arch index (linux/amd64 and linux/arm64
# among others), so every build starts from the same bytes. To move to a newer base, read the index digest
# ("Digest:") from `docker buildx imagetools inspect python:3.11-slim-bookworm` and replace it here and in
# the base.digest label below.
FROM python:3.11-slim-bookworm@sha256:fe556eaffd0d96abd8685b83bb8a69addd0dc730fa193669a7df0d49ddcfac02

LABEL org.opencontainers.image.title="costbot" \
      org.opencontainers.image.description="Slack chat-ops bot that tells ML teams what their cloud spend is, who spent it, and what to switch off." \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="python:3.11-slim-bookworm" \
      org.opencontainers.image.base.digest="sha256:fe556eaffd0d96abd8685b83bb8a69addd0dc730fa193669a7df0d49ddcfac02"

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    COSTBOT_DATA_DIR=/data MPLBACKEND=Agg MPLCONFIGDIR=/tmp/matplotlib PORT=3000

# tini is PID 1: it hands SIGTERM (`docker stop`) to costbot, which stops gracefully, and reaps zombies.
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini=0.19.* \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 costbot

# Dependencies come only from the lock: exact versions, every file checked against its hash (pip and
# setuptools included). costbot itself is then built with that setuptools and installed without resolving
# anything further; its sources are removed afterwards.
WORKDIR /src
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install --no-deps --no-build-isolation . \
    && rm -rf /src \
    && mkdir -p /data /app \
    && chown costbot:costbot /data /app

# /app is the working directory and belongs to the costbot user: `costbot export` and `--chart` write here
# (or wherever --output says), and a costbot.yml mounted here is read by default.
WORKDIR /app
USER costbot
VOLUME ["/data"]
EXPOSE 3000
# GET /healthz on $PORT: `costbot serve` answers it in HTTP and Socket Mode alike, `costbot scheduler` too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
ENTRYPOINT ["tini", "--", "costbot"]
CMD ["serve"]
