# One image for every process: web (gunicorn), collector, scheduler, and migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings, not a database: give it a throw-away URL.
RUN DATABASE_URL=postgresql://build@localhost/build DJANGO_SECRET_KEY=build \
        python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --system --uid 10001 --no-create-home app

USER app
EXPOSE 8080 9100
CMD ["gunicorn", "analyzer_project.wsgi", "--config", "gunicorn.conf.py"]
