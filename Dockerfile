# The skeldir image for compose.yaml: the shell, the worker and the one-shot bootstrap +
# sqitch deploy. Same Debian release and packages as the embedded cluster (SPEC §2):
# psql and sqitch from Debian 12, PGMQ's SQL from the pinned PyPI package.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-15 sqitch libdbd-pg-perl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shell ./shell
# Editable: the package finds sqitch.plan, deploy/ and sql/ next to shell/ (skeldir.config).
RUN pip install --no-cache-dir -e .
COPY sqitch.plan sqitch.conf ./
COPY deploy ./deploy
COPY revert ./revert
COPY verify ./verify
COPY sql ./sql

RUN useradd --system --uid 10001 --home-dir /app skeldir
USER skeldir
ENTRYPOINT ["skeldir"]
CMD ["--help"]
