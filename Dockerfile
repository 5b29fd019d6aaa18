# Production-like image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false MATCHMAKER_VAR_DIR=/app/var
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
# The CPU build of torch; a plain `torch` from PyPI would pull several GB of CUDA libraries.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt
COPY . .
RUN python scripts/build_default_model.py /app/var/models/default \
    && DEBUG=1 SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build python manage.py compilemessages --ignore=.venv \
    && DEBUG=1 SECRET_KEY=build DATABASE_URL=postgres://build@localhost/build python manage.py collectstatic --noinput
RUN useradd --create-home app && chown -R app /app/var
USER app
EXPOSE 8000
# workers, threads, timeout and the model preload: gunicorn.conf.py (GUNICORN_WORKERS, GUNICORN_THREADS)
CMD ["gunicorn", "matchmaker.wsgi", "--bind", "0.0.0.0:8000"]
