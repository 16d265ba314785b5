# The exam in a container: the emulator's image plus your client's runtime, so that
# `mock-sprinto exam` and your sync command run side by side (docs/ci.md). Here the runtime is
# Debian's Node.js; the client is mounted when the container runs:
#   docker build -f examples/exam.Dockerfile -t mock-sprinto-exam:dev examples
#   docker run --rm --read-only --tmpfs /tmp -w /tmp -v "$PWD/tests/exam/clients:/client:ro" \
#     mock-sprinto-exam:dev exam --quiet -- node /client/careful.mjs
ARG MOCK_SPRINTO_IMAGE=mock-sprinto:dev
FROM ${MOCK_SPRINTO_IMAGE}
USER root
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs >/dev/null \
 && rm -rf /var/lib/apt/lists/*
USER 10001:10001
