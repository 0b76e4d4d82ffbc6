"""nbgrader settings for the U-Net course kit.

The repository root is the nbgrader course directory: ``source/``, ``release/``,
``submitted/``, ``autograded/`` and ``feedback/`` all live beside this file.
"""
import os

c = get_config()  # noqa: F821 - injected by traitlets when nbgrader loads this file

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "unet-course"

# Data, caches and build outputs never belong in a released or collected assignment.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.keras", "*.h5", "history*.json", "draw_*.py",
]

# Students see this where a solution was removed.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Per-cell limit while validating or autograding; a short training cell needs well under this.
c.ExecutePreprocessor.timeout = 300
# nbgrader gives a cell's last outputs 4 s after the kernel's reply, then fails the cell ("Timeout waiting for IOPub
# output"); on a busy machine a correct cell can take longer than that.
c.ExecutePreprocessor.iopub_timeout = 60
# The lab's Validate (autograder/instructor/validate_bound.py): the kernel must start within startup_timeout, then
# all the cells together within total_timeout (0: the per-cell limit times the code cells); past either, the run and
# its kernel are stopped and the dialog names the cell that was still running. The notebook validates in about 15 s
# on a quiet machine, a full (not quick) run in a few minutes.
c.ExecutePreprocessor.startup_timeout = 120
c.ValidateBound.total_timeout = 1200
c.ExecutePreprocessor.kernel_name = "python3"
# Long outputs (e.g. a student printing in a loop) are cut in the graded copy.
c.LimitOutput.max_lines = 400

# An exercise is written once, in the source notebook (README, "Write your own exercise"): generating the
# assignment fills each check cell's generated block from the solution cell, stores the grader's references in
# references/<assignment>/ and strips the definitions from the released copy. Then nbgrader's own steps.
c.GenerateAssignment.preprocessors = [
    "autograder.instructor.fill_generated.FillGenerated",
    "nbgrader.preprocessors.IncludeHeaderFooter", "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells", "nbgrader.preprocessors.ClearSolutions", "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.CheckCellMetadata", "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells", "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme", "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Plain `nbgrader autograde` (and the Formgrader's Autograde button) runs each kernel in the kit's sandbox, as `grade`
# does (ConfinedExecute: where it cannot be set up, no notebook runs and one line says why; --ConfinedExecute.sandbox=False
# is the explicit --no-sandbox), then judges the checks' evidence against those references (the fixed cases; the
# kit's own grader adds a challenge case per run).
c.Autograde.autograde_preprocessors = [
    "autograder.run.confined_execute.ConfinedExecute", "autograder.run.judge.preprocessor.JudgeEvidence", "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Feedback never shows a hidden check's code: each hidden check cell shows its name, score and the explanation
# of its failure, and a summary per exercise opens the page (autograder/instructor/hide_checks.py and
# feedback_summary.py). The order matters: scores first, then the summary, which reads the outputs the
# hiding removes. Names are strings, imported only when feedback is generated.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.instructor.feedback_summary.FeedbackSummary",
    "autograder.instructor.hide_checks.HideHiddenChecks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# The grader's own settings (python -m autograder): each commented line shows the default that
# autograder/course/settings.py declares (a test holds them equal). See README, section Settings.
# c.Autograder.jobs = 0                  # parallel workers; 0: one per core
# c.Autograder.cell_timeout = 300.0      # per cell, where ExecutePreprocessor.timeout (above) is not set
# c.Autograder.submission_timeout = 1800.0
# c.Autograder.memory_mb = 4096          # per kernel (cgroup); an OOM kill is reported as "memory"
# c.Autograder.nproc = 512
# c.Autograder.warm = True               # fork workers and kernels from a pre-imported server
# c.Autograder.keep_scratch = False      # AUTOGRADER_KEEP_SCRATCH=1 overrides

# The course hub (python -m autograder hub; README, section JupyterHub): the staff's Unix accounts (the students come
# from --roster), the exchange and the hub's own folder.
c.CourseHub.instructors = ["instructor"]
c.CourseHub.assistants = ["assistant"]
# c.CourseHub.exchange = "/srv/nbgrader/exchange"
# c.CourseHub.state = "/srv/jupyterhub/unet-course"
