# mock-sprinto as a container: the emulator on 0.0.0.0:8080, as a non-root user, on a read-only
# file system, stopped cleanly by SIGTERM. Build: `make image` (or `docker build -t mock-sprinto:dev .`);
# run: `docker run --rm -p 8080:8080 mock-sprinto:dev` (docs/container.md). No BuildKit-only syntax: the
# legacy builder builds it too.

# Any Debian-like image with python3 (3.10 or later) and its venv module. The build stage reaches
# the package index (behind a proxy: --build-arg HTTPS_PROXY=...).
ARG BASE=python:3.12-slim

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# The package and what its wheel carries (the shipped schemas and scenarios); .dockerignore keeps
# everything else out of the context.
COPY pyproject.toml README.md /src/
COPY mock_sprinto /src/mock_sprinto
COPY schemas /src/schemas
COPY scenarios /src/scenarios
COPY docs /src/docs
# A virtualenv works on every base (Debian's own python3 refuses a system-wide pip install). The
# bytecode is compiled here, checked by hash rather than by the files' times, since nothing can be
# written at run time (--read-only, PYTHONDONTWRITEBYTECODE).
RUN python3 -m venv /opt/mock-sprinto \
 && /opt/mock-sprinto/bin/python -m pip install --quiet /src \
 && /opt/mock-sprinto/bin/python -m pip uninstall --quiet --yes pip \
 && /opt/mock-sprinto/bin/python -m compileall -q -f --invalidation-mode unchecked-hash /opt/mock-sprinto/lib

FROM ${BASE}
# The standard library's bytecode too, where the base has none (the official python images delete
# theirs): else every start compiles what it imports, in memory, since nothing can be written.
# A fixed numeric id, so `runAsNonRoot` (Kubernetes) can tell it is not root without the passwd file.
RUN groupadd --system --gid 10001 mock-sprinto \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin mock-sprinto \
 && { python3 -m compileall -q -j 0 -x '/(site-packages|dist-packages|test|tests|idlelib|tkinter|turtledemo|lib2to3|ensurepip)/' \
      "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')" \
      || echo "some of the standard library stays without bytecode (compiled in memory when imported)"; }
COPY --from=build /opt/mock-sprinto /opt/mock-sprinto
# Settings are MOCK_SPRINTO_* variables as everywhere (flags would win over them, so the command
# carries none): all interfaces of the container, port 8080. Bound beyond loopback, the Host check
# also serves service names such as `mock-sprinto:8080` (docs/container.md).
ENV PATH=/opt/mock-sprinto/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MOCK_SPRINTO_HOST=0.0.0.0 \
    MOCK_SPRINTO_PORT=8080
USER 10001:10001
EXPOSE 8080
# Python's standard library only (no curl in the image): the port and the admin token from the same
# variables the server reads; an answer below 500 means it is serving (401 when the token comes
# from a config file instead).
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 CMD ["python", "-c", "import os, sys, urllib.error, urllib.request as u\nt = os.environ.get('MOCK_SPRINTO_ADMIN_TOKEN')\nr = u.Request('http://127.0.0.1:%s/_mock/health' % os.environ.get('MOCK_SPRINTO_PORT', '8080'), headers={'Authorization': 'Bearer ' + t} if t else {})\ntry: u.urlopen(r, timeout=2)\nexcept urllib.error.HTTPError as e: sys.exit(e.code >= 500)\nexcept OSError: sys.exit(1)"]
# Exec form: the server is PID 1 and gets SIGTERM itself (`docker stop`); it answers the requests
# in flight and exits 0 within shutdown_timeout_seconds (5 s), inside docker stop's 10 s.
ENTRYPOINT ["mock-sprinto"]
CMD ["serve"]
