FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    COSTBOT_DATA_DIR=/data MPLBACKEND=Agg
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN pip install . && useradd --create-home --uid 10001 costbot && mkdir -p /data && chown costbot /data
USER costbot
VOLUME ["/data"]
EXPOSE 3000
ENTRYPOINT ["costbot"]
CMD ["serve"]
