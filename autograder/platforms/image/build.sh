#!/usr/bin/env bash
# Build the grading image: autograder/platforms/image/build.sh cpu|gpu [TAG]   (what `make image [GPU=1]` runs)
#
# BASE (env) picks the base image (default python:3.11-slim). When it is neither present nor
# pullable (no access to Docker Hub), a Debian bookworm base is made from Debian's packages with
# mmdebstrap instead (see base.sh). The host's CA bundle reaches pip as a BuildKit secret only.
set -euo pipefail
cd "$(dirname "$0")/../../.."
build=${1:?usage: build.sh cpu|gpu [TAG]}
tag=${2:-unet-grader:$build}
docker=${DOCKER:-$(command -v /usr/bin/docker || command -v docker || true)}
[ -n "$docker" ] || { echo "Error: no Docker client; install Docker (Debian: apt-get install docker.io)" >&2; exit 1; }
"$docker" info >/dev/null 2>&1 || { echo "Error: no Docker daemon answers; start it (dockerd, or systemctl start docker)" >&2; exit 1; }
base=${BASE:-python:3.11-slim}
if ! "$docker" image inspect "$base" >/dev/null 2>&1 && ! timeout 120 "$docker" pull -q "$base" >/dev/null 2>&1; then
    echo "Base image $base cannot be pulled; using a Debian bookworm base built from Debian packages."
    base=$(autograder/platforms/image/base.sh)
fi
ca=${PIP_CA:-/etc/ssl/certs/ca-certificates.crt}
secret=()
[ -s "$ca" ] && secret=(--secret "id=pip_ca,src=$ca")
DOCKER_BUILDKIT=1 "$docker" build -f autograder/platforms/Dockerfile --build-arg "BASE=$base" --build-arg "TF_BUILD=$build" \
    ${DATA_FRAMES:+--build-arg "DATA_FRAMES=$DATA_FRAMES"} "${secret[@]}" --label "org.unet-course.build=$build" \
    -t "$tag" .
echo "Built $tag ($("$docker" image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.2f GB", $1/1e9}'))"
