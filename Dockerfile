# The portal's image: web (gunicorn), worker and beat all run from it.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY requirements/ requirements/
COPY manage.py gunicorn.conf.py ./
COPY portal/ portal/
COPY tenants/ tenants/
COPY connections/ connections/
COPY sandbox/ sandbox/
COPY templates/ templates/
COPY static/ static/
RUN pip install -c requirements/constraints.txt . \
 && useradd --system --home /app portal \
 && SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    CREDENTIAL_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    AUDIT_CHAIN_KEYS="build:$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" \
    python manage.py collectstatic --noinput --verbosity 0

USER portal
EXPOSE 8000
# Bind, workers and the redacting access log: gunicorn.conf.py.
CMD ["gunicorn", "portal.wsgi:application", "-c", "gunicorn.conf.py"]
