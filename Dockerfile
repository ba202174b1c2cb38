# driftline's image, which docker-compose.yml builds once for every Python service: the
# package installed from this tree (a wheel, not editable), run by a user who is not
# root, `driftline` as the entrypoint (a service's command is driftline's arguments).
# tests/test_compose.py runs these install steps without a Docker engine.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# pip builds in the tree it installs from (driftline.egg-info, build/): it builds from a
# copy the image owns, never from a mount of the checkout, and the copy is dropped. The
# cache mount (BuildKit) keeps downloaded wheels between builds, out of the image.
COPY pyproject.toml README.md /tmp/driftline/
COPY schemas /tmp/driftline/schemas
COPY producers /tmp/driftline/producers
COPY monitor /tmp/driftline/monitor
RUN --mount=type=cache,target=/root/.cache/pip pip install /tmp/driftline && rm -rf /tmp/driftline

# A numeric USER, so that Kubernetes' runAsNonRoot can check it.
RUN groupadd --gid 10001 driftline && useradd --create-home --uid 10001 --gid 10001 driftline
USER 10001:10001
# (A worker's Faust data directory is a temporary one, under /tmp, removed at exit.)
WORKDIR /home/driftline
ENTRYPOINT ["driftline"]
CMD ["--help"]
