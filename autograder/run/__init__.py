"""What runs beside student code: the worker, triage, warm kernels, the fork server, preprocessors, the judge.

Never imports host/; reads its job and writes its result as contracts JSON.
"""
