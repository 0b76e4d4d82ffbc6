"""The course's part of a Zero to JupyterHub chart: a Helm values file (JSON, which is YAML) with the same users,
nbgrader groups, roles and scopes as the one-machine hub.

What a Kubernetes cluster needs beyond it is the cluster's to give and named in the file's comments: a volume shared
by every user pod for the exchange (ReadWriteMany, with the modes of ``exchange-setup.sh``), the kit's image for the
user pods (``make image`` builds one with JupyterLab and nbgrader), and the Formgrader as a Deployment run by the
course account, registered here as an external service.
"""
from __future__ import annotations

import json
from typing import Any

from autograder.platforms.hub.settings import HubPlan

__all__ = ["render"]

HEADER = """# Zero to JupyterHub values for the course {course} (written by `python -m autograder hub --config-only`).
# helm upgrade --install <release> jupyterhub/jupyterhub -f z2jh-values.yaml -f <your own values>
# Still yours to provide: a ReadWriteMany volume mounted at {exchange} in every user pod (run exchange-setup.sh on it
# once), an image with the kit's environment for singleuser.image, and the Formgrader Deployment at the URL below,
# run as the course account {grader} with its API token in the secret named below.
"""


def render(plan: HubPlan, data: dict[str, Any]) -> str:
    """The values file's text."""
    course, scopes = plan.course_id, data["scopes"]
    staff = data["instructors"] + data["assistants"]
    values = {
        "hub": {
            "config": {
                "Authenticator": {"allowed_users": staff + data["students"], "admin_users": data["instructors"]},
                "JupyterHub": {"load_groups": {plan.student_group: {"users": staff + data["students"]},
                                               plan.staff_group: {"users": staff + [plan.grader]}}},
                "Spawner": {"server_token_scopes": scopes["server"], "default_url": "/lab"},
            },
            "loadRoles": {
                f"formgrade-{course}": {"groups": [plan.staff_group], "scopes": scopes[plan.staff_group]},
                f"service-{course}": {"services": [course], "scopes": scopes[f"service-{course}"]},
            },
            "services": {course: {"url": f"http://formgrader-{course}:8888", "oauth_no_confirm": True,
                                  "apiToken": f"from the secret formgrader-{course}-token"}},
        },
        "singleuser": {
            "defaultUrl": "/lab",
            "extraEnv": {"JUPYTER_CONFIG_PATH": f"/etc/{course}/jupyter/student"},
            "cmd": ["jupyterhub-singleuser", *data["flags"]["student"]],
        },
    }
    return HEADER.format(course=course, exchange=data["exchange"], grader=plan.grader) + json.dumps(values, indent=2) + "\n"
