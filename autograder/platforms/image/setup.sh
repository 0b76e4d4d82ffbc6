#!/usr/bin/env bash
# Gradescope's setup step for the zip made by `make gradescope`: runs once, as root, in Gradescope's
# own image with the zip unpacked in /autograder/source. Installs Python 3.11, the pinned packages
# (CPU TensorFlow) and a small synthetic dataset.
set -euo pipefail
cd /autograder/source
if ! command -v python3.11 >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv >/dev/null
fi
python3.11 -m venv venv
venv/bin/python -m pip install --quiet --disable-pip-version-check \
    -c requirements-cpu.lock -r requirements.in tensorflow-cpu==2.21.0
# what notebooks import in kit/, the grader (the judge and its references) in grader/, which only root can list
mkdir -p grader && rm -rf grader/autograder && mv kit/autograder grader/
printf '/autograder/source/kit\n/autograder/source/grader\n' > "$(venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/unet_course_kit.pth"
venv/bin/python -m compileall -q kit grader
venv/bin/python -m data_fetch synthetic --frames 48 --dest course/data/synthetic
chmod -R a+rX /autograder/source
# The student's kernel runs under a uid of its own: the judge, the gradebook and the sources are root's alone
# (the launcher refuses to start a kernel that could read them).
chmod -R go-rwx grader course/gradebook.db course/source course/references course/nbgrader_config.py 2>/dev/null || true
