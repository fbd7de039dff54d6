"""Train and profile candidate networks on task suites.

``TaskSuite``/``TaskSpec`` describe the data and tasks; ``models`` holds the shared-trunk network family.
"""

from taskgroup.measure.suite import SPLITS, TASK_KINDS, Split, TaskSpec, TaskSuite, task_loss, task_metric

__all__ = ["TaskSuite", "TaskSpec", "Split", "SPLITS", "TASK_KINDS", "task_loss", "task_metric"]
