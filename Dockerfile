# python:3.11-slim-bookworm, pinned by the digest of its multi-arch index (linux/amd64 and linux/arm64
# among others), so every build starts from the same bytes. To move to a newer base, read the index digest
# ("Digest:") from `docker buildx imagetools inspect python:3.11-slim-bookworm` and replace it here.
FROM python:3.11-slim-bookworm@sha256:fe556eaffd0d96abd8685b83bb8a69addd0dc730fa193669a7df0d49ddcfac02

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    COSTBOT_DATA_DIR=/data MPLBACKEND=Agg
WORKDIR /app
# Dependencies come only from the lock: exact versions, every file checked against its hash (pip and
# setuptools included). costbot itself is then built with that setuptools and installed without resolving
# anything further.
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install --no-deps --no-build-isolation . \
    && useradd --create-home --uid 10001 costbot && mkdir -p /data && chown costbot /data
USER costbot
VOLUME ["/data"]
EXPOSE 3000
ENTRYPOINT ["costbot"]
CMD ["serve"]
