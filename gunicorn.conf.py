# gunicorn's settings for the portal, read from the working directory (the image's /app).
# Command-line options win over these. https://docs.gunicorn.org/en/stable/settings.html
bind = "0.0.0.0:8000"
workers = 3
# Every request line goes to stdout, through a logger that redacts OAuth codes, states and
# consent-link tokens (portal/gunicorn_logging.py).
accesslog = "-"
logger_class = "portal.gunicorn_logging.RedactingLogger"
