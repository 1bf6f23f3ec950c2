FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scheduler scheduler
COPY notifiers notifiers
COPY calendars calendars
COPY config config
COPY service service
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/sipvakt sipvakt \
    && mkdir -p /var/lib/sipvakt && chown sipvakt /var/lib/sipvakt
USER sipvakt
ENV SIPVAKT_CONFIG_DIR=/app/config
EXPOSE 8080
CMD ["sipvakt", "serve"]
