#!/usr/bin/env bash
# Make the Debian bookworm base image (python3 3.11 + venv) from Debian's packages, once; print its tag.
# For machines without Docker Hub: mmdebstrap builds the root file system, `docker import` makes it an image.
set -euo pipefail
tag=${BASE_TAG:-unet-kit-base:bookworm}
docker=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}
if ! "$docker" image inspect "$tag" >/dev/null 2>&1; then
    command -v mmdebstrap >/dev/null || { echo "Error: mmdebstrap is missing; install it (apt-get install mmdebstrap)" >&2; exit 1; }
    mmdebstrap --quiet --variant=minbase --include=python3,python3-venv,ca-certificates bookworm - \
        | "$docker" import --change 'CMD ["python3"]' - "$tag" >/dev/null
fi
echo "$tag"
